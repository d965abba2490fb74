"""What the tests that start real servers share: a free loopback port, waiting for a
condition, the test database's URL for a subprocess, and running a command of the
product (``manage.py ...``, ``-m celery ...``) in a process group of its own, logged to a
file, stopped with its whole group. Django is imported only by the helpers that need it,
so the servers that run without it (``tests.rtsp_server``, benchmarks) use this too."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANAGE = ROOT / "manage.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    log: Callable[[], str] | None = None,
    step: float = 0.1,
):
    """``condition()``'s first true value, tried every ``step`` seconds; fails after
    ``timeout`` seconds with ``what`` and the end of ``log()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    detail = f"\n{log()}" if log is not None else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")


def test_database_url() -> str:
    """The URL of the database this test runs on, for a subprocess to share it."""
    from django.db import connection

    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


# Not a test, though its name starts with "test_".
test_database_url.__test__ = False


def on_test_database(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a subprocess of the product on the test database,
    with its own data folder, the sandbox on and the test's secret key (so both sides read
    the accounts' encrypted secrets)."""
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DATA_DIR": str(data_dir),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SANDBOX_ENABLED": "true",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def start_logged(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``python <command>`` from the project folder, in a session (process group) of its
    own, its output written to ``log_path``."""
    with log_path.open("wb") as log:  # the child keeps its own copy of the file
        return subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the process's whole group; SIGKILL if it is not gone in ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """``start_logged`` for the ``with`` block; the group is stopped when it ends."""
    process = start_logged(command, env, log_path)
    try:
        yield process
    finally:
        stop_group(process)


def tail(log_path: Path, size: int = 4000) -> str:
    """The end of a log file, for a failing assertion's message."""
    return log_path.read_text(errors="replace")[-size:] if log_path.exists() else ""
