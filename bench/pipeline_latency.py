"""Frame-to-browser latency of the analysis pipeline, with an instant analyzer.

A frame is stored (file and row, then the capture service's frame hook queues its task)
and the clock runs until its ``frame.analyzed`` event reaches a websocket client
connected to a real daphne, through a real Celery worker and Redis. The on-box analyzer
answers at once (its person detector replaced by one that finds a fixed person), so
what is measured is the pipeline's own overhead: queueing, the gate, the metered call
and its ledger row, rules and the alert, the event and its relay.

    .venv/bin/python bench/pipeline_latency.py [--frames 200] [--gap 0.25]

Needs PostgreSQL (``DATABASE_URL``; default: the ``make test`` server, database
``ssd_bench``, created and migrated if missing) and ``redis-server`` (one is started
on a free loopback port for the run). Everything runs on loopback. Frames go one at a
time, ``--gap`` seconds apart, so the figure is latency, not queueing.

This module also holds what the other pipeline benchmarks share: the services, the
instant worker, a minimal websocket client and a signed-in browser session.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")

from tests.servers import free_port  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:55432/ssd_bench"
WIDTH, HEIGHT = 640, 480
# The instant detector's person stands at (440, 350): inside this fence.
FENCE = [[380, 300], [620, 300], [620, 470], [380, 470]]

# A Celery app whose on-box analyzer answers at once with one person: standing in the
# fence (BENCH_SCENE=intrusion: every frame keeps an alert open) or outside it (clear).
INSTANT_WORKER_APP = """
import os

from monitoring.celery import app
from monitoring.backends import local
from monitoring.backends.base import Box
from monitoring.backends.onbox import detector

LEFT = 400.0 if os.environ.get("BENCH_SCENE", "intrusion") == "intrusion" else 40.0


class InstantDetector:
    method = "instant (benchmark)"

    def detect(self, rgb):
        return [local.Detection(Box(LEFT, 150.0, 80.0, 200.0), 0.9, "hog", 2.0)]


# The process-wide detector the on-box analyzer asks for (``best_detector``).
detector._best = InstantDetector()
detector._best_chosen = True

if os.environ.get("BENCH_DECODE", "false") != "true":
    # A vendor that answers at once: the frame is read, not decoded (what decoding a
    # frame costs is the on-box analyzer's, measured in bench/demo_scene_analyzer.py).
    class Shape:
        shape = (480, 640, 3)

    local.LocalAnalyzer._decode = lambda self, data, api: Shape()
"""


# ---------------------------------------------------------------- services


def wait_until(condition, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Services:
    """The processes of one benchmark run (Redis, daphne, workers), each in its own
    session, stopped at the end; logs and media in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ssd-bench-"))
        self.media = self.folder / "media"
        self.processes: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}
        self.s3 = None

    def start_redis(self) -> str:
        if not shutil.which("redis-server"):
            url = os.environ.get("REDIS_URL")
            if not url:
                raise SystemExit("needs redis-server on the PATH, or REDIS_URL")
            return url
        port = free_port()
        self._spawn(
            "redis",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
        )  # fmt: skip
        wait_until(lambda: port_open(port), 10, "redis-server")
        return f"redis://127.0.0.1:{port}/0"

    def use_settings(self, source: str) -> None:
        """Run this process and its children with these settings (a module's text)."""
        (self.folder / "bench_settings.py").write_text(source)
        sys.path.insert(0, str(self.folder))
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"

    def prepare(
        self, database_url: str, redis_url: str, scene: str = "intrusion", storage: str = "disk"
    ) -> None:
        """Point this process and its children at the services; set Django up. Frames
        and evidence on local disk, or (``storage="s3"``) in a bucket of an S3 server
        started here (moto's, as tests/test_multihost.py uses)."""
        ensure_database(database_url)
        os.environ["BENCH_SCENE"] = scene
        self.media.mkdir(parents=True, exist_ok=True)
        if storage == "s3":
            from tests.s3_server import S3Server

            self.s3 = S3Server().start()
            os.environ.update(self.s3.environment(self.s3.bucket("bench-media")))
        os.environ.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            MEDIA_ROOT=str(self.media),
            # Production settings: DEBUG off (no query log), plain HTTP on loopback.
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            LOG_LEVEL="WARNING",
        )
        (self.folder / "instant_worker_app.py").write_text(INSTANT_WORKER_APP)
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.folder), str(ROOT)]),
            "PYTHONUNBUFFERED": "1",
        }
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", "--noinput", verbosity=0)

    def start_daphne(self) -> int:
        port = free_port()
        self._spawn(
            "daphne",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "monitoring.asgi:application"],
        )  # fmt: skip
        wait_until(lambda: port_open(port), 30, "daphne")
        return port

    def start_worker(self, name: str, *, pool: str = "prefork", concurrency: int = 2):
        log = self.folder / f"{name}.log"
        process = self._spawn(
            name,
            [sys.executable, "-m", "celery", "-A", "instant_worker_app", "worker",
             "--pool", pool, "--concurrency", str(concurrency), "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"{name}@%h"],
        )  # fmt: skip
        wait_until(lambda: worker_ready(), 60, f"worker {name}\n{log.read_text()[-2000:]}")
        return process

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env or None,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.s3 is not None:
            self.s3.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def worker_ready() -> bool:
    from monitoring.celery import app

    try:
        return bool(app.control.ping(timeout=0.5))
    except Exception:
        return False


def ensure_database(url: str) -> None:
    """Create the database of ``url`` on its server when it does not exist."""
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as link:
        exists = link.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            link.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--scene",
        choices=["intrusion", "clear"],
        default="intrusion",
        help="the person found stands in the fence (an alert updated by every frame) or "
        "outside it (rules evaluated, no alert)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
        help=f"PostgreSQL to use (default {DEFAULT_DATABASE}; created if missing)",
    )
    parser.add_argument(
        "--storage",
        choices=["disk", "s3"],
        default="disk",
        help="frames and evidence on local disk, or in an S3 server started on loopback",
    )
    return parser


# ---------------------------------------------------------------- the scene


def jpeg(shade: int = 120) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (shade, shade, shade)).save(out, format="JPEG")
    return out.getvalue()


def make_scene(label: str, *, cameras: int = 1, sample_interval: float = 30.0):
    """A site, its cameras (each with a fence, a fence rule and the on-box persons
    analysis on every frame), and a signed-in operator of the site."""
    from alerts.models import Rule
    from cameras import roles
    from cameras.models import Camera, CameraAnalysis, Region, Site
    from monitoring.models import VendorAccount

    stamp = f"{label} {time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}"
    site = Site.objects.create(name=f"Bench {stamp}")
    account, _ = VendorAccount.objects.get_or_create(
        name="Bench on-box", defaults={"vendor": "local"}
    )
    made = []
    for number in range(cameras):
        camera = Camera.objects.create(
            site=site,
            name=f"Camera {number}",
            source_kind="demo",
            source_url="demo://site-gate",
            sample_interval=sample_interval,
            width=WIDTH,
            height=HEIGHT,
        )
        fence = Region.objects.create(
            camera=camera,
            name="Fence",
            kind="fence",
            points=FENCE,
            frame_width=WIDTH,
            frame_height=HEIGHT,
        )
        CameraAnalysis.objects.create(camera=camera, api="persons", account=account, interval=0.2)
        Rule.objects.create(
            camera=camera, region=fence, name="No entry", kind="fence_intrusion",
            consecutive_frames=2, cooldown_seconds=0, clear_after_seconds=600,
        )  # fmt: skip
        made.append(camera)
    roles.ensure_roles()
    return site, made, session_cookie(site, stamp)


def session_cookie(site, stamp: str) -> str:
    """A session of a new operator of ``site``, as a browser's cookie header value."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from cameras import roles

    user = get_user_model().objects.create_user(
        username=f"bench-{abs(hash(stamp))}", password="bench-password-1234"
    )
    user.groups.add(roles.ensure_roles()[roles.OPERATOR])
    site.members.add(user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def store_and_queue(camera, data: bytes):
    """What the capture service does with a grabbed frame: store it, announce it."""
    from django.utils import timezone

    from cameras import signals
    from cameras.frames import store_frame
    from cameras.models import Frame

    frame = store_frame(camera, data, timezone.now())
    signals.frame_stored.send(sender=Frame, frame=frame)
    return frame


# ---------------------------------------------------------------- a websocket client


class WebSocket:
    """The client side of RFC 6455, enough for text frames from daphne."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, cookie: str, path: str = "/ws/live/") -> WebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket refused: {head[:200]!r}")
        return cls(reader, writer)

    async def receive(self) -> dict | None:
        """The next JSON message, or None once the server closes."""
        while True:
            try:
                first, second = await self.reader.readexactly(2)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                return None

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        else:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        self.writer.write(head + mask + masked)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send(0x8, struct.pack("!H", 1000))
            await self.writer.drain()
            self.writer.close()


class Listener:
    """A websocket client in its own thread: every message lands in ``messages`` with
    the ``time.perf_counter()`` it arrived at."""

    def __init__(self, port: int, cookie: str):
        self.port, self.cookie = port, cookie
        self.messages: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        socket_ = await WebSocket.connect(self.port, self.cookie)
        hello = await socket_.receive()
        assert hello and hello["type"] == "hello", hello
        self.ready.set()
        while (message := await socket_.receive()) is not None:
            self.messages.put((time.perf_counter(), message))

    def start(self) -> Listener:
        self.thread.start()
        if not self.ready.wait(30):
            raise SystemExit("the websocket client could not connect")
        return self

    def wait_for(self, frame_id: int, timeout: float = 10.0) -> float:
        """When the ``frame.analyzed`` of ``frame_id`` arrived."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrived, message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if message.get("type") == "frame.analyzed" and message.get("frame") == frame_id:
                return arrived
        raise TimeoutError(f"no frame.analyzed for frame {frame_id} within {timeout:g} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# ---------------------------------------------------------------- the benchmark


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames measured (200)")
    parser.add_argument("--warmup", type=int, default=10, help="frames before measuring (10)")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between frames")
    args = parser.parse_args()
    if not 1 <= args.frames <= 5000:
        raise SystemExit("--frames must be 1 to 5000")
    services = Services()
    try:
        redis_url = services.start_redis()
        services.prepare(args.database_url, redis_url, args.scene)
        port = services.start_daphne()
        services.start_worker("worker")
        _site, (camera,), cookie = make_scene("latency")
        listener = Listener(port, cookie).start()
        data = jpeg()
        latencies = []
        started = time.monotonic()
        for number in range(args.warmup + args.frames):
            begin = time.perf_counter()
            frame = store_and_queue(camera, data)
            arrived = listener.wait_for(frame.pk)
            if number >= args.warmup:
                latencies.append((arrived - begin) * 1000)
            time.sleep(max(0.0, args.gap - (time.perf_counter() - begin)))
            if time.monotonic() - started > 600:
                break
        report(args, latencies)
    finally:
        services.stop()


def report(args, latencies: list[float]) -> None:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"frames measured: {len(latencies)} (after {args.warmup} warm-up), one every "
        f"{args.gap:g} s, scene {args.scene}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print("stored frame -> frame.analyzed on a websocket (daphne, Celery prefork 2, Redis, PG)")
    print(
        f"latency ms: p50 {percentile(latencies, 0.5):.1f}  p95 {percentile(latencies, 0.95):.1f}  "
        f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}  "
        f"mean {statistics.fmean(latencies):.1f}"
    )
    print(f"goal p95 <= 100 ms: {'met' if percentile(latencies, 0.95) <= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
