"""Alerts that went quiet and frame runs whose worker died."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from alerts import lifecycle
from alerts.models import UNRESOLVED, Alert
from cameras.models import Camera, Health
from monitoring.analysis_models import (
    AnalysisState,
    FrameRun,
    FrameRunStatus,
)

from .outcome import ABANDONED_AFTER_SECONDS

# ---------------------------------------------------------------- alerts that went quiet


def _may_resolve(camera: Camera) -> bool:
    """Whether quiet alerts of ``camera`` may resolve by themselves: not while an
    analysis of it is unavailable or the camera is offline (no data is not "clear")."""
    if camera.health == Health.OFFLINE:
        return False
    return not AnalysisState.objects.filter(
        analysis__camera=camera, analysis__enabled=True, available=False
    ).exists()


def close_abandoned_runs(now: datetime | None = None) -> int:
    """Drop the frames whose run is still analysing ``ABANDONED_AFTER_SECONDS`` after it
    started: the whole worker died under it, and the broker gives its task back only
    after its visibility timeout, when the frame is too late anyway. The reason is kept;
    the task, when it comes back, finds the frame dropped. Returns how many."""
    now = now or timezone.now()
    return FrameRun.objects.filter(
        status=FrameRunStatus.ANALYZING,
        started_at__lt=now - timedelta(seconds=ABANDONED_AFTER_SECONDS),
    ).update(
        status=FrameRunStatus.DROPPED,
        reason=(
            f"its worker stopped: still unfinished {ABANDONED_AFTER_SECONDS} s after it started"
        ),
        finished_at=now,
    )


def resolve_stale_alerts(now: datetime | None = None) -> int:
    """Resolve the alerts whose condition stayed clear for their rule's
    ``clear_after_seconds``, on every camera that has data. Returns how many."""
    now = now or timezone.now()
    camera_ids = set(
        Alert.objects.filter(status__in=UNRESOLVED).values_list("camera_id", flat=True)
    )
    resolved = 0
    for camera in Camera.objects.filter(pk__in=camera_ids).order_by("pk"):
        if _may_resolve(camera):
            resolved += lifecycle.resolve_stale(now, camera=camera)
    return resolved
