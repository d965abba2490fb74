"""``manage.py runall`` restarts a process that dies, the embedded Redis included: killed
under a running dashboard, each comes back with a line saying so, and ``/healthz``
answers 200 again. Its own SQLite database and data folder, a free port, real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from monitoring.management.commands.runall import Supervisor
from tests.servers import MANAGE, free_port


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


class Output:
    """The lines of a running process's output, read on a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            with self.lock:
                self.lines.append(line)

    def text(self) -> str:
        with self.lock:
            return "".join(self.lines)

    def pid_of(self, name: str) -> int:
        """The pid of the latest start of ``name``."""
        found = re.findall(rf"(?:started|restarted) {name} \(pid (\d+)\)", self.text())
        assert found, self.text()[-3000:]
        return int(found[-1])


def wait_for(condition, seconds: float, what: str, output: Output) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}; output:\n{output.text()[-4000:]}"
        time.sleep(0.5)


@pytest.mark.timeout(420)
def test_runall_restarts_the_embedded_redis_and_a_worker_that_die(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")
    }
    env.update(DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    env["DJANGO_SETTINGS_MODULE"] = "monitoring.settings"
    subprocess.run(
        [sys.executable, str(MANAGE), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
        timeout=240,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(MANAGE), "runall", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process.stdout)
    try:
        # given the dashboard running and healthy
        wait_for(lambda: healthz(port) == 200, 150, "never healthy", output)

        # when the embedded Redis is killed
        os.kill(output.pid_of("redis"), signal.SIGKILL)
        # then the supervisor says it restarts it, and the dashboard is healthy again
        wait_for(lambda: "restarted redis" in output.text(), 30, "redis not restarted", output)
        assert re.search(r"redis exited with status -9: restart 1 of 5 in 10 min", output.text())
        wait_for(lambda: healthz(port) == 200, 120, "not healthy after Redis", output)

        # when a worker is killed
        worker = output.pid_of("worker")
        os.killpg(worker, signal.SIGKILL)
        wait_for(lambda: "restarted worker" in output.text(), 30, "worker not restarted", output)
        assert output.pid_of("worker") != worker
        wait_for(lambda: healthz(port) == 200, 120, "not healthy after the worker", output)
        assert process.poll() is None
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert process.returncode == 0, output.text()[-3000:]


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_a_process_that_keeps_dying_is_given_up_after_the_limit_and_all_stop(monkeypatch):
    from monitoring.management.commands import runall

    monkeypatch.setattr(runall, "BACKOFF_FIRST_SECONDS", 0.01)
    monkeypatch.setattr(runall, "BACKOFF_MAX_SECONDS", 0.05)
    out = _Out()
    table = [
        ("dying", [sys.executable, "-c", "import sys; sys.exit(3)"]),
        ("steady", [sys.executable, "-c", "import time; time.sleep(60)"]),
    ]
    supervisor = Supervisor(table, dict(os.environ), out)
    supervisor.start()
    try:
        status = supervisor.wait()
    finally:
        supervisor.stop()
    # it was restarted up to the limit, each time with its line, then all were stopped
    assert status == 3
    restarts = re.findall(r"dying exited with status 3: restart (\d) of 5", out.text)
    assert restarts == ["1", "2", "3", "4", "5"]
    assert out.text.count("restarted dying") == 5
    assert "dying exited with status 3: it died 6 times in 10 min, not restarting it" in out.text
    assert supervisor.children["steady"].poll() is not None


def test_the_backoff_doubles_up_to_its_ceiling():
    supervisor = Supervisor([("x", ["true"])], {}, _Out())
    assert [supervisor.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
