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
- Boxes are in pixels of the frame: the pipeline scales each result once, right after the
  vendor answers; ``frame_size`` still scales a result that says it was analysed at
  another size.
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
- hand_in_danger, help_gesture, person_down: see ``alerts.body_rules``.

Modules: ``config`` (kinds, ``RuleConfig``, ``Finding``, ``Decision``, active hours and
cooldown), ``frame`` (the frame as rules see it, ``_Frame`` and ``_Verdict``) and
``kinds`` (one function per kind); this package's ``__init__`` holds ``evaluate`` and
the registry of kind functions (``_RULES``). A new kind: its name in
``config.RULE_KINDS`` (and ``_REQUIRED_PARAMS``), its function in a module of its own,
one line in ``_RULES``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitoring.backends.base import AnalysisResult

from .config import (
    COLOUR_NAMES,
    DEFAULT_NO_HELMET_CLASSES,
    DRIVER_BEHAVIOURS,
    HEADWEAR_LABELS,
    NO_DATA,
    NO_MASK_VALUES,
    PHONE_VALUES,
    RULE_KINDS,
    SAFETY_HELMET,
    SEVERITIES,
    SMOKING_VALUES,
    Decision,
    Finding,
    Point,
    RuleConfig,
    in_cooldown,
    initial_state,
    is_active,
)
from .frame import (
    _Frame,
    _Verdict,
)
from .kinds import (
    _behaviour,
    _crowd,
    _driver_behaviour,
    _fence_intrusion,
    _flow,
    _loitering,
    _no_helmet,
    _occupancy,
    _sequence,
    _workwear_colour,
)

__all__ = [
    "COLOUR_NAMES",
    "DEFAULT_NO_HELMET_CLASSES",
    "DRIVER_BEHAVIOURS",
    "HEADWEAR_LABELS",
    "NO_DATA",
    "NO_MASK_VALUES",
    "PHONE_VALUES",
    "RULE_KINDS",
    "SAFETY_HELMET",
    "SEVERITIES",
    "SMOKING_VALUES",
    "Decision",
    "Finding",
    "Point",
    "RuleConfig",
    "evaluate",
    "in_cooldown",
    "initial_state",
    "is_active",
]


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
    verdict = _rule(rule.kind)(frame, new_state)
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


def _rule(kind: str) -> Callable[[_Frame, dict], _Verdict]:
    """The function of rule ``kind``; ``alerts.body_rules`` builds on this package, so
    its kinds join on first use."""
    if kind not in _RULES:
        from alerts.body_rules import RULES

        _RULES.update(RULES)
    return _RULES[kind]
