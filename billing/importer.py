"""Import a vendor's usage export (CSV) into the usage ledger.

The file has exactly this header, then one call per line::

    timestamp,api,success,request_id
    2024-03-01T10:00:00+08:00,body_attr,true,3f1c...

* ``timestamp``: ISO 8601 with a UTC offset (``+08:00``, ``Z``); a time without one is
  refused, since it could mean any zone, and so is one in the future or before 2000;
* ``api``: an API the account's vendor is billed for (``plans.known_apis``);
* ``success``: ``true`` (outcome ``success``) or ``false`` (``vendor_error``: the vendor
  answered with an error; it reached the vendor's meter);
* ``request_id``: the call's id, unique per account (at most 100 characters).

Importing is idempotent on the request id: rows already in the ledger (live calls,
or an earlier import of the same file) are skipped and counted as skipped. A bad row stops
the import with its line number and reason, and nothing of that file is imported: the
whole file is read, checked and written in one transaction.

Speed: on PostgreSQL the checked rows are streamed with ``COPY`` into a temporary table,
then inserted with one ``INSERT ... ON CONFLICT DO NOTHING``; elsewhere (SQLite) they are
inserted in batches with ``INSERT OR IGNORE``. Imported rows are not rolled up yet;
``rollup.hourly_usage`` counts them at once, and the next ``roll_up`` folds them in.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from billing import plans
from billing.models import Outcome, Source, UsageRecord

HEADER = ("timestamp", "api", "success", "request_id")
SUCCESS_VALUES = {"true": Outcome.SUCCESS.value, "false": Outcome.VENDOR_ERROR.value}
REQUEST_ID_MAX = UsageRecord._meta.get_field("request_id").max_length
PROGRESS_EVERY = 10_000
BATCH_SIZE = 5_000
# A call recorded a little ahead of this server's clock is accepted; later ones are not.
CLOCK_SKEW = timedelta(minutes=5)
# No vendor's usage is older than this: an earlier time (year 0001) is a broken export, and
# hour and month arithmetic on it would leave the calendar.
EARLIEST_CALL = datetime(2000, 1, 1, tzinfo=UTC)

Progress = Callable[[int, int | None, str], None]


class UsageImportError(ValueError):
    """The file cannot be imported; nothing of it was. ``line`` is 1-based (the header is
    line 1), or None when the problem is not one line."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``rows`` calls read, ``imported`` new ledger rows, ``skipped``
    rows whose request id was already in the ledger (or earlier in the same file)."""

    rows: int
    imported: int
    skipped: int
    first_at: datetime | None
    last_at: datetime | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "seconds": round(self.seconds, 3),
        }


class ProgressBar:
    """A text progress bar on stderr: rows checked of the total, percentage and rate, then
    the final write into the ledger.

    On a terminal the bar is redrawn in place at most ten times a second; otherwise one
    line is written every two seconds, so logs stay readable. Call ``finish()`` at the end.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.stage = ""
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None, stage: str) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.stage:
                self._draw(final=True)
                self.started = now
            self.stage, self.last_drawn = stage, 0.0
        self.done, self.total = done, total
        if now - self.last_drawn >= (0.1 if self.tty else 2.0):
            self.last_drawn = now
            self._draw()

    def finish(self) -> None:
        if self.stage:
            self._draw(final=True)
            self.stage = ""

    def _draw(self, final: bool = False) -> None:
        elapsed = time.monotonic() - self.started
        if self.stage == "writing":
            rows = self.total if self.total is not None else self.done
            state = "done" if final else "..."
            text = f"writing   {rows:,} rows into the ledger {state}  {elapsed:.1f}s"
        else:
            total = self.total
            if total:
                shown = min(self.done, total)
                filled = round(self.WIDTH * shown / total)
                bar = "#" * filled + "-" * (self.WIDTH - filled)
                counts = f"[{bar}] {self.done:,}/{total:,} rows {100 * shown / total:5.1f}%"
            else:
                counts = f"{self.done:,} rows"
            rate = f"{self.done / elapsed:,.0f} rows/s" if elapsed >= 0.5 else "- rows/s"
            text = f"{self.stage:<9} {counts}  {rate}  {elapsed:.1f}s"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


# --- reading ------------------------------------------------------------------------------


def _count_lines(binary: IO[bytes]) -> int:
    start = binary.tell()
    lines, last = 0, b"\n"
    while chunk := binary.read(1 << 20):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    binary.seek(start)
    return lines + (0 if last == b"\n" else 1)


def _open_text(path_or_file) -> tuple[IO[str], int | None, Callable[[], None]]:
    """A text stream over the file, the number of data rows if it can be counted, and a
    function closing what was opened here."""
    if isinstance(path_or_file, str | os.PathLike):
        binary = open(Path(path_or_file), "rb")  # noqa: SIM115 (closed by the caller)
        total = max(_count_lines(binary) - 1, 0)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        return text, total, text.close

    stream = path_or_file
    probe = stream.read(0)
    if isinstance(probe, bytes):
        total = None
        if getattr(stream, "seekable", lambda: False)():
            total = max(_count_lines(stream) - 1, 0)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        # Leave the caller's stream open: detach the wrapper instead of closing it.
        return text, total, text.detach
    return stream, None, lambda: None


def _rows(
    text: IO[str], known_apis: set[str], progress: Progress | None, total: int | None
) -> Iterator[tuple[datetime, str, str, str]]:
    """Checked rows (occurred_at, api, outcome, request_id); raises on the first bad one."""
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise UsageImportError(f"the header cannot be read ({exc})", 1) from None
    if header is None:
        raise UsageImportError(
            "the file is empty: the header timestamp,api,success,request_id is needed", 1
        )
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(header) != HEADER:
        raise UsageImportError(
            f"the header must be exactly {','.join(HEADER)}, not {','.join(header)}", 1
        )
    latest_allowed = timezone.now() + CLOCK_SKEW
    fromisoformat = datetime.fromisoformat
    done = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UsageImportError(f"the row cannot be read ({exc})", reader.line_num) from None
        if not fields:
            continue  # a blank line
        line = reader.line_num
        if len(fields) != 4:
            raise UsageImportError(
                f"expected 4 fields (timestamp,api,success,request_id), found {len(fields)}", line
            )
        stamp, api, success, request_id = fields
        try:
            at = fromisoformat(stamp)
        except ValueError:
            raise UsageImportError(
                f"timestamp {stamp!r} is not an ISO 8601 date and time", line
            ) from None
        if at.utcoffset() is None:
            raise UsageImportError(
                f"timestamp {stamp!r} has no UTC offset; write it with one, like "
                "2024-03-01T10:00:00+08:00",
                line,
            )
        if at > latest_allowed:
            raise UsageImportError(f"timestamp {stamp!r} is in the future", line)
        if at < EARLIEST_CALL:
            raise UsageImportError(
                f"timestamp {stamp!r} is before {EARLIEST_CALL:%Y-%m-%d}, older than any "
                "vendor usage",
                line,
            )
        if api not in known_apis:
            raise UsageImportError(
                f"unknown API {api!r}; this account's APIs are {', '.join(sorted(known_apis))}",
                line,
            )
        outcome = SUCCESS_VALUES.get(success)
        if outcome is None:
            raise UsageImportError(f"success must be true or false, not {success!r}", line)
        if not request_id:
            raise UsageImportError("the request id is empty", line)
        if len(request_id) > REQUEST_ID_MAX:
            raise UsageImportError(
                f"the request id is longer than {REQUEST_ID_MAX} characters", line
            )
        yield at, api, outcome, request_id
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total, "checking")
    if progress is not None:
        progress(done, total, "checking")


# --- writing ------------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Span:
    """Counts rows and keeps the earliest and latest time seen (as epoch microseconds,
    cheaper to compare than aware datetimes)."""

    def __init__(self):
        self.rows = 0
        self.first: int | None = None
        self.last: int | None = None

    def see(self, micros: int) -> None:
        self.rows += 1
        if self.first is None or micros < self.first:
            self.first = micros
        if self.last is None or micros > self.last:
            self.last = micros

    @staticmethod
    def moment(micros: int | None) -> datetime | None:
        return None if micros is None else _EPOCH + timedelta(microseconds=micros)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _insert_postgresql(account_id: int, rows, span: _Span) -> int:
    """COPY the rows into a temporary table, then insert the new ones; the count inserted."""
    table = f"billing_import_{uuid.uuid4().hex[:12]}"
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {qn(table)} (occurred_us bigint NOT NULL, "
            "api varchar(64) NOT NULL, outcome varchar(20) NOT NULL, "
            "request_id varchar(100) NOT NULL) ON COMMIT DROP"
        )
        buffer: list[str] = []
        copy_sql = f"COPY {qn(table)} (occurred_us, api, outcome, request_id) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for at, api, outcome, request_id in rows:
                # Epoch microseconds: exact, and much cheaper to write than ISO text.
                micros = (at - _EPOCH) // _MICROSECOND
                span.see(micros)
                buffer.append(f"{micros}\t{api}\t{outcome}\t{_copy_field(request_id)}\n")
                if len(buffer) >= BATCH_SIZE:
                    copy.write("".join(buffer))
                    buffer.clear()
            if buffer:
                copy.write("".join(buffer))
        target = qn(UsageRecord._meta.db_table)
        # Only quoted table names are formatted in; the values are parameters.
        insert = (
            f"INSERT INTO {target} (account_id, api, camera_id, request_id, occurred_at, "  # noqa: S608
            "latency_ms, outcome, error_code, images, source, rolled_up) "
            "SELECT %s, api, NULL, request_id, "
            "TIMESTAMPTZ 'epoch' + occurred_us * INTERVAL '1 microsecond', "
            "NULL, outcome, '', 1, %s, false "
            f"FROM {qn(table)} ON CONFLICT (account_id, request_id) DO NOTHING"
        )
        cursor.execute(insert, [account_id, Source.IMPORT.value])
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {qn(table)}")
    return inserted


def _insert_batches(account_id: int, rows, span: _Span) -> int:
    """Insert the rows in batches, ignoring request ids already stored; the count inserted."""
    ops = connection.ops
    qn = ops.quote_name
    names = [
        "account_id",
        "api",
        "camera_id",
        "request_id",
        "occurred_at",
        "latency_ms",
        "outcome",
        "error_code",
        "images",
        "source",
        "rolled_up",
    ]
    fields = [UsageRecord._meta.get_field(name) for name in names]
    sql = (
        f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} "
        f"{qn(UsageRecord._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"{ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)}"
    )
    if connection.vendor == "sqlite":
        # What Django stores for an aware datetime on SQLite (UTC, naive, ISO with a space),
        # without its per-value checks: the rows were checked above.
        def adapt(at: datetime) -> str:
            return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ")

        with connection.cursor() as cursor:
            # A bigger page cache for the import's index inserts (this connection only).
            cursor.execute("PRAGMA cache_size = -262144")
    else:
        adapt = ops.adapt_datetimefield_value
    source = Source.IMPORT.value
    inserted = 0
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for at, api, outcome, request_id in rows:
            span.see((at - _EPOCH) // _MICROSECOND)
            batch.append(
                (account_id, api, None, request_id, adapt(at), None, outcome, "", 1, source, False)
            )
            if len(batch) >= BATCH_SIZE:
                cursor.executemany(sql, batch)
                inserted += max(cursor.rowcount, 0)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            inserted += max(cursor.rowcount, 0)
    return inserted


def import_usage(account, path_or_file, *, progress: Progress | None = None) -> ImportResult:
    """Import a usage CSV (a path, or a file open in binary or text mode) into ``account``'s
    ledger. Raises ``UsageImportError`` (nothing imported) on a bad file or row.

    ``progress(done, total, stage)`` is called every 10,000 rows while the file is checked
    and staged (stage ``"checking"``), then once before and after the final insert (stage
    ``"writing"``); ``total`` is None when the file cannot be counted beforehand.
    """
    started = time.monotonic()
    vendor = plans.billing_vendor(account)
    known = plans.known_apis(vendor)
    text, total, close = _open_text(path_or_file)
    span = _Span()
    try:
        rows = _rows(text, known, progress, total)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                inserted = _insert_postgresql(account.pk, _staged(rows, progress), span)
            else:
                inserted = _insert_batches(account.pk, rows, span)
            if progress is not None:
                progress(span.rows, span.rows, "writing")
    finally:
        close()
    return ImportResult(
        rows=span.rows,
        imported=inserted,
        skipped=span.rows - inserted,
        first_at=_Span.moment(span.first),
        last_at=_Span.moment(span.last),
        seconds=time.monotonic() - started,
    )


def _staged(rows, progress: Progress | None):
    """The rows, then a progress report that the final insert starts."""
    count = 0
    for row in rows:
        count += 1
        yield row
    if progress is not None:
        progress(0, count, "writing")
