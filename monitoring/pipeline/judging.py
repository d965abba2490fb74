"""3. The rules: each enabled rule evaluated once per frame, its decision applied to the
alert lifecycle in one transaction with the evaluation row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from django.db import IntegrityError, transaction

from alerts import events, lifecycle
from alerts.models import Rule
from alerts.rules import Finding, evaluate
from cameras.models import Camera, Frame, Region
from monitoring.analysis_models import (
    FrameAnalysis,
    RuleEvaluation,
)
from monitoring.backends.base import (
    AnalysisResult,
    Box,
)

from .outcome import STATE_SEEN_EVERY_SECONDS, FrameOutcome
from .params import crowd_regions

# ---------------------------------------------------------------- 3. rules


def _apply_rules(
    frame: Frame,
    camera: Camera,
    regions: list[Region],
    rules: Sequence[Rule],
    done: list[tuple[FrameAnalysis, AnalysisResult]],
    outcome: FrameOutcome,
    *,
    fresh: bool,
) -> list[events.Problem]:
    if not rules:
        return []
    evaluated = (
        {} if fresh else {item.rule_id: item for item in RuleEvaluation.objects.filter(frame=frame)}
    )
    crowd_ids = [region.pk for region in crowd_regions(regions)]
    problems = []
    for rule in rules:
        evaluation = evaluated.get(rule.pk)
        if evaluation is None:
            evaluation = _evaluate_rule(rule, frame, camera, done, crowd_ids, outcome)
        if evaluation is None:
            continue
        if evaluation.alert_id is not None:
            outcome.alerts.append(evaluation.alert_id)
        if evaluation.holds:
            problems.append(
                events.Problem(
                    rule_id=rule.pk,
                    kind=rule.kind,
                    severity=rule.severity,
                    summary=evaluation.summary,
                    findings=tuple(_finding(item) for item in evaluation.decision["findings"]),
                    alert_id=evaluation.alert_id,
                    region_id=rule.region_id,
                )
            )
    return problems


def rule_results(
    rule: Rule, done: Iterable[tuple[FrameAnalysis, AnalysisResult]]
) -> list[tuple[FrameAnalysis, AnalysisResult]]:
    """The results a rule reads: all of the frame's, except fence answers about
    another region than the rule's."""
    return [
        (row, result)
        for row, result in done
        if result.api != "fence" or row.region_id is None or row.region_id == rule.region_id
    ]


def _evaluate_rule(
    rule: Rule,
    frame: Frame,
    camera: Camera,
    done: list[tuple[FrameAnalysis, AnalysisResult]],
    crowd_ids: list[int],
    outcome: FrameOutcome,
) -> RuleEvaluation | None:
    """Evaluate one rule on the frame and apply its decision, at most once per (rule,
    frame): the evaluation row, the rule's state and the alert commit together."""
    config = rule.to_config()
    if rule.kind == "crowd" and rule.region_id in crowd_ids and "area_index" not in rule.params:
        config = replace(
            config, params={**config.params, "area_index": crowd_ids.index(rule.region_id)}
        )
    size = (frame.width, frame.height)
    polygon = rule.region.points_on(size) if rule.region is not None else None
    chosen = rule_results(rule, done)
    results = [result for _row, result in chosen]
    calls = [call for row, _result in chosen for call in row.calls or []]
    moment = frame.captured_at
    try:
        with transaction.atomic():
            # One frame at a time per rule: a later frame of the camera waits for this
            # one (the row lock), then reads the state this one leaves.
            state, seen_at = lifecycle.load_rule_state(rule, camera, rule.region, lock=True)
            decision, new_state = evaluate(
                config, results, polygon, state, now=moment, frame_size=size
            )
            # While the condition holds with nothing else changing, "last seen" is kept
            # to within STATE_SEEN_EVERY_SECONDS rather than written on every frame.
            seen_again = decision.holds and (
                seen_at is None or (moment - seen_at).total_seconds() >= STATE_SEEN_EVERY_SECONDS
            )
            if new_state != state or seen_again:
                lifecycle.save_rule_state(
                    rule, camera, rule.region, new_state, decision, now=moment
                )
            alert = lifecycle.apply_decision(
                rule,
                camera,
                rule.region,
                decision,
                frame=frame,
                results=results,
                vendor_calls=calls,
                now=moment,
            )
            # Last, and unique per (rule, frame): if another run of this frame evaluated
            # it first, this raises and everything above is rolled back.
            evaluation = RuleEvaluation.objects.create(
                rule=rule,
                frame=frame,
                holds=decision.holds,
                fire=decision.fire,
                summary=decision.summary[:500],
                alert_id=alert.pk if alert is not None else None,
                decision={
                    "active": decision.active,
                    "score": decision.score,
                    "count": decision.count,
                    "severity": decision.severity,
                    "findings": [events.finding_payload(item) for item in decision.findings],
                },
            )
    except IntegrityError:
        # Evaluated by another run of this frame: that decision stands.
        return RuleEvaluation.objects.filter(rule=rule, frame=frame).first()
    outcome.decisions[rule.pk] = decision
    return evaluation


def _finding(data: dict[str, Any]) -> Finding:
    box = data.get("box")
    return Finding(
        label=data.get("label", ""),
        score=float(data.get("score") or 0.0),
        box=Box(**box) if box else None,
        track_id=data.get("track_id"),
    )
