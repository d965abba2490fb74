"""Results are scaled to pixels of the stored frame once, right after the vendor answers:
a frame larger than the vendor's limit is sent shrunk, and what the live wall draws, what
is stored and what the rules read are all in pixels of the frame itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx

from alerts.models import Alert, EventType, LiveEvent
from billing.metered import close_backends
from cameras.models import Region, RegionKind
from monitoring import pipeline
from monitoring.analysis_models import FrameAnalysis
from monitoring.backends.base import RetryPolicy
from monitoring.models import VendorAccount
from tests.pipeline import add_analysis, add_rule, make_camera, store

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

BAIDU = "https://aip.baidubce.com"
BODY_ATTR = "/rest/2.0/image-classify/v1/body_attr"
# Larger than Baidu's 4096 px longest side (images.BAIDU): sent at 4096x2048, scale 0.8.
FRAME = (5120, 2560)
# Where Baidu sees the person, in pixels of the 4096x2048 image it was sent ...
SENT_BOX = {"left": 400, "top": 200, "width": 80, "height": 160}
# ... and where that person is in the stored frame.
FRAME_BOX = {"left": 500.0, "top": 250.0, "width": 100.0, "height": 200.0}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_backends(monkeypatch):
    close_backends()
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


def _body_attr_answer() -> dict:
    return {
        "log_id": 1,
        "person_num": 1,
        "person_info": [
            {
                "location": {**SENT_BOX, "score": 0.95},
                "attributes": {"is_human": {"name": "正常人体", "score": 0.99}},
            }
        ],
    }


def test_a_frame_shrunk_for_the_vendor_is_drawn_stored_and_judged_in_its_own_pixels():
    # Given a Baidu body_attr analysis and a fence drawn on the 5120x2560 picture around
    # the person's feet in frame pixels (550, 450); in pixels of the image sent the feet
    # are at (440, 360), outside it
    camera = make_camera(interval=2.0)
    baidu = VendorAccount.objects.create(
        vendor="baidu", name="Baidu", api_key="ak", secret_key="sk"
    )
    fence = Region.objects.create(
        camera=camera,
        name="Yard",
        kind=RegionKind.FENCE,
        points=[[500, 400], [700, 400], [700, 600], [500, 600]],
        frame_width=FRAME[0],
        frame_height=FRAME[1],
    )
    add_rule(camera, region=fence, consecutive_frames=1)
    add_analysis(camera, "body_attr", baidu)

    # When a 5120x2560 frame is analysed
    with respx.mock(base_url=BAIDU) as vendor:
        vendor.get("/oauth/2.0/token").respond(
            json={"access_token": "24.token", "expires_in": 2592000, "scope": "brain_all_scope"}
        )
        route = vendor.post(BODY_ATTR).respond(json=_body_attr_answer())
        frame = store(camera, 0, *FRAME)
        pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))
    assert route.call_count == 1

    # Then the live overlay's box is in pixels of the frame, not of the image sent
    (event,) = LiveEvent.objects.filter(type=EventType.FRAME_ANALYZED)
    (person,) = event.payload["persons"]
    assert person["box"] == FRAME_BOX
    # and so is the stored result
    stored = FrameAnalysis.objects.get(frame=frame).result
    assert (stored["frame_width"], stored["frame_height"]) == FRAME
    assert stored["persons"][0]["box"] == FRAME_BOX
    # and the fence rule read the person inside the fence: one alert, drawn where it is
    alert = Alert.objects.get()
    assert alert.rule.region_id == fence.pk
    assert event.payload["problems"][0]["findings"][0]["box"] == FRAME_BOX
