"""Alert rules on hands, gestures and body posture: a hand in a danger zone, a help
gesture, a person down.

They read the answers of Baidu ``hand_analysis``, ``fingertip``, ``gesture`` and
``body_analysis`` and the on-box detector's keypoints, and follow the conventions of
``alerts.rules`` (pure, ``no data`` when nothing relevant ran, the source that found most
counts); ``alerts.rules`` registers them.

Params each kind reads (all optional):
- hand_in_danger: none. A hand is in the zone when one of its points is: a point of a
  ``hand_analysis`` / ``fingertip`` hand (the hand's score against ``min_confidence``), or
  a wrist of a located person (the person's score against it). Points scored under
  ``keypoints.KEYPOINT_MIN_SCORE`` are not used.
- help_gesture: ``gestures`` (default ``DEFAULT_HELP_GESTURES``): Baidu gesture classes;
  the gesture's box centre must lie in the zone.
- person_down: none. A located person with keypoints, foot point in the zone, whose
  torso lies near horizontal (``keypoints.posture``).
"""

from __future__ import annotations

from collections.abc import Callable

from alerts.rules.config import Finding
from alerts.rules.frame import _NO_DATA, _confident, _Frame, _most, _persons, _Verdict
from monitoring.backends.base import AnalysisResult, Box
from monitoring.backends.keypoints import DOWN, WRISTS, posture, seen

# `手势识别` > `接口描述` (可识别的24种手势): the classnames an answer's ``classname`` holds
# (besides "other" and "Face"). The seed writes OK as "OK" here and "Ok" elsewhere: names
# compare without case.
GESTURE_CLASSES = (
    "One",
    "Five",
    "Fist",
    "OK",
    "Prayer",
    "Congratulation",
    "Honour",
    "Heart_single",
    "Thumb_up",
    "Thumb_down",
    "ILY",
    "Palm_up",
    "Heart_1",
    "Heart_2",
    "Heart_3",
    "Two",
    "Three",
    "Four",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Rock",
    "Insult",
)
# 数字5 (原掌心向前): an open palm held up, facing the camera.
DEFAULT_HELP_GESTURES = ("Five",)
HAND_APIS = frozenset({"hand_analysis", "fingertip"})
GESTURE_API = "gesture"
# Answers whose persons carry body keypoints even when nobody was found.
KEYPOINT_APIS = frozenset({"body_analysis"})


def _centre(box: Box) -> tuple[float, float]:
    return (box.left + box.width / 2, box.top + box.height / 2)


def _keypoint_sources(frame: _Frame) -> list[AnalysisResult]:
    """Results that located persons with body keypoints (or found nobody, where the API
    always gives keypoints)."""
    return [
        result
        for result in frame.person_sources()
        if result.api in KEYPOINT_APIS or any(person.keypoints for person in result.persons)
    ]


def _hand_in_danger(frame: _Frame, state: dict) -> _Verdict:
    """A hand point in the danger zone (see the module notes)."""
    candidates: list[list[Finding]] = []
    for result in frame.by_api(*HAND_APIS):
        findings = []
        for hand in result.objects:
            if hand.score < frame.min_confidence:
                continue
            inside = [(p.x, p.y) for p in seen(hand.keypoints) if frame.in_zone((p.x, p.y))]
            if inside:
                findings.append(
                    Finding("hand in danger zone", hand.score, hand.box, points=tuple(inside))
                )
        candidates.append(findings)
    for result in _keypoint_sources(frame):
        findings = []
        for person in _confident(result.persons, frame.min_confidence):
            wrists = seen(person.keypoints, WRISTS)
            inside = [(p.x, p.y) for p in wrists if frame.in_zone((p.x, p.y))]
            if inside:
                findings.append(
                    Finding(
                        "hand in danger zone",
                        person.score,
                        person.box,
                        person.track_id,
                        points=tuple(inside),
                    )
                )
        candidates.append(findings)
    if not candidates:
        return _NO_DATA
    findings = _most(candidates)
    where = frame.where() or " in the danger zone"
    if findings:
        hands = "1 hand" if len(findings) == 1 else f"{len(findings)} hands"
        summary = f"{hands}{where}"
    else:
        summary = f"no hand{where}"
    return _Verdict(bool(findings), findings, summary, count=len(findings))


def _help_gesture(frame: _Frame, state: dict) -> _Verdict:
    """One of ``gestures`` shown in the zone (see the module notes)."""
    answers = frame.by_api(GESTURE_API)
    if not answers:
        return _NO_DATA
    wanted = frame.params.get("gestures") or DEFAULT_HELP_GESTURES
    if isinstance(wanted, str):
        wanted = [wanted]
    names = {str(name).casefold() for name in wanted}
    findings = [
        Finding(f"gesture {item.label}", item.score, item.box)
        for result in answers
        for item in result.objects
        if item.label.casefold() in names
        and item.score >= frame.min_confidence
        and frame.in_zone(_centre(item.box))
    ]
    if findings:
        shown = ", ".join(sorted({finding.label.split(" ", 1)[1] for finding in findings}))
        summary = f"help gesture {shown}{frame.where()}"
    else:
        summary = f"no help gesture{frame.where()}"
    return _Verdict(bool(findings), findings, summary)


def _person_down(frame: _Frame, state: dict) -> _Verdict:
    """A person in the zone whose torso lies near horizontal (see the module notes)."""
    sources = _keypoint_sources(frame)
    if not sources:
        return _NO_DATA
    findings = _most(
        [
            Finding("person down", person.score, person.box, person.track_id)
            for person in _confident(result.persons, frame.min_confidence)
            if frame.in_zone(person.box.foot) and posture(person.keypoints, person.box) == DOWN
        ]
        for result in sources
    )
    if findings:
        summary = f"{_persons(len(findings))} down{frame.where()}"
    else:
        summary = f"no one down{frame.where()}"
    return _Verdict(bool(findings), findings, summary, count=len(findings))


RULES: dict[str, Callable[[_Frame, dict], _Verdict]] = {
    "hand_in_danger": _hand_in_danger,
    "help_gesture": _help_gesture,
    "person_down": _person_down,
}
