"""Settings helpers read typed values and refuse malformed ones loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from monitoring.lib.env import (
    env_bool,
    env_int,
    env_language,
    env_list,
    env_str,
    env_time_zone,
    parse_database_url,
    parse_redis_url,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("YES", True), ("off", False), ("0", False), ("False", False)],
)
def test_a_boolean_is_read_in_its_usual_spellings(raw, expected):
    assert env_bool("X", not expected, {"X": raw}) is expected


@pytest.mark.parametrize("raw", ["treu", "2", "enabled"])
def test_a_malformed_boolean_is_refused_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG"):
        env_bool("DJANGO_DEBUG", True, {"DJANGO_DEBUG": raw})


def test_an_unset_or_empty_variable_gives_the_default():
    assert env_bool("X", True, {}) is True
    assert env_str("X", "fallback", {"X": "  "}) == "fallback"
    assert env_int("X", 7, {"X": ""}) == 7


def test_an_integer_below_its_minimum_or_not_a_number_is_refused():
    assert env_int("N", 1, {"N": "42"}) == 42
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("N", 1, {"N": "4x"})
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("N", 1, {"N": "-1"}, minimum=0)


def test_a_host_list_refuses_an_empty_item():
    assert env_list("H", [], {"H": "a.example, b.example"}) == ["a.example", "b.example"]
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list("H", [], {"H": "a.example,,b.example"})


def test_an_unknown_time_zone_or_language_is_refused():
    assert env_time_zone("TIME_ZONE", "UTC", {"TIME_ZONE": "Asia/Shanghai"}) == "Asia/Shanghai"
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE"):
        env_time_zone("TIME_ZONE", "UTC", {"TIME_ZONE": "Mars/Olympus"})
    with pytest.raises(ImproperlyConfigured, match="LANGUAGE_CODE"):
        env_language("LANGUAGE_CODE", "en", ["en", "zh-hans"], {"LANGUAGE_CODE": "fr"})


def test_a_postgres_url_becomes_a_database_entry():
    entry = parse_database_url(
        "postgres://site%40user:p%40ss@db.internal:6432/safety?sslmode=require", Path("/srv")
    )
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["USER"], entry["PASSWORD"]) == ("site@user", "p@ss")
    assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("db.internal", "6432", "safety")
    assert entry["OPTIONS"] == {"sslmode": "require"}


def test_a_sqlite_url_is_relative_to_the_project_unless_absolute():
    relative = parse_database_url("sqlite:///data/db.sqlite3", Path("/srv/app"))
    absolute = parse_database_url("sqlite:////var/lib/ssd/db.sqlite3", Path("/srv/app"))
    assert relative["NAME"] == "/srv/app/data/db.sqlite3"
    assert absolute["NAME"] == "/var/lib/ssd/db.sqlite3"
    assert "journal_mode=WAL" in relative["OPTIONS"]["init_command"]


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "postgres://u@h/", "postgres://u@h:port/db", "sqlite://", "nonsense"],
)
def test_a_malformed_database_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url(url, Path("/srv"))


def test_a_redis_socket_url_is_spelled_for_each_client():
    urls = parse_redis_url("unix:///run/redis/redis.sock?db=2")
    assert urls.redis == "unix:///run/redis/redis.sock?db=2"
    assert urls.celery == "redis+socket:///run/redis/redis.sock?db=2"
    tcp = parse_redis_url("redis://127.0.0.1:6379/1")
    assert tcp.redis == tcp.celery == "redis://127.0.0.1:6379/1"


@pytest.mark.parametrize("url", ["http://h:6379", "redis://", "redis://h:port/0", "unix://"])
def test_a_malformed_redis_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        parse_redis_url(url)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", DJANGO_DEBUG="false", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_mode_refuses_a_short_secret_key(tmp_path):
    result = _manage(
        "check", DJANGO_DEBUG="false", DJANGO_SECRET_KEY="short", DATA_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "at least 50" in result.stderr


def test_a_malformed_setting_stops_every_command(tmp_path):
    result = _manage("check", DJANGO_DEBUG="maybe", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x7Gk2-" * 10,
        DJANGO_ALLOWED_HOSTS="safety.example.com",
        DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_the_embedded_default_needs_nothing_set(tmp_path):
    result = _manage("check", DATA_DIR=str(tmp_path), REDIS_URL="")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dev-secret-key").exists()
