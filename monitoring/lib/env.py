"""Typed readers for settings taken from environment variables.

Each helper returns the default when the variable is unset or empty, and raises
``ImproperlyConfigured`` naming the variable when a value is present but malformed:
a typo in production must stop the process, not silently fall back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, environ: dict[str, str] | None = None) -> str | None:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "", environ: dict[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, environ: dict[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(
    name: str,
    default: int,
    environ: dict[str, str] | None = None,
    minimum: int | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    return number


def env_list(name: str, default: list[str], environ: dict[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its comma list")
    return items


def env_networks(name: str, default: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """A comma list of IP networks (``192.168.1.0/24``, ``10.0.0.5``), checked."""
    import ipaddress

    networks = env_list(name, default, environ)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {network!r} is not an IP network") from None
    return networks


def env_paths(name: str, default: list[Path], environ: dict[str, str] | None = None) -> list[Path]:
    """A colon-separated list of absolute folders (like ``PATH``)."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(":")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its colon list")
    paths = [Path(item).expanduser() for item in items]
    relative = [str(path) for path in paths if not path.is_absolute()]
    if relative:
        raise ImproperlyConfigured(f"{name} must list absolute folders; not {', '.join(relative)}")
    return paths


def env_time_zone(name: str, default: str, environ: dict[str, str] | None = None) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env_str(name, default, environ)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not a known time zone") from None
    return value


def env_language(
    name: str, default: str, choices: list[str], environ: dict[str, str] | None = None
) -> str:
    value = env_str(name, default, environ).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def parse_database_url(url: str, base_dir: Path, name: str = "DATABASE_URL") -> dict:
    """Turn ``postgres://user:pass@host:port/db?opt=v`` or ``sqlite:///path`` into a
    Django ``DATABASES`` entry. Relative SQLite paths are taken from ``base_dir``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if parts.netloc or not raw_path or raw_path == "/":
            raise ImproperlyConfigured(
                f"{name}={url!r}: write sqlite:///relative/path or sqlite:////absolute/path"
            )
        # sqlite:///data/db.sqlite3 -> "data/db.sqlite3"; sqlite:////var/db -> "/var/db"
        path = Path(raw_path[1:])
        if not path.is_absolute():
            path = base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            # Several processes share one file in the embedded default: WAL, a busy
            # timeout and immediate transactions keep writers from failing on locks.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(f"{name}={url!r} names no database")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={url!r} has a malformed port") from None
        options = dict(parse_qsl(parts.query))
        conn_max_age = options.pop("conn_max_age", "60")
        try:
            conn_max_age_value = int(conn_max_age)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: conn_max_age={conn_max_age!r}") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "CONN_MAX_AGE": conn_max_age_value,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"{name}={url!r}: the scheme must be postgres://, postgresql:// or sqlite://"
    )


@dataclass(frozen=True)
class RedisUrls:
    """One Redis, spelled the way each client wants it."""

    redis: str  # redis-py and channels-redis: redis://, rediss:// or unix://
    celery: str  # kombu: redis://, rediss:// or redis+socket://


def parse_redis_url(url: str, name: str = "REDIS_URL") -> RedisUrls:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"redis", "rediss"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name}={url!r} names no host")
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise ImproperlyConfigured(f"{name}={url!r} has a malformed port") from None
        return RedisUrls(redis=url, celery=url)
    if scheme in {"unix", "redis+socket"}:
        if not parts.path:
            raise ImproperlyConfigured(f"{name}={url!r} names no socket path")
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        return RedisUrls(redis=f"unix://{tail}", celery=f"redis+socket://{tail}")
    raise ImproperlyConfigured(
        f"{name}={url!r}: the scheme must be redis://, rediss://, unix:// or redis+socket://"
    )


def media_storage(environ: dict[str, str] | None = None) -> dict:
    """``STORAGES["default"]``, where frames and evidence live: local disk under
    ``MEDIA_ROOT`` (one host), or an S3-compatible bucket (MinIO, Ceph RGW, a cloud
    bucket) that every host reads when ``S3_BUCKET`` is set. Keys left empty fall back
    to boto3's own chain (``AWS_*`` variables, instance roles)."""
    bucket = env_str("S3_BUCKET", "", environ)
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env_str("S3_ENDPOINT_URL", "", environ) or None,
            "region_name": env_str("S3_REGION", "", environ) or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", "", environ) or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", "", environ) or None,
            "location": env_str("S3_PREFIX", "", environ).strip("/"),
            # "path" for servers without bucket host names (MinIO on one host name).
            "addressing_style": env_str("S3_ADDRESSING_STYLE", "", environ) or None,
            # Names are unique (time to the microsecond, or a random id): no existence
            # check before each write.
            "file_overwrite": True,
            "default_acl": None,
        },
    }
