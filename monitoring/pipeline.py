"""The analysis pipeline: one stored frame in, alerts and a live overlay out.

Orchestration only: frame -> gate -> client -> ledger -> rules -> alerts -> broadcast.
What a rule decides is ``alerts.rules``'; how an alert opens and resolves is
``alerts.lifecycle``'; how a vendor is called, gated and recorded is
``billing.metered``'. This module decides which of them runs, on which frame, with
which parameters, and makes running a frame twice safe:

1. **Gate** (``FrameRun``): a frame is dropped, with the reason kept, when its camera
   is disabled, when it waited longer than its camera's sampling interval (a newer
   frame is on its way: analysing this one late would only pile up a backlog), or when
   a reached budget says no (``billing.budgets.should_analyze``). Each start of a task
   on a frame takes the next delivery number.
2. **Analyses** (``FrameAnalysis``, unique per frame and analysis): every enabled
   analysis of the camera whose own interval has passed since the last frame it
   analysed (``AnalysisState``, claimed with a row lock) is called through
   ``metered_call`` with request ids ``frame-F:analysis-A:delivery-D:...``: a
   redelivered task records the requests it really sends under its own delivery
   number, and reuses every result stored before instead of calling again. APIs that
   take several frames get a window of the camera's stored frames: CTYun's fence the
   frames since its previous call, up to 32; fall and fight the last ``window`` frames
   (16 by default, up to 64).
3. **Rules** (``RuleEvaluation``, unique per rule and frame): each enabled rule of the
   camera is evaluated on the results of this frame with its stored state, and the
   decision applied to the alert lifecycle, in one transaction with the evaluation row:
   a frame evaluated again advances no counter twice.
4. **Health and broadcast**: each call's outcome sets the analysis' health
   (``monitoring.analysis_health``: ok, failing, refused, paused, which pushes
   ``analysis.health`` when it changes); ``frame.analyzed`` with boxes, regions and what
   is wrong, and ``camera.status`` when a health changed.

An analysis that is not ``ok`` or ``waiting`` makes the camera "analysis unavailable";
rules get no data from it, so no alert opens and none resolves by itself on that camera
until data comes back. An analysis is not called before the ``retry_after`` its vendor
last asked for, nor while a vendor stop holds it (``monitoring.vendor_stops``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts import events, lifecycle
from alerts.models import UNRESOLVED, Alert, EventType, Rule, RuleState
from alerts.rules import Decision, Finding, evaluate, initial_state
from billing import budgets
from billing.metered import metered_call
from billing.models import Outcome, UsageRecord
from billing.usage import ledger_request_id
from cameras.costs import not_on_cameras
from cameras.models import Camera, CameraAnalysis, Frame, Health, Region, RegionKind
from monitoring import analysis_health, camera_setup, prefilter
from monitoring.analysis_models import (
    AnalysisState,
    FrameAnalysis,
    FrameAnalysisStatus,
    FrameRun,
    FrameRunStatus,
    RuleEvaluation,
)
from monitoring.backends import registry
from monitoring.backends.base import (
    AnalysisResult,
    Attribute,
    BackendError,
    Box,
    CircuitOpen,
    DetectedObject,
    Driver,
    DriverBehaviour,
    Keypoint,
    Person,
    RefusedLocally,
)
from monitoring.lib.geometry import Polygon, clamp_points

logger = logging.getLogger(__name__)

# Keys of CameraAnalysis.params the pipeline reads itself; the rest goes to the vendor.
PIPELINE_PARAMS = frozenset({"window"})
# APIs that send the last ``window`` frames (the most one request carries is the
# registry's ``window_frames``), by default as many as the vendor advises.
SEQUENCE_APIS = frozenset({"fall", "fight"})
DEFAULT_SEQUENCE_WINDOW = 16
BODY_NUM_MAX_AREAS = 10
# Baidu body_tracking (``人流量统计-动态版`` > ``请求参数``): case_id is an int32; frames of a
# case at most 500 ms apart (``🔗 人流量统计``: "最大时差不超过500ms，即：抽帧频率需要大于2fps").
TRACKING_CASE_ID_MAX = 2**31 - 1
TRACKING_MAX_GAP_SECONDS = 0.5
# Ledger ids looked up per request of a call: attempt numbers 1..this.
MAX_ATTEMPTS_LOOKED_UP = 8
# A frame comes every sampling interval, a little late at times: an analysis is due
# when its interval has passed, give or take this share of the camera's interval
# (and never more than a tenth of the analysis' own interval).
DUE_TOLERANCE_OF_SAMPLING = 0.5
DUE_TOLERANCE_OF_INTERVAL = 0.1
REASON_LENGTH = 500
# A task given back after its worker died comes again after the broker's visibility
# timeout; a frame older than this by then is not worth paying a vendor for.
REDELIVERED_MAX_AGE_SECONDS = 300
# A run still analysing this long after it started lost its worker (see
# ``close_abandoned_runs``): longer than a frame's analyses take with every retry of a
# slow vendor, shorter than the broker's visibility timeout.
ABANDONED_AFTER_SECONDS = 900
# Quiet alerts of a camera are looked at after its frames at most this often (the
# periodic task looks at every camera anyway).
RESOLVE_EVERY_SECONDS = 5
# A rule's state row says when its condition was last seen to within this.
STATE_SEEN_EVERY_SECONDS = 5


# ---------------------------------------------------------------- what a run returns


@dataclass
class AnalysisOutcome:
    """One analysis on one frame: its status and (when done) its normalized result."""

    analysis_id: int
    api: str
    status: str
    result: AnalysisResult | None = None
    error: str = ""
    error_code: str = ""
    reused: bool = False  # stored by an earlier run: no vendor call this time


@dataclass
class FrameOutcome:
    """What ``analyze_frame`` did with one frame."""

    frame_id: int
    status: str  # "analyzed", "dropped" or "missing"
    reason: str = ""
    delivery: int | None = None
    analyses: list[AnalysisOutcome] = field(default_factory=list)
    decisions: dict[int, Decision | None] = field(default_factory=dict)  # rule id -> decision
    alerts: list[int] = field(default_factory=list)  # alerts opened or updated
    published: bool = False  # a frame.analyzed event went out


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
        publish_camera_status(camera)
    # Analysed after all, even if taken for abandoned meanwhile: the reason goes.
    FrameRun.objects.filter(pk=run.pk).update(
        status=FrameRunStatus.ANALYZED, reason="", finished_at=timezone.now()
    )
    return outcome


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


# ---------------------------------------------------------------- 2. the analyses


def _run_analyses(
    frame: Frame,
    camera: Camera,
    regions: list[Region],
    analyses: Sequence[CameraAnalysis],
    delivery: int,
    now: datetime,
    outcome: FrameOutcome,
    *,
    fresh: bool,
) -> tuple[list[FrameAnalysis], bool]:
    """Every enabled analysis of the camera that runs on this frame: stored results
    reused, due analyses called. Returns their rows and whether any analysis became
    available or unavailable. A ``fresh`` run (the frame's first) has nothing stored to
    reuse."""
    if not analyses:
        return [], False
    stored = (
        {} if fresh else {row.analysis_id: row for row in FrameAnalysis.objects.filter(frame=frame)}
    )
    rows: list[FrameAnalysis] = []
    changed = False
    for analysis in analyses:
        row = stored.get(analysis.pk)
        reused = row is not None and row.status != FrameAnalysisStatus.PENDING
        if row is None:
            row = _claim(frame, camera, analysis, regions, fresh=fresh)
            if row is None:
                continue  # not due on this frame
        if row.status == FrameAnalysisStatus.PENDING:
            if prefilter.skips(frame, analysis, row, regions):
                continue  # nobody there: no paid call (monitoring.prefilter)
            row = _call(frame, camera, analysis, row, regions, delivery)
            changed |= analysis_health.record_outcome(
                analysis,
                row,
                now,
                retry_after=getattr(row, "retry_after", None),
                error_kind=getattr(row, "error_kind", ""),
                known=getattr(row, "claimed_state", None),
            )
        outcome.analyses.append(
            AnalysisOutcome(
                analysis_id=analysis.pk,
                api=analysis.api,
                status=row.status,
                result=_parsed(row) if row.result is not None else None,
                error=row.error,
                error_code=row.error_code,
                reused=reused,
            )
        )
        rows.append(row)
    return rows, changed


def _due(state: AnalysisState, analysis: CameraAnalysis, camera: Camera, frame: Frame) -> bool:
    if not analysis_health.may_call(state, frame.captured_at):
        return False  # the vendor asked to wait (``retry_after``), or a stop holds it
    if state.last_frame_at is None:
        return True
    elapsed = (frame.captured_at - state.last_frame_at).total_seconds()
    tolerance = min(
        DUE_TOLERANCE_OF_SAMPLING * camera.sample_interval,
        DUE_TOLERANCE_OF_INTERVAL * analysis.interval,
    )
    return elapsed >= analysis.interval - tolerance


def _claim(
    frame: Frame,
    camera: Camera,
    analysis: CameraAnalysis,
    regions: list[Region],
    *,
    fresh: bool,
) -> FrameAnalysis | None:
    """Claim ``analysis`` for ``frame`` when its interval has passed since the last
    frame it analysed (and the vendor's ``retry_after`` since its last failure): the row
    to fill, with the frames to send. None when not due."""
    try:
        with transaction.atomic():
            state = _locked_state(analysis)
            if not fresh:
                row = FrameAnalysis.objects.filter(frame=frame, analysis=analysis).first()
                if row is not None:
                    return row
            if not _due(state, analysis, camera, frame):
                return None
            row = FrameAnalysis.objects.create(
                frame=frame,
                analysis=analysis,
                api=analysis.api,
                window=_window(frame, analysis, state.last_frame_at),
                region_id=_area_region_id(analysis, regions),
            )
            state.last_frame_at = frame.captured_at
            state.last_frame_id = frame.pk
            state.save(update_fields=["last_frame_at", "last_frame_id"])
            row.claimed_state = state  # its health as read: spares reading it again
            return row
    except IntegrityError:
        # Claimed meanwhile by another run of this frame: share its row.
        return FrameAnalysis.objects.get(frame=frame, analysis=analysis)


def _locked_state(analysis: CameraAnalysis) -> AnalysisState:
    state = AnalysisState.objects.select_for_update().filter(analysis=analysis).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return AnalysisState.objects.create(analysis=analysis)
    except IntegrityError:
        return AnalysisState.objects.select_for_update().get(analysis=analysis)


def max_frames(vendor: str, api: str) -> int:
    """How many frames one request of ``api`` of a ``vendor`` account carries (the
    registry's ``window_frames``). CTYun counts a request whatever its frames, so its
    fence looks at every frame since its previous call (32) and fall and fight at the
    last ``window`` (64 at most); the on-box fence pays each frame in CPU, so it gets
    this one only."""
    return registry.window_frames(vendor, api)


def _window(frame: Frame, analysis: CameraAnalysis, previous: datetime | None) -> list[int]:
    """The frame ids to send, oldest first, ending with ``frame``: the camera's stored
    frames of the same size since the analysis' previous frame (fence), or the last
    ``window`` frames (fall, fight)."""
    most = max_frames(analysis.account.vendor, analysis.api)
    if most <= 1:
        return [frame.pk]
    frames = Frame.objects.filter(
        camera_id=frame.camera_id,
        captured_at__lte=frame.captured_at,
        width=frame.width,
        height=frame.height,
    ).exclude(pk=frame.pk)
    if analysis.api in SEQUENCE_APIS:
        wanted = _int_param(analysis.params, "window", DEFAULT_SEQUENCE_WINDOW)
        count = min(max(wanted, 1), most) - 1
    else:
        if previous is None:
            return [frame.pk]
        frames = frames.filter(captured_at__gt=previous)
        count = most - 1
    earlier = list(frames.order_by("-captured_at").values_list("pk", flat=True)[:count])
    return [*reversed(earlier), frame.pk]


def _int_param(params: Any, name: str, default: int) -> int:
    try:
        return int((params or {}).get(name, default))
    except (TypeError, ValueError):
        return default


def _area_region_id(analysis: CameraAnalysis, regions: list[Region]) -> int | None:
    region = _fence_region(analysis, regions) if analysis.api == "fence" else None
    return region.pk if region is not None else None


def _fence_region(analysis: CameraAnalysis, regions: list[Region]) -> Region | None:
    """The region whose area a fence analysis sends: the one it names (``region``), or,
    naming none, the camera's fence region when it has exactly one."""
    if analysis.region_id is not None:
        return next((region for region in regions if region.pk == analysis.region_id), None)
    fences = [region for region in regions if region.kind == RegionKind.FENCE]
    return fences[0] if len(fences) == 1 else None


def _area(regions: Iterable[Region], size: tuple[int, int], lowest: int) -> list[Polygon]:
    """The polygons of ``regions`` on a frame of ``size``, whole pixels kept in
    lowest..side-1: data the client writes in its vendor's own form."""
    return [clamp_points(region.points_on(size), size, lowest) for region in regions]


class NotRunnable(Exception):
    """The analysis cannot run on this camera as set up; ``code`` says why."""

    code = "setup"


class MissingRegion(NotRunnable):
    """The analysis needs a region the camera does not have."""

    code = "region"


class NotOnCameras(NotRunnable):
    """The API is not offered on cameras (``cameras.costs.not_on_cameras``): an analysis
    of it made before is reported on every frame, and never called."""

    code = "not_on_cameras"


def build_params(
    analysis: CameraAnalysis, camera: Camera, frame: Frame, regions: Sequence[Region]
) -> dict[str, Any]:
    """The API parameters of ``analysis`` on ``frame``: its own params (minus the
    pipeline's ``window``) and the areas of the camera's regions, scaled
    to the frame: crowd regions for ``body_num`` (up to 10), the fence region for
    ``fence``, the flow region for ``body_tracking``, with the analysis' own integer
    ``case_id`` and ``case_init`` true on its first frame and after a gap
    (``tracking_gap``)."""
    refused = not_on_cameras(analysis.api)
    if refused:
        raise NotOnCameras(refused)
    params = {
        name: value
        for name, value in (analysis.params or {}).items()
        if name not in PIPELINE_PARAMS
    }
    size = (frame.width, frame.height)
    if analysis.api == "body_num" and "area" not in params:
        crowd = crowd_regions(regions)
        if crowd:
            params["area"] = _area(crowd, size, lowest=1)
    elif analysis.api == "fence":
        region = _fence_region(analysis, list(regions))
        if region is None:
            raise MissingRegion(
                "a fence analysis needs its fence region: draw one on the camera, or choose "
                "which of the camera's fences this analysis watches"
            )
        (params["area"],) = _area([region], size, lowest=0)
    elif analysis.api == "body_tracking" and "area" not in params:
        flow = next((region for region in regions if region.kind == RegionKind.FLOW), None)
        if flow is not None:
            (params["area"],) = _area([flow], size, lowest=1)
            params.setdefault("dynamic", True)
    if analysis.api == "body_tracking" and _truthy(params.get("dynamic")):
        params["case_id"] = tracking_case_id(analysis)
        params["case_init"] = not _case_continues(analysis, frame)
    return params


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def tracking_case_id(analysis: CameraAnalysis) -> int:
    """The ``case_id`` of a ``body_tracking`` analysis: its id, an int32 as the seed asks
    (``人流量统计-动态版`` > ``请求参数``: "int32 ... 通过case_id区分不同视频流，自拟，不同序列间
    不可重复即可"): stable, and one per analysis, so two analyses of a camera (or of two
    cameras) never share a case."""
    return (analysis.pk - 1) % TRACKING_CASE_ID_MAX + 1


def tracking_gap(analysis: CameraAnalysis) -> float:
    """Seconds between two frames of a case beyond which tracking starts again
    (``case_init=true``): the seed's largest time between frames (``🔗 人流量统计``: "最大时差
    不超过500ms"), or, for an analysis set to run less often than that, two of its
    intervals (one frame lost on the way does not restart the count)."""
    return max(TRACKING_MAX_GAP_SECONDS, 2 * analysis.interval)


def _case_continues(analysis: CameraAnalysis, frame: Frame) -> bool:
    """Whether ``frame`` continues the analysis' tracking case: a frame of it before this
    one, within ``tracking_gap``, was answered or is on its way. (A case the vendor no
    longer knows restarts by itself on ``case_init=false``: "当为false且读取不到相应case的
    信息时，直接重新初始化"; ``true`` is what keeps a stale case from being continued.)"""
    since = frame.captured_at - timedelta(seconds=tracking_gap(analysis))
    return (
        FrameAnalysis.objects.filter(
            analysis=analysis,
            status__in=(FrameAnalysisStatus.DONE, FrameAnalysisStatus.PENDING),
            frame__captured_at__lt=frame.captured_at,
            frame__captured_at__gte=since,
        )
        .exclude(frame_id=frame.pk)
        .exists()
    )


def crowd_regions(regions: Iterable[Region]) -> list[Region]:
    """The crowd regions whose counts ``body_num`` answers, in ``area_counts`` order."""
    return [region for region in regions if region.kind == RegionKind.CROWD][:BODY_NUM_MAX_AREAS]


def request_id_prefix(frame_id: int, analysis_id: int, delivery: int) -> str:
    """The ledger id prefix of one analysis of one frame in one delivery of its task."""
    return f"frame-{frame_id}:analysis-{analysis_id}:delivery-{delivery}"


def _images(row: FrameAnalysis, frame: Frame) -> list[bytes]:
    ids = list(row.window or [frame.pk])
    names = {frame.pk: frame.image.name}
    if ids != [frame.pk]:
        names.update(Frame.objects.filter(pk__in=ids).values_list("pk", "image"))
    storage = Frame._meta.get_field("image").storage
    images = []
    for frame_id in ids:
        name = frame.image.name if frame_id == frame.pk else names.get(frame_id)
        if not name:
            continue  # deleted by retention meanwhile
        try:
            with storage.open(name, "rb") as file:
                images.append(file.read())
        except OSError:
            if frame_id == frame.pk:
                raise
            logger.warning("frame %s of the window of frame %s cannot be read", frame_id, frame.pk)
    return images


def _call(
    frame: Frame,
    camera: Camera,
    analysis: CameraAnalysis,
    row: FrameAnalysis,
    regions: list[Region],
    delivery: int,
) -> FrameAnalysis:
    """Call the vendor for a claimed analysis and store what came back."""
    account = analysis.account
    prefix = request_id_prefix(frame.pk, analysis.pk, delivery)
    values: dict[str, Any] = {"delivery": delivery}
    try:
        params = build_params(analysis, camera, frame, regions)
        images = _images(row, frame)
        batches = metered_call(
            account,
            analysis.api,
            images,
            params,
            camera_id=camera.pk,
            request_id_prefix=prefix,
        )
    except NotRunnable as problem:
        values.update(
            status=FrameAnalysisStatus.FAILED, error=str(problem), error_code=problem.code
        )
    except OSError as problem:
        values.update(
            status=FrameAnalysisStatus.FAILED, error=f"frame unreadable: {problem}", error_code="io"
        )
    except RefusedLocally as refusal:
        values.update(
            status=FrameAnalysisStatus.REFUSED,
            error=str(refusal),
            error_code=str(refusal.code or "refused"),
        )
    except CircuitOpen as error:
        row.retry_after, row.error_kind = error.retry_after, error.kind
        values.update(
            status=FrameAnalysisStatus.UNAVAILABLE, error=str(error), error_code="circuit"
        )
    except BackendError as error:
        row.retry_after, row.error_kind = error.retry_after, error.kind
        code = str(error.code if error.code is not None else error.kind)
        if error.retryable:
            values.update(status=FrameAnalysisStatus.UNAVAILABLE, error=str(error), error_code=code)
        else:
            logger.error(
                "camera %s frame %s: %s of %s failed for good, vendor code %s: %s",
                camera.pk,
                frame.pk,
                analysis.api,
                account,
                code,
                error,
            )
            values.update(status=FrameAnalysisStatus.FAILED, error=str(error), error_code=code)
        values["calls"] = _ledger_calls(account, analysis.api, prefix, batches=1)
    else:
        # Scaled once, here: from now on boxes are in pixels of the stored frame, whatever
        # size of image the vendor was sent (rules, overlays and evidence read them so).
        result = batches[-1].result.scaled_to((frame.width, frame.height))
        row.parsed = result
        if registry.traits(account.vendor).in_process:
            # One attempt per request, recorded by the metered path: no need to look.
            calls = _local_calls(account, analysis.api, prefix, batches=len(batches))
        else:
            calls = _ledger_calls(account, analysis.api, prefix, batches=len(batches))
        values.update(status=FrameAnalysisStatus.DONE, result=result.as_dict(), calls=calls)
    if values["status"] != FrameAnalysisStatus.DONE:
        values["error"] = values["error"][:REASON_LENGTH]
        values["error_code"] = values["error_code"][:40]
        if values["status"] != FrameAnalysisStatus.FAILED:
            logger.warning(
                "camera %s frame %s: %s %s (%s)",
                camera.pk,
                frame.pk,
                analysis.api,
                values["status"],
                values["error"],
            )
    updated = FrameAnalysis.objects.filter(pk=row.pk, status=FrameAnalysisStatus.PENDING).update(
        updated_at=timezone.now(), **values
    )
    if not updated:  # a concurrent run of this frame stored it first: theirs stands
        return FrameAnalysis.objects.get(pk=row.pk)
    for name, value in values.items():
        setattr(row, name, value)
    return row


def _ledger_calls(account, api: str, prefix: str, *, batches: int) -> list[dict[str, Any]]:
    """The ledger rows of one call (its requests and their attempts), with their cost
    at the account's current marginal price."""
    ids = [
        ledger_request_id(prefix, api, batch, attempt)
        for batch in range(batches)
        for attempt in range(1, MAX_ATTEMPTS_LOOKED_UP + 1)
    ]
    # Every request under the call's prefix too: a call may be made of requests of
    # other APIs (the private deployment's body_attr detects people first).
    rows = list(
        UsageRecord.objects.filter(account=account)
        .filter(Q(request_id__in=ids) | Q(request_id__startswith=f"{prefix}:"))
        .order_by("request_id")
        .values_list("request_id", "outcome")
    )
    price = Decimal(0)
    billed_per_call = registry.traits(account.vendor).billed_per_call
    if billed_per_call and any(outcome == Outcome.SUCCESS for _id, outcome in rows):
        price = budgets.marginal_unit_price(account, api)
    return [
        {
            "request_id": request_id,
            "account": account.pk,
            "vendor": account.vendor,
            "api": api,
            "outcome": outcome,
            "cost": str(price if outcome == Outcome.SUCCESS else Decimal(0)),
        }
        for request_id, outcome in rows
    ]


def _local_calls(account, api: str, prefix: str, *, batches: int) -> list[dict[str, Any]]:
    return [
        {
            "request_id": ledger_request_id(prefix, api, batch, 1),
            "account": account.pk,
            "vendor": account.vendor,
            "api": api,
            "outcome": Outcome.SUCCESS.value,
            "cost": "0",
        }
        for batch in range(batches)
    ]


# ---------------------------------------------------------------- normalized results


def _parsed(row: FrameAnalysis) -> AnalysisResult:
    """The row's result as an ``AnalysisResult`` (kept on the row once built)."""
    parsed = getattr(row, "parsed", None)
    if parsed is None:
        parsed = row.parsed = result_from_dict(row.result)
    return parsed


def result_from_dict(data: dict[str, Any] | None) -> AnalysisResult:
    """An ``AnalysisResult`` back from ``as_dict()``; unknown keys are ignored."""
    data = dict(data or {})

    def box(value) -> Box:
        return Box(**value)

    def keypoints(values) -> list[Keypoint]:
        return [Keypoint(**point) for point in values or []]

    persons = [
        Person(
            box=box(item["box"]),
            score=item["score"],
            keypoints=keypoints(item.get("keypoints")),
            attributes={
                name: Attribute(**value) for name, value in (item.get("attributes") or {}).items()
            },
            track_id=item.get("track_id"),
        )
        for item in data.get("persons") or []
    ]
    objects = [
        DetectedObject(
            label=item["label"],
            box=box(item["box"]),
            score=item["score"],
            keypoints=keypoints(item.get("keypoints")),
        )
        for item in data.get("objects") or []
    ]
    drivers = [
        Driver(
            box=box(item["box"]),
            score=item["score"],
            behaviours=[DriverBehaviour(**value) for value in item.get("behaviours") or []],
        )
        for item in data.get("drivers") or []
    ]
    per_image = [result_from_dict(item) for item in data.get("per_image") or []]
    plain = {
        item.name: data[item.name]
        for item in dataclasses.fields(AnalysisResult)
        if item.name in data and item.name not in ("persons", "objects", "drivers", "per_image")
    }
    return AnalysisResult(
        **plain, persons=persons, objects=objects, drivers=drivers, per_image=per_image
    )


def _overlay_result(row: FrameAnalysis, result: AnalysisResult, frame: Frame) -> AnalysisResult:
    """What to draw on ``frame`` from a result: the frame's own answer out of a window."""
    if not result.per_image:
        return result
    window = list(row.window or [])
    index = window.index(frame.pk) if frame.pk in window else len(result.per_image) - 1
    if index < len(result.per_image):
        return result.per_image[index]
    return result


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
            locked = (
                RuleState.objects.select_for_update()
                .filter(rule=rule, camera=camera, region=rule.region)
                .values_list("state", "last_seen_at")
                .first()
            )
            state = dict(locked[0]) if locked and locked[0] else initial_state()
            seen_at = locked[1] if locked else None
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


# ---------------------------------------------------------------- 4. broadcast


def _publish_frame(
    frame: Frame,
    camera: Camera,
    regions: list[Region],
    rows: list[FrameAnalysis],
    done: list[tuple[FrameAnalysis, AnalysisResult]],
    problems: list[events.Problem],
) -> None:
    """``frame.analyzed``: the overlay (events' payload) plus each analysis' status."""
    overlay = [_overlay_result(row, result, frame) for row, result in done]
    payload = events.frame_analyzed_payload(camera, frame, overlay, problems, regions=regions)
    payload["analyses"] = [
        {
            "analysis": row.analysis_id,
            "api": row.api,
            "status": row.status,
            "error": row.error,
            "frames_sent": len(row.window or []),
        }
        for row in rows
    ]
    events.publish(camera.site_id, EventType.FRAME_ANALYZED, payload, camera_id=camera.pk)


def analysis_status(camera: Camera | int) -> dict[str, Any]:
    """Whether a camera's analyses work, for pages and ``camera.status``, derived from
    their health (``monitoring.analysis_health``): ``{"analysis":
    "available"|"unavailable", "analysis_reason": str, "analyses": [...]}``; an analysis
    is unavailable while it is failing, refused or paused."""
    camera_id = camera.pk if isinstance(camera, Camera) else int(camera)
    items = analysis_health.camera_health(camera_id)
    down = [item for item in items if item["health"]["state"] in analysis_health.NOT_WORKING]
    return {
        "analysis": "unavailable" if down else "available",
        "analysis_reason": "; ".join(f"{item['api']}: {item['health']['reason']}" for item in down)[
            :1000
        ],
        "analyses": [
            {
                "analysis": item["analysis"],
                "api": item["api"],
                "available": item["health"]["state"] not in analysis_health.NOT_WORKING,
                "reason": item["health"]["reason"],
                "since": item["health"]["since"],
                "health": item["health"],
            }
            for item in items
        ],
    }


def publish_camera_status(camera: Camera) -> None:
    """``camera.status``: the capture health of the camera and whether its analyses
    are available (``analysis``, ``analysis_reason``, ``analyses``)."""
    camera.refresh_from_db(fields=["health", "health_reason", "health_changed_at", "last_frame_at"])
    events.publish(
        camera.site_id,
        EventType.CAMERA_STATUS,
        {
            "camera": camera.pk,
            "camera_name": camera.name,
            "health": camera.health,
            "reason": camera.health_reason,
            "changed_at": camera.health_changed_at.isoformat()
            if camera.health_changed_at
            else None,
            "last_frame_at": camera.last_frame_at.isoformat() if camera.last_frame_at else None,
            **analysis_status(camera),
        },
        camera_id=camera.pk,
    )


def on_camera_health(camera: Camera) -> None:
    """The capture service's health hook: tell the browsers."""
    publish_camera_status(camera)


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
