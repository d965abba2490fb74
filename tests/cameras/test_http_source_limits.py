"""The HTTP snapshot source cannot probe the server's own network (loopback, link-local,
private addresses need CAMERA_HTTP_ALLOWED_NETWORKS), and a camera's credentials go only
to the address they were entered for: a redirect elsewhere is refused, and a changed
address needs the password again (API, page and Django admin)."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Camera
from cameras.sources import SourceError, open_source
from tests.factories import HttpCameraFactory

PASSWORD = "cam-secret-8h7g"


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 20, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


class Recorder(BaseHTTPRequestHandler):
    redirect_to: str | None = None
    seen: list

    def do_GET(self):
        type(self).seen.append(self.headers.get("Authorization"))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="cam"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = jpeg()
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(redirect_to: str | None = None):
    handler = type("Handler", (Recorder,), {"redirect_to": redirect_to, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def grab(url: str, password: str = PASSWORD) -> bytes:
    with open_source(
        {"source_kind": "http", "source_url": url, "username": "viewer", "password": password},
        timeout=5,
    ) as source:
        return source.grab()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/snap.jpg",
        "http://10.1.2.3/snap.jpg",
        "http://192.168.1.64/snap.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/snap.jpg",
        "http://localhost:{port}/snap.jpg",
    ],
)
def test_a_snapshot_url_on_the_servers_own_network_is_refused_before_any_request(settings, url):
    settings.CAMERA_HTTP_ALLOWED_NETWORKS = []
    server, handler = serve()
    try:
        with pytest.raises(SourceError, match="CAMERA_HTTP_ALLOWED_NETWORKS"):
            grab(url.format(port=server.server_address[1]))
    finally:
        server.shutdown()
    assert handler.seen == []


def test_an_allowed_network_is_reached(settings):
    settings.CAMERA_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    server, _handler = serve()
    try:
        assert grab(f"http://127.0.0.1:{server.server_address[1]}/snap.jpg")[:2] == b"\xff\xd8"
    finally:
        server.shutdown()


def test_a_redirect_to_another_address_is_refused_and_gets_no_credentials(settings):
    settings.CAMERA_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    elsewhere, elsewhere_handler = serve()
    camera, _camera_handler = serve(
        redirect_to=f"http://127.0.0.1:{elsewhere.server_address[1]}/collect"
    )
    try:
        with pytest.raises(SourceError, match="the address they were entered for"):
            grab(f"http://127.0.0.1:{camera.server_address[1]}/snap.jpg")
    finally:
        camera.shutdown()
        elsewhere.shutdown()
    assert elsewhere_handler.seen == []


# ---------------------------------------------------------------- a changed address


def moved_camera_form(site) -> dict:
    """The camera form with a new address and the password left blank."""
    return {
        "site": site.pk,
        "name": "Gate",
        "source_kind": "http",
        "source_url": "http://203.0.113.50/collect.jpg",
        "username": "viewer",
        "password": "",
        "sample_interval": "1",
        "enabled": "on",
        "frame_retention_hours": "24",
    }


@pytest.fixture
def camera(site_a) -> Camera:
    return HttpCameraFactory(site=site_a, name="Gate", password=PASSWORD)


@pytest.fixture
def admin_user(make_user, site_a):
    return make_user(roles.ADMIN, site_a, is_staff=True)


@pytest.mark.django_db
def test_the_api_refuses_a_new_address_without_the_password(camera, admin_user):
    api = APIClient()
    api.force_login(admin_user)

    response = api.patch(
        f"/api/cameras/{camera.pk}/",
        {"source_url": "http://203.0.113.50/collect.jpg"},
        format="json",
    )

    assert response.status_code == 400
    assert "type the password again" in response.json()["password"][0]
    camera.refresh_from_db()
    assert camera.source_url == "http://192.168.1.64/snapshot.jpg"


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"password": "new-pass"}, {"clear_password": True}])
def test_the_api_takes_a_new_address_with_the_password_typed_again_or_removed(
    camera, admin_user, change
):
    api = APIClient()
    api.force_login(admin_user)

    response = api.patch(
        f"/api/cameras/{camera.pk}/",
        {"source_url": "http://192.168.1.65/snapshot.jpg", **change},
        format="json",
    )

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_the_camera_page_refuses_a_new_address_without_the_password(camera, admin_user, site_a):
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(admin_user)

    response = browser.post(
        f"/cameras/{camera.pk}/",
        {"action": "save", **moved_camera_form(site_a)},
    )

    assert response.status_code == 200
    assert "type the password again" in response.content.decode()
    camera.refresh_from_db()
    assert camera.source_url == "http://192.168.1.64/snapshot.jpg"


@pytest.mark.django_db
def test_the_django_admin_refuses_a_new_address_without_the_password(camera, site_a):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(root)

    response = browser.post(
        f"/admin/cameras/camera/{camera.pk}/change/",
        moved_camera_form(site_a),
    )

    assert response.status_code == 200
    assert "type the password again" in response.content.decode()


# ---------------------------------------------------------------- the admin's site form


@pytest.mark.django_db
def test_the_django_admin_site_form_lists_only_users_of_the_editors_sites(
    make_user, site_a, site_b
):
    editor = make_user(roles.ADMIN, site_a, is_staff=True, username="editor")
    make_user(roles.OPERATOR, site_a, username="colleague")
    make_user(roles.OPERATOR, site_b, username="stranger")
    make_user(None, username="nobody-anywhere")
    browser = Client()
    browser.force_login(editor)

    page = browser.get(f"/admin/cameras/site/{site_a.pk}/change/").content.decode()

    assert "colleague" in page
    assert "stranger" not in page
    assert "nobody-anywhere" not in page


@pytest.mark.django_db
def test_a_superuser_sees_every_user_in_the_site_form(make_user, site_a, site_b):
    make_user(roles.OPERATOR, site_b, username="stranger")
    root = make_user(None, is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(root)

    page = browser.get(f"/admin/cameras/site/{site_a.pk}/change/").content.decode()

    assert "stranger" in page
