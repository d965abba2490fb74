"""The hand, gesture and posture rules through the whole pipeline: Baidu's hand_analysis,
fingertip, gesture and body_analysis answered by the built-in sandbox on a live server
(the seed's example answers), and the on-box detector's keypoints on real site photos."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Rule
from billing.metered import close_backends
from cameras.frames import store_frame
from cameras.models import Region, RegionKind
from monitoring import pipeline
from monitoring.analysis_models import RuleEvaluation
from monitoring.backends.base import RetryPolicy
from tests.pipeline import add_analysis, add_rule
from tests.pipeline import make_camera as make_onbox_camera
from tests.pipeline.test_matrix import HEIGHT, PHOTO, WIDTH, make_account, make_camera, offer
from tests.pipeline.test_onbox_rules import photo as onbox_photo
from tests.pipeline.test_onbox_rules import run as run_onbox
from tests.sandbox.conftest import photo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# The seed's hand_analysis / fingertip example (replayed by the sandbox): the index
# fingertip at (829, 707), its middle joint at (873, 620).
PRESS = [[780, 600], [900, 600], [900, 715], [780, 715]]
# The seed's body_analysis example: the first person's left wrist at (884.4, 374.7).
FEED_ROLLER = [[860, 350], [910, 350], [910, 400], [860, 400]]


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


def danger(camera, points) -> Region:
    return Region.objects.create(
        camera=camera,
        name="Press 2",
        kind=RegionKind.DANGER,
        points=points,
        frame_width=WIDTH,
        frame_height=HEIGHT,
    )


def analyse(camera):
    frame = store_frame(camera, photo(PHOTO), timezone.now())
    outcome = pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))
    assert outcome.status == "analyzed", outcome
    return frame


def rule(camera, kind, region=None, name="", **fields) -> Rule:
    return Rule.objects.create(
        camera=camera,
        name=name or kind,
        kind=kind,
        region=region,
        consecutive_frames=1,
        cooldown_seconds=0,
        **fields,
    )


@pytest.mark.parametrize("api", ["hand_analysis", "fingertip", "body_analysis"])
def test_a_hand_in_a_danger_zone_opens_an_alert_with_its_points(api, live_server):
    camera = make_camera()
    offer(camera, api, make_account("baidu", live_server.url))
    zone = danger(camera, FEED_ROLLER if api == "body_analysis" else PRESS)
    rule(camera, "hand_in_danger", zone, severity="critical")

    analyse(camera)

    alert = Alert.objects.get()
    assert (alert.kind, alert.region_id, alert.severity) == ("hand_in_danger", zone.pk, "critical")
    assert alert.summary == "1 hand in 'Press 2'"
    points = alert.findings[0]["points"]
    assert points and all(780 <= x <= 910 and 350 <= y <= 715 for x, y in points)
    assert alert.evidence


def test_no_hand_in_the_danger_zone_opens_nothing(live_server):
    camera = make_camera()
    offer(camera, "hand_analysis", make_account("baidu", live_server.url))
    rule(camera, "hand_in_danger", danger(camera, [[0, 0], [200, 0], [200, 100], [0, 100]]))
    analyse(camera)
    assert not Alert.objects.exists()


def test_the_chosen_gesture_opens_a_help_alert_and_another_does_not(live_server):
    # the sandbox replays the seed's gesture example: a Face and a Heart_2 (0.47)
    camera = make_camera()
    offer(camera, "gesture", make_account("baidu", live_server.url))
    rule(camera, "help_gesture", min_confidence=0.4, params={"gestures": ["Heart_2"]})
    rule(camera, "help_gesture", name="open palm", min_confidence=0.4)

    analyse(camera)

    alert = Alert.objects.get()
    assert alert.kind == "help_gesture" and alert.rule.params == {"gestures": ["Heart_2"]}
    assert alert.findings[0]["label"] == "gesture Heart_2"


def test_standing_persons_of_body_analysis_are_not_down(live_server):
    camera = make_camera()
    offer(camera, "body_analysis", make_account("baidu", live_server.url))
    rule(camera, "person_down")
    analyse(camera)
    assert not Alert.objects.exists()


def test_the_on_box_detector_finds_a_person_down_by_posture():
    camera = make_onbox_camera(interval=1.0)
    # MoveNet scores the person of this photo 0.34: on-box rules want a low minimum
    add_rule(camera, "person_down", consecutive_frames=2, min_confidence=0.2)
    add_analysis(camera, "persons", interval=1.0)
    run_onbox(camera, onbox_photo("000062.jpg"), 0)
    run_onbox(camera, onbox_photo("000062.jpg", lying=True), 1)
    holds = RuleEvaluation.objects.order_by("frame__captured_at").values_list("holds", flat=True)
    assert list(holds) == [False, True]
    assert not Alert.objects.exists()  # one frame down so far
    run_onbox(camera, onbox_photo("000062.jpg", lying=True), 2)
    assert Alert.objects.get().kind == "person_down"
