"""``/healthz`` names each dependency's state and answers 503 when one is down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs the Redis that `make test` starts"
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_redis_gone_gives_503_naming_redis_and_the_worker(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "up"
    assert body["redis"] == "down"
    assert body["worker"] == "down"
    assert body["down"] == ["redis", "worker"]
    assert "Connection" in body["details"]["redis"]


@pytest.mark.django_db
@needs_redis
def test_no_worker_answering_gives_503_naming_the_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["redis"], body["worker"]) == ("up", "up", "down")
    assert body["down"] == ["worker"]


@pytest.fixture
def celery_worker_process(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "monitoring",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"healthz-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.mark.django_db
@needs_redis
def test_all_up_gives_200_and_a_dead_worker_turns_it_to_503(client, celery_worker_process):
    deadline = time.monotonic() + 60
    response = client.get("/healthz")
    while response.status_code != 200 and time.monotonic() < deadline:
        time.sleep(1)
        response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"

    celery_worker_process.kill()
    celery_worker_process.wait(timeout=20)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]


@pytest.mark.django_db
def test_without_redis_configured_the_health_check_says_so(client):
    with override_settings(REDIS_URL=""):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] == "not configured"
