"""The alert lifecycle: open, update while the condition holds, acknowledge, resolve (by
a person with a note, or by itself once the condition stayed clear), and the state rules
keep between frames.

Database layer, short transactions. Racing workers are kept honest by the database:
at most one unresolved alert per (rule, camera, region) is a unique constraint, so a
worker that loses the race to open one updates the winner's instead; acknowledging and
resolving are conditional updates, so two people (or a person and the clock) cannot
both succeed. Every change writes an ``AlertChange`` and publishes a live event in the
same transaction (sent after commit). An alert the condition keeps confirming is updated
on every frame, and announced (``alert.updated``) when its evidence gets better and
otherwise at most every ``UPDATE_EVENT_SECONDS``.

Evidence pictures are drawn before a transaction starts, only when an alert opens or a
frame beats its best score.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from alerts import events
from alerts.evidence import render_for_frame
from alerts.models import (
    UNRESOLVED,
    Alert,
    AlertChange,
    AlertStatus,
    ChangeAction,
    EventType,
    Rule,
    RuleState,
)
from alerts.rules import Decision, in_cooldown, initial_state
from cameras.models import Frame

logger = logging.getLogger(__name__)

# An alert confirmed frame after frame is announced at most this often (its count and
# last-seen time catch up with the next announcement), unless its evidence gets better.
UPDATE_EVENT_SECONDS = 2.0


class AlertTransitionError(Exception):
    """A change the alert's current status does not allow; ``code`` says which."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- rule state


def _scope(rule: Rule, camera, region) -> dict[str, Any]:
    return {"rule": rule, "camera": camera, "region": region}


def load_rule_state(
    rule: Rule, camera, region, *, lock: bool = False
) -> tuple[dict, datetime | None]:
    """What ``rule`` remembers about ``camera`` and ``region`` (``initial_state()`` at
    first) and when its condition was last seen. ``lock`` holds the row until the
    transaction ends: a later frame of the camera waits for this one's decision."""
    rows = RuleState.objects.filter(**_scope(rule, camera, region))
    if lock:
        rows = rows.select_for_update()
    row = rows.values_list("state", "last_seen_at").first()
    state = dict(row[0]) if row and row[0] else initial_state()
    return state, (row[1] if row else None)


def save_rule_state(
    rule: Rule, camera, region, state: Mapping[str, Any], decision: Decision, *, now: datetime
) -> None:
    """Keep the state ``alerts.rules.evaluate`` returned, for the next frame."""
    values: dict[str, Any] = {
        "state": _json(state),
        "consecutive": int(state.get("consecutive", 0) or 0),
    }
    if decision.holds:
        values["last_seen_at"] = now
    rows = RuleState.objects.filter(**_scope(rule, camera, region))
    if rows.update(**values):
        return
    try:
        with transaction.atomic():
            RuleState.objects.create(**_scope(rule, camera, region), **values)
    except IntegrityError:
        rows.update(**values)


# ---------------------------------------------------------------- reading


def unresolved_alert(rule: Rule, camera, region, *, lock: bool = False) -> Alert | None:
    """The open or acknowledged alert of ``rule`` on ``camera`` and ``region``, if any;
    ``lock``: locked until the caller's transaction ends, its rule, camera and region
    those given."""
    alerts = Alert.objects.filter(**_scope(rule, camera, region), status__in=UNRESOLVED)
    if not lock:
        return alerts.select_related("rule").first()
    alert = alerts.select_for_update(of=("self",)).first()
    if alert is not None:
        alert.rule, alert.camera, alert.region = rule, camera, region
    return alert


def last_resolved_at(rule: Rule, camera, region) -> datetime | None:
    return (
        Alert.objects.filter(**_scope(rule, camera, region), status=AlertStatus.RESOLVED)
        .order_by("-resolved_at")
        .values_list("resolved_at", flat=True)
        .first()
    )


# ---------------------------------------------------------------- what a frame does


def apply_decision(
    rule: Rule,
    camera,
    region,
    decision: Decision,
    *,
    frame: Frame | None,
    results: Sequence[Any] = (),
    vendor_calls: Iterable[Any] = (),
    now: datetime,
) -> Alert | None:
    """Open, or update, the alert of ``rule`` on ``camera``/``region`` for one frame's
    decision. Returns the alert opened or updated, or None.

    Nothing happens outside the rule's active hours or while the condition does not
    hold: the alert then resolves by itself after ``clear_after_seconds`` (see
    ``resolve_stale``). A firing decision opens an alert unless one is unresolved (it is
    updated) or the last one was resolved less than the rule's cooldown ago.
    """
    if not decision.active or not (decision.holds or decision.fire):
        return None
    calls = _calls(vendor_calls)
    # Inside a transaction (the pipeline's, per rule and frame) the alert is locked as
    # it is read; outside, it is read, then locked to be updated.
    locked = connection.in_atomic_block
    for _attempt in range(3):
        alert = unresolved_alert(rule, camera, region, lock=locked)
        if alert is None:
            if not decision.fire:
                return None
            if in_cooldown(rule.to_config(), last_resolved_at(rule, camera, region), now):
                return None
            opened = _open(rule, camera, region, decision, frame, results, calls, now)
            if opened is not None:
                return opened
            # Another worker opened it first: update theirs.
            continue
        updated = _update(alert, decision, frame, results, calls, now, locked=locked)
        if updated is not None:
            return updated
        # Resolved between reading and locking it: decide again from scratch.
    return None


def _open(rule, camera, region, decision, frame, results, calls, now) -> Alert | None:
    evidence_name = _store_evidence(rule, camera, region, decision, frame, results, now)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                camera=camera,
                region=region,
                site_id=camera.site_id,
                kind=rule.kind,
                status=AlertStatus.OPEN,
                severity=rule.severity,
                title=rule.name[:300],
                summary=decision.summary[:500],
                opened_at=now,
                last_seen_at=now,
                count=1,
                best_score=float(decision.score),
                best_frame=frame,
                best_frame_at=frame.captured_at if frame is not None else None,
                evidence=evidence_name or "",
                findings=_findings(decision),
                normalized=_normalized(results),
                raw=_raw(results),
                vendor_calls=calls,
            )
            if frame is not None:
                Frame.objects.filter(pk=frame.pk).update(keep=True)
            AlertChange.objects.create(
                alert=alert,
                at=now,
                action=ChangeAction.OPENED,
                data=_decision_data(decision, frame),
            )
            events.publish_alert(alert, EventType.ALERT_OPENED)
    except IntegrityError:
        if evidence_name:
            _delete_file(evidence_name)
        return None
    return alert


def _update(
    alert: Alert, decision, frame, results, calls, now, *, locked: bool = False
) -> Alert | None:
    better = frame is not None and decision.score > alert.best_score
    evidence_name = None
    if better:
        evidence_name = _store_evidence(
            alert.rule, alert.camera, alert.region, decision, frame, results, now
        )
    # Nothing in here is caught and gone past: inside the caller's transaction (the
    # pipeline's, per rule and frame) no savepoint is needed.
    with transaction.atomic(savepoint=False):
        current = (
            alert
            if locked
            else Alert.objects.select_for_update(of=("self",))
            .filter(pk=alert.pk, status__in=UNRESOLVED)
            .select_related("rule", "camera", "region")
            .first()
        )
        if current is None:
            if evidence_name:
                _delete_file(evidence_name)
            return None
        current.count += 1
        current.last_seen_at = max(current.last_seen_at, now)
        current.summary = decision.summary[:500]
        fields = ["count", "last_seen_at", "summary", "updated_at"]
        replaced_frame_id, replaced_evidence = None, ""
        improved = better and decision.score > current.best_score
        if improved:
            replaced_frame_id, replaced_evidence = current.best_frame_id, current.evidence.name
            current.best_score = float(decision.score)
            current.best_frame = frame
            current.best_frame_at = frame.captured_at
            current.evidence = evidence_name or ""
            current.findings = _findings(decision)
            current.normalized = _normalized(results)
            current.raw = _raw(results)
            current.vendor_calls = calls
            fields += [
                "best_score",
                "best_frame",
                "best_frame_at",
                "evidence",
                "findings",
                "normalized",
                "raw",
                "vendor_calls",
            ]
            Frame.objects.filter(pk=frame.pk).update(keep=True)
            if replaced_frame_id and replaced_frame_id != frame.pk:
                _release_frame(replaced_frame_id, current.pk)
            AlertChange.objects.create(
                alert=current,
                at=now,
                action=ChangeAction.UPDATED,
                data={**_decision_data(decision, frame), "replaced_frame": replaced_frame_id},
            )
        elif evidence_name:
            transaction.on_commit(lambda: _delete_file(evidence_name))
        current.save(update_fields=fields)
        if replaced_evidence:
            transaction.on_commit(lambda: _delete_file(replaced_evidence))
        if improved or _time_to_announce(current.pk):
            events.publish_alert(current, EventType.ALERT_UPDATED)
    return current


def _time_to_announce(alert_id: int) -> bool:
    """Whether the confirmed alert ``alert_id`` is due an ``alert.updated`` (shared by
    every worker through the cache; when the cache cannot tell, it is)."""
    try:
        return bool(cache.add(f"alerts:announced:{alert_id}", 1, timeout=UPDATE_EVENT_SECONDS))
    except Exception:
        return True


def _release_frame(frame_id: int, alert_id: int) -> None:
    """Let retention delete a frame no other alert keeps as evidence."""
    Frame.objects.filter(pk=frame_id).exclude(
        best_for_alerts__in=Alert.objects.exclude(pk=alert_id)
    ).update(keep=False)


# ---------------------------------------------------------------- by itself


def _seen_clear(alert: Alert, clear_for: timedelta) -> bool:
    """Whether the alert's camera has been analysed, without the condition, for
    ``clear_for`` since the alert was last seen. Only analysed time counts: with no frame
    analysed since (the product stopped, the camera sent nothing) the alert stays open, and
    a gap longer than ``clear_for`` before the first analysed frame (downtime) is not
    counted: the clear time then starts at that frame."""
    from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus

    span = FrameAnalysis.objects.filter(
        frame__camera_id=alert.camera_id,
        frame__captured_at__gt=alert.last_seen_at,
        status=FrameAnalysisStatus.DONE,
    ).aggregate(first=Min("frame__captured_at"), last=Max("frame__captured_at"))
    if span["first"] is None:
        return False
    start = alert.last_seen_at
    if span["first"] - start > clear_for:
        start = span["first"]
    return span["last"] - start >= clear_for


def resolve_stale(now: datetime, *, camera=None) -> int:
    """Resolve every unresolved alert whose condition has not been seen for its rule's
    ``clear_after_seconds`` of analysed frames (``_seen_clear``). Returns how many were
    resolved."""
    candidates = Alert.objects.filter(status__in=UNRESOLVED, last_seen_at__lt=now).select_related(
        "rule"
    )
    if camera is not None:
        candidates = candidates.filter(camera=camera)
    resolved = 0
    for alert in candidates:
        clear_for = timedelta(seconds=alert.rule.clear_after_seconds)
        if alert.last_seen_at + clear_for > now:
            continue
        if not _seen_clear(alert, clear_for):
            continue
        with transaction.atomic():
            # Unchanged since read: a frame that saw the condition meanwhile wins.
            done = Alert.objects.filter(
                pk=alert.pk, status__in=UNRESOLVED, last_seen_at=alert.last_seen_at
            ).update(status=AlertStatus.RESOLVED, resolved_at=now, resolved_by=None)
            if not done:
                continue
            alert.refresh_from_db()
            AlertChange.objects.create(
                alert=alert,
                at=now,
                action=ChangeAction.AUTO_RESOLVED,
                data={
                    "last_seen_at": alert.last_seen_at.isoformat(),
                    "clear_after_seconds": alert.rule.clear_after_seconds,
                },
            )
            events.publish_alert(alert, EventType.ALERT_RESOLVED, auto=True)
        resolved += 1
    return resolved


# ---------------------------------------------------------------- by a person


def acknowledge(alert: Alert, user, note: str = "", *, now: datetime | None = None) -> Alert:
    """Someone has seen the alert and is on it. Only an open alert can be acknowledged."""
    now = now or timezone.now()
    note = (note or "").strip()
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.ACKNOWLEDGED, acknowledged_by=user, acknowledged_at=now
        )
        if not done:
            _refuse(alert, "acknowledge")
        alert.refresh_from_db()
        AlertChange.objects.create(
            alert=alert, at=now, user=user, action=ChangeAction.ACKNOWLEDGED, note=note
        )
        events.publish_alert(alert, EventType.ALERT_ACKNOWLEDGED)
    return alert


def resolve(alert: Alert, user, note: str, *, now: datetime | None = None) -> Alert:
    """Someone closes the alert, saying how (``note`` is required)."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise AlertTransitionError(
            "Say how the alert was resolved: a note is required.", "note_required"
        )
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, status__in=UNRESOLVED).update(
            status=AlertStatus.RESOLVED, resolved_by=user, resolved_at=now, resolution_note=note
        )
        if not done:
            _refuse(alert, "resolve")
        alert.refresh_from_db()
        AlertChange.objects.create(
            alert=alert, at=now, user=user, action=ChangeAction.RESOLVED, note=note
        )
        events.publish_alert(alert, EventType.ALERT_RESOLVED, auto=False)
    return alert


def add_note(alert: Alert, user, note: str, *, now: datetime | None = None) -> AlertChange:
    """A remark in the alert's history, whatever its status."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise AlertTransitionError("The note is empty.", "note_required")
    with transaction.atomic():
        change = AlertChange.objects.create(
            alert=alert, at=now, user=user, action=ChangeAction.NOTE, note=note
        )
        alert.refresh_from_db()
        events.publish_alert(alert, EventType.ALERT_UPDATED, note=note)
    return change


def unmasked_evidence(alert: Alert, user, *, now: datetime | None = None) -> bytes | None:
    """The alert's evidence picture drawn on its frame as taken, people not masked, for
    a ``user`` the caller found allowed (``monitoring.privacy.may_see_unmasked``); the
    view is recorded in the alert's history. None when the frame is gone."""
    frame = alert.best_frame
    if frame is None or not frame.image:
        return None
    try:
        data = render_for_frame(
            frame,
            results=alert.normalized or [],
            findings=alert.findings or [],
            regions=[alert.region] if alert.region_id else [],
            caption=f"{alert.rule.name}: {alert.summary}",
            unmasked=True,
        )
    except FileNotFoundError:
        return None
    AlertChange.objects.create(
        alert=alert,
        at=now or timezone.now(),
        user=user,
        action=ChangeAction.VIEWED_UNMASKED,
        data={"frame": frame.pk},
    )
    return data


def _refuse(alert: Alert, verb: str) -> None:
    status = Alert.objects.filter(pk=alert.pk).values_list("status", flat=True).first()
    if status == AlertStatus.RESOLVED:
        raise AlertTransitionError(
            f"Cannot {verb} alert {alert.pk}: it is already resolved.", "already_resolved"
        )
    if status == AlertStatus.ACKNOWLEDGED:
        raise AlertTransitionError(
            f"Cannot {verb} alert {alert.pk}: it is already acknowledged.", "already_acknowledged"
        )
    raise AlertTransitionError(f"Cannot {verb} alert {alert.pk}: it no longer exists.", "gone")


# ---------------------------------------------------------------- evidence and records


def _store_evidence(rule, camera, region, decision, frame, results, now) -> str | None:
    """Draw and store the evidence picture; None when there is no frame or it fails."""
    if frame is None or not frame.image:
        return None
    try:
        data = render_for_frame(
            frame,
            results=results,
            findings=decision.findings,
            regions=[region] if region is not None else [],
            caption=f"{rule.name}: {decision.summary}",
        )
    except Exception:
        logger.exception("evidence for rule %s on frame %s could not be drawn", rule.pk, frame.pk)
        return None
    storage = Alert._meta.get_field("evidence").storage
    name = f"evidence/{camera.pk}/{now:%Y/%m/%d}/{uuid.uuid4().hex}.jpg"
    return storage.save(name, ContentFile(data))


def _delete_file(name: str) -> None:
    try:
        Alert._meta.get_field("evidence").storage.delete(name)
    except OSError:
        logger.warning("evidence file %s could not be deleted", name)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "as_dict"):
        return result.as_dict()
    return dict(vars(result))


def _without_raw(data: dict[str, Any]) -> dict[str, Any]:
    data = {key: value for key, value in data.items() if key != "raw"}
    if isinstance(data.get("per_image"), list):
        data["per_image"] = [
            _without_raw(item) if isinstance(item, dict) else item for item in data["per_image"]
        ]
    return data


def _normalized(results: Sequence[Any]) -> list:
    return _json([_without_raw(_as_dict(result)) for result in results])


def _raw(results: Sequence[Any]) -> list:
    return _json([_as_dict(result).get("raw") for result in results])


def _findings(decision: Decision) -> list[dict[str, Any]]:
    return [events.finding_payload(finding) for finding in decision.findings]


def _decision_data(decision: Decision, frame) -> dict[str, Any]:
    return {
        "score": float(decision.score),
        "summary": decision.summary,
        "count": decision.count,
        "frame": frame.pk if frame is not None else None,
    }


def _calls(vendor_calls: Iterable[Any]) -> list[dict[str, Any]]:
    """The vendor calls behind a frame: mappings or objects (a ledger row, an attempt)
    with ``request_id``, ``account`` (or ``account_id``), ``api``, ``vendor``, ``cost``."""
    calls = []
    for call in vendor_calls or ():
        if isinstance(call, Mapping):
            get = call.get
        else:

            def get(name, default=None, _call=call):
                return getattr(_call, name, default)

        account = get("account_id") or get("account")
        if hasattr(account, "pk"):
            account = account.pk
        cost = get("cost")
        calls.append(
            {
                "request_id": str(get("request_id") or ""),
                "account": account,
                "vendor": str(get("vendor") or ""),
                "api": str(get("api") or ""),
                "cost": str(cost) if cost is not None else None,
            }
        )
    return calls
