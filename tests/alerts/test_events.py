"""Live events: stored with increasing ids, sent to the site group only once the change
commits, replayed to reconnecting browsers within bounds, and pruned."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from alerts import events
from alerts.events import Problem, publish
from alerts.models import LiveEvent
from alerts.rules import Finding
from monitoring.backends.base import AnalysisResult, Box, DetectedObject, Person

from .conftest import HEIGHT, INTRUDER, WIDTH

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """What reaches the channel layer: (group, message) pairs."""
    messages = []

    class Recorder:
        async def group_send(self, group, message):
            messages.append((group, message))

    monkeypatch.setattr(events, "get_channel_layer", lambda: Recorder())
    return messages


def test_events_get_increasing_ids_and_carry_their_site(site_a):
    first = publish(site_a.pk, "camera.status", {"camera": 1, "health": "online"})
    second = publish(site_a.pk, "camera.status", {"camera": 1, "health": "offline"})

    assert second.pk > first.pk
    message = second.as_message()
    assert message["id"] == second.pk
    assert message["type"] == "camera.status"
    assert message["site"] == site_a.pk
    assert message["health"] == "offline"
    assert second.camera_id == 1


def test_an_event_reaches_the_site_group_only_after_commit(
    site_a, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        event = publish(site_a.pk, "camera.status", {"camera": 3, "health": "degraded"})
        assert sent == []
    for callback in callbacks:
        callback()

    message = event.as_message()
    assert sent == [
        (
            f"site-{site_a.pk}",
            {"type": "live.event", "id": event.pk, "text": json.dumps(message), "event": message},
        )
    ]


def test_an_event_of_a_rolled_back_change_is_neither_stored_nor_sent(
    site_a, sent, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish(site_a.pk, "camera.status", {"camera": 3})
        raise RuntimeError("the change failed")

    assert callbacks == []
    assert not LiveEvent.objects.exists()
    assert sent == []


def test_a_failing_channel_layer_does_not_break_the_change(
    site_a, monkeypatch, django_capture_on_commit_callbacks
):
    class Broken:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(events, "get_channel_layer", lambda: Broken())

    with django_capture_on_commit_callbacks(execute=True):
        event = publish(site_a.pk, "camera.status", {"camera": 3})

    assert LiveEvent.objects.filter(pk=event.pk).exists()


# ---------------------------------------------------------------- payloads


def test_frame_analyzed_carries_boxes_regions_in_frame_pixels_and_what_is_wrong(
    camera, region, make_frame
):
    frame = make_frame(camera)
    found = [
        AnalysisResult(
            vendor="baidu",
            api="body_attr",
            persons=[Person(box=INTRUDER, score=0.91, track_id=4)],
            objects=[DetectedObject(label="helmet", box=Box(210, 120, 30, 20), score=0.7)],
        )
    ]
    problem = Problem(
        rule_id=9,
        kind="fence_intrusion",
        severity="critical",
        summary="1 person inside fence 'Yard'",
        findings=(Finding("person inside fence", 0.91, INTRUDER, 4),),
        alert_id=12,
        region_id=region.pk,
    )

    event = events.publish_frame_analyzed(camera, frame, found, [problem])

    message = event.as_message()
    assert message["type"] == "frame.analyzed"
    assert message["camera"] == camera.pk
    assert message["frame"] == frame.pk
    assert message["frame_url"] == f"/api/cameras/{camera.pk}/frame/?frame={frame.pk}"
    assert message["frame_size"] == [WIDTH, HEIGHT]
    assert message["persons"] == [
        {
            "box": {"left": 200.0, "top": 120.0, "width": 80.0, "height": 200.0},
            "score": 0.91,
            "track_id": 4,
            "attributes": {},
            "keypoints": [],
            "source": "body_attr",
        }
    ]
    assert message["objects"][0]["label"] == "helmet"
    # The region was drawn on a 1280 x 720 picture: halved for this frame.
    (shape,) = message["regions"]
    assert shape["kind"] == "fence"
    assert shape["points"][0] == pytest.approx([99.92, 99.86], abs=0.01)
    assert message["problems"][0]["alert"] == 12
    assert message["problems"][0]["findings"][0]["track_id"] == 4
    assert event.camera_id == camera.pk


def test_camera_status_says_the_health_and_why(camera):
    from monitoring.pipeline import on_camera_health

    camera.health, camera.health_reason = "offline", "connection refused"
    camera.save(update_fields=["health", "health_reason"])

    # The capture service's hook publishes through the one producer of camera.status.
    message = on_camera_health(camera).as_message()

    assert message["type"] == "camera.status"
    assert (message["camera"], message["health"], message["reason"]) == (
        camera.pk,
        "offline",
        "connection refused",
    )
    assert (message["analysis"], message["analysis_reason"], message["analyses"]) == (
        "available",
        "",
        [],
    )


# ---------------------------------------------------------------- catch-up


def _events(site, count, type="alert.updated"):
    return [publish(site.pk, type, {"n": n}) for n in range(count)]


def test_replay_gives_the_missed_events_of_the_sites_in_order(site_a, site_b):
    seen = publish(site_a.pk, "alert.opened", {"n": 0})
    mine = []
    for n in range(1, 4):
        mine.append(publish(site_a.pk, "alert.updated", {"n": n}))
        publish(site_b.pk, "alert.updated", {"n": n})

    replay = events.replay([site_a.pk], seen.pk)

    assert replay.resync is False
    assert [event["id"] for event in replay.events] == [event.pk for event in mine]


def test_replay_from_the_latest_event_or_from_nothing_sends_nothing(site_a):
    latest = _events(site_a, 3)[-1]

    assert events.replay([site_a.pk], latest.pk).events == []
    assert events.replay([site_a.pk], 0).events == []


def test_replay_keeps_only_the_latest_overlay_of_each_camera(site_a):
    start = publish(site_a.pk, "alert.opened", {})
    publish(site_a.pk, "frame.analyzed", {"camera": 1, "frame": 1})
    alert = publish(site_a.pk, "alert.updated", {})
    latest_one = publish(site_a.pk, "frame.analyzed", {"camera": 1, "frame": 2})
    latest_two = publish(site_a.pk, "frame.analyzed", {"camera": 2, "frame": 3})

    replay = events.replay([site_a.pk], start.pk)

    assert [event["id"] for event in replay.events] == [alert.pk, latest_one.pk, latest_two.pk]


def test_replay_asks_for_a_resync_when_too_many_were_missed(site_a, monkeypatch):
    monkeypatch.setattr(events, "REPLAY_LIMIT", 3)
    start = publish(site_a.pk, "alert.opened", {})
    later = _events(site_a, 4)

    replay = events.replay([site_a.pk], start.pk)

    assert replay.resync is True
    assert replay.events == []
    assert replay.last_event_id == later[-1].pk
    assert events.replay([site_a.pk], later[0].pk).resync is False


def test_replay_asks_for_a_resync_when_the_resume_point_is_gone_or_unknown(site_a):
    start = publish(site_a.pk, "alert.opened", {})
    latest = _events(site_a, 2)[-1]
    LiveEvent.objects.filter(pk=start.pk).delete()

    assert events.replay([site_a.pk], start.pk).resync is True
    ahead = events.replay([site_a.pk], latest.pk + 100)
    assert ahead.resync is True
    assert ahead.last_event_id == latest.pk


def test_replay_asks_for_a_resync_when_the_resume_point_is_older_than_the_window(site_a):
    start = publish(site_a.pk, "alert.opened", {})
    _events(site_a, 2)
    LiveEvent.objects.filter(pk=start.pk).update(
        created_at=timezone.now() - events.REPLAY_MAX_AGE - timedelta(minutes=1)
    )

    assert events.replay([site_a.pk], start.pk).resync is True


def test_prune_drops_overlays_after_an_hour_and_the_rest_after_the_window(site_a):
    now = timezone.now()
    overlay = publish(site_a.pk, "frame.analyzed", {"camera": 1})
    alert = publish(site_a.pk, "alert.opened", {})
    old_alert = publish(site_a.pk, "alert.opened", {})
    LiveEvent.objects.filter(pk__in=[overlay.pk, alert.pk]).update(
        created_at=now - timedelta(hours=2)
    )
    LiveEvent.objects.filter(pk=old_alert.pk).update(created_at=now - timedelta(hours=25))

    assert events.prune(now) == 2

    assert list(LiveEvent.objects.values_list("pk", flat=True)) == [alert.pk]


def test_a_frame_analyzed_event_carries_the_persons_keypoints_for_the_overlay(camera, make_frame):
    from monitoring.backends.base import Keypoint

    person = Person(
        box=Box(10, 20, 30, 60),
        score=0.9,
        keypoints=[Keypoint("nose", 25.0, 25.0, 0.8), Keypoint("left_ankle", 20.0, 78.0, 0.4)],
    )
    result = AnalysisResult(vendor="baidu", api="body_analysis", persons=[person])
    payload = events.publish_frame_analyzed(camera, make_frame(camera), [result]).payload
    keypoints = payload["persons"][0]["keypoints"]
    assert keypoints[0] == {"name": "nose", "x": 25.0, "y": 25.0, "score": 0.8}
    assert [point["name"] for point in keypoints] == ["nose", "left_ankle"]
