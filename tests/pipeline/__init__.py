"""Builders shared by the pipeline tests: a camera with a fence region and stored
frames, the on-box analyzer replaced by recorded normalized results, rules."""

from __future__ import annotations

import copy
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from alerts.models import Rule
from cameras.frames import store_frame
from cameras.models import Camera, CameraAnalysis, Frame, Region, RegionKind, Site
from monitoring.backends.base import AnalysisResult, Box, Person
from monitoring.backends.geometry import read_area
from monitoring.lib.geometry import point_in_polygon
from monitoring.models import VendorAccount
from monitoring.pipeline import result_from_dict
from tests.factories import CameraFactory

RECORDED = Path(__file__).parents[1] / "alerts" / "data"
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # a Monday morning
WIDTH, HEIGHT = 640, 480
# The recorded three workers stand with their feet at (100, 290), (160, 340), (445, 350):
# only the third one inside this fence.
FENCE = [[380, 300], [620, 300], [620, 470], [380, 470]]
_numbers = itertools.count(1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def jpeg(width: int = WIDTH, height: int = HEIGHT, shade: int = 128) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, shade, shade)).save(out, format="JPEG")
    return out.getvalue()


def recorded(name: str) -> AnalysisResult:
    """A recorded normalized result of ``tests/alerts/data``."""
    return result_from_dict(json.loads((RECORDED / f"{name}.json").read_text()))


class RecordedAnalyzer:
    """Stands in for the on-box analyzer: answers every call with recorded results and
    remembers each call (API, number of images, parameters)."""

    vendor = "local"
    capabilities = frozenset({"persons", "body_num", "fence", "body_tracking"})

    def __init__(self, persons: AnalysisResult | None = None):
        self.persons = persons or recorded("site_three_workers")
        self.calls: list[tuple[str, int, dict]] = []

    def analyze(self, api: str, images: list[bytes], params: dict | None = None):
        self.calls.append((api, len(images), dict(params or {})))
        answer = copy.deepcopy(self.persons)
        answer.api = api
        if api == "body_num":
            answer.area_counts = [len(answer.persons)] if params and params.get("area") else []
        if api == "fence":
            # The recorded workers standing in the area sent (one polygon).
            (area,) = read_area(params["area"])
            inside = [p for p in answer.persons if point_in_polygon(p.box.foot, area)]
            single = AnalysisResult(
                vendor="local",
                api="fence",
                frame_width=WIDTH,
                frame_height=HEIGHT,
                persons=inside,
                person_count=len(inside),
            )
            answer = AnalysisResult(
                vendor="local",
                api="fence",
                persons=list(inside) if len(images) == 1 else [],
                person_count=len(inside),
                per_image=[copy.deepcopy(single) for _image in images],
            )
        return answer

    def calls_of(self, api: str) -> list[tuple[str, int, dict]]:
        return [call for call in self.calls if call[0] == api]


def install_analyzer(monkeypatch, analyzer) -> None:
    """Make the metered path open ``analyzer`` for every local account (the gate and the
    ledger stay real)."""
    import billing.metered
    from monitoring.backends.registry import Backend

    real_open = billing.metered.open_backend

    def open_backend(name, settings, **kwargs):
        if name == "local":
            return Backend("local", analyzer)
        return real_open(name, settings, **kwargs)

    billing.metered.close_backends()
    monkeypatch.setattr(billing.metered, "open_backend", open_backend)


def make_camera(site: Site | None = None, *, interval: float = 2.0, name: str = "") -> Camera:
    """A camera of the ``site-gate`` demo scene at the recorded frames' size."""
    placed = {"site": site} if site else {}
    named = {"name": name} if name else {}
    return CameraFactory(sample_interval=interval, width=WIDTH, height=HEIGHT, **placed, **named)


def add_fence(camera: Camera, name: str = "Yard", points=None) -> Region:
    return Region.objects.create(
        camera=camera,
        name=name,
        kind=RegionKind.FENCE,
        points=points or FENCE,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )


def local_account(name: str = "On-box") -> VendorAccount:
    account, _created = VendorAccount.objects.get_or_create(name=name, defaults={"vendor": "local"})
    return account


def add_analysis(camera: Camera, api: str, account=None, *, interval: float = 2.0, **params):
    return CameraAnalysis.objects.create(
        camera=camera,
        api=api,
        account=account or local_account(),
        interval=interval,
        params=params,
    )


def add_rule(camera: Camera, kind: str = "fence_intrusion", region=None, **fields) -> Rule:
    fields.setdefault("name", f"{kind} {next(_numbers)}")
    fields.setdefault("consecutive_frames", 2)
    fields.setdefault("cooldown_seconds", 0)
    return Rule.objects.create(camera=camera, region=region, kind=kind, **fields)


def store(camera: Camera, seconds: float, width: int = WIDTH, height: int = HEIGHT) -> Frame:
    """A frame of ``camera`` taken ``seconds`` after T0."""
    return store_frame(camera, jpeg(width, height), at(seconds))


def person_at(left: float, top: float, width: float = 80, height: float = 200) -> Person:
    return Person(box=Box(left, top, width, height), score=0.9)
