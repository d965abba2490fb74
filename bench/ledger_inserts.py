"""Usage ledger rows per second into PostgreSQL, by each way rows are written.

* live: ``billing.usage.record_attempt``, one call per vendor attempt (its own savepoint
  and, outside a transaction, its own commit), from 1 thread and from 8 threads (each
  with its own connection, as Celery workers and threads have);
* bulk_create: ``UsageRecord.objects.bulk_create(rows, batch_size=5000,
  ignore_conflicts=True)`` on chunks of 5,000 new rows (one transaction each), then the
  same rows again (every one a conflict: the cost of an idempotent re-run);
* importer COPY: ``billing.importer._insert_postgresql``, the importer's own write path
  (COPY into a temporary table, then one ``INSERT ... ON CONFLICT DO NOTHING``), fed
  already-checked rows, so CSV parsing is not counted (``bench/import_usage.py`` does).

Every case writes into a fresh account of its own in a scratch database
(``ssd_bench_ledger_<pid>``, created, migrated and dropped here). Each case stops at its
row count or its time limit, whichever comes first. The goal, 20,000 rows/s, is the
batched paths' (the importer and bulk writers); the live path is one row per call.

    bash .ci/services.sh start
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/ssd \\
        .venv/bin/python bench/ledger_inserts.py [--live-rows 20000] [--bulk-rows 300000]
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

GOAL = 20_000  # rows/s, batched
APIS = ("body_attr", "body_analysis", "body_num", "gesture", "driver_behavior", "hand_analysis")
MONTH_START = datetime(2025, 1, 1, tzinfo=UTC) - timedelta(hours=8)  # 2025-01 in Shanghai


def attempts(prefix: str, count: int, seed: int):
    """``count`` live attempts with unique request ids, times spread over a month."""
    from monitoring.backends.base import Attempt

    rng = random.Random(seed)
    base = MONTH_START.timestamp()
    out = []
    for i in range(count):
        ok = rng.random() >= 0.05
        out.append(
            Attempt(
                vendor="baidu",
                api=rng.choice(APIS),
                request_id=f"{prefix}:{i}",
                started_at=base + rng.random() * 31 * 86_400,
                latency_ms=rng.uniform(80, 400),
                outcome="success" if ok else "vendor_error",
                error_code="" if ok else "17",
            )
        )
    return out


def raw_rows(prefix: str, count: int, seed: int):
    """Checked import rows (occurred_at, api, outcome, request_id)."""
    rng = random.Random(seed)
    span = 31 * 86_400 * 1_000_000
    return [
        (
            MONTH_START + timedelta(microseconds=rng.randrange(span)),
            rng.choice(APIS),
            "success" if rng.random() >= 0.05 else "vendor_error",
            f"{prefix}:{i}:{rng.getrandbits(64):016x}",
        )
        for i in range(count)
    ]


def new_account(name: str):
    from billing.purchases import add_account

    return add_account(f"bench {name}", "baidu", "enterprise")


def ledger_count(account) -> int:
    from billing.models import UsageRecord

    return UsageRecord.objects.filter(account=account).count()


def live_case(threads: int, rows: int, seconds: float) -> dict:
    from django.db import connection

    from billing.usage import record_attempt

    account = new_account(f"live x{threads}")
    work = attempts(f"live{threads}", rows, seed=threads)
    counter = iter(range(rows))
    lock = threading.Lock()
    done = [0] * threads
    new = [0] * threads
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    break
                if record_attempt(account.pk, work[index]):
                    new[slot] += 1
                done[slot] += 1
        except Exception as exc:  # a benchmark reports, it does not stop
            errors.append(repr(exc))
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    stored = ledger_count(account)
    return {
        "case": "live record_attempt",
        "threads": threads,
        "rows": sum(done),
        "new": sum(new),
        "stored": stored,
        "seconds": elapsed,
        "errors": errors,
        "goal": False,
    }


def bulk_cases(rows: int, seconds: float) -> list[dict]:
    from billing.models import Source, UsageRecord

    account = new_account("bulk_create")
    data = raw_rows("bulk", rows, seed=1)
    chunk = 5_000

    def run(label: str) -> dict:
        deadline = time.perf_counter() + seconds
        written = 0
        started = time.perf_counter()
        for offset in range(0, len(data), chunk):
            objs = [
                UsageRecord(
                    account_id=account.pk,
                    api=api,
                    request_id=request_id,
                    occurred_at=at,
                    outcome=outcome,
                    source=Source.IMPORT,
                )
                for at, api, outcome, request_id in data[offset : offset + chunk]
            ]
            UsageRecord.objects.bulk_create(objs, batch_size=chunk, ignore_conflicts=True)
            written += len(objs)
            if time.perf_counter() >= deadline:
                break
        return {
            "case": label,
            "threads": 1,
            "rows": written,
            "seconds": time.perf_counter() - started,
            "errors": [],
            "goal": True,
        }

    first = run("bulk_create 5,000/batch, new rows")
    first["stored"] = first["new"] = ledger_count(account)
    before = first["stored"]
    data = data[: first["rows"]]  # replay exactly what was written
    again = run("bulk_create 5,000/batch, all conflicts")
    again["stored"] = ledger_count(account)
    again["new"] = again["stored"] - before
    return [first, again]


def copy_case(rows: int, seconds: float) -> dict:
    from django.db import transaction

    from billing import importer

    account = new_account("importer copy")
    data = raw_rows("copy", rows, seed=2)
    deadline_holder = {}

    def feed():
        for index, row in enumerate(data):
            if index % 5_000 == 0 and time.perf_counter() >= deadline_holder["deadline"]:
                return
            yield row

    span = importer._Span()
    started = time.perf_counter()
    deadline_holder["deadline"] = started + seconds
    with transaction.atomic():
        inserted = importer._insert_postgresql(account.pk, feed(), span)
    elapsed = time.perf_counter() - started
    return {
        "case": "importer COPY + INSERT ON CONFLICT",
        "threads": 1,
        "rows": span.rows,
        "new": inserted,
        "stored": ledger_count(account),
        "seconds": elapsed,
        "errors": [],
        "goal": True,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--live-rows", type=int, default=20_000, help="record_attempt calls per live case"
    )
    parser.add_argument(
        "--live-seconds", type=float, default=30, help="time limit of each live case"
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 8],
        help="thread counts of the live path (default 1 8)",
    )
    parser.add_argument(
        "--bulk-rows", type=int, default=300_000, help="rows per batched case (default 300,000)"
    )
    parser.add_argument(
        "--bulk-seconds", type=float, default=60, help="time limit of each batched case"
    )
    args = parser.parse_args()

    print(f"machine: {_django.machine_load()} (before)")
    with _django.scratch_database("ledger"):
        print(_django.server_version())
        results = []
        for threads in args.threads:
            results.append(live_case(threads, args.live_rows, args.live_seconds))
            print(f"  done: live x{threads}", flush=True)
        results.extend(bulk_cases(args.bulk_rows, args.bulk_seconds))
        print("  done: bulk_create", flush=True)
        results.append(copy_case(args.bulk_rows, args.bulk_seconds))
        print("  done: importer COPY", flush=True)

    rows = []
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0.0
        goal = ("yes" if rate >= GOAL else "NO") if r["goal"] else "n/a (live)"
        rows.append(
            [
                r["case"],
                str(r["threads"]),
                f"{r['rows']:,}",
                f"{r['new']:,}",
                f"{r['seconds']:.2f}",
                f"{rate:,.0f}",
                goal,
                str(len(r["errors"])) + (f" {r['errors'][0][:60]}" if r["errors"] else ""),
            ]
        )
    print()
    print(f"Ledger inserts into PostgreSQL (goal for batched writes: {GOAL:,} rows/s)")
    print(
        _django.table(
            ["case", "threads", "rows", "new rows", "seconds", "rows/s", "meets goal", "errors"],
            rows,
            "lrrrrrll",
        )
    )
    print(f"machine: {_django.machine_load()} (after)")
    print(f"command: {_django.command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
