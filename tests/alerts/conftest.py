"""Fixtures for the alert lifecycle, events, API and consumer tests: a camera with a
fence region and a rule on it, stored frames, and decisions as ``alerts.rules`` gives
them."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from alerts.models import Rule
from alerts.rules import Decision, Finding
from cameras.models import Camera, Frame, Region
from monitoring.backends.base import AnalysisResult, Box, Person
from tests.factories import CameraFactory

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # a Monday
WIDTH, HEIGHT = 640, 360
INTRUDER = Box(200, 120, 80, 200)
PASSER_BY = Box(20, 40, 60, 160)
_numbers = itertools.count(1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def jpeg(width: int = WIDTH, height: int = HEIGHT, colour=(128, 128, 128)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=95)
    return out.getvalue()


def decision(
    score: float = 0.9,
    *,
    fire: bool = True,
    holds: bool = True,
    active: bool = True,
    box: Box | None = INTRUDER,
) -> Decision:
    findings = (Finding("person inside fence", score, box, None),) if holds else ()
    return Decision(
        active=active,
        holds=holds,
        fire=fire,
        findings=findings,
        score=score if holds else 0.0,
        summary="1 person inside fence 'Yard'" if holds else "nobody inside fence 'Yard'",
        count=1 if holds else 0,
    )


def results(score: float = 0.9) -> list[AnalysisResult]:
    return [
        AnalysisResult(
            vendor="baidu",
            api="body_attr",
            frame_width=WIDTH,
            frame_height=HEIGHT,
            persons=[Person(box=INTRUDER, score=score), Person(box=PASSER_BY, score=0.8)],
            request_id="req-1",
            raw={"person_num": 2, "log_id": 1234},
        )
    ]


CALLS = [{"request_id": "req-1", "account": 7, "api": "body_attr", "cost": "0.0040"}]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def make_camera(db):
    def make(site, name: str | None = None) -> Camera:
        named = {"name": name} if name else {}
        return CameraFactory(site=site, source_url="yard", width=WIDTH, height=HEIGHT, **named)

    return make


@pytest.fixture
def camera(make_camera, site_a):
    return make_camera(site_a, "Yard gate")


@pytest.fixture
def region(camera):
    # Drawn on a frame twice the size: scaled down for overlays.
    return Region.objects.create(
        camera=camera,
        name="Yard",
        kind="fence",
        points=[[200, 200], [1000, 200], [1000, 600], [200, 600]],
        frame_width=WIDTH * 2,
        frame_height=HEIGHT * 2,
    )


@pytest.fixture
def make_rule(db):
    def make(camera, region=None, **fields) -> Rule:
        values = {
            "name": f"Rule {next(_numbers)}",
            "kind": "fence_intrusion",
            "severity": "critical",
            "cooldown_seconds": 300,
            "clear_after_seconds": 60,
        }
        values.update(fields)
        return Rule.objects.create(camera=camera, region=region, **values)

    return make


@pytest.fixture
def rule(make_rule, camera, region):
    return make_rule(camera, region, name="No entry to the yard")


@pytest.fixture
def make_frame(media):
    def make(camera, seconds: float = 0, colour=(128, 128, 128)) -> Frame:
        from django.core.files.base import ContentFile

        data = jpeg(colour=colour)
        frame = Frame(
            camera=camera, captured_at=at(seconds), width=WIDTH, height=HEIGHT, size=len(data)
        )
        frame.image.save("frame.jpg", ContentFile(data), save=False)
        frame.save()
        return frame

    return make


@pytest.fixture
def analysed(db):
    """Record that a frame of ``camera`` captured ``seconds`` after T0 was analysed (one
    analysis done, without a finding): what the auto-resolver counts as clear time."""
    from cameras.models import CameraAnalysis
    from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus
    from monitoring.models import VendorAccount

    def record(camera, seconds: float) -> Frame:
        account, _created = VendorAccount.objects.get_or_create(
            name="On-box", defaults={"vendor": "local"}
        )
        analysis, _created = CameraAnalysis.objects.get_or_create(
            camera=camera, api="persons", account=account
        )
        frame = Frame.objects.create(
            camera=camera, captured_at=at(seconds), width=WIDTH, height=HEIGHT, size=1
        )
        FrameAnalysis.objects.create(
            frame=frame, analysis=analysis, api="persons", status=FrameAnalysisStatus.DONE
        )
        return frame

    return record
