"""Importing a vendor usage export of 1,000,000 calls into PostgreSQL, then again, then
rolling it up.

A CSV with the importer's header (``timestamp,api,success,request_id``) is generated in a
temporary directory: one Shanghai month of times in ISO 8601 with ``+08:00``, in time
order as vendors export them, the 8 Baidu APIs the plan prices, about 5% failures
(``success=false``) and unique request ids. Then, in a scratch database
(``ssd_bench_import_<pid>``, created, migrated and dropped here) and a fresh Baidu account:

1. ``billing.importer.import_usage(account, path)``: the timed import (goal under 60 s);
2. the same file again: idempotent, 0 new rows, timed too;
3. ``billing.rollup.roll_up()``: folding the imported rows into hourly rollups, timed,
   and checked (the rollups hold every imported call, failures included).

    bash .ci/services.sh start
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/ssd \\
        .venv/bin/python bench/import_usage.py [--rows 1000000] [--month 2025-01]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

GOAL_SECONDS = 60.0
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The 8 Baidu APIs the plan prices (the importer refuses others), roughly as a site uses them.
APIS = (
    ("body_attr", 30),
    ("body_analysis", 15),
    ("body_num", 15),
    ("body_tracking", 10),
    ("body_seg", 5),
    ("gesture", 5),
    ("driver_behavior", 15),
    ("hand_analysis", 5),
)
FAILURE_RATE = 0.05


def parse_month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def write_csv(path: Path, rows: int, year: int, month: int, seed: int) -> dict:
    """The export: ``rows`` calls over the month, in time order. Returns what was written."""
    rng = random.Random(seed)
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
    seconds = int((end - start).total_seconds())
    names = [name for name, _ in APIS]
    weights = [weight for _, weight in APIS]
    offsets = sorted(rng.randrange(seconds) for _ in range(rows))
    apis = rng.choices(names, weights=weights, k=rows)
    failures = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("timestamp,api,success,request_id\n")
        buffer = []
        for index, (offset, api) in enumerate(zip(offsets, apis, strict=True)):
            ok = rng.random() >= FAILURE_RATE
            failures += not ok
            stamp = (start + timedelta(seconds=offset)).isoformat()
            request_id = f"{rng.getrandbits(96):024x}{index:08x}"  # unique by its index
            buffer.append(f"{stamp},{api},{'true' if ok else 'false'},{request_id}\n")
            if len(buffer) >= 50_000:
                out.write("".join(buffer))
                buffer.clear()
        out.write("".join(buffer))
    return {"rows": rows, "failures": failures, "bytes": path.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls in the CSV")
    parser.add_argument(
        "--month", default="2025-01", help="YYYY-MM (Asia/Shanghai) of the calls; a past month"
    )
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args()
    year, month = parse_month(args.month)

    print(f"machine: {_django.machine_load()} (before)")
    figures: list[list[str]] = []
    checks: list[str] = []
    failed_checks = 0
    with tempfile.TemporaryDirectory(prefix="ssd-bench-import-") as tmp:
        path = Path(tmp) / "usage.csv"
        started = time.perf_counter()
        written = write_csv(path, args.rows, year, month, args.seed)
        generate_s = time.perf_counter() - started
        print(
            f"generated {path.name}: {written['rows']:,} rows, {written['failures']:,} failures, "
            f"{written['bytes'] / 1e6:.1f} MB in {generate_s:.1f}s",
            flush=True,
        )
        figures.append(["generate CSV (not the import)", f"{generate_s:.2f}", "", "", ""])

        with _django.scratch_database("import"):
            from django.db.models import Sum

            from billing.importer import import_usage
            from billing.models import HourlyRollup, UsageRecord
            from billing.purchases import add_account
            from billing.rollup import roll_up

            print(_django.server_version())
            account = add_account("bench import", "baidu", "enterprise")

            started = time.perf_counter()
            first = import_usage(account, path)
            first_s = time.perf_counter() - started
            ok = first_s < GOAL_SECONDS
            failed_checks += not ok
            figures.append(
                [
                    "import_usage (new file)",
                    f"{first_s:.2f}",
                    f"{first.rows / first_s:,.0f}",
                    f"{first.imported:,} new, {first.skipped:,} skipped",
                    f"< {GOAL_SECONDS:.0f} s: {'yes' if ok else 'NO'}",
                ]
            )
            print(f"  done: import ({first_s:.1f}s)", flush=True)

            started = time.perf_counter()
            again = import_usage(account, path)
            again_s = time.perf_counter() - started
            figures.append(
                [
                    "import_usage (same file again)",
                    f"{again_s:.2f}",
                    f"{again.rows / again_s:,.0f}",
                    f"{again.imported:,} new, {again.skipped:,} skipped",
                    "",
                ]
            )
            print(f"  done: re-import ({again_s:.1f}s)", flush=True)

            started = time.perf_counter()
            claimed = roll_up()
            rollup_s = time.perf_counter() - started
            rollups = HourlyRollup.objects.filter(account=account)
            sums = rollups.aggregate(success=Sum("success"), failed=Sum("failed"))
            figures.append(
                [
                    "roll_up() after the import",
                    f"{rollup_s:.2f}",
                    f"{claimed / rollup_s:,.0f}" if rollup_s else "",
                    f"{claimed:,} rows into {rollups.count():,} hourly rollups",
                    "",
                ]
            )
            print(f"  done: roll_up ({rollup_s:.1f}s)", flush=True)

            stored = UsageRecord.objects.filter(account=account).count()
            pending = UsageRecord.objects.filter(account=account, rolled_up=False).count()
            expectations = [
                ("first import wrote every row", first.imported == args.rows),
                ("re-import wrote 0 rows", again.imported == 0 and again.skipped == args.rows),
                ("ledger holds the rows once", stored == args.rows),
                ("nothing left to roll up", pending == 0),
                (
                    "rollups hold every call and failure",
                    sums["success"] == args.rows - written["failures"]
                    and sums["failed"] == written["failures"],
                ),
            ]
            for what, passed in expectations:
                failed_checks += not passed
                checks.append(f"{'ok  ' if passed else 'FAIL'} {what}")

    print()
    print(f"Importing a {args.rows:,}-row usage CSV ({args.month}) into PostgreSQL")
    print(_django.table(["step", "seconds", "rows/s", "result", "goal"], figures, "lrrll"))
    print("checks: " + "; ".join(checks))
    print(f"machine: {_django.machine_load()} (after)")
    print(f"command: {_django.command_line()}")
    if failed_checks:
        print(f"{failed_checks} check(s) or goal(s) not met (reported above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
