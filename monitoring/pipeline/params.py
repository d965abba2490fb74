"""The API parameters of an analysis on a frame: its own params, the regions it sends
(as polygons in frame pixels), its window of frames and its tracking case."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from billing.costs import not_on_cameras
from cameras.models import Camera, CameraAnalysis, Frame, Region, RegionKind
from monitoring.analysis_models import (
    FrameAnalysis,
    FrameAnalysisStatus,
)
from monitoring.backends import registry
from monitoring.lib.geometry import Polygon, clamp_points

from .outcome import (
    BODY_NUM_MAX_AREAS,
    DEFAULT_SEQUENCE_WINDOW,
    PIPELINE_PARAMS,
    SEQUENCE_APIS,
    TRACKING_CASE_ID_MAX,
    TRACKING_MAX_GAP_SECONDS,
)


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
    """The API is not offered on cameras (``billing.costs.not_on_cameras``): an analysis
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
