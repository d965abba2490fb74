"""Stored results read back as ``AnalysisResult`` and what of them a frame's overlay shows."""

from __future__ import annotations

import dataclasses
from typing import Any

from cameras.models import Frame
from monitoring.analysis_models import (
    FrameAnalysis,
)
from monitoring.backends.base import (
    AnalysisResult,
    Attribute,
    Box,
    DetectedObject,
    Driver,
    DriverBehaviour,
    Keypoint,
    Person,
)

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
