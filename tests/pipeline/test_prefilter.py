"""Paid calls only when someone is there: the pipeline's on-box prefilter with the real
MoveNet detector on real frames, the paid vendor being the built-in CTYun sandbox over
loopback HTTP (ledger and gate real)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from billing.costs import calls_per_month, project_analysis
from billing.metered import close_backends
from billing.models import UsageRecord
from cameras.frames import store_frame
from cameras.models import CameraAnalysis, PrefilterSkips
from monitoring import pipeline, prefilter
from monitoring.analysis_models import FrameAnalysis
from monitoring.backends.onbox import models as onbox_models
from tests.factories import CtyunAccountFactory
from tests.pipeline import HEIGHT, WIDTH, add_fence, at, jpeg, make_camera

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

PPE = next(
    (
        root / "shared" / "data" / "ppe-sample" / "images"
        for root in Path(__file__).resolve().parents
        if (root / "shared" / "data" / "ppe-sample" / "images").is_dir()
    ),
    None,
)
WHOLE = [[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]]
TOP_LEFT = [[0, 0], [40, 0], [40, 40], [0, 40]]


@pytest.fixture(autouse=True)
def _needs_movenet(settings, tmp_path):
    if onbox_models.movenet_path() is None:
        pytest.skip("MoveNet not installed: python -m monitoring.backends.onbox.models")
    if PPE is None:
        pytest.skip("no ppe-sample photos in ../shared/data/ppe-sample")
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    yield
    close_backends()


@pytest.fixture
def ctyun(live_server):
    return CtyunAccountFactory(
        name="CTYun sandbox",
        base_url=f"{live_server.url}/sandbox/ctyun",
        api_key="sandbox-ak",
        secret_key="sandbox-sk",
        app_key="sandbox-appkey",
        free_quota_claimed_at=timezone.now() - timedelta(hours=2),
    )


def workers() -> bytes:
    """A real site photo with several workers, at the camera's 640x480."""
    image = Image.open(PPE / "000115.jpg").convert("RGB").resize((WIDTH, HEIGHT))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def run(camera, data: bytes, seconds: float, start=None):
    frame = store_frame(camera, data, (start or at(0)) + timedelta(seconds=seconds))
    pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))
    return frame


def fence_analysis(camera, account, region, *, only_with_person: bool) -> CameraAnalysis:
    return CameraAnalysis.objects.create(
        camera=camera,
        api="fence",
        account=account,
        interval=1.0,
        region=region,
        only_with_person=only_with_person,
    )


def test_an_empty_frame_is_skipped_and_counted_and_a_frame_with_workers_is_sent(ctyun):
    camera = make_camera(interval=1.0)
    yard = add_fence(camera, points=WHOLE)
    analysis = fence_analysis(camera, ctyun, yard, only_with_person=True)

    empty = run(camera, jpeg(), 0)
    assert UsageRecord.objects.count() == 0
    assert not FrameAnalysis.objects.filter(frame=empty).exists()
    skips = PrefilterSkips.objects.get(analysis=analysis)
    assert skips.frames == 1 and skips.day == timezone.localdate(empty.captured_at)

    busy = run(camera, workers(), 2)
    assert UsageRecord.objects.count() == 1
    assert FrameAnalysis.objects.get(frame=busy).status == "done"
    assert PrefilterSkips.objects.get(analysis=analysis).frames == 1


def test_people_outside_the_analysis_region_do_not_make_a_call(ctyun):
    camera = make_camera(interval=1.0)
    corner = add_fence(camera, name="Corner", points=TOP_LEFT)
    fence_analysis(camera, ctyun, corner, only_with_person=True)
    run(camera, workers(), 0)
    assert UsageRecord.objects.count() == 0
    assert PrefilterSkips.objects.get().frames == 1


def test_without_the_option_every_due_frame_is_sent(ctyun):
    camera = make_camera(interval=1.0)
    yard = add_fence(camera, points=WHOLE)
    fence_analysis(camera, ctyun, yard, only_with_person=False)
    run(camera, jpeg(), 0)
    assert UsageRecord.objects.count() == 1
    assert not PrefilterSkips.objects.exists()


def test_the_detector_runs_once_per_frame_for_all_analyses(ctyun, monkeypatch):
    camera = make_camera(interval=1.0)
    yard = add_fence(camera, points=WHOLE)
    fence_analysis(camera, ctyun, yard, only_with_person=True)
    CameraAnalysis.objects.create(
        camera=camera, api="helmet", account=ctyun, interval=1.0, only_with_person=True
    )
    detector = prefilter._detector()
    calls = []
    real = detector.detect
    monkeypatch.setattr(detector, "detect", lambda rgb: calls.append(1) or real(rgb))
    run(camera, jpeg(), 0)
    assert len(calls) == 1
    assert sum(PrefilterSkips.objects.values_list("frames", flat=True)) == 2


def test_calls_saved_show_on_the_camera_page_and_lower_the_projection(ctyun, admin_client):
    camera = make_camera(interval=1.0)
    yard = add_fence(camera, points=WHOLE)
    analysis = fence_analysis(camera, ctyun, yard, only_with_person=True)
    start = timezone.now() - timedelta(minutes=1)
    run(camera, jpeg(), 0, start)  # skipped
    run(camera, workers(), 2, start)  # called

    assert prefilter.saved_this_month(analysis) == 1
    projection = project_analysis(analysis)
    due = calls_per_month(1.0)
    assert projection.calls_per_month == due // 2
    assert projection.calls_skipped_per_month == due - due // 2

    page = admin_client.get(reverse("cameras:edit", args=[camera.pk]))
    html = page.content.decode()
    assert "Calls saved this month" in html
    assert html.split("data-calls-saved>")[1].split("<")[0].strip() == "1"
