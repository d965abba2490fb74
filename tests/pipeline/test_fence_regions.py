"""A camera with two fences and two fence analyses: each analysis sends its own region's
area, and each region's rules read only their own region's answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cameras.models import CameraAnalysis
from monitoring import pipeline
from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus
from tests.factories import CtyunAccountFactory
from tests.pipeline import (
    RecordedAnalyzer,
    add_fence,
    add_rule,
    install_analyzer,
    local_account,
    make_camera,
    store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

# The recorded workers stand with their feet at (100, 290), (160, 340), (445, 350).
EAST = [[380, 300], [620, 300], [620, 470], [380, 470]]  # the third worker
WEST = [[20, 200], [130, 200], [130, 330], [20, 330]]  # the first worker
EMPTY = [[500, 20], [620, 20], [620, 120], [500, 120]]  # nobody


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def analyzer(monkeypatch):
    fake = RecordedAnalyzer()
    install_analyzer(monkeypatch, fake)
    return fake


def fence_analysis(camera, region):
    return CameraAnalysis.objects.create(
        camera=camera, api="fence", account=local_account(), interval=2.0, region=region
    )


def test_two_fences_each_send_their_own_area_and_their_rules_read_only_their_own_answer(
    analyzer,
):
    camera = make_camera(interval=2.0)
    east, empty = add_fence(camera, "East", EAST), add_fence(camera, "Quiet corner", EMPTY)
    east_rule = add_rule(camera, region=east, consecutive_frames=1)
    empty_rule = add_rule(camera, region=empty, consecutive_frames=1)
    fence_analysis(camera, east)
    fence_analysis(camera, empty)

    frame = store(camera, 0)
    outcome = pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))

    # Then both fences were sent, each its own area
    areas = sorted(call[2]["area"] for call in analyzer.calls_of("fence"))
    assert areas == [
        [(380, 300), (620, 300), (620, 470), (380, 470)],
        [(500, 20), (620, 20), (620, 120), (500, 120)],
    ]
    rows = FrameAnalysis.objects.filter(frame=frame).order_by("region_id")
    assert [(row.region_id, row.status) for row in rows] == [
        (east.pk, FrameAnalysisStatus.DONE),
        (empty.pk, FrameAnalysisStatus.DONE),
    ]
    # and only the fence with the worker in it raises its rule
    assert outcome.decisions[east_rule.pk].holds
    assert outcome.decisions[east_rule.pk].count == 1
    assert not outcome.decisions[empty_rule.pk].holds


def test_a_fence_analysis_naming_no_region_on_a_camera_with_two_fences_fails_with_the_reason(
    analyzer,
):
    camera = make_camera(interval=2.0)
    add_fence(camera, "East", EAST)
    add_fence(camera, "West", WEST)
    fence_analysis(camera, None)
    frame = store(camera, 0)
    pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))
    row = FrameAnalysis.objects.get(frame=frame)
    assert row.status == FrameAnalysisStatus.FAILED
    assert row.error_code == "region"
    assert "which of the camera's fences" in row.error
    assert analyzer.calls_of("fence") == []


@pytest.mark.parametrize(
    ("api", "reason"),
    [
        ("liveness_blink", "Liveness (liveness_blink)"),
        # seed 4.3.4.1 人脸质量检测: graded for liveness, not for a site camera
        ("face_quality", "Face quality (face_quality)"),
    ],
)
def test_an_analysis_not_offered_on_cameras_made_before_is_reported_and_never_called(api, reason):
    from billing.models import UsageRecord
    from monitoring.analysis_models import AnalysisState

    ctyun = CtyunAccountFactory(name="CTYun")
    camera = make_camera(interval=2.0)
    analysis = CameraAnalysis.objects.create(camera=camera, api=api, account=ctyun, interval=2.0)
    frame = store(camera, 0)
    pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))
    row = FrameAnalysis.objects.get(frame=frame)
    assert (row.status, row.error_code) == (FrameAnalysisStatus.FAILED, "not_on_cameras")
    assert reason in row.error and "not offered on cameras" in row.error
    state = AnalysisState.objects.get(analysis=analysis)
    assert not state.available
    assert "not offered on cameras" in state.reason
    assert not UsageRecord.objects.exists()
