"""One function per rule kind: ``(frame, state) -> verdict``, state changed in place."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from monitoring.backends.base import (
    AnalysisResult,
    Box,
    Driver,
)

from .config import (
    _NOT_PERSON_SOURCES,
    COLOUR_NAMES,
    DEFAULT_NO_HELMET_CLASSES,
    DRIVER_BEHAVIOURS,
    HEADWEAR_LABELS,
    SAFETY_HELMET,
    Finding,
)
from .frame import (
    _NO_DATA,
    _assign,
    _confident,
    _covered,
    _Frame,
    _head,
    _iou,
    _most,
    _persons,
    _Verdict,
)

# ---------------------------------------------------------------- the rules


def _fence_intrusion(frame: _Frame, state: dict) -> _Verdict:
    """A person's foot point inside the no-entry polygon, or the fence answer (CTYun or
    the on-box analyzer) reporting targets in its area on the last image analysed."""
    candidates: list[tuple[list[Finding], int]] = []
    for result in frame.by_api("fence"):
        answered = [item for item in result.per_image if item.person_count is not None]
        last = answered[-1] if answered else (result if not result.per_image else None)
        if last is None:
            continue
        persons = _confident(last.persons, frame.min_confidence)
        findings = [Finding("person inside fence", p.score, p.box, p.track_id) for p in persons]
        count = len(persons) if last.persons else max(int(last.person_count or 0), 0)
        candidates.append((findings, count))
    for result in frame.person_sources():
        findings = [
            Finding("person inside fence", p.score, p.box, p.track_id)
            for p in _confident(result.persons, frame.min_confidence)
            if frame.in_zone(p.box.foot)
        ]
        candidates.append((findings, len(findings)))
    if not candidates:
        return _NO_DATA
    findings, count = max(candidates, key=lambda candidate: candidate[1])
    where = frame.where("inside fence") or " inside the fence"
    summary = f"{_persons(count)}{where}" if count else f"nobody{where}"
    score = max((finding.score for finding in findings), default=1.0 if count else 0.0)
    return _Verdict(holds=count > 0, findings=findings, summary=summary, count=count, score=score)


def _no_helmet(frame: _Frame, state: dict) -> _Verdict:
    """A person in the zone without a safety helmet.

    With a CTYun helmet answer on the frame, its boxes decide (the specialist detector):
    each located person's head is the top ``head_fraction`` of its box; boxes are matched
    one to one with heads, best overlap first, when at least ``head_overlap`` of the box
    lies in the head. A head matched with a helmet class is covered; a head matched with
    a no-helmet class, or with no box, is bare. Without located persons, boxes of a
    no-helmet class in the zone (bottom centre) are the bare heads, when the detector is
    known to box bare heads (the rule names ``no_helmet_classes``, or such a box came);
    CTYun gives none, so its helmet boxes alone are no data. Without a helmet answer,
    Baidu's ``headwear``
    attribute decides: any value but 安全帽 (safety helmet), scored ``>= min_confidence``.
    """
    params = frame.params
    no_helmet_classes = frozenset(params.get("no_helmet_classes", DEFAULT_NO_HELMET_CLASSES))
    helmet_answers = frame.by_api("helmet")
    candidates: list[list[Finding]] = []
    if helmet_answers:
        boxes = [
            obj
            for result in helmet_answers
            for obj in result.objects
            if obj.score >= frame.min_confidence
        ]
        sources = frame.person_sources()
        if sources:
            fraction = float(params.get("head_fraction", 0.25))
            least = float(params.get("head_overlap", 0.3))
            for result in sources:
                persons = [
                    p
                    for p in _confident(result.persons, frame.min_confidence)
                    if frame.in_zone(p.box.foot)
                ]
                heads = [_head(p.box, fraction) for p in persons]
                matched = _assign(heads, [obj.box for obj in boxes], _covered, least)
                findings = []
                for index, person in enumerate(persons):
                    worn = boxes[matched[index]] if index in matched else None
                    if worn is None:
                        findings.append(Finding("no helmet", person.score, person.box))
                    elif worn.label in no_helmet_classes:
                        score = min(person.score, worn.score)
                        findings.append(Finding("no helmet", score, person.box))
                candidates.append(findings)
        elif "no_helmet_classes" in params or any(
            obj.label in no_helmet_classes for result in helmet_answers for obj in result.objects
        ):
            candidates.append(
                [
                    Finding("no helmet", obj.score, obj.box)
                    for obj in boxes
                    if obj.label in no_helmet_classes and frame.in_zone(obj.box.foot)
                ]
            )
    else:
        for result in frame.attribute_sources("headwear"):
            findings = []
            for person in result.persons:
                headwear = person.attributes.get("headwear")
                if headwear is None or headwear.value == SAFETY_HELMET:
                    continue
                if headwear.score >= frame.min_confidence and frame.in_zone(person.box.foot):
                    label = HEADWEAR_LABELS.get(headwear.value, f"no helmet ({headwear.value})")
                    findings.append(Finding(label, headwear.score, person.box, person.track_id))
            candidates.append(findings)
    if not candidates:
        return _NO_DATA
    findings = _most(candidates)
    if findings:
        summary = f"{_persons(len(findings))} without a safety helmet{frame.where()}"
    else:
        summary = f"no one without a safety helmet{frame.where()}"
    return _Verdict(holds=bool(findings), findings=findings, summary=summary)


def _colour(value: str) -> str:
    text = value.strip().lower()
    return COLOUR_NAMES.get(text, text)


def _workwear_colour(frame: _Frame, state: dict) -> _Verdict:
    """A person in the zone whose workwear colour is not allowed.

    With a CTYun workwear answer, its garment boxes decide: each is matched one to one
    with the located person that holds most of it (at least ``garment_overlap``) and is
    in the zone when that person's foot is; a garment matched with nobody is in the zone
    when its own bottom centre is. Without one, Baidu's ``upper_color`` attribute decides.
    Colours compare by name in either vendor's words or English (see ``COLOUR_NAMES``).
    """
    allowed = {_colour(str(name)) for name in frame.params["allowed_colours"]}
    candidates: list[list[Finding]] = []
    workwear = frame.by_api("workwear")
    if workwear:
        garments = [
            obj
            for result in workwear
            for obj in result.objects
            if obj.score >= frame.min_confidence
        ]
        least = float(frame.params.get("garment_overlap", 0.5))
        sources = frame.person_sources() or [AnalysisResult(vendor="", api="")]
        for result in sources:
            persons = _confident(result.persons, frame.min_confidence)
            matched = _assign([p.box for p in persons], [g.box for g in garments], _covered, least)
            wearer = {garment: person for person, garment in matched.items()}
            findings = []
            for index, garment in enumerate(garments):
                if _colour(garment.label) in allowed:
                    continue
                person = persons[wearer[index]] if index in wearer else None
                foot = person.box.foot if person else garment.box.foot
                if frame.in_zone(foot):
                    findings.append(
                        Finding(f"workwear {garment.label}", garment.score, garment.box)
                    )
            candidates.append(findings)
    else:
        for result in frame.attribute_sources("upper_color"):
            findings = []
            for person in result.persons:
                colour = person.attributes.get("upper_color")
                if colour is None or _colour(colour.value) in allowed:
                    continue
                if colour.score >= frame.min_confidence and frame.in_zone(person.box.foot):
                    label = f"upper colour {_colour(colour.value)}"
                    findings.append(Finding(label, colour.score, person.box, person.track_id))
            candidates.append(findings)
    if not candidates:
        return _NO_DATA
    findings = _most(candidates)
    if findings:
        colours = ", ".join(sorted({finding.label.rsplit(" ", 1)[-1] for finding in findings}))
        summary = f"{_persons(len(findings))} in colours not allowed ({colours}){frame.where()}"
    else:
        summary = f"workwear colours allowed{frame.where()}"
    return _Verdict(holds=bool(findings), findings=findings, summary=summary)


def _crowd(frame: _Frame, state: dict) -> _Verdict:
    """More persons in the area than ``limit``: Baidu body_num's count for area
    ``area_index`` when it has one, else foot points of located persons in the polygon,
    else (no polygon) a whole-frame count."""
    limit = int(frame.params["limit"])
    index = int(frame.params.get("area_index", 0))
    findings: list[Finding] = []
    counted = [result for result in frame.by_api("body_num") if len(result.area_counts) > index]
    if counted:
        count = max(result.area_counts[index] for result in counted)
        score = 1.0 if count > limit else 0.0
    elif frame.person_sources():
        findings = _most(
            [
                Finding("person", p.score, p.box, p.track_id)
                for p in _confident(result.persons, frame.min_confidence)
                if frame.in_zone(p.box.foot)
            ]
            for result in frame.person_sources()
        )
        count = len(findings)
        score = None
    else:
        totals = [
            result.person_count
            for result in frame.results
            if result.person_count is not None and result.api not in _NOT_PERSON_SOURCES
        ]
        if frame.region is not None or not totals:
            return _NO_DATA
        count = max(totals)
        score = 1.0 if count > limit else 0.0
    summary = f"{_persons(count)}{frame.where()} (limit {limit})"
    return _Verdict(count > limit, findings, summary, count=count, score=score)


def _flow_results(frame: _Frame) -> list[AnalysisResult]:
    return [
        result
        for result in frame.results
        if result.flow_in is not None or result.flow_out is not None
    ]


def _occupancy(frame: _Frame, state: dict) -> _Verdict:
    """``initial`` + persons in - persons out, summed over frames (Baidu body_tracking
    counts each frame's crossings), over ``capacity``."""
    flows = _flow_results(frame)
    ins = int(state.get("ins", 0)) + sum(result.flow_in or 0 for result in flows)
    outs = int(state.get("outs", 0)) + sum(result.flow_out or 0 for result in flows)
    state["ins"], state["outs"] = ins, outs
    if not flows:
        return _NO_DATA
    capacity = int(frame.params["capacity"])
    occupancy = max(int(frame.params.get("initial", 0)) + ins - outs, 0)
    holds = occupancy > capacity
    summary = f"occupancy {occupancy} of capacity {capacity}{frame.where()}"
    return _Verdict(holds, [], summary, count=occupancy, score=1.0 if holds else 0.0)


def _flow(frame: _Frame, state: dict) -> _Verdict:
    """More than ``limit_per_window`` persons in (or out) within the last
    ``window_seconds``. ``direction``: "both" (either), "in" or "out"."""
    flows = _flow_results(frame)
    window = float(frame.params["window_seconds"])
    limit = int(frame.params["limit_per_window"])
    direction = str(frame.params.get("direction", "both"))
    now = frame.now.timestamp()
    events = [
        [float(at), int(came), int(went)]
        for at, came, went in state.get("flow", [])
        if now - float(at) < window
    ]
    came = sum(result.flow_in or 0 for result in flows)
    went = sum(result.flow_out or 0 for result in flows)
    if came or went:
        events.append([now, came, went])
    state["flow"] = events
    if not flows:
        return _NO_DATA
    total_in = sum(event[1] for event in events)
    total_out = sum(event[2] for event in events)
    watched = {"in": [total_in], "out": [total_out]}.get(direction, [total_in, total_out])
    count = max(watched)
    holds = count > limit
    summary = (
        f"{total_in} in, {total_out} out in the last {window:g} s{frame.where()} (limit {limit})"
    )
    return _Verdict(holds, [], summary, count=count, score=1.0 if holds else 0.0)


def _sequence(kind: str) -> Callable[[_Frame, dict], _Verdict]:
    def rule(frame: _Frame, state: dict) -> _Verdict:
        """A fall (fight) score on the window of frames at or over ``threshold``."""
        scored = [r for r in frame.by_api(kind) if r.sequence_score is not None]
        if not scored:
            return _NO_DATA
        threshold = float(frame.params.get("threshold", frame.min_confidence))
        score = max(float(r.sequence_score or 0.0) for r in scored)
        holds = score >= threshold
        findings = [Finding(kind, score)] if holds else []
        summary = f"{kind} score {score:.2f} (threshold {threshold:g}){frame.where()}"
        return _Verdict(holds, findings, summary, score=score)

    return rule


def _present_behaviours(
    frame: _Frame, drivers: Iterable[Driver], names: Iterable[str]
) -> list[Finding]:
    """Behaviours of confident drivers (box score >= min_confidence) in the zone, present
    when their score reaches the rule's ``threshold`` or else the vendor's."""
    wanted = set(names)
    threshold = frame.params.get("threshold")
    findings = []
    for driver in drivers:
        if driver.score < frame.min_confidence or not frame.in_zone(driver.box.foot):
            continue
        for behaviour in driver.behaviours:
            if behaviour.name not in wanted:
                continue
            cut = float(threshold) if threshold is not None else behaviour.threshold
            if behaviour.score >= cut:
                findings.append(Finding(behaviour.name, behaviour.score, driver.box))
    return findings


def _driver_results(frame: _Frame) -> list[AnalysisResult]:
    return [r for r in frame.results if r.api == "driver_behavior" or r.drivers]


def _behaviour(
    attribute: str, values: frozenset[str], behaviour: str, doing: str
) -> Callable[[_Frame, dict], _Verdict]:
    def rule(frame: _Frame, state: dict) -> _Verdict:
        """Baidu body_attr ``attribute`` with one of ``values`` (score >= min_confidence)
        for a person in the zone, or the driver behaviour ``behaviour`` present."""
        attribute_sources = frame.attribute_sources(attribute)
        drivers = _driver_results(frame)
        if not attribute_sources and not drivers:
            return _NO_DATA
        candidates = []
        for result in attribute_sources:
            findings = []
            for person in result.persons:
                found = person.attributes.get(attribute)
                if (
                    found is not None
                    and found.value in values
                    and found.score >= frame.min_confidence
                    and frame.in_zone(person.box.foot)
                ):
                    findings.append(Finding(doing, found.score, person.box, person.track_id))
            candidates.append(findings)
        findings = _most(candidates) + _present_behaviours(
            frame, (d for r in drivers for d in r.drivers), [behaviour]
        )
        if findings:
            summary = f"{_persons(len(findings))} {doing}{frame.where()}"
        else:
            summary = f"no one {doing}{frame.where()}"
        return _Verdict(bool(findings), findings, summary)

    return rule


def _driver_behaviour(frame: _Frame, state: dict) -> _Verdict:
    """Any of ``behaviours`` (default: all) present in a driver."""
    results = _driver_results(frame)
    if not results:
        return _NO_DATA
    names = frame.params.get("behaviours") or DRIVER_BEHAVIOURS
    if isinstance(names, str):
        names = [names]
    findings = _present_behaviours(frame, (d for r in results for d in r.drivers), names)
    if findings:
        listed = ", ".join(f"{f.label} {f.score:.2f}" for f in findings)
        summary = f"driver{frame.where()}: {listed}"
    else:
        summary = f"no driver behaviour{frame.where()}"
    return _Verdict(bool(findings), findings, summary)


def _loitering(frame: _Frame, state: dict) -> _Verdict:
    """A tracked person whose foot point stays in the zone longer than ``dwell_seconds``.

    Tracks live in the state: ``{"key", "id", "box", "seen", "inside_since"}``. Persons
    with a vendor track id (Baidu body_tracking) keep their id; others are matched with
    the state's tracks by IoU (at least ``iou``, best first). Leaving the zone restarts
    the dwell; a track unseen for more than ``forget_after_seconds`` is forgotten.
    """
    dwell = float(frame.params["dwell_seconds"])
    least_iou = float(frame.params.get("iou", 0.3))
    forget_after = float(frame.params.get("forget_after_seconds", 30))
    now = frame.now.timestamp()
    tracks: list[dict[str, Any]] = [dict(track) for track in state.get("tracks", [])]
    sources = frame.person_sources()
    if not sources:
        state["tracks"] = [t for t in tracks if now - float(t["seen"]) <= forget_after]
        return _NO_DATA
    tracked = [r for r in sources if any(p.track_id is not None for p in r.persons)]
    source = max(tracked or sources, key=lambda result: len(result.persons))
    persons = _confident(source.persons, frame.min_confidence)

    by_key = {track["key"]: index for index, track in enumerate(tracks)}
    claimed: dict[int, int] = {}  # person index -> track index
    for index, person in enumerate(persons):
        if person.track_id is not None and f"id:{person.track_id}" in by_key:
            claimed[index] = by_key[f"id:{person.track_id}"]
    free_persons = [i for i, p in enumerate(persons) if i not in claimed and p.track_id is None]
    free_tracks = [t for t in range(len(tracks)) if t not in claimed.values()]
    matched = _assign(
        [persons[i].box for i in free_persons],
        [_track_box(tracks[t]) for t in free_tracks],
        _iou,
        least_iou,
    )
    for person_slot, track_slot in matched.items():
        claimed[free_persons[person_slot]] = free_tracks[track_slot]

    next_number = int(state.get("next_track", 1))
    seen_now: list[dict[str, Any]] = []
    for index, person in enumerate(persons):
        if index in claimed:
            track = tracks[claimed[index]]
        elif person.track_id is not None:
            track = {"key": f"id:{person.track_id}", "id": person.track_id, "inside_since": None}
        else:
            track = {"key": f"n:{next_number}", "id": next_number, "inside_since": None}
            next_number += 1
        inside = frame.in_zone(person.box.foot)
        since = track.get("inside_since")
        track.update(
            box=[person.box.left, person.box.top, person.box.width, person.box.height],
            seen=now,
            score=person.score,
            inside_since=(since if since is not None else now) if inside else None,
        )
        seen_now.append(track)
    kept = [
        track
        for index, track in enumerate(tracks)
        if index not in claimed.values() and now - float(track["seen"]) <= forget_after
    ]
    state["tracks"] = seen_now + kept
    state["next_track"] = next_number

    findings = [
        Finding("loitering", float(track["score"]), _track_box(track), int(track["id"]))
        for track in seen_now
        if track["inside_since"] is not None and now - float(track["inside_since"]) > dwell
    ]
    if findings:
        summary = f"{_persons(len(findings))}{frame.where()} for over {dwell:g} s"
    else:
        summary = f"no one{frame.where()} for over {dwell:g} s"
    return _Verdict(bool(findings), findings, summary)


def _track_box(track: Mapping[str, Any]) -> Box:
    left, top, width, height = (float(value) for value in track["box"])
    return Box(left, top, width, height)
