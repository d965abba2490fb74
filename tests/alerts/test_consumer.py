"""The live socket relays the events of the user's sites only, and a browser that
reconnects gets exactly what it missed, in order, once. Runs on the Redis channel layer
when ``REDIS_URL`` is set (settings switch to it), else on the in-memory one."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from alerts import events
from alerts.consumers import LiveConsumer, site_group
from alerts.lifecycle import apply_decision
from cameras import roles

from .conftest import at, decision

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


async def test_published_events_reach_only_the_browsers_of_their_site(make_user, site_a, site_b):
    user_a = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    user_b = await database_sync_to_async(make_user)(roles.OPERATOR, site_b)
    socket_a, socket_b = await open_socket(user_a), await open_socket(user_b)

    event_id = await publish(site_a, "camera.status", camera=5, health="offline")

    message = await socket_a.receive_json_from(timeout=3)
    assert message["id"] == event_id
    assert (message["type"], message["site"], message["health"]) == (
        "camera.status",
        site_a.pk,
        "offline",
    )
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
