"""Rules that read persons and keypoints, fed by the real on-box analyzer (MoveNet) on
real site photos through the whole pipeline: fence intrusion by foot point, crowd,
loitering, and a person down (fall) from posture."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alerts.models import Alert
from billing.metered import close_backends
from cameras.frames import store_frame
from cameras.models import Region, RegionKind
from monitoring import pipeline
from monitoring.backends.onbox import models as onbox_models
from monitoring.backends.onbox.detector import MoveNetDetector, best_detector
from tests.pipeline import HEIGHT, WIDTH, add_analysis, add_rule, at, make_camera

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]

PPE = next(
    (
        root / "shared" / "data" / "ppe-sample" / "images"
        for root in Path(__file__).resolve().parents
        if (root / "shared" / "data" / "ppe-sample" / "images").is_dir()
    ),
    None,
)
WHOLE = [[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT]]


@pytest.fixture(autouse=True)
def _onbox(settings, tmp_path):
    if onbox_models.movenet_path() is None or not isinstance(best_detector(), MoveNetDetector):
        pytest.skip("MoveNet not installed: python -m monitoring.backends.onbox.models")
    if PPE is None:
        pytest.skip("no ppe-sample photos in ../shared/data/ppe-sample")
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    yield
    close_backends()


def photo(name: str, *, lying: bool = False) -> bytes:
    image = Image.open(PPE / name).convert("RGB").resize((WIDTH, HEIGHT))
    if lying:  # the same person turned on their side: a 480x640 frame
        image = Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(image))))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def region(camera, kind: str, points=WHOLE) -> Region:
    return Region.objects.create(
        camera=camera,
        name=kind,
        kind=kind,
        points=points,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )


def run(camera, data: bytes, seconds: float):
    frame = store_frame(camera, data, at(seconds))
    return pipeline.analyze_frame(frame.pk, now=at(seconds + 0.1))


def test_a_worker_in_the_fence_opens_a_fence_alert():
    camera = make_camera(interval=1.0)
    fence = region(camera, RegionKind.FENCE)
    add_rule(camera, region=fence, consecutive_frames=2)
    add_analysis(camera, "fence", interval=1.0)
    run(camera, photo("000115.jpg"), 0)
    run(camera, photo("000115.jpg"), 1)
    alert = Alert.objects.get()
    assert alert.kind == "fence_intrusion" and alert.region_id == fence.pk


def test_a_crowd_over_the_limit_opens_a_crowd_alert():
    camera = make_camera(interval=1.0)
    area = region(camera, RegionKind.CROWD)
    add_rule(camera, "crowd", region=area, consecutive_frames=1, params={"limit": 2})
    add_analysis(camera, "body_num", interval=1.0)
    run(camera, photo("000115.jpg"), 0)
    assert Alert.objects.get().kind == "crowd"


def test_someone_staying_in_a_zone_past_the_dwell_time_opens_a_loitering_alert():
    camera = make_camera(interval=1.0)
    zone = region(camera, RegionKind.ZONE)
    add_rule(camera, "loitering", region=zone, consecutive_frames=1, params={"dwell_seconds": 3})
    add_analysis(camera, "persons", interval=1.0)
    for second in range(3):
        run(camera, photo("000062.jpg"), second)
    assert not Alert.objects.exists()  # 2 s in the zone so far
    run(camera, photo("000062.jpg"), 4)
    assert Alert.objects.get().kind == "loitering"


def test_a_person_lying_down_opens_a_fall_alert_and_standing_does_not():
    camera = make_camera(interval=1.0)
    add_rule(camera, "fall", consecutive_frames=1, params={"threshold": 0.3})
    add_analysis(camera, "fall", interval=1.0)
    run(camera, photo("000062.jpg"), 0)
    assert not Alert.objects.exists()
    run(camera, photo("000062.jpg", lying=True), 1)
    assert Alert.objects.get().kind == "fall"
