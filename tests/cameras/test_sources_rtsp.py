"""RTSP sources against a real RTSP server on loopback: GStreamer's RTSP server, run by
the system Python (which has python3-gi) in a subprocess.

The server streams H.264 over RTSP whose pictures are flat grey, the grey level telling
the wall-clock time it was made (a ramp that repeats every ``PERIOD`` seconds), so a
test can tell how old a grabbed frame is.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cameras.capture import HealthState, after_failure, after_success
from cameras.models import Health
from cameras.sources import SourceError, SourceSettings, open_source
from cameras.sources.rtsp import RtspSource, with_credentials
from tests.factories import CameraFactory, SiteFactory

SYSTEM_PYTHON = "/usr/bin/python3"
PERIOD = 4.0
WIDTH, HEIGHT = 320, 240

SERVER = r"""
import sys, time
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, user, password, period = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
WIDTH, HEIGHT = 320, 240
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( appsrc name=src is-live=true format=time do-timestamp=true "
    f"caps=video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},framerate=10/1 "
    "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=5 "
    "! rtph264pay name=pay0 pt=96 )"
)
factory.set_shared(True)
sources = []

def configure(factory, media):
    sources.append(media.get_element().get_child_by_name("src"))

factory.connect("media-configure", configure)

def push():
    level = 20 + int((time.time() % period) / period * 200)
    data = bytes([level]) * (WIDTH * HEIGHT * 3)
    for source in list(sources):
        if source.emit("push-buffer", Gst.Buffer.new_wrapped(data)) != Gst.FlowReturn.OK:
            sources.remove(source)
    return True

GLib.timeout_add(100, push)
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    factory.add_role_from_structure(Gst.Structure.new_from_string(
        "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
server.get_mount_points().add_factory("/live", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("READY", flush=True)
GLib.MainLoop().run()
"""


def _gst_rtsp_server_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    check = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import GstRtspServer; import shutil; "
        "assert shutil.which('gst-inspect-1.0')"
    )
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", check], check=True, capture_output=True, timeout=30)
        subprocess.run(["gst-inspect-1.0", "x264enc"], check=True, capture_output=True, timeout=30)
    except (subprocess.SubprocessError, OSError):
        return False
    return shutil.which("gst-inspect-1.0") is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RtspServer:
    """The GStreamer RTSP server in a subprocess: ``start()``, ``kill()``, again."""

    def __init__(self, script: Path, port: int, user: str = "", password: str = ""):
        self.script, self.port, self.user, self.password = script, port, user, password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/live"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(self.script),
                str(self.port),
                self.user,
                self.password,
                str(PERIOD),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"READY":
            error = self.process.stderr.read() if self.process.stderr else b""
            self.kill()
            raise RuntimeError(f"the RTSP server did not start: {line!r} {error[-2000:]!r}")
        assert time.monotonic() < deadline

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="module")
def server_script(tmp_path_factory) -> Path:
    if not _gst_rtsp_server_available():
        message = (
            "GStreamer's RTSP server is not installed for the system Python (run .ci/test-deps.sh)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    script = tmp_path_factory.mktemp("rtsp") / "rtsp_server.py"
    script.write_text(SERVER)
    return script


@pytest.fixture
def rtsp_server(server_script):
    server = RtspServer(server_script, _free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture
def rtsp_server_with_password(server_script):
    server = RtspServer(server_script, _free_port(), user="viewer", password="s3cret")
    server.start()
    yield server
    server.kill()


def grey_level(jpeg: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(jpeg)).convert("L")).mean())


def age_of(level: float, now: float) -> float:
    """How many seconds before ``now`` a frame of this grey level was made."""
    made = (level - 20) / 200 * PERIOD
    return (now % PERIOD - made) % PERIOD


def settings(url: str, **extra) -> dict:
    return {"source_kind": "rtsp", "source_url": url, **extra}


pytestmark = pytest.mark.timeout(120)


def test_a_running_stream_gives_jpeg_frames_of_its_size(rtsp_server):
    with open_source(settings(rtsp_server.url), timeout=15) as source:
        frame = source.grab()

    image = Image.open(io.BytesIO(frame))
    assert image.format == "JPEG"
    assert image.size == (WIDTH, HEIGHT)


def test_each_grab_returns_what_the_camera_shows_now_not_a_queued_frame(rtsp_server):
    with open_source(settings(rtsp_server.url), timeout=15) as source:
        source.grab()  # connected and streaming
        ages = []
        for _ in range(3):
            time.sleep(1.0)  # frames keep arriving meanwhile; none may queue up
            frame = source.grab()
            ages.append(age_of(grey_level(frame), time.time()))

    assert max(ages) < 1.5, ages


def test_a_wrong_password_is_reported_as_401(rtsp_server_with_password):
    source = open_source(
        settings(rtsp_server_with_password.url, username="viewer", password="wrong"), timeout=10
    )
    with source, pytest.raises(SourceError, match="401"):
        source.grab()


def test_the_right_password_gives_frames(rtsp_server_with_password):
    source = open_source(
        settings(rtsp_server_with_password.url, username="viewer", password="s3cret"), timeout=15
    )
    with source:
        assert Image.open(io.BytesIO(source.grab())).size == (WIDTH, HEIGHT)


def test_nothing_listening_is_reported_as_connection_refused():
    source = open_source(settings(f"rtsp://127.0.0.1:{_free_port()}/live"), timeout=5)
    with source, pytest.raises(SourceError, match="connection refused"):
        source.grab()


def test_when_the_server_dies_grabs_fail_and_health_falls_then_the_source_reconnects_by_itself(
    rtsp_server,
):
    source = RtspSource(
        SourceSettings.of(settings(rtsp_server.url), timeout=3),
        max_age=0.5,
        reconnect_first=0.2,
        reconnect_max=1.0,
    )
    health = HealthState()
    try:
        # Given a stream delivering frames
        deadline = time.monotonic() + 20
        while True:
            try:
                source.grab()
                break
            except SourceError:
                assert time.monotonic() < deadline, "no first frame"
        health = after_success(health, time.monotonic())
        assert health.health == Health.ONLINE
        connects_before = source.connects

        # When the server is killed
        rtsp_server.kill()
        failures = []
        deadline = time.monotonic() + 20
        while len(failures) < 3 and time.monotonic() < deadline:
            try:
                source.grab()
                time.sleep(0.2)
            except SourceError as error:
                failures.append(error.message)
                health = after_failure(health, error.message)
                if len(failures) == 1:
                    assert health.health == Health.DEGRADED

        # Then grabs fail with the reason, and the camera ends up offline
        assert len(failures) == 3, "grabs kept succeeding after the server died"
        assert health.health == Health.OFFLINE
        assert health.reason == failures[-1]
        assert any(
            word in failures[-1] for word in ("refused", "ended", "closed", "no answer", "no frame")
        ), failures

        # When the server comes back on the same port
        rtsp_server.start()
        deadline = time.monotonic() + 30
        frame = None
        while frame is None:
            assert time.monotonic() < deadline, f"never reconnected: {source.last_error}"
            try:
                frame = source.grab()
            except SourceError:
                time.sleep(0.3)

        # Then the same source reconnected by itself and gives fresh frames again
        assert source.connects > connects_before
        assert age_of(grey_level(frame), time.time()) < 1.5
        health = after_success(health, time.monotonic())
        assert health.health == Health.ONLINE
    finally:
        source.close()


def test_the_capture_service_marks_a_dead_stream_degraded_then_offline(rtsp_server, db):
    from cameras.capture import CaptureService
    from cameras.models import Camera

    site = SiteFactory(name="RTSP site")
    camera = CameraFactory(
        site=site, name="rtsp", source_kind="rtsp", source_url=rtsp_server.url, sample_interval=0.3
    )
    service = CaptureService(camera_ids=[camera.pk])
    try:
        # Given the service storing frames of the camera
        deadline = time.monotonic() + 30
        while Camera.objects.get(pk=camera.pk).health != Health.ONLINE:
            assert time.monotonic() < deadline, "the camera never came online"
            service.step(wait=0.5)
        assert camera.frames.exists()

        # When the server dies
        rtsp_server.kill()
        seen = set()
        deadline = time.monotonic() + 40
        while Health.OFFLINE not in seen:
            assert time.monotonic() < deadline, f"health only went through {seen}"
            service.step(wait=0.5)
            seen.add(Camera.objects.get(pk=camera.pk).health)

        # Then it went degraded first, then offline, with the failure as the reason
        assert Health.DEGRADED in seen
        camera.refresh_from_db()
        assert camera.health == Health.OFFLINE
        assert camera.health_reason
        assert camera.health_changed_at is not None
    finally:
        service.shutdown()


def test_credentials_go_into_the_url_escaped_unless_it_has_some():
    assert (
        with_credentials("rtsp://cam:554/Streaming/Channels/101", "admin", "p@ss:w/rd")
        == "rtsp://admin:p%40ss%3Aw%2Frd@cam:554/Streaming/Channels/101"
    )
    assert with_credentials("rtsp://u:p@cam/x", "other", "pw") == "rtsp://u:p@cam/x"
    assert with_credentials("rtsp://cam/x", "", "") == "rtsp://cam/x"


def test_a_url_that_is_not_rtsp_is_refused_at_once():
    with pytest.raises(SourceError, match="not an RTSP URL"):
        open_source(settings("http://camera/stream"))
