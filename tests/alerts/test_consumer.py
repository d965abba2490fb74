"""The live socket relays the events of the user's sites only, and a browser that
reconnects gets exactly what it missed, in order, once. Runs on the Redis channel layer
when ``REDIS_URL`` is set (settings switch to it), else on the in-memory one; the tests of
the exact text browsers receive need the Redis pub/sub layer."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.utils import timezone

from alerts import events
from alerts.consumers import LiveConsumer
from alerts.events import live_message, site_group
from alerts.lifecycle import apply_decision
from alerts.models import Alert, LiveEvent
from alerts.rules import Finding
from cameras import roles
from monitoring.lib.env import parse_redis_url

from .conftest import INTRUDER, at, decision, results

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def open_socket(user, query: str = "") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), f"/ws/live/{query}")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello"
    return communicator


@database_sync_to_async
def publish(site, type="alert.updated", **payload):
    return events.publish(site.pk, type, payload).pk


async def received_ids(communicator, count: int) -> list[int]:
    return [(await communicator.receive_json_from(timeout=3))["id"] for _ in range(count)]


@database_sync_to_async
def camera_goes_offline(camera) -> int:
    """The capture service's health change, published by the one ``camera.status``
    producer."""
    from monitoring.pipeline import on_camera_health

    camera.health, camera.health_reason = "offline", "connection refused"
    camera.save(update_fields=["health", "health_reason"])
    return on_camera_health(camera).pk


async def test_published_events_reach_only_the_browsers_of_their_site(
    make_user, site_a, site_b, camera
):
    user_a = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    user_b = await database_sync_to_async(make_user)(roles.OPERATOR, site_b)
    socket_a, socket_b = await open_socket(user_a), await open_socket(user_b)

    event_id = await camera_goes_offline(camera)

    message = await socket_a.receive_json_from(timeout=3)
    assert message["id"] == event_id
    assert (message["type"], message["site"], message["camera"], message["health"]) == (
        "camera.status",
        site_a.pk,
        camera.pk,
        "offline",
    )
    assert message["analysis"] == "available"
    assert await socket_b.receive_nothing(timeout=0.5)
    await socket_a.disconnect()
    await socket_b.disconnect()


async def test_an_alert_opened_by_the_lifecycle_reaches_the_browser_live(
    make_user, site_a, camera, make_rule
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    rule = await database_sync_to_async(make_rule)(camera, None, name="Crowd at the gate")
    socket = await open_socket(user)

    alert = await database_sync_to_async(apply_decision)(
        rule, camera, None, decision(), frame=None, results=[], vendor_calls=[], now=at(0)
    )

    message = await socket.receive_json_from(timeout=3)
    assert message["type"] == "alert.opened"
    assert message["alert"]["id"] == alert.pk
    assert message["alert"]["title"] == "Crowd at the gate"
    assert message["alert"]["status"] == "open"
    await socket.disconnect()


async def test_a_browser_reconnecting_with_last_event_id_gets_exactly_the_missed_events(
    make_user, site_a, site_b
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(user)
    seen = [await publish(site_a, n=n) for n in range(2)]
    assert await received_ids(socket, 2) == seen
    await socket.disconnect()

    missed = []
    for n in range(3):
        missed.append(await publish(site_a, n=n))
        await publish(site_b, n=n)

    socket = await open_socket(user, f"?last_event_id={seen[-1]}")
    assert await received_ids(socket, 3) == missed
    assert await socket.receive_nothing(timeout=0.5)
    live = await publish(site_a, n=99)
    assert await received_ids(socket, 1) == [live]
    await socket.disconnect()


async def test_a_resume_message_replays_what_was_missed(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    start = await publish(site_a)
    missed = [await publish(site_a, n=n) for n in range(2)]
    socket = await open_socket(user)

    await socket.send_json_to({"type": "resume", "last_event_id": start})

    assert await received_ids(socket, 2) == missed
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_an_event_already_replayed_is_not_sent_again_when_it_arrives_live(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    start = await publish(site_a)
    missed = await publish(site_a, n=1)
    socket = await open_socket(user, f"?last_event_id={start}")
    assert await received_ids(socket, 1) == [missed]

    message = await database_sync_to_async(
        lambda: events.LiveEvent.objects.get(pk=missed).as_message()
    )()
    await get_channel_layer().group_send(
        site_group(site_a.pk), {"type": "live.event", "event": message}
    )
    await socket.send_json_to({"type": "resume", "last_event_id": start})

    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_a_browser_that_missed_too_much_is_told_to_resync(make_user, site_a, monkeypatch):
    monkeypatch.setattr(events, "REPLAY_LIMIT", 2)
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    start = await publish(site_a)
    latest = [await publish(site_a, n=n) for n in range(3)][-1]

    socket = await open_socket(user, f"?last_event_id={start}")

    assert await socket.receive_json_from(timeout=3) == {
        "type": "resync",
        "last_event_id": latest,
    }
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_a_malformed_resume_point_is_answered_with_an_error(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(user, "?last_event_id=yesterday")

    reply = await socket.receive_json_from(timeout=3)
    assert reply["type"] == "error"
    await socket.send_json_to({"type": "resume", "last_event_id": -3})
    assert (await socket.receive_json_from(timeout=3))["type"] == "error"
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=3) == {"type": "pong"}
    await socket.disconnect()


# ---------------------------------------------------------------- the text browsers receive


@pytest.fixture
def pubsub_layer(settings):
    """The Redis pub/sub channel layer on ``REDIS_URL``."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the Redis pub/sub channel layer")
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [parse_redis_url(settings.REDIS_URL).redis],
                "prefix": "ssd-channels-test",
            },
        }
    }
    layer = get_channel_layer()
    assert isinstance(layer, RedisPubSubChannelLayer)
    return layer


async def relayed_text(layer, event: dict) -> str:
    """The text the consumer sent for ``event`` when messages carried the event only: the
    event as the channel layer hands it over, encoded by ``send_json``."""
    message = layer.deserialize(layer.serialize({"type": "live.event", "event": event}))
    return await LiveConsumer.encode_json(message["event"])


@database_sync_to_async
def publish_an_alert(camera, rule) -> dict:
    now = timezone.now()
    alert = Alert.objects.create(
        rule=rule,
        camera=camera,
        region=rule.region,
        site_id=camera.site_id,
        kind=rule.kind,
        severity="critical",
        title='Zaun verletzt — 围栏入侵 "Yard"',
        summary="1 person inside fence 'Yard'\n2nd line",
        opened_at=now,
        last_seen_at=now,
        best_score=0.1 + 0.2,
        findings=[{"label": "person", "score": 0.875, "box": [200.5, 120.0, 80, 200]}],
    )
    return events.publish_alert(alert, "alert.opened", note="première").as_message()


@database_sync_to_async
def publish_an_overlay(camera, make_frame) -> dict:
    problem = events.Problem(
        rule_id=9,
        kind="fence_intrusion",
        severity="critical",
        summary="1 person inside fence 'Yard'",
        findings=(Finding("person inside fence", 0.91, INTRUDER, 4),),
        alert_id=12,
    )
    frame = make_frame(camera)
    return events.publish_frame_analyzed(camera, frame, results(), [problem]).as_message()


async def test_browsers_receive_an_alert_and_an_overlay_as_the_same_json_text_as_before(
    pubsub_layer, make_user, site_a, camera, region, rule, make_frame
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    sockets = [await open_socket(user), await open_socket(user)]

    for event in [
        await publish_an_alert(camera, rule),
        await publish_an_overlay(camera, make_frame),
    ]:
        expected = await relayed_text(pubsub_layer, event)
        assert expected == json.dumps(event)
        for socket in sockets:
            assert await socket.receive_from(timeout=3) == expected
    for socket in sockets:
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()


@database_sync_to_async
def stored_event(site, type: str, **payload) -> dict:
    """An event stored but not sent, as publishers send it."""
    return LiveEvent.objects.create(
        site=site, type=type, payload={"site": site.pk, **payload}, created_at=timezone.now()
    ).as_message()


async def test_a_message_without_the_encoded_text_still_reaches_the_browser_once(
    pubsub_layer, make_user, site_a
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(user)
    group = site_group(site_a.pk)
    alert = await stored_event(site_a, "alert.opened", title="Gate")
    overlay = await stored_event(site_a, "frame.analyzed", frame=3)
    status = await stored_event(site_a, "camera.status", health="offline")

    await pubsub_layer.group_send(group, {"type": "live.event", "event": alert})
    assert await socket.receive_from(timeout=3) == json.dumps(alert)
    await pubsub_layer.group_send(group, live_message(overlay))
    assert await socket.receive_from(timeout=3) == json.dumps(overlay)
    # An event already sent is not sent again, whichever form either message had.
    await pubsub_layer.group_send(group, live_message(alert))
    await pubsub_layer.group_send(group, {"type": "live.event", "event": overlay})
    assert await socket.receive_nothing(timeout=0.5)
    # The encoded text and the id are enough.
    text_only = {key: value for key, value in live_message(status).items() if key != "event"}
    await pubsub_layer.group_send(group, text_only)
    assert await socket.receive_from(timeout=3) == json.dumps(status)
    await pubsub_layer.group_send(group, text_only)
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()
