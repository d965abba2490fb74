"""``analyze_frame``: one stored frame through gate, analyses, rules and broadcast."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from alerts import events, lifecycle
from cameras.models import Frame
from monitoring import camera_setup
from monitoring.analysis_models import (
    FrameAnalysisStatus,
    FrameRun,
    FrameRunStatus,
)

from .broadcast import _publish_frame, on_camera_health
from .calls import _run_analyses
from .gate import _start
from .judging import _apply_rules
from .outcome import RESOLVE_EVERY_SECONDS, FrameOutcome
from .quiet import _may_resolve
from .results import _parsed

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- the entry point


def analyze_frame(
    frame_id: int, *, now: datetime | None = None, delivery: int | None = None
) -> FrameOutcome:
    """Run the pipeline on one stored frame (see the module docstring).

    ``now`` is the present moment (the frame's wait and stale alerts are measured to
    it); ``delivery`` overrides the delivery number this run records its vendor
    requests under (by default each run of a frame takes the next one).
    """
    now = now or timezone.now()
    frame = Frame.objects.select_related("camera").filter(pk=frame_id).first()
    if frame is None:
        return FrameOutcome(frame_id, "missing", "the frame no longer exists")
    camera = frame.camera
    run, fresh = _start(frame, camera, now)
    if run.status == FrameRunStatus.DROPPED:
        logger.info("frame %s of camera %s dropped: %s", frame.pk, camera.pk, run.reason)
        return FrameOutcome(frame.pk, "dropped", run.reason)
    number = delivery if delivery is not None else run.deliveries
    outcome = FrameOutcome(frame.pk, "analyzed", delivery=number)

    setup = camera_setup.setup_of(camera.pk)
    regions = list(setup.regions)
    rows, availability_changed = _run_analyses(
        frame, camera, regions, setup.analyses, number, now, outcome, fresh=fresh
    )
    done = [
        (row, _parsed(row))
        for row in rows
        if row.status == FrameAnalysisStatus.DONE and row.result is not None
    ]
    problems: list[events.Problem] = []
    if done:
        problems = _apply_rules(frame, camera, regions, setup.rules, done, outcome, fresh=fresh)
    if cache.add(f"pipeline:resolve:{camera.pk}", 1, timeout=RESOLVE_EVERY_SECONDS) and (
        _may_resolve(camera)
    ):
        lifecycle.resolve_stale(now, camera=camera)
    if rows:
        _publish_frame(frame, camera, regions, rows, done, problems)
        outcome.published = True
    if availability_changed:
        on_camera_health(camera)
    # Analysed after all, even if taken for abandoned meanwhile: the reason goes.
    FrameRun.objects.filter(pk=run.pk).update(
        status=FrameRunStatus.ANALYZED, reason="", finished_at=timezone.now()
    )
    return outcome
