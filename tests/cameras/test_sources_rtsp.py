"""RTSP sources against a real RTSP server on loopback: GStreamer's RTSP server, run by
the system Python (which has python3-gi) in a subprocess.

The server streams H.264 over RTSP whose pictures are flat grey, the grey level telling
the wall-clock time it was made (a ramp that repeats every ``PERIOD`` seconds), so a
test can tell how old a grabbed frame is.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from cameras.capture import HealthState, after_failure, after_success
from cameras.models import Health
from cameras.sources import SourceError, SourceSettings, open_source
from cameras.sources.rtsp import RtspSource, with_credentials
from tests.factories import CameraFactory, SiteFactory
from tests.rtsp_server import (
    HEIGHT,
    SERVER,
    WIDTH,
    RtspServer,
    age_of,
    grey_level,
    gst_rtsp_server_available,
)
from tests.servers import free_port


@pytest.fixture(scope="module")
def server_script(tmp_path_factory) -> Path:
    if not gst_rtsp_server_available():
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
    server = RtspServer(server_script, free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture
def stream_server(server_script):
    """Starts servers of a chosen keyframe interval (in frames, at 10 frames a second)."""
    started = []

    def start(keyint: int) -> RtspServer:
        server = RtspServer(server_script, free_port(), keyint=keyint, fps=10)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def rtsp_server_with_password(server_script):
    server = RtspServer(server_script, free_port(), user="viewer", password="s3cret")
    server.start()
    yield server
    server.kill()


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


def first_frame(source: RtspSource, seconds: float = 20.0) -> bytes:
    """The first frame of a source just opened, trying again until ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return source.grab()
        except SourceError:
            assert time.monotonic() < deadline, f"no first frame: {source.last_error}"


def sample(url: str, interval: float, grabs: int) -> tuple[list[tuple], int, int]:
    """Grab as the capture service does, every ``interval`` seconds from the first
    frame on: each frame's age from its grey level and as the source recorded it (and
    the count of packets decoded so far), the packets decoded and the packets read."""
    source = RtspSource(SourceSettings.of(settings(url, sample_interval=interval), timeout=15))
    try:
        first_frame(source)
        due = time.monotonic()
        ages = []
        for _ in range(grabs):
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
            frame = source.grab()
            seen = age_of(grey_level(frame), time.time())
            ages.append((seen, source.frame_age, source.decoded))
        return ages, source.decoded, source.packets
    finally:
        source.close()


@pytest.mark.parametrize("keyint", [5, 10], ids=["keyframe-every-0.5s", "keyframe-every-1s"])
def test_a_stream_whose_keyframes_fit_the_sampling_interval_is_decoded_keyframes_only(
    stream_server, keyint
):
    # Given a stream with a keyframe every 0.5 s or 1 s, sampled every second
    server = stream_server(keyint)

    # When it is sampled six times
    ages, decoded, packets = sample(server.url, 1.0, 6)

    # Then exactly one packet (a keyframe) was decoded for each frame handed over, out
    # of the ten a second the stream sent
    assert decoded == 7, (decoded, packets, ages)
    assert packets >= 50
    # and no frame handed over is older than one keyframe interval (plus transport)
    keyframe_interval = keyint / 10
    assert max(seen for seen, _recorded, _decoded in ages) < keyframe_interval + 0.5, ages
    assert all(0 <= recorded <= keyframe_interval * 1.3 for _seen, recorded, _decoded in ages), ages


def test_a_stream_with_keyframes_rarer_than_sampling_gives_fresh_frames_without_decoding_all(
    stream_server,
):
    # Given a stream with a keyframe every 4 s, sampled every second
    server = stream_server(40)

    # When it is sampled nine times
    ages, decoded, packets = sample(server.url, 1.0, 9)

    # Then no frame is older than the sampling interval (plus transport), although
    # keyframes are four intervals apart
    assert max(seen for seen, _recorded, _decoded in ages) < 1.5, ages
    assert all(recorded <= 1.25 for _seen, recorded, _decoded in ages), ages
    # and the frames after the last one due in each group of pictures were not decoded
    assert decoded < packets - 5, (decoded, packets)


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
    source = open_source(settings(f"rtsp://127.0.0.1:{free_port()}/live"), timeout=5)
    with source, pytest.raises(SourceError, match="connection refused"):
        source.grab()


def test_when_the_server_dies_grabs_fail_and_health_falls_then_the_source_reconnects_by_itself(
    rtsp_server,
):
    source = RtspSource(
        SourceSettings.of(settings(rtsp_server.url, sample_interval=0.5), timeout=3),
        reconnect_first=0.2,
        reconnect_max=1.0,
    )
    health = HealthState()
    try:
        # Given a stream delivering frames
        first_frame(source)
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
