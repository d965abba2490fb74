"""Alert rules: normalized analysis results + region geometry + rule state in, decisions out.

Pure functions, no Django, no clock: the time of the frame comes in as ``now``, the state
of a (rule, camera, region) comes in as a JSON-serializable mapping and a new one goes out
(the input is never changed). The alert lifecycle (open, update, acknowledge, resolve,
cooldown) lives in the DB layer and is built on ``evaluate`` and ``in_cooldown``.

One small function per rule kind. Each picks the results it needs among those that ran on
the frame (several APIs may have run: body_attr and CTYun helmet, say) and answers "no
data" when nothing relevant ran. A frame with no data neither counts towards nor breaks a
run of consecutive holding frames.

Shared conventions:
- A person is in the zone when the foot point of its box (bottom centre) lies inside the
  region polygon, or on its edge. No region (``None``) means the whole frame.
- When several analyses located persons on one frame (body_attr and body_tracking, say),
  the rule counts the one that found most, so that nobody is counted twice.
- Boxes are scaled to ``frame_size`` when a result says it was analysed at another size.
- Scores are compared with ``>=``; counts fire when strictly over their limit.
- Active hours: ``active_start <= t < active_end``; when start > end the window wraps
  midnight and its part after midnight belongs to the day it started on (a Friday night
  shift runs into Saturday morning). start == end means all day.

Params each kind reads (all optional unless marked required):
- every kind: ``region_name`` (for summaries), ``timezone`` (IANA name: an aware ``now``
  is converted to it before active hours are checked).
- fence_intrusion: none.
- no_helmet: ``head_fraction`` (0.25), ``head_overlap`` (0.3), ``no_helmet_classes``.
- workwear_colour: ``allowed_colours`` (required), ``garment_overlap`` (0.5).
- crowd: ``limit`` (required), ``area_index`` (0).
- occupancy: ``capacity`` (required), ``initial`` (0).
- flow: ``limit_per_window`` and ``window_seconds`` (required), ``direction``
  ("both", "in" or "out").
- fall / fight: ``threshold`` (min_confidence).
- smoking / phone / no_mask: ``threshold`` (driver behaviours: the vendor's threshold).
- driver_behaviour: ``behaviours`` (all), ``threshold`` (the vendor's, per behaviour).
- loitering: ``dwell_seconds`` (required), ``iou`` (0.3), ``forget_after_seconds`` (30).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from monitoring.backends.base import (
    AnalysisResult,
    Box,
    Driver,
    Person,
)
from monitoring.lib import geometry
from monitoring.lib.geometry import point_in_polygon

RULE_KINDS = (
    "fence_intrusion",
    "no_helmet",
    "workwear_colour",
    "crowd",
    "occupancy",
    "flow",
    "fall",
    "fight",
    "smoking",
    "phone",
    "no_mask",
    "driver_behaviour",
    "loitering",
)
SEVERITIES = ("info", "warning", "critical")
NO_DATA = "no data"

# Baidu body_attr attribute values (`人体检测和属性识别` > `返回参数`), as the client keeps them.
SAFETY_HELMET = "安全帽"
HEADWEAR_LABELS = {"无帽": "no hat", "普通帽": "ordinary hat"}
SMOKING_VALUES = frozenset({"吸烟"})
PHONE_VALUES = frozenset({"看手机", "打电话"})
NO_MASK_VALUES = frozenset({"无口罩"})

# Baidu driver_behavior behaviour names (`驾驶行为分析` > `请求参数` type).
DRIVER_BEHAVIOURS = (
    "smoke",
    "cellphone",
    "not_buckling_up",
    "both_hands_leaving_wheel",
    "not_facing_front",
    "no_face_mask",
    "yawning",
    "eyes_closed",
    "head_lowered",
)

# CTYun helmet answers name the helmet's colour (blue_hat, white_hat, yellow_hat, red_hat,
# other): every class of theirs is a helmet. Detectors that also box bare heads use
# labels like these; a rule may name its own in ``params["no_helmet_classes"]``.
DEFAULT_NO_HELMET_CLASSES = frozenset({"no_hat", "no_helmet", "head"})

# Colour names, so that ``allowed_colours`` can be written once for every vendor:
# Baidu upper_color values and CTYun workwear classes both map to these English names.
COLOUR_NAMES = {
    "红": "red",
    "橙": "orange",
    "黄": "yellow",
    "绿": "green",
    "蓝": "blue",
    "紫": "purple",
    "粉": "pink",
    "黑": "black",
    "白": "white",
    "灰": "grey",
    "棕": "brown",
    "gray": "grey",
}

# Analyses whose persons are not located people of the frame (the fence answer holds only
# the persons the vendor found inside its own area).
_NOT_PERSON_SOURCES = frozenset({"fence"})
_ATTRIBUTE_APIS = frozenset({"body_attr", "body_detection"})

_REQUIRED_PARAMS = {
    "workwear_colour": ("allowed_colours",),
    "crowd": ("limit",),
    "occupancy": ("capacity",),
    "flow": ("limit_per_window", "window_seconds"),
    "loitering": ("dwell_seconds",),
}

Point = tuple[float, float]


# ---------------------------------------------------------------- the interface


@dataclass(frozen=True)
class RuleConfig:
    """One rule on one region, as plain values. Raises ``ValueError`` when inconsistent."""

    kind: str
    min_confidence: float = 0.5
    consecutive_frames: int = 1  # the condition must hold this many analysed frames in a row
    active_days: frozenset[int] = frozenset(range(7))  # Monday = 0
    active_start: time | None = None  # local time of day; None = all day
    active_end: time | None = None
    severity: str = "warning"
    cooldown_seconds: float = 0  # after a resolve, no new firing for this long
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}; one of {', '.join(RULE_KINDS)}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must lie in 0..1, not {self.min_confidence}")
        if self.consecutive_frames < 1:
            raise ValueError("consecutive_frames must be at least 1")
        days = frozenset(self.active_days)
        if not days <= frozenset(range(7)):
            raise ValueError(f"active_days are 0 (Monday) to 6 (Sunday), not {sorted(days)}")
        object.__setattr__(self, "active_days", days)
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds cannot be negative")
        missing = [name for name in _REQUIRED_PARAMS.get(self.kind, ()) if name not in self.params]
        if missing:
            raise ValueError(f"rule {self.kind} needs params: {', '.join(missing)}")


@dataclass(frozen=True)
class Finding:
    """Evidence for the overlay: what was seen, how sure, where."""

    label: str
    score: float
    box: Box | None = None
    track_id: int | None = None


@dataclass(frozen=True)
class Decision:
    active: bool  # the rule is within its active hours and days now
    holds: bool  # the condition holds on this frame (after min_confidence)
    fire: bool  # held for consecutive_frames analysed frames in a row, and active
    findings: tuple[Finding, ...]
    score: float  # best score behind the decision
    summary: str  # English, short, for logs and titles
    count: int | None = None  # persons counted (fence, crowd, occupancy, flow)
    severity: str = "warning"  # the rule's, passed through


def initial_state() -> dict:
    """The state of a (rule, camera, region) that has seen no frame yet."""
    return {"consecutive": 0}


def in_cooldown(rule: RuleConfig, last_resolved_at: datetime | None, now: datetime) -> bool:
    """Whether a new alert of ``rule`` must wait: it was resolved less than
    ``cooldown_seconds`` ago."""
    if last_resolved_at is None or rule.cooldown_seconds <= 0:
        return False
    return (now - last_resolved_at).total_seconds() < rule.cooldown_seconds


def is_active(rule: RuleConfig, now: datetime) -> bool:
    """Whether ``now`` falls in the rule's active days and hours (see the module notes)."""
    zone = rule.params.get("timezone")
    if zone and now.tzinfo is not None:
        now = now.astimezone(ZoneInfo(str(zone)))
    day, moment = now.weekday(), now.time().replace(tzinfo=None)
    start, end = rule.active_start, rule.active_end
    if start is None and end is None:
        return day in rule.active_days
    start = start or time(0)
    if end is None:
        return moment >= start and day in rule.active_days
    if start == end:
        return day in rule.active_days
    if start < end:
        return start <= moment < end and day in rule.active_days
    if moment >= start:
        return day in rule.active_days
    return moment < end and (day - 1) % 7 in rule.active_days


def evaluate(
    rule: RuleConfig,
    results: Sequence[AnalysisResult],
    region: Sequence[tuple[float, float]] | None,
    state: Mapping[str, Any],
    *,
    now: datetime,
    frame_size: tuple[int, int] | None = None,
) -> tuple[Decision, dict]:
    """The decision of ``rule`` on one analysed frame, and the state for the next one."""
    new_state: dict[str, Any] = copy.deepcopy(dict(state)) if state else initial_state()
    frame = _Frame(
        rule=rule,
        results=[result.scaled_to(frame_size) for result in results],
        region=[(float(x), float(y)) for x, y in region] if region is not None else None,
        now=now,
    )
    verdict = _RULES[rule.kind](frame, new_state)
    active = is_active(rule, now)
    consecutive = int(new_state.get("consecutive", 0))
    if not active:
        consecutive = 0
    elif verdict.holds:
        consecutive = min(consecutive + 1, rule.consecutive_frames)
    elif not verdict.no_data:
        consecutive = 0
    new_state["consecutive"] = consecutive
    fire = active and verdict.holds and consecutive >= rule.consecutive_frames
    findings = tuple(verdict.findings)
    score = verdict.score
    if score is None:
        score = max((finding.score for finding in findings), default=0.0)
    decision = Decision(
        active=active,
        holds=verdict.holds,
        fire=fire,
        findings=findings,
        score=float(score),
        summary=verdict.summary,
        count=verdict.count,
        severity=rule.severity,
    )
    return decision, new_state


# ---------------------------------------------------------------- the frame, as rules see it


@dataclass
class _Verdict:
    holds: bool
    findings: list[Finding]
    summary: str
    count: int | None = None
    score: float | None = None  # None: the best finding's score
    no_data: bool = False


_NO_DATA = _Verdict(holds=False, findings=[], summary=NO_DATA, score=0.0, no_data=True)


@dataclass
class _Frame:
    rule: RuleConfig
    results: list[AnalysisResult]
    region: list[Point] | None
    now: datetime

    @property
    def params(self) -> Mapping[str, Any]:
        return self.rule.params

    @property
    def min_confidence(self) -> float:
        return self.rule.min_confidence

    def in_zone(self, point: Point) -> bool:
        return self.region is None or point_in_polygon(point, self.region)

    def where(self, preposition: str = "in") -> str:
        """The phrase " in 'Gate'" when the region has a name, else nothing."""
        name = self.params.get("region_name")
        return f" {preposition} '{name}'" if name else ""

    def person_sources(self) -> list[AnalysisResult]:
        """Results that located the persons of the frame: boxes for everyone they counted
        (or nobody there at all)."""
        return [
            result
            for result in self.results
            if result.api not in _NOT_PERSON_SOURCES
            and (result.persons or result.person_count == 0)
        ]

    def attribute_sources(self, name: str) -> list[AnalysisResult]:
        return [
            result
            for result in self.person_sources()
            if result.api in _ATTRIBUTE_APIS
            or any(name in person.attributes for person in result.persons)
        ]

    def by_api(self, *apis: str) -> list[AnalysisResult]:
        return [result for result in self.results if result.api in apis]


def _most(candidates: Iterable[list[Finding]]) -> list[Finding]:
    """The candidate list with most findings (the first among equals)."""
    best: list[Finding] | None = None
    for findings in candidates:
        if best is None or len(findings) > len(best):
            best = findings
    return best or []


def _persons(count: int) -> str:
    return f"{count} person" if count == 1 else f"{count} persons"


def _confident(persons: Iterable[Person], min_confidence: float) -> list[Person]:
    return [person for person in persons if person.score >= min_confidence]


# ---------------------------------------------------------------- geometry helpers


def _iou(a: Box, b: Box) -> float:
    return geometry.iou(a.corners, b.corners)


def _covered(part: Box, whole: Box) -> float:
    """The share of ``part``'s area that lies inside ``whole``."""
    return geometry.covered(part.corners, whole.corners)


def _head(box: Box, fraction: float) -> Box:
    return Box(box.left, box.top, box.width, box.height * fraction)


def _assign(
    targets: Sequence[Box], items: Sequence[Box], overlap: Callable[[Box, Box], float], least: float
) -> dict[int, int]:
    """Greedy one-to-one matching, best overlap first: target index -> item index, for
    pairs whose ``overlap(item, target)`` reaches ``least``."""
    pairs = sorted(
        (
            (overlap(item, target), t, i)
            for t, target in enumerate(targets)
            for i, item in enumerate(items)
        ),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for value, t, i in pairs:
        if value < least or value <= 0:
            break
        if t in matched or i in used:
            continue
        matched[t] = i
        used.add(i)
    return matched


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


_RULES: dict[str, Callable[[_Frame, dict], _Verdict]] = {
    "fence_intrusion": _fence_intrusion,
    "no_helmet": _no_helmet,
    "workwear_colour": _workwear_colour,
    "crowd": _crowd,
    "occupancy": _occupancy,
    "flow": _flow,
    "fall": _sequence("fall"),
    "fight": _sequence("fight"),
    "smoking": _behaviour("smoke", SMOKING_VALUES, "smoke", "smoking"),
    "phone": _behaviour("cellphone", PHONE_VALUES, "cellphone", "using a phone"),
    "no_mask": _behaviour("face_mask", NO_MASK_VALUES, "no_face_mask", "without a face mask"),
    "driver_behaviour": _driver_behaviour,
    "loitering": _loitering,
}
assert set(_RULES) == set(RULE_KINDS)
