"""Shared by the billing benchmarks: Django against a scratch PostgreSQL database of their own.

``scratch_database(name)`` creates ``ssd_bench_<name>_<pid>`` on the server of
``DATABASE_URL`` (``bash .ci/services.sh start`` prints one), points Django at it, runs the
migrations into it, yields its URL, and drops it again on the way out (also on an error,
Ctrl-C or SIGTERM). Other users of the same server (the test suite, other benchmarks) are
never touched: only the database created here is dropped.

``REDIS_URL`` is removed from this process's environment, so the benchmarks use Django's
in-process cache and share nothing with whoever else uses that Redis.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HINT = (
    "set DATABASE_URL to a PostgreSQL server, e.g. "
    '`eval "$(bash .ci/services.sh start)"` (postgres://postgres@127.0.0.1:55432/ssd)'
)


_BASE_URL: str | None = None


def database_url() -> str:
    """The server's URL as given (before ``scratch_database`` points DATABASE_URL at its
    scratch database)."""
    url = _BASE_URL or os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme.lower() not in {"postgres", "postgresql", "pgsql"}:
        sys.exit(f"These benchmarks need PostgreSQL: {HINT}. DATABASE_URL={url!r}")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin_connection(url: str):
    """An autocommit psycopg connection to the server's ``postgres`` database."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or None,
        port=parts.port or None,
        user=parts.username or None,
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    )


def _sigterm(_signum, _frame):
    raise SystemExit(143)


@contextlib.contextmanager
def scratch_database(name: str, *, verbose: bool = True) -> Iterator[str]:
    """Create, migrate and finally drop the database ``ssd_bench_<name>_<pid>``; Django is
    set up against it inside the ``with``. Yields the scratch database URL."""
    global _BASE_URL
    base_url = database_url()
    _BASE_URL = base_url
    db_name = f"ssd_bench_{re.sub(r'[^a-z0-9_]', '_', name.lower())}_{os.getpid()}"
    scratch_url = _with_database(base_url, db_name)
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring.settings")
    previous = signal.signal(signal.SIGTERM, _sigterm)
    with _admin_connection(base_url) as admin:
        admin.execute(f'CREATE DATABASE "{db_name}"')
    try:
        import django
        from django.core.management import call_command

        django.setup()
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        if verbose:
            print(
                f"scratch database {db_name} created and migrated in "
                f"{time.perf_counter() - started:.1f}s",
                flush=True,
            )
        yield scratch_url
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with _admin_connection(base_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        if verbose:
            print(f"scratch database {db_name} dropped", flush=True)
        signal.signal(signal.SIGTERM, previous)


def machine_load() -> str:
    """``uptime``'s load averages, with the core count."""
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"
    except OSError:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
    return f"PostgreSQL {version} (fsync={fsync}, synchronous_commit={sync})"


def command_line() -> str:
    """The command that reproduces this run, from the project root."""
    import shlex

    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return (
        f"bash .ci/services.sh start >/dev/null && DATABASE_URL={shlex.quote(database_url())} "
        f".venv/bin/python {script_text}{(' ' + args) if args else ''}"
    )


def table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A plain text table; ``align`` has one 'l' or 'r' per column (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def line(cells):
        return "  ".join(
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align, strict=False)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)
