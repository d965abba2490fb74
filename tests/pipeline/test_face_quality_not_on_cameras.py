"""CTYun face quality is not offered on cameras (``cameras.costs.not_on_cameras``, seed
``4.3.4.1 人脸质量检测``): an analysis of it made before is reported on every frame with
the reason and never called, like liveness."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cameras.models import CameraAnalysis
from monitoring import pipeline
from monitoring.analysis_models import AnalysisState, FrameAnalysis, FrameAnalysisStatus
from monitoring.models import VendorAccount
from tests.pipeline import make_camera, store

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_face_quality_analysis_made_before_is_reported_and_never_called():
    from billing.models import UsageRecord

    ctyun = VendorAccount.objects.create(
        vendor="ctyun", name="CTYun", api_key="ak", secret_key="sk", app_key="app"
    )
    camera = make_camera(interval=2.0)
    analysis = CameraAnalysis.objects.create(
        camera=camera, api="face_quality", account=ctyun, interval=2.0
    )
    frame = store(camera, 0)

    pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))

    row = FrameAnalysis.objects.get(frame=frame)
    assert (row.status, row.error_code) == (FrameAnalysisStatus.FAILED, "not_on_cameras")
    assert "Face quality (face_quality)" in row.error
    state = AnalysisState.objects.get(analysis=analysis)
    assert not state.available
    assert "not offered on cameras" in state.reason
    assert not UsageRecord.objects.exists()
