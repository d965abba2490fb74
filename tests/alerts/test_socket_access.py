"""A live socket lives only as long as the access it was opened with: it is closed, with
the documented code, when its session is signed out, the user loses the site or the
watching role, or is deactivated (signals, at once), and when access shrinks in a way no
signal announces (the consumer's periodic check). Refusals at connect reach the browser
as close codes too. On the Redis channel layer when ``REDIS_URL`` is set."""

from __future__ import annotations

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from alerts import events
from alerts.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_SITES_CHANGED,
    CLOSE_UNAUTHENTICATED,
    LiveConsumer,
)
from cameras import roles

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

APP = AuthMiddlewareStack(LiveConsumer.as_asgi())


@database_sync_to_async
def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def open_socket(browser: Client) -> WebsocketCommunicator:
    """A socket authenticated by the browser's session cookie, as the browser opens it."""
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(APP, "/ws/live/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=3))["type"] == "hello"
    return communicator


async def close_code(communicator: WebsocketCommunicator, timeout: float = 3) -> int:
    """The code the server closed the socket with (events before the close skipped)."""
    while True:
        message = await communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message["code"]


async def test_an_anonymous_socket_is_closed_with_4401_after_being_accepted():
    communicator = WebsocketCommunicator(APP, "/ws/live/")
    connected, _ = await communicator.connect()
    assert connected  # accepted, so that the browser sees the code and not an HTTP 403
    assert await close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_a_user_without_the_watching_role_is_closed_with_4403(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.FINANCE, site_a)
    browser = await signed_in(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(APP, "/ws/live/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    assert await close_code(communicator) == CLOSE_FORBIDDEN


async def test_signing_out_closes_that_sessions_sockets_only(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    leaving, staying = await signed_in(user), await signed_in(user)
    socket, other = await open_socket(leaving), await open_socket(staying)

    response = await database_sync_to_async(leaving.post)("/accounts/logout/")
    assert response.status_code in (200, 302)

    assert await close_code(socket) == CLOSE_UNAUTHENTICATED
    # the same user's other browser keeps its socket, and its events
    event = await database_sync_to_async(events.publish)(site_a.pk, "camera.status", {})
    assert (await other.receive_json_from(timeout=3))["id"] == event.pk
    await other.disconnect()


async def test_removing_the_user_from_the_site_closes_the_socket_and_stops_its_events(
    make_user, site_a, site_b
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a, site_b)
    socket = await open_socket(await signed_in(user))

    await database_sync_to_async(site_a.members.remove)(user)

    assert await close_code(socket) == CLOSE_SITES_CHANGED
    await database_sync_to_async(events.publish)(site_a.pk, "camera.status", {})
    assert await socket.receive_nothing(timeout=0.5)


async def test_removing_the_user_from_the_site_by_the_users_side_closes_the_socket(
    make_user, site_a
):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(await signed_in(user))

    await database_sync_to_async(user.sites.clear)()

    assert await close_code(socket) == CLOSE_SITES_CHANGED


async def test_losing_the_watching_role_closes_the_socket_with_4403(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(await signed_in(user))

    await database_sync_to_async(user.groups.clear)()

    assert await close_code(socket) == CLOSE_FORBIDDEN


async def test_a_role_losing_the_watching_permission_closes_its_users_sockets(make_user, site_a):
    from django.contrib.auth.models import Permission

    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(await signed_in(user))

    @database_sync_to_async
    def take_watching_away():
        group = user.groups.get()
        group.permissions.remove(Permission.objects.get(codename="watch_site"))

    await take_watching_away()

    assert await close_code(socket) == CLOSE_FORBIDDEN


async def test_deactivating_the_user_closes_the_socket_with_4401(make_user, site_a):
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(await signed_in(user))

    user.is_active = False
    await database_sync_to_async(user.save)()

    assert await close_code(socket) == CLOSE_UNAUTHENTICATED


async def test_a_change_no_signal_announces_is_found_by_the_periodic_check(
    make_user, site_a, settings
):
    settings.LIVE_ACCESS_RECHECK_SECONDS = 0.2
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    deactivated = await open_socket(await signed_in(user))
    other = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    expired = await open_socket(await signed_in(other))

    # written straight into the database: no signal
    await database_sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(
        is_active=False
    )

    @database_sync_to_async
    def expire_sessions_of(user_id):
        for session in Session.objects.all():
            if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
                session.delete()

    await expire_sessions_of(other.pk)

    assert await close_code(deactivated) == CLOSE_UNAUTHENTICATED
    assert await close_code(expired) == CLOSE_UNAUTHENTICATED


async def test_a_socket_whose_access_did_not_change_stays_open(make_user, site_a, settings):
    settings.LIVE_ACCESS_RECHECK_SECONDS = 0.2
    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    socket = await open_socket(await signed_in(user))
    # another user's changes and this user's sign-in elsewhere change nothing for it
    someone = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    await database_sync_to_async(site_a.members.remove)(someone)
    await signed_in(user)

    assert await socket.receive_nothing(timeout=1)
    event = await database_sync_to_async(events.publish)(site_a.pk, "camera.status", {})
    assert (await socket.receive_json_from(timeout=3))["id"] == event.pk
    await socket.disconnect()
