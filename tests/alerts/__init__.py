"""Builders shared by the rule tests: persons, results, and the recorded normalized
results (Baidu seed examples through the client's normalizer, CTYun ones under ``data/``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from monitoring.backends.baidu import normalize_answer
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

DATA = Path(__file__).parent / "data"
BAIDU_EXAMPLES = Path(__file__).parents[1] / "backends" / "data" / "baidu"

MONDAY_MORNING = datetime(2024, 5, 6, 10, 0)  # a Monday, 10:00


def baidu(api: str, example: str | None = None, **changes: Any) -> AnalysisResult:
    """The normalized result of a Baidu seed example answer (with ``changes`` applied)."""
    answer = json.loads((BAIDU_EXAMPLES / f"{example or api}.json").read_text("utf-8"))
    answer.update(changes)
    return normalize_answer(api, answer)


def _box(data: dict[str, Any]) -> Box:
    return Box(data["left"], data["top"], data["width"], data["height"])


def _keypoints(items: list[dict[str, Any]]) -> list[Keypoint]:
    return [Keypoint(**item) for item in items]


def result_from_dict(data: dict[str, Any]) -> AnalysisResult:
    """An ``AnalysisResult`` back from its ``as_dict()`` form."""
    return AnalysisResult(
        **{
            **data,
            "persons": [
                Person(
                    box=_box(item["box"]),
                    score=item["score"],
                    keypoints=_keypoints(item.get("keypoints", [])),
                    attributes={
                        name: Attribute(**value)
                        for name, value in item.get("attributes", {}).items()
                    },
                    track_id=item.get("track_id"),
                )
                for item in data.get("persons", [])
            ],
            "objects": [
                DetectedObject(
                    label=item["label"],
                    box=_box(item["box"]),
                    score=item["score"],
                    keypoints=_keypoints(item.get("keypoints", [])),
                )
                for item in data.get("objects", [])
            ],
            "drivers": [
                Driver(
                    box=_box(item["box"]),
                    score=item["score"],
                    behaviours=[DriverBehaviour(**b) for b in item.get("behaviours", [])],
                )
                for item in data.get("drivers", [])
            ],
            "per_image": [result_from_dict(item) for item in data.get("per_image", [])],
        }
    )


def recorded(name: str) -> AnalysisResult:
    """A recorded normalized result from ``data/<name>.json``."""
    return result_from_dict(json.loads((DATA / f"{name}.json").read_text("utf-8")))


def person(
    left: float,
    top: float,
    width: float = 40,
    height: float = 100,
    *,
    score: float = 0.9,
    track_id: int | None = None,
    **attributes: tuple[str, float],
) -> Person:
    """A person box; ``attributes`` as name=(value, score), e.g. headwear=("安全帽", 0.9)."""
    return Person(
        box=Box(left, top, width, height),
        score=score,
        track_id=track_id,
        attributes={name: Attribute(value, s) for name, (value, s) in attributes.items()},
    )


def standing_at(x: float, y: float, *, width: float = 40, height: float = 100, **kw: Any) -> Person:
    """A person whose feet (bottom centre of the box) are at (x, y)."""
    return person(x - width / 2, y - height, width, height, **kw)


def located(
    *persons: Person, api: str = "persons", vendor: str = "local", frame=(640, 480)
) -> AnalysisResult:
    """A result that located ``persons`` (and nobody else) on a frame of ``frame`` size."""
    return AnalysisResult(
        vendor=vendor,
        api=api,
        frame_width=frame[0] if frame else None,
        frame_height=frame[1] if frame else None,
        persons=list(persons),
        person_count=len(persons),
    )


def attributed(*persons: Person) -> AnalysisResult:
    """A Baidu body_attr result with ``persons``."""
    return located(*persons, api="body_attr", vendor="baidu")


def tracking(*persons: Person, came: int = 0, went: int = 0) -> AnalysisResult:
    """A Baidu body_tracking result: tracked ``persons`` and this frame's in/out counts."""
    result = located(*persons, api="body_tracking", vendor="baidu")
    result.flow_in, result.flow_out = came, went
    return result


def rectangle(left: float, top: float, right: float, bottom: float) -> list[tuple[float, float]]:
    return [(left, top), (right, top), (right, bottom), (left, bottom)]
