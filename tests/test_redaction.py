"""Vendor credentials stay out of the logs: Daphne's access log (run as
``monitoring.serve``, as ``make run`` and the operations guide do) and every log record
the product writes have the secrets of query strings redacted."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from monitoring.redaction import RedactSecretsFilter, redact
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
AK, SK = "AK-logged-3e4r5t", "SK-logged-6y7u8i"


@pytest.mark.parametrize(
    "text",
    [
        f"POST /sandbox/baidu/oauth/2.0/token?grant_type=client_credentials"
        f"&client_id={AK}&client_secret={SK}",
        f"GET /rest/2.0/image-classify/v1/body_attr?access_token={SK}",
        f"https://aip.baidubce.com/oauth/2.0/token?CLIENT_SECRET={SK}&client_id={AK}",
        f"body: client_secret%3D{SK}",
    ],
)
def test_secret_parameters_are_redacted(text):
    cleaned = redact(text)

    assert SK not in cleaned
    assert AK not in cleaned
    assert "[redacted]" in cleaned


def test_other_parameters_are_left_alone():
    assert redact("GET /api/cameras/?site=3&page=2") == "GET /api/cameras/?site=3&page=2"


def test_the_configured_log_handler_redacts_every_record():
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactSecretsFilter) for f in handler.filters)
    ]
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/x?access_token={SK}",),
        None,
    )

    assert handlers, "the console handler carries the redacting filter"
    assert all(handler.filter(record) for handler in handlers)
    assert SK not in record.getMessage()


@pytest.mark.timeout(90)
def test_the_daphne_access_log_has_no_credentials(tmp_path):
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    env = {**base, "DJANGO_DEBUG": "true", "DATA_DIR": str(tmp_path), "REDIS_URL": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "monitoring.serve", "-b", "127.0.0.1", "-p", str(port)]
        + ["monitoring.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        httpx.post(
            f"http://127.0.0.1:{port}/sandbox/baidu/oauth/2.0/token",
            params={"grant_type": "client_credentials", "client_id": AK, "client_secret": SK},
            timeout=10,
        )
        httpx.post(
            f"http://127.0.0.1:{port}/sandbox/baidu/rest/2.0/image-classify/v1/body_num",
            params={"access_token": SK},
            timeout=10,
        )
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)

    assert "/sandbox/baidu/oauth/2.0/token" in output  # the request was logged
    assert "client_secret=[redacted]" in output
    assert SK not in output
    assert AK not in output
