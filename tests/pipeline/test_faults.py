"""Faults with real processes: a Celery worker killed in the middle of a task, and Redis
restarted under load, against the real PostgreSQL of ``make test`` and a Redis server of
this test's own (the shared one is left alone).

Each test starts its own ``redis-server`` on a free loopback port, Celery workers as
subprocesses (their own session, so a kill takes the whole worker), and a loopback
vendor that counts, on the server side, the requests it answered and the ones whose
client went away before the answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from alerts.models import Alert
from billing.models import UsageRecord
from billing.usage import INTERRUPTED, PENDING_GRACE, close_interrupted
from monitoring.analysis_models import FrameAnalysis, FrameRun, FrameRunStatus
from tests.factories import BaiduAccountFactory
from tests.pipeline import add_analysis, add_rule, jpeg, make_camera
from tests.servers import free_port, start_logged, test_database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
BAIDU_EXAMPLES = ROOT / "tests" / "backends" / "data" / "baidu"

_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(240),
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and _postgres and shutil.which("redis-server")),
        reason="needs the real PostgreSQL and Redis of `make test` (DATABASE_URL=postgres://..., "
        "REDIS_URL) and a redis-server binary for a Redis of the test's own",
    ),
]


# ---------------------------------------------------------------- helpers


class RedisServer:
    """A redis-server of this test, on its own port and folder, with an append-only file
    so that a restart keeps what was queued (as a production Redis would)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, "redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as link:
                link.sendall(b"PING\r\n")
                return link.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def _baidu_answer(name: str, **changes) -> bytes:
    answer = json.loads((BAIDU_EXAMPLES / f"{name}.json").read_text())
    answer.update(changes)
    return json.dumps(answer).encode()


class LoopbackVendor:
    """Answers like Baidu on loopback: a token, then each API after ``delays[api]``
    seconds. Counts per API the requests received, answered, and abandoned (the client
    went away before the answer: its worker was killed)."""

    def __init__(self, answers: dict[str, bytes], delays: dict[str, float] | None = None):
        self.answers = answers
        self.delays = delays or {}
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.abandoned: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.lock = threading.Lock()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                return None

            def _send(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # the token
                self._send(
                    json.dumps(
                        {
                            "access_token": "24.loopback",
                            "expires_in": 2592000,
                            "scope": "public brain_all_scope",
                        }
                    ).encode()
                )

            def do_POST(self) -> None:
                api = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with vendor.lock:
                    vendor.received[api] += 1
                    vendor.in_flight[api] += 1
                try:
                    if vendor._client_left(self.connection, vendor.delays.get(api, 0.0)):
                        with vendor.lock:
                            vendor.abandoned[api] += 1
                        self.close_connection = True
                        return
                    self._send(vendor.answers[api])
                    with vendor.lock:
                        vendor.answered[api] += 1
                finally:
                    with vendor.lock:
                        vendor.in_flight[api] -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _client_left(link: socket.socket, delay: float) -> bool:
        """Wait ``delay`` seconds; True as soon as the client closes its end."""
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            readable, _, _ = select.select([link], [], [], 0.05)
            if readable and link.recv(1, socket.MSG_PEEK) == b"":
                return True
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackVendor:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


# A Celery app for the test's workers: the product's, with a short visibility timeout
# (and a sweep for unacknowledged messages every second) so that a task whose worker was
# killed is handed out again within seconds, not an hour.
WORKER_APP = """
from monitoring.celery import app

app.conf.broker_transport_options = {
    "visibility_timeout": %(visibility)d,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
"""

# The web side (what queues frames, uses the cache and the channel layer), kept running
# across the Redis restart: one JSON line per frame id read.
WEB_SIDE = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")
django.setup()
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from monitoring.tasks import send_analysis

print(json.dumps({"ready": os.getpid()}), flush=True)
for line in sys.stdin:
    frame_id = int(line)
    queued = send_analysis(frame_id)
    try:
        cache.set("web-probe", frame_id, 60)
        cached = cache.get("web-probe") == frame_id
    except Exception:
        cached = False
    try:
        async_to_sync(get_channel_layer().group_send)("site-0", {"type": "live.event", "event": {}})
        layer = True
    except Exception:
        layer = False
    reply = {"frame": frame_id, "queued": queued, "cache": cached, "layer": layer}
    print(json.dumps(reply), flush=True)
"""


class Processes:
    """Subprocesses of one test, each in its own session; all stopped at the end."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder = folder
        self.env = env
        self.started: list[subprocess.Popen] = []

    def worker(self, name: str) -> subprocess.Popen:
        process = start_logged(
            [
                "-m", "celery", "-A", "fault_worker_app", "worker",
                "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"{name}@%h",
            ],
            self.env,
            self.folder / f"{name}.log",
        )  # fmt: skip
        self.started.append(process)
        return process

    def web_side(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", WEB_SIDE],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.folder / "web.log", "wb"),  # noqa: SIM115
            text=True,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(process)


@pytest.fixture
def redis_server(tmp_path):
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def processes(tmp_path, redis_server, transactional_db, settings):
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    (tmp_path / "fault_worker_app.py").write_text(WORKER_APP % {"visibility": 8})
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_server.url,
        "MEDIA_ROOT": str(media),
        "DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
    }
    running = Processes(tmp_path, env)
    yield running
    running.stop_all()


def fresh_frame(camera):
    from cameras.frames import store_frame

    return store_frame(camera, jpeg(), timezone.now())


def analysed(frame_id: int) -> bool:
    return FrameRun.objects.filter(frame_id=frame_id, status=FrameRunStatus.ANALYZED).exists()


# ---------------------------------------------------------------- a worker killed

PERSON_FOUND = _baidu_answer(
    "body_attr",
    person_num=1,
    person_info=[
        {
            "location": {"left": 200, "top": 100, "width": 90, "height": 300, "score": 0.95},
            "attributes": {},
        }
    ],
)


def _slow_vendor_scene(vendor: LoopbackVendor):
    """A camera with two Baidu analyses on the loopback vendor (a fast crowd count, then
    a slow body_attr that finds a person) and a fence over the whole picture that fires
    on one frame; a fresh frame of it."""
    from cameras.models import Region

    account = BaiduAccountFactory(name="Baidu (loopback)", base_url=vendor.url, read_timeout=20)
    camera = make_camera(interval=60.0)
    whole = Region.objects.create(
        camera=camera,
        name="Everywhere",
        kind="fence",
        points=[[0, 0], [639, 0], [639, 479], [0, 479]],
        frame_width=640,
        frame_height=480,
    )
    add_rule(camera, region=whole, consecutive_frames=1)
    add_analysis(camera, "body_num", account, interval=1.0)
    add_analysis(camera, "body_attr", account, interval=1.0)
    return camera, fresh_frame(camera)


def _pool_process(worker: subprocess.Popen) -> int:
    """The pid of the prefork pool process of a worker (concurrency 1)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.parametrize("killed", ["worker", "pool process"])
def test_given_a_worker_killed_mid_call_then_one_alert_and_one_ledger_row_per_request(
    processes, redis_server, killed
):
    answers = {"body_num": _baidu_answer("body_num", person_num=2), "body_attr": PERSON_FOUND}
    with LoopbackVendor(answers, delays={"body_attr": 4.0}) as vendor:
        camera, frame = _slow_vendor_scene(vendor)

        # When a worker takes the frame and is killed (SIGKILL) while body_attr waits for
        # Baidu: the whole worker, or the pool process running the task
        first = processes.worker("first")
        from celery import Celery

        Celery(broker=redis_server.url).send_task(
            "monitoring.tasks.analyze_frame_task", args=[frame.pk]
        )
        wait_for(
            lambda: vendor.in_flight["body_attr"] == 1,
            60,
            "the slow request to reach the vendor",
            lambda: processes.log("first"),
        )
        time.sleep(0.5)
        if killed == "worker":
            processes.kill(first)
            # The broker hands the unacknowledged task to a new worker
            processes.worker("second")
            log = "second"
        else:
            os.kill(_pool_process(first), signal.SIGKILL)
            # The worker gives the task back (reject_on_worker_lost) to a new process
            log = "first"
        wait_for(lambda: vendor.abandoned["body_attr"] == 1, 10, "the vendor to see the kill")
        wait_for(
            lambda: analysed(frame.pk),
            90,
            "the task to be finished",
            lambda: processes.log(log),
        )

    # Then exactly one alert opened
    assert Alert.objects.filter(camera=camera).count() == 1
    # And each request that reached the vendor is exactly one ledger row: the crowd
    # count done before the kill is not sent again; body_attr cut by the kill is on
    # record, its outcome unknown, and sent once more under the new delivery
    assert vendor.answered == Counter({"body_num": 1, "body_attr": 1})
    assert vendor.abandoned == Counter({"body_attr": 1})
    rows = list(UsageRecord.objects.order_by("id").values_list("api", "request_id", "outcome"))
    assert Counter(api for api, _id, _outcome in rows) == vendor.answered + vendor.abandoned
    outcomes = {(api, request_id.split(":")[2], outcome) for api, request_id, outcome in rows}
    assert outcomes == {
        ("body_num", "delivery-1", "success"),
        ("body_attr", "delivery-1", "pending"),
        ("body_attr", "delivery-2", "success"),
    }
    # and once no answer can come any more, the cut request is closed, not billed
    assert close_interrupted(timezone.now() + PENDING_GRACE) == 1
    assert UsageRecord.objects.filter(outcome="pending").count() == 0
    assert UsageRecord.objects.filter(error_code=INTERRUPTED, api="body_attr").count() == 1
    statuses = set(FrameAnalysis.objects.filter(frame=frame).values_list("status", flat=True))
    assert statuses == {"done"}
    assert FrameRun.objects.get(frame=frame).deliveries == 2


# ---------------------------------------------------------------- Redis restarted


def test_given_redis_restarts_under_load_then_worker_and_web_side_recover_without_restart(
    processes, redis_server
):
    # Given a camera analysed on the box, a worker and the web side, all on our Redis
    camera = make_camera(interval=120.0)
    add_analysis(camera, "persons", interval=0.2)
    worker = processes.worker("worker")
    web = processes.web_side()
    assert "ready" in json.loads(web.stdout.readline())

    def send(frame_id: int) -> dict:
        web.stdin.write(f"{frame_id}\n")
        web.stdin.flush()
        return json.loads(web.stdout.readline())

    before = [fresh_frame(camera) for _ in range(3)]
    assert all(send(frame.pk)["queued"] for frame in before)
    wait_for(
        lambda: all(analysed(f.pk) for f in before),
        90,
        "the first frames to be analysed",
        lambda: processes.log("worker"),
    )

    # When Redis stops under load (frames queued just before), and starts again
    burst = [fresh_frame(camera) for _ in range(5)]
    for frame in burst:
        send(frame.pk)
    redis_server.stop()
    while_down = send(fresh_frame(camera).pk)
    redis_server.start()

    # Then frames queued after the restart are analysed by the same worker, and the web
    # side queues them, reaches the cache and the channel layer again, without restarts
    after = [fresh_frame(camera) for _ in range(3)]
    replies = [send(frame.pk) for frame in after]
    assert all(reply["queued"] for reply in replies), replies
    assert replies[-1]["cache"] and replies[-1]["layer"], replies
    wait_for(
        lambda: all(analysed(f.pk) for f in after),
        90,
        "frames queued after the restart to be analysed",
        lambda: processes.log("worker"),
    )
    assert worker.poll() is None and web.poll() is None
    # While Redis was down, the web side said so instead of hanging or dying
    assert while_down["queued"] is False and while_down["cache"] is False

    # Frames queued in the moment Redis stops are not asserted on: a task the worker had
    # taken comes back only after the broker's visibility timeout (docs/pipeline.md).
