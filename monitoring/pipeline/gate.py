"""1. The gate: whether a frame is analysed at all, and each delivery's ``FrameRun``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, connection, transaction

from billing import budgets
from cameras.models import Camera, Frame
from monitoring.analysis_models import (
    FrameRun,
    FrameRunStatus,
)

from .outcome import REDELIVERED_MAX_AGE_SECONDS

# ---------------------------------------------------------------- 1. the gate


def drop_reason(frame: Frame, camera: Camera, now: datetime) -> str | None:
    """Why ``frame`` must not be analysed now, or None."""
    if not camera.enabled:
        return "the camera is disabled"
    waited = (now - frame.captured_at).total_seconds()
    if waited > camera.sample_interval:
        return (
            f"stale: waited {waited:.2f} s, longer than the camera's sampling interval "
            f"of {camera.sample_interval:g} s"
        )
    slot = int(frame.captured_at.timestamp() // max(camera.sample_interval, 0.001))
    if not budgets.should_analyze(camera.pk, slot):
        return budgets.pause_reason(camera.pk) or "the monthly budget is reached: slowed down"
    return None


def _start(frame: Frame, camera: Camera, now: datetime) -> tuple[FrameRun, bool]:
    """The frame's run, and whether this is its first: created (analysing, or dropped
    with the reason) on first sight; a run seen before takes the next delivery number.
    Passed the gate once, a frame is finished by a redelivered task even when it waited
    longer than its camera's interval (its first requests are made already), unless it
    is older than ``REDELIVERED_MAX_AGE_SECONDS`` by then."""
    reason = drop_reason(frame, camera, now)
    run = _create(
        FrameRun,
        frame=frame,
        status=FrameRunStatus.DROPPED if reason else FrameRunStatus.ANALYZING,
        reason=(reason or "")[:300],
        deliveries=0 if reason else 1,
        finished_at=now if reason else None,
    )
    if run is not None:
        return run, True
    # Seen before (or created meanwhile by another task): take the next delivery.
    with transaction.atomic():
        run = FrameRun.objects.select_for_update().get(frame=frame)
        if run.status == FrameRunStatus.DROPPED:
            return run, False
        run.deliveries += 1
        fields = ["deliveries"]
        waited = (now - frame.captured_at).total_seconds()
        if run.status == FrameRunStatus.ANALYZING and waited > max(
            REDELIVERED_MAX_AGE_SECONDS, camera.sample_interval
        ):
            run.status = FrameRunStatus.DROPPED
            run.reason = f"delivered again {waited:.0f} s after it was taken: too late"
            run.finished_at = now
            fields += ["status", "reason", "finished_at"]
        run.save(update_fields=fields)
    return run, False


def _create(model, **values):
    """``model.objects.create(**values)``, or None when a unique key says the row is
    there already (inside a transaction, in a savepoint so that it goes on)."""
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                return model.objects.create(**values)
        return model.objects.create(**values)
    except IntegrityError:
        return None
