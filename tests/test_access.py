"""Every page, API endpoint and websocket needs a login, roles gate what a user may do,
and site membership gates where."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from alerts.consumers import CLOSE_UNAUTHENTICATED
from alerts.events import site_group
from cameras import roles
from monitoring.asgi import application

PAGES = ["/", "/live/", "/alerts/", "/cameras/", "/billing/", "/accounts/password_change/"]
BROWSER_HEADERS = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
API = ["/api/", "/api/me/", "/api/sites/", "/api/schema/", "/api/docs/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.django_db
@pytest.mark.parametrize("url", API)
def test_an_anonymous_api_call_is_refused_with_401(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


@pytest.mark.django_db
def test_the_login_page_and_health_check_are_open(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code in {200, 503}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_anonymous_websocket_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=BROWSER_HEADERS)
    connected, _ = await communicator.connect()
    # accepted, then closed with the code: a refusal before accepting would reach the
    # browser as an HTTP 403 and close code 1006, not the documented code
    assert connected is True
    assert await communicator.receive_output(3) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }


ROLE_PAGES = {
    # role: (pages allowed, pages refused)
    roles.OPERATOR: (["/live/", "/alerts/"], ["/cameras/", "/billing/", "/admin/cameras/site/"]),
    roles.ADMIN: (["/live/", "/alerts/", "/cameras/", "/admin/cameras/site/"], ["/billing/"]),
    roles.FINANCE: (["/billing/"], ["/live/", "/alerts/", "/cameras/"]),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_role_reaches_its_pages_and_no_others(make_user, site_a, role):
    user = make_user(role, site_a, is_staff=(role == roles.ADMIN))
    client = Client()
    client.force_login(user)
    allowed, refused = ROLE_PAGES[role]
    for url in allowed:
        assert client.get(url).status_code == 200, url
    for url in refused:
        assert client.get(url).status_code in {302, 403}, url
        if not url.startswith("/admin/"):
            assert client.get(url).status_code == 403, url


@pytest.mark.django_db
def test_webhooks_are_a_superusers_admin_page_as_docs_alerts_md_says(make_user, site_a):
    # docs/alerts.md: the Admin role of a site does not open the webhook admin pages
    admin = Client()
    admin.force_login(make_user(roles.ADMIN, site_a, is_staff=True))
    for url in ("/admin/alerts/webhook/", "/admin/alerts/webhook/add/"):
        assert admin.get(url).status_code == 403, url
    superuser = Client()
    superuser.force_login(make_user(None, is_staff=True, is_superuser=True))
    assert superuser.get("/admin/alerts/webhook/add/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "landing"),
    [(roles.OPERATOR, "/live/"), (roles.FINANCE, "/billing/")],
)
def test_the_home_page_sends_each_role_to_its_first_page(make_user, site_a, role, landing):
    client = Client()
    client.force_login(make_user(role, site_a))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == landing


@pytest.mark.django_db
def test_an_admin_with_first_steps_left_lands_on_the_checklist_then_the_live_wall(
    make_user, site_a
):
    client = Client()
    client.force_login(make_user(roles.ADMIN, site_a))
    response = client.get("/")
    assert response.status_code == 200
    assert 'data-role="checklist"' in response.content.decode()
    assert 'href="/live/"' in response.content.decode()


@pytest.mark.django_db
def test_a_user_without_a_role_is_told_to_ask_for_one(make_user, site_a):
    client = Client()
    client.force_login(make_user(None, site_a))
    response = client.get("/")
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_navigation_shows_only_what_the_role_may_open(make_user, site_a):
    client = Client()
    client.force_login(make_user(roles.FINANCE, site_a))
    page = client.get("/billing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/billing/"' in page
    assert 'href="/live/"' not in page
    assert 'href="/cameras/"' not in page


@pytest.mark.django_db
def test_an_operator_of_site_a_sees_nothing_of_site_b(make_user, site_a, site_b):
    client = Client()
    client.force_login(make_user(roles.OPERATOR, site_a))
    sites = client.get("/api/sites/").json()["results"]
    assert [site["name"] for site in sites] == ["Site A"]
    assert client.get(f"/api/sites/{site_b.pk}/").status_code == 404
    assert client.get("/api/me/").json()["sites"] == [site_a.pk]
    page = client.get("/live/").content.decode()
    assert "Site A" in page
    assert "Site B" not in page


@pytest.mark.django_db
def test_a_token_authenticates_api_calls(make_user, site_a):
    from rest_framework.authtoken.models import Token

    user = make_user(roles.OPERATOR, site_a)
    token = Token.objects.create(user=user)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["roles"] == [roles.OPERATOR]
    assert Client().get("/api/me/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


@pytest.mark.django_db
def test_the_openapi_schema_is_served_as_json_to_a_signed_in_user(make_user, site_a):
    client = Client()
    client.force_login(make_user(roles.OPERATOR, site_a))
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/sites/" in response.json()["paths"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_live_socket_gets_the_events_of_its_sites_only(make_user, site_a, site_b):
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer

    user = await database_sync_to_async(make_user)(roles.OPERATOR, site_a)
    # The auth middleware is bypassed by setting the scope's user directly.
    from alerts.consumers import LiveConsumer

    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello == {"type": "hello", "sites": [site_a.pk]}

    layer = get_channel_layer()
    other = {"type": "alert.opened", "site": site_b.pk}
    mine = {"type": "alert.opened", "site": site_a.pk}
    await layer.group_send(site_group(site_b.pk), {"type": "live.event", "event": other})
    await layer.group_send(site_group(site_a.pk), {"type": "live.event", "event": mine})
    assert await communicator.receive_json_from(timeout=3) == mine
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_finance_user_cannot_open_the_live_socket(make_user, site_a):
    from channels.db import database_sync_to_async

    from alerts.consumers import CLOSE_FORBIDDEN, LiveConsumer

    user = await database_sync_to_async(make_user)(roles.FINANCE, site_a)
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected is True
    assert await communicator.receive_output(3) == {
        "type": "websocket.close",
        "code": CLOSE_FORBIDDEN,
    }


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_browser_session_opens_the_live_socket(make_user, site_a):
    """Through the real ASGI stack: the session cookie of a login authenticates the socket."""
    import asyncio

    client = Client()
    user = make_user(roles.OPERATOR, site_a)
    client.force_login(user)
    cookie = client.cookies["sessionid"].value

    async def run():
        communicator = WebsocketCommunicator(
            application,
            "/ws/live/",
            headers=[*BROWSER_HEADERS, (b"cookie", f"sessionid={cookie}".encode())],
        )
        connected, _ = await communicator.connect()
        message = await communicator.receive_json_from() if connected else None
        await communicator.disconnect()
        return connected, message

    connected, message = asyncio.run(run())
    assert connected
    assert message["sites"] == [site_a.pk]
