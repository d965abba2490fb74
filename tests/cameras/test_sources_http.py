"""HTTP snapshot sources against a real camera-like HTTP server on loopback: snapshot
URLs behind basic auth and behind digest auth (RFC 7616, MD5, qop=auth, as IP cameras
answer), a PNG, a truncated JPEG, an HTML page, a missing page and a slow answer."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from cameras.sources import SourceError, open_source

USER, PASSWORD = "admin", "correct-horse"
REALM = "IP Camera(C1234)"

pytestmark = pytest.mark.timeout(60)


def picture(width: int, height: int, image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 60)).save(buffer, format=image_format)
    return buffer.getvalue()


JPEG = picture(640, 360)
PNG = picture(320, 200, "PNG")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - what digest auth uses


def _digest_fields(header: str) -> dict[str, str]:
    fields = {}
    for part in header[len("Digest ") :].split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip('"')
    return fields


class CameraHandler(BaseHTTPRequestHandler):
    """Paths: /basic/snap.jpg, /digest/snap.jpg, /open/snap.jpg, /open/snap.png,
    /open/corrupt.jpg, /open/page.html, /open/slow.jpg; anything else is 404."""

    nonces: set[str] = set()
    seen_authorization: list[str] = []
    requests: list[str] = []

    def log_message(self, *args) -> None:
        return None

    def do_GET(self) -> None:
        self.requests.append(self.path)
        header = self.headers.get("Authorization", "")
        if header:
            self.seen_authorization.append(header.split(" ", 1)[0])
        if self.path.startswith("/basic/"):
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if header != expected:
                return self._challenge(f'Basic realm="{REALM}"')
            return self._send(200, "image/jpeg", JPEG)
        if self.path.startswith("/digest/"):
            if not self._digest_ok(header):
                nonce = secrets.token_hex(16)
                self.nonces.add(nonce)
                return self._challenge(
                    f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
                    f'opaque="{secrets.token_hex(8)}", algorithm=MD5'
                )
            return self._send(200, "image/jpeg", JPEG)
        if self.path == "/open/snap.jpg":
            return self._send(200, "image/jpeg", JPEG)
        if self.path == "/open/snap.png":
            return self._send(200, "image/png", PNG)
        if self.path == "/open/corrupt.jpg":
            return self._send(200, "image/jpeg", JPEG[: len(JPEG) // 3])
        if self.path == "/open/page.html":
            return self._send(200, "text/html", b"<!DOCTYPE html><html><body>Login</body></html>")
        if self.path == "/open/slow.jpg":
            time.sleep(3)
            return self._send(200, "image/jpeg", JPEG)
        return self._send(404, "text/plain", b"not found")

    def _digest_ok(self, header: str) -> bool:
        if not header.startswith("Digest "):
            return False
        fields = _digest_fields(header)
        if fields.get("nonce") not in self.nonces or fields.get("username") != USER:
            return False
        ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"GET:{fields.get('uri')}")
        expected = _md5(
            f"{ha1}:{fields['nonce']}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}"
        )
        return fields.get("response") == expected

    def _challenge(self, value: str) -> None:
        body = b"<html><body>401 Unauthorized</body></html>"
        self.send_response(401, "Unauthorized")
        self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture
def camera_server():
    CameraHandler.nonces = set()
    CameraHandler.seen_authorization = []
    CameraHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CameraHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def camera(url: str, username: str = "", password: str = "") -> dict:
    return {"source_kind": "http", "source_url": url, "username": username, "password": password}


def grab(settings: dict, timeout: float = 5.0) -> bytes:
    with open_source(settings, timeout=timeout) as source:
        return source.grab()


def test_a_snapshot_behind_basic_auth_is_grabbed_with_the_right_password(camera_server):
    frame = grab(camera(f"{camera_server}/basic/snap.jpg", USER, PASSWORD))

    assert frame == JPEG


def test_a_snapshot_behind_digest_auth_is_grabbed_without_sending_the_password_in_clear(
    camera_server,
):
    frame = grab(camera(f"{camera_server}/digest/snap.jpg", USER, PASSWORD))

    assert frame == JPEG
    assert "Digest" in CameraHandler.seen_authorization
    assert "Basic" not in CameraHandler.seen_authorization


def test_digest_auth_keeps_working_over_several_grabs_of_one_source(camera_server):
    with open_source(camera(f"{camera_server}/digest/snap.jpg", USER, PASSWORD)) as source:
        frames = [source.grab() for _ in range(3)]

    assert frames == [JPEG] * 3


@pytest.mark.parametrize("path", ["/basic/snap.jpg", "/digest/snap.jpg"])
def test_a_wrong_password_is_reported_as_401(camera_server, path):
    with pytest.raises(SourceError, match=r"HTTP 401 Unauthorized.*refused the user name"):
        grab(camera(f"{camera_server}{path}", USER, "wrong"))


def test_a_camera_that_wants_a_password_and_got_none_says_so(camera_server):
    with pytest.raises(SourceError, match=r"401 Unauthorized.*needs a user name and password"):
        grab(camera(f"{camera_server}/basic/snap.jpg"))


def test_every_grab_asks_the_camera_again_for_a_fresh_picture(camera_server):
    with open_source(camera(f"{camera_server}/open/snap.jpg")) as source:
        source.grab()
        source.grab()

    assert CameraHandler.requests.count("/open/snap.jpg") == 2


def test_a_png_snapshot_is_turned_into_a_jpeg(camera_server):
    frame = grab(camera(f"{camera_server}/open/snap.png"))

    image = Image.open(io.BytesIO(frame))
    assert (image.format, image.size) == ("JPEG", (320, 200))


def test_a_truncated_jpeg_is_reported_as_corrupt(camera_server):
    with pytest.raises(SourceError, match="corrupt image"):
        grab(camera(f"{camera_server}/open/corrupt.jpg"))


def test_a_login_page_instead_of_a_picture_is_reported_as_not_an_image(camera_server):
    with pytest.raises(SourceError, match=r"text/html.*not an image \(an HTML page"):
        grab(camera(f"{camera_server}/open/page.html"))


def test_a_wrong_path_is_reported_with_its_status_and_reason(camera_server):
    with pytest.raises(SourceError, match=r"^HTTP 404 Not Found$"):
        grab(camera(f"{camera_server}/ISAPI/Streaming/channels/101/picture"))


def test_a_camera_that_answers_too_late_is_reported_as_a_timeout(camera_server):
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no answer from 127\.0\.0\.1:\d+ within 1 s"):
        grab(camera(f"{camera_server}/open/slow.jpg"), timeout=1.0)
    assert time.monotonic() - started < 5


def test_nothing_listening_is_reported_as_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SourceError, match=f"connection refused by 127.0.0.1:{port}"):
        grab(camera(f"http://127.0.0.1:{port}/snap.jpg"))


def test_a_host_name_that_does_not_resolve_is_reported_as_dns(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)

    with pytest.raises(
        SourceError, match=re.escape("cannot resolve host name 'camera-7.site' (DNS)")
    ):
        grab(camera("http://camera-7.site/cgi-bin/snapshot.cgi"))


def test_an_address_that_is_not_http_is_refused_before_any_request():
    with pytest.raises(SourceError, match="not an HTTP"):
        open_source(camera("ftp://camera/snap.jpg"))


def test_an_unknown_kind_is_refused():
    with pytest.raises(SourceError, match="unknown source kind 'onvif'"):
        open_source({"source_kind": "onvif", "source_url": "http://x/"})
