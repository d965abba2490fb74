"""4. Health and broadcast: ``frame.analyzed`` and ``camera.status`` for the live wall."""

from __future__ import annotations

from alerts import events
from alerts.models import LiveEvent
from cameras.models import Camera, Frame, Region
from monitoring import analysis_health
from monitoring.analysis_models import (
    FrameAnalysis,
)
from monitoring.backends.base import (
    AnalysisResult,
)

from .results import _overlay_result

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
    analyses: list[events.AnalysisRun] = [
        {
            "analysis": row.analysis_id,
            "api": row.api,
            "status": row.status,
            "error": row.error,
            "frames_sent": len(row.window or []),
        }
        for row in rows
    ]
    events.publish_frame_analyzed(
        camera, frame, overlay, problems, regions=regions, analyses=analyses
    )


def analysis_status(camera: Camera | int) -> events.AnalysisAvailability:
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


def on_camera_health(camera: Camera) -> LiveEvent:
    """``camera.status`` to the browsers: the capture service's health changed, or the
    availability of the camera's analyses did."""
    return events.publish_camera_status(camera, analysis_status(camera))
