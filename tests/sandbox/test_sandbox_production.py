"""The vendor sandbox in production: off unless SANDBOX_ENABLED is set, and then only
with credentials of this server's own (the public defaults stop every command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x7Gk2-" * 10,
    "DJANGO_ALLOWED_HOSTS": "safety.example.com",
}
OWN_CREDENTIALS = {
    "SANDBOX_BAIDU_API_KEY": "own-ak-5d1f",
    "SANDBOX_BAIDU_SECRET_KEY": "own-sk-9a3c",
    "SANDBOX_CTYUN_AK": "own-ctyun-ak",
    "SANDBOX_CTYUN_SK": "own-ctyun-sk",
    "SANDBOX_CTYUN_APPKEY": "own-appkey",
}
PRINT_SANDBOX = "from django.conf import settings; print(settings.SANDBOX['ENABLED'])"


def _shell(tmp_path, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE", "SANDBOX_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT_SANDBOX],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(tmp_path), "REDIS_URL": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_sandbox_is_off_in_production_by_default(tmp_path):
    result = _shell(tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_sandbox_is_on_in_debug_mode_by_default(tmp_path):
    result = _shell(tmp_path, DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_enabling_it_in_production_with_the_public_credentials_is_refused(tmp_path):
    result = _shell(tmp_path, **PRODUCTION, SANDBOX_ENABLED="true")

    assert result.returncode != 0
    assert "SANDBOX_BAIDU_API_KEY" in result.stderr
    assert "public" in result.stderr


def test_enabling_it_in_production_with_own_credentials_works(tmp_path):
    result = _shell(tmp_path, **PRODUCTION, SANDBOX_ENABLED="true", **OWN_CREDENTIALS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
