"""The capture service: storing frames, health, hooks, sharding, reloading the camera
list, retention, and the ``capture`` command (once in-process; the long-running one in
a subprocess with its own database, stopped by SIGTERM)."""

from __future__ import annotations

import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

import cameras
from cameras import signals
from cameras.capture import (
    CameraPlan,
    CameraWorker,
    CaptureService,
    Grab,
    HealthState,
    Mailbox,
    Shard,
    after_failure,
    after_silence,
    after_success,
)
from cameras.frames import delete_old_frames, store_frame
from cameras.models import Camera, Frame, Health
from cameras.sources import Source, SourceError
from tests.factories import CameraFactory, SiteFactory

pytestmark = pytest.mark.timeout(120)
MANAGE = Path(settings.BASE_DIR) / "manage.py"


def jpeg(width: int = 64, height: int = 48, level: int = 120) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (level, level, level)).save(buffer, format="JPEG")
    return buffer.getvalue()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def site(db):
    return SiteFactory(name="Capture site")


@pytest.fixture
def receive():
    """Connect a receiver to a ``cameras.signals`` signal for this test only."""
    connected = []

    def connect(signal_, receiver) -> None:
        signal_.connect(receiver, weak=False)
        connected.append((signal_, receiver))

    yield connect
    for signal_, receiver in connected:
        signal_.disconnect(receiver)


def make_camera(site, name, kind="demo", url="demo://site-gate", **extra) -> Camera:
    return CameraFactory(site=site, name=name, source_kind=kind, source_url=url, **extra)


class FakeSource(Source):
    """Gives frames of a set size, or fails with a set message."""

    def __init__(self, size=(64, 48), error: str | None = None):
        self.size, self.error, self.closed = size, error, False

    def grab(self) -> bytes:
        if self.error:
            raise SourceError(self.error)
        return jpeg(*self.size)

    def close(self) -> None:
        self.closed = True


class FakeOpener:
    """Opens a FakeSource per camera URL: ``fail:MESSAGE`` fails, ``boom`` raises a bug,
    ``size:WxH`` sets the frame size."""

    def __init__(self):
        self.opened: list[CameraPlan] = []
        self.sources: list[FakeSource] = []

    def __call__(self, plan: CameraPlan) -> Source:
        self.opened.append(plan)
        if plan.source_url == "boom":
            raise RuntimeError("driver crashed")
        if plan.source_url.startswith("fail:"):
            source = FakeSource(error=plan.source_url[5:])
        elif plan.source_url.startswith("size:"):
            width, height = plan.source_url[5:].split("x")
            source = FakeSource(size=(int(width), int(height)))
        else:
            source = FakeSource()
        self.sources.append(source)
        return source


def run_steps(service: CaptureService, until, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "the condition was never met"
        service.step(wait=0.2)


# ---------------------------------------------------------------- the command, once


def test_capture_once_stores_frames_of_the_demo_cameras_and_marks_an_unreachable_one_offline(
    site, media_root
):
    gate = make_camera(site, "Gate", url="demo://site-gate")
    scaffold = make_camera(site, "Scaffold", url="demo://scaffold")
    port = closed_port()
    broken = make_camera(
        site,
        "Broken",
        kind="http",
        url=f"http://127.0.0.1:{port}/ISAPI/Streaming/channels/101/picture",
    )
    out = io.StringIO()

    call_command("capture", "--once", stdout=out)

    for camera in (gate, scaffold):
        camera.refresh_from_db()
        frame = camera.frames.get()
        assert (frame.width, frame.height) == (camera.width, camera.height) == (1280, 720)
        assert (Path(media_root) / frame.image.name).read_bytes()[:2] == b"\xff\xd8"
        assert frame.size == (Path(media_root) / frame.image.name).stat().st_size
        assert camera.health == Health.ONLINE and camera.last_frame_at == frame.captured_at
    broken.refresh_from_db()
    assert not broken.frames.exists()
    assert broken.health == Health.OFFLINE
    assert (
        broken.health_reason
        == f"connection refused by 127.0.0.1:{port} (nothing listening on that port?)"
    )
    assert broken.health_changed_at is not None
    assert f"'Broken': offline (connection refused by 127.0.0.1:{port}" in out.getvalue()


def test_disabled_cameras_are_not_captured(site):
    camera = make_camera(site, "Off", enabled=False)

    call_command("capture", "--once", stdout=io.StringIO())

    assert not camera.frames.exists()


def test_shards_take_disjoint_cameras_that_together_are_all_of_them(site):
    ids = {make_camera(site, f"Camera {index}").pk for index in range(7)}

    first = {camera.pk for camera in CaptureService(Shard.parse("0/2")).cameras()}
    second = {camera.pk for camera in CaptureService(Shard.parse("1/2")).cameras()}

    assert first and second
    assert first.isdisjoint(second)
    assert first | second == ids
    assert all(camera_id % 2 == 0 for camera_id in first)


def test_capture_once_of_one_shard_stores_frames_of_that_shard_only(site):
    cameras = [make_camera(site, f"Camera {index}") for index in range(4)]

    call_command("capture", "--once", "--shard", "1/2", stdout=io.StringIO())

    for camera in cameras:
        assert camera.frames.exists() == (camera.pk % 2 == 1)


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_a_wrong_shard_is_refused(text):
    with pytest.raises(ValueError, match="shard"):
        Shard.parse(text)


# ---------------------------------------------------------------- health


def test_health_goes_online_then_degraded_then_offline_after_repeated_failures():
    state = after_success(HealthState(), now=10.0)
    assert (state.health, state.reason) == (Health.ONLINE, "")

    state = after_failure(state, "HTTP 503 Service Unavailable")
    assert (state.health, state.reason) == (Health.DEGRADED, "HTTP 503 Service Unavailable")
    state = after_failure(state, "HTTP 503 Service Unavailable")
    assert state.health == Health.DEGRADED
    state = after_failure(state, "connection refused by cam:80")
    assert (state.health, state.reason) == (Health.OFFLINE, "connection refused by cam:80")

    assert after_success(state, now=20.0).health == Health.ONLINE


def test_frames_that_come_late_are_shown_in_the_health_reason_and_timely_ones_clear_it():
    state = after_success(HealthState(), now=10.0, age=1.9, interval=2.0)
    assert (state.health, state.reason) == (Health.ONLINE, "")

    state = after_success(state, now=12.0, age=9.6, interval=2.0)
    assert (state.health, state.reason) == (Health.ONLINE, "frames are 10 s old when taken")

    assert after_success(state, now=14.0, age=0.3, interval=2.0).reason == ""
    assert after_success(state, now=14.0, age=None, interval=2.0).reason == ""


def test_the_age_of_each_frame_is_stored_and_a_growing_one_reaches_the_camera_health(site):
    camera = make_camera(site, "Lagging", url="ok", sample_interval=2)
    service = CaptureService(opener=FakeOpener())

    timely = service.handle(Grab(camera.pk, 0, timezone.now(), jpeg=jpeg(), age=0.4))
    camera.refresh_from_db()
    assert (camera.health, camera.health_reason) == (Health.ONLINE, "")

    late = service.handle(Grab(camera.pk, 0, timezone.now(), jpeg=jpeg(), age=12.2))
    camera.refresh_from_db()
    assert (camera.health, camera.health_reason) == (
        Health.ONLINE,
        "frames are 12 s old when taken",
    )
    assert Frame.objects.get(pk=timely.pk).age == pytest.approx(0.4)
    assert Frame.objects.get(pk=late.pk).age == pytest.approx(12.2)


def test_a_worker_hands_the_source_its_interval_and_passes_on_the_frame_age(site):
    class AgedSource(FakeSource):
        interval = None

        def set_interval(self, seconds: float) -> None:
            self.interval = seconds

        def grab(self) -> bytes:
            self.frame_age = 0.75
            return super().grab()

    source = AgedSource()
    mailbox = Mailbox()
    plan = CameraPlan.of(make_camera(site, "Aged", url="ok", sample_interval=3))
    worker = CameraWorker(plan, mailbox, lambda _plan: source)
    worker.start()
    try:
        grabs = mailbox.take(10)
    finally:
        worker.stop()
        worker.join(5)

    assert [grab.age for grab in grabs] == [0.75]
    assert source.interval == 3.0


def test_a_camera_that_never_answered_is_offline_at_its_first_failure():
    assert after_failure(HealthState(), "cannot resolve host name 'cam' (DNS)").health == (
        Health.OFFLINE
    )


def test_a_camera_with_no_frame_for_three_intervals_goes_offline():
    state = after_success(HealthState(), now=100.0)

    assert after_silence(state, interval=5.0, now=114.0) is None
    silent = after_silence(state, interval=5.0, now=116.0)
    assert silent is not None
    assert (silent.health, silent.reason) == (Health.OFFLINE, "no frame for 16 s")


def test_health_changes_are_written_once_and_broadcast_once(site, receive):
    camera = make_camera(site, "Flaky", url="fail:HTTP 500 Internal Server Error")
    seen = []
    receive(signals.camera_health_changed, lambda camera, **kw: seen.append(camera.health))
    service = CaptureService(opener=FakeOpener())

    for _ in range(3):
        service.handle(Grab(camera.pk, 0, timezone.now(), error="HTTP 500 Internal Server Error"))

    camera.refresh_from_db()
    assert (camera.health, camera.health_reason) == (
        Health.OFFLINE,
        "HTTP 500 Internal Server Error",
    )
    assert seen == [Health.OFFLINE]
    changed_at = camera.health_changed_at

    service.handle(Grab(camera.pk, 0, timezone.now(), error="HTTP 502 Bad Gateway"))
    camera.refresh_from_db()
    assert camera.health_reason == "HTTP 502 Bad Gateway"
    assert camera.health_changed_at == changed_at  # the state did not change, the reason did
    assert seen == [Health.OFFLINE, Health.OFFLINE]


# ---------------------------------------------------------------- hooks and storage


def test_each_stored_frame_is_announced_to_the_frame_stored_receivers(site, receive):
    camera = make_camera(site, "Hooked", url="ok")
    handed = []
    receive(signals.frame_stored, lambda frame, **kw: handed.append(frame))
    service = CaptureService(opener=FakeOpener())

    frame = service.handle(Grab(camera.pk, 0, timezone.now(), jpeg=jpeg()))

    assert handed == [frame]
    assert isinstance(frame, Frame) and frame.pk


def test_a_failing_receiver_does_not_stop_capture(site, receive):
    camera = make_camera(site, "Hooked", url="ok")
    handed = []

    def broken(**kw):
        raise RuntimeError("queue down")

    receive(signals.frame_stored, broken)
    receive(signals.frame_stored, lambda frame, **kw: handed.append(frame))
    receive(signals.camera_health_changed, lambda **kw: 1 / 0)
    service = CaptureService(opener=FakeOpener())

    frame = service.handle(Grab(camera.pk, 0, timezone.now(), jpeg=jpeg()))

    assert handed == [frame]
    camera.refresh_from_db()
    assert camera.health == Health.ONLINE


def test_a_new_resolution_is_recorded_and_regions_are_rescaled(site, monkeypatch):
    camera = make_camera(site, "Zoomed", width=640, height=480)
    calls = []
    fake = types.ModuleType("cameras.polygons")
    fake.rescale_camera_regions = lambda cam, width, height: calls.append((cam.pk, width, height))
    monkeypatch.setitem(sys.modules, "cameras.polygons", fake)
    monkeypatch.setattr(cameras, "polygons", fake, raising=False)

    store_frame(camera, jpeg(800, 600), timezone.now())
    store_frame(camera, jpeg(800, 600), timezone.now())

    camera.refresh_from_db()
    assert (camera.width, camera.height) == (800, 600)
    assert calls == [(camera.pk, 800, 600)]


# ---------------------------------------------------------------- the running service


def test_the_service_samples_every_camera_and_one_failing_camera_never_stops_the_others(site):
    good = make_camera(site, "Good", url="ok", sample_interval=0.2)
    buggy = make_camera(site, "Buggy", url="boom", sample_interval=0.2)
    refused = make_camera(site, "Refused", url="fail:connection refused", sample_interval=0.2)
    service = CaptureService(opener=FakeOpener())
    try:
        run_steps(service, lambda: good.frames.count() >= 5)
    finally:
        service.shutdown()

    buggy.refresh_from_db()
    refused.refresh_from_db()
    assert (buggy.health, buggy.health_reason) == (
        Health.OFFLINE,
        "unexpected error: driver crashed",
    )
    assert (refused.health, refused.health_reason) == (Health.OFFLINE, "connection refused")
    assert not buggy.frames.exists() and not refused.frames.exists()


def test_cameras_added_changed_or_disabled_are_picked_up_without_a_restart(site):
    opener = FakeOpener()
    first = make_camera(site, "First", url="size:64x48", sample_interval=0.2)
    service = CaptureService(opener=opener, reload_seconds=0.2)
    try:
        run_steps(service, lambda: first.frames.exists())

        # A camera added
        added = make_camera(site, "Added", url="ok", sample_interval=0.2)
        run_steps(service, lambda: added.frames.exists())

        # A camera's address changed: its source is reopened
        Camera.objects.filter(pk=first.pk).update(source_url="size:96x72")
        run_steps(service, lambda: Camera.objects.get(pk=first.pk).width == 96)
        assert [plan.source_url for plan in opener.opened if plan.id == first.pk] == [
            "size:64x48",
            "size:96x72",
        ]

        # A camera disabled: no longer sampled
        Camera.objects.filter(pk=added.pk).update(enabled=False)
        run_steps(service, lambda: added.pk not in service.workers)
        added.refresh_from_db()
        assert added.health == Health.UNKNOWN and added.health_reason == "disabled"
        count = added.frames.count()
        for _ in range(5):
            service.step(wait=0.2)
        assert added.frames.count() == count
    finally:
        service.shutdown()
    assert all(source.closed for source in opener.sources)


def test_a_newer_result_replaces_one_not_yet_stored_instead_of_queueing_behind_it():
    mailbox = Mailbox()
    now = timezone.now()
    mailbox.post(Grab(1, 1, now, jpeg=b"old"))
    mailbox.post(Grab(2, 2, now, jpeg=b"other camera"))
    mailbox.post(Grab(1, 1, now + timedelta(seconds=1), jpeg=b"new"))

    taken = {grab.camera_id: grab.jpeg for grab in mailbox.take(0)}

    assert taken == {1: b"new", 2: b"other camera"}
    assert mailbox.replaced == 1


# ---------------------------------------------------------------- retention


def test_old_frames_are_deleted_with_their_files_except_evidence_and_recent_ones(
    site, media_root, django_capture_on_commit_callbacks
):
    short = make_camera(site, "Short", frame_retention_hours=1)
    long = make_camera(site, "Long", frame_retention_hours=48)
    now = timezone.now()
    old = store_frame(short, jpeg(), now - timedelta(hours=2))
    evidence = store_frame(short, jpeg(), now - timedelta(hours=3))
    Frame.objects.filter(pk=evidence.pk).update(keep=True)
    recent = store_frame(short, jpeg(), now - timedelta(minutes=30))
    kept_longer = store_frame(long, jpeg(), now - timedelta(hours=2))
    old_file = Path(media_root) / old.image.name

    with django_capture_on_commit_callbacks(execute=True):
        deleted = delete_old_frames(now)

    assert deleted == 1
    assert set(Frame.objects.values_list("pk", flat=True)) == {
        evidence.pk,
        recent.pk,
        kept_longer.pk,
    }
    assert not old_file.exists()
    assert (Path(media_root) / evidence.image.name).exists()


def test_the_retention_task_runs_the_cleanup(site, django_capture_on_commit_callbacks):
    from cameras.tasks import BEAT_SCHEDULE
    from cameras.tasks import delete_old_frames as task

    camera = make_camera(site, "Short", frame_retention_hours=1)
    store_frame(camera, jpeg(), timezone.now() - timedelta(hours=5))

    with django_capture_on_commit_callbacks(execute=True):
        assert task.apply().get() == 1
    assert BEAT_SCHEDULE["cameras-delete-old-frames"]["task"] == task.name


# ---------------------------------------------------------------- the command, running


def _manage(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


@pytest.mark.timeout(240)
def test_the_capture_command_stores_frames_until_sigterm_and_then_stops_within_seconds(tmp_path):
    # Given its own SQLite database with two demo cameras sampled twice a second
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")
    }
    env.update(
        DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="monitoring.settings"
    )
    _manage(["migrate", "--noinput", "-v", "0"], env, timeout=180)
    _manage(
        [
            "shell",
            "-c",
            "from cameras.models import Camera, Site; site = Site.objects.create(name='S'); "
            "[Camera.objects.create(site=site, name=n, source_kind='demo', "
            "source_url='demo://' + n, sample_interval=0.5) for n in ('site-gate', 'scaffold')]",
        ],
        env,
        timeout=120,
    )
    database = tmp_path / "db.sqlite3"

    def frames() -> int:
        with sqlite3.connect(database, timeout=10) as connection:
            return connection.execute("select count(*) from cameras_frame").fetchone()[0]

    # When the service runs for a while
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "capture", "--reload", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while frames() < 6:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "no frames stored"
            time.sleep(0.3)

        # and is sent SIGTERM
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = process.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Then it stopped cleanly within a few seconds, having stored frames of both cameras
    assert process.returncode == 0, output
    assert took < 8, f"took {took:.1f} s to stop"
    assert "stopped" in output
    with sqlite3.connect(database) as connection:
        per_camera = dict(
            connection.execute("select camera_id, count(*) from cameras_frame group by camera_id")
        )
        health = dict(connection.execute("select id, health from cameras_camera"))
    assert len(per_camera) == 2
    assert set(health.values()) == {"online"}
    stored = list((tmp_path / "media" / "frames").rglob("*.jpg"))
    assert len(stored) == sum(per_camera.values())
