"""The frame as rules see it (``_Frame``), what a kind function answers (``_Verdict``),
and the helpers the kinds share (matching boxes, counting, confidence)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitoring.backends.base import (
    AnalysisResult,
    Box,
    Person,
)
from monitoring.lib import geometry
from monitoring.lib.geometry import point_in_polygon

from .config import _ATTRIBUTE_APIS, _NOT_PERSON_SOURCES, NO_DATA, Finding, Point, RuleConfig

# ---------------------------------------------------------------- the frame, as rules see it


@dataclass
class _Verdict:
    holds: bool
    findings: list[Finding]
    summary: str
    count: int | None = None
    score: float | None = None  # None: the best finding's score
    no_data: bool = False


_NO_DATA = _Verdict(holds=False, findings=[], summary=NO_DATA, score=0.0, no_data=True)


@dataclass
class _Frame:
    rule: RuleConfig
    results: list[AnalysisResult]
    region: list[Point] | None
    now: datetime

    @property
    def params(self) -> Mapping[str, Any]:
        return self.rule.params

    @property
    def min_confidence(self) -> float:
        return self.rule.min_confidence

    def in_zone(self, point: Point) -> bool:
        return self.region is None or point_in_polygon(point, self.region)

    def where(self, preposition: str = "in") -> str:
        """The phrase " in 'Gate'" when the region has a name, else nothing."""
        name = self.params.get("region_name")
        return f" {preposition} '{name}'" if name else ""

    def person_sources(self) -> list[AnalysisResult]:
        """Results that located the persons of the frame: boxes for everyone they counted
        (or nobody there at all)."""
        return [
            result
            for result in self.results
            if result.api not in _NOT_PERSON_SOURCES
            and (result.persons or result.person_count == 0)
        ]

    def attribute_sources(self, name: str) -> list[AnalysisResult]:
        return [
            result
            for result in self.person_sources()
            if result.api in _ATTRIBUTE_APIS
            or any(name in person.attributes for person in result.persons)
        ]

    def by_api(self, *apis: str) -> list[AnalysisResult]:
        return [result for result in self.results if result.api in apis]


def _most(candidates: Iterable[list[Finding]]) -> list[Finding]:
    """The candidate list with most findings (the first among equals)."""
    best: list[Finding] | None = None
    for findings in candidates:
        if best is None or len(findings) > len(best):
            best = findings
    return best or []


def _persons(count: int) -> str:
    return f"{count} person" if count == 1 else f"{count} persons"


def _confident(persons: Iterable[Person], min_confidence: float) -> list[Person]:
    return [person for person in persons if person.score >= min_confidence]


# ---------------------------------------------------------------- geometry helpers


def _iou(a: Box, b: Box) -> float:
    return geometry.iou(a.corners, b.corners)


def _covered(part: Box, whole: Box) -> float:
    """The share of ``part``'s area that lies inside ``whole``."""
    return geometry.covered(part.corners, whole.corners)


def _head(box: Box, fraction: float) -> Box:
    return Box(box.left, box.top, box.width, box.height * fraction)


def _assign(
    targets: Sequence[Box], items: Sequence[Box], overlap: Callable[[Box, Box], float], least: float
) -> dict[int, int]:
    """Greedy one-to-one matching, best overlap first: target index -> item index, for
    pairs whose ``overlap(item, target)`` reaches ``least``."""
    pairs = sorted(
        (
            (overlap(item, target), t, i)
            for t, target in enumerate(targets)
            for i, item in enumerate(items)
        ),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for value, t, i in pairs:
        if value < least or value <= 0:
            break
        if t in matched or i in used:
            continue
        matched[t] = i
        used.add(i)
    return matched
