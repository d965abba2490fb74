"""How long finance waits for a month's bill over 100 million calls: ``current_bill``
on hourly rollups in PostgreSQL.

``HourlyRollup`` rows are inserted directly for every hour of one Shanghai month (744 for
a 31-day month), with counts summing to exactly 100,000,000 calls (about 5% answered with
a vendor error), spread over the APIs with a day-and-night shape. Nothing is left pending
in the ledger (no ``UsageRecord`` rows at all), so the bill reads rollups only. Every rule
path runs:

* Baidu account (enterprise): free trial quota claimed 10 days before the month (so the
  opening carry replays the month before), count packages for ``driver_behavior`` and
  ``hand_analysis`` (bought on the 2nd, used up during the month, then pay-as-you-go), a
  10-QPS ``body_attr`` order for 10 days from the 6th, failed calls not billed
  (``driver_behavior``, ``hand_analysis``), graduated pay-as-you-go tiers up to the top one;
* CTYun account (``--layout split`` only): yearly free quota claimed at the month's start,
  a 4,000,000-call ``helmet`` package, ``helmet`` successes beyond both (over quota), and
  ``fall`` (free for a limited time).

Layouts (the APIs the 100,000,000 calls are spread over):

* ``split`` (default): 10 APIs across two accounts: the 8 Baidu APIs the plan prices on
  the Baidu account, ``helmet`` and ``fall`` on a CTYun account. A Baidu account has only
  9 API names (``BAIDU_APIS``), so 10 need a second account.
* ``baidu``: all 9 Baidu APIs on one Baidu account (the 8 priced ones and ``fingertip``,
  which the plan does not price: the bill lists it under ``unpriced_calls``): the heaviest
  single bill, 9 x 744 rollups.

``current_bill(account, year, month)`` is timed per account: one warm-up, then the median
of 5 runs (goal: under 1 s per bill). Then the month is finalized and the final bill (stored
lines, late-call check) is timed the same way. Scratch database ``ssd_bench_bill_<pid>``,
created, migrated and dropped here.

    bash .ci/services.sh start
    DATABASE_URL=postgres://postgres@127.0.0.1:55432/ssd \\
        .venv/bin/python bench/bill_month.py [--layout split|baidu] [--month 2025-01]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

GOAL_SECONDS = 1.0
TOTAL_CALLS = 100_000_000
FAILURE_RATE = 0.05
# Share of the month's calls per API (relative weights).
BAIDU_PRICED = {
    "body_attr": 22,
    "body_analysis": 14,
    "body_num": 12,
    "body_tracking": 8,
    "body_seg": 6,
    "gesture": 6,
    "driver_behavior": 8,
    "hand_analysis": 4,
}
LAYOUTS = {
    "split": {"baidu": BAIDU_PRICED, "ctyun": {"helmet": 8, "fall": 12}},
    "baidu": {"baidu": {**BAIDU_PRICED, "fingertip": 20}},
}


def parse_month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def spread(weights: dict[tuple[str, str], float], total: int) -> dict[tuple[str, str], int]:
    """Integer counts proportional to ``weights`` summing to exactly ``total``."""
    scale = total / sum(weights.values())
    exact = {key: w * scale for key, w in weights.items()}
    counts = {key: math.floor(v) for key, v in exact.items()}
    short = total - sum(counts.values())
    for key in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[:short]:
        counts[key] += 1
    return counts


def make_usage(layout: dict, hours: list, seed: int) -> dict:
    """{(vendor, api, hour): calls} over the month, summing to TOTAL_CALLS."""
    from billing.pricing import SHANGHAI

    rng = random.Random(seed)
    weights = {}
    for vendor, apis in layout.items():
        for api, share in apis.items():
            for hour in hours:
                local = hour.astimezone(SHANGHAI).hour
                # Busy 08:00-20:00 Shanghai, quiet at night, some noise.
                shape = 1.0 + 2.0 * math.sin(math.pi * max(0, local - 6) / 16) ** 2
                weights[(vendor, api, hour)] = share * shape * rng.uniform(0.8, 1.2)
    return spread(weights, TOTAL_CALLS)


def build(layout_name: str, year: int, month: int, seed: int) -> dict:
    """Accounts, purchases and rollups; returns {vendor: account} and what was inserted."""
    from billing import purchases
    from billing.models import HourlyRollup, UsageRecord
    from billing.pricing import month_bounds

    start, end = month_bounds(year, month)
    hours = []
    moment = start.astimezone(UTC)
    while moment < end:
        hours.append(moment)
        moment += timedelta(hours=1)
    layout = LAYOUTS[layout_name]
    accounts = {}
    if "baidu" in layout:
        baidu = purchases.add_account(
            "bench baidu", "baidu", "enterprise", free_claimed_at=start - timedelta(days=10)
        )
        purchases.buy_package(baidu, "driver_behavior", 2_000_000, start + timedelta(days=1))
        purchases.buy_package(baidu, "hand_analysis", 1_000_000, start + timedelta(days=1))
        purchases.buy_qps(baidu, "body_attr", 10, 0, 10, start + timedelta(days=5))
        accounts["baidu"] = baidu
    if "ctyun" in layout:
        ctyun = purchases.add_account("bench ctyun", "ctyun", "enterprise", free_claimed_at=start)
        purchases.buy_package(ctyun, "helmet", 4_000_000, start + timedelta(days=1))
        accounts["ctyun"] = ctyun

    counts = make_usage(layout, hours, seed)
    rng = random.Random(seed + 1)
    rows = []
    for (vendor, api, hour), calls in counts.items():
        failed = round(calls * FAILURE_RATE * rng.uniform(0.6, 1.4))
        rows.append(
            HourlyRollup(
                account=accounts[vendor],
                api=api,
                hour=hour,
                success=calls - failed,
                failed=failed,
            )
        )
    HourlyRollup.objects.bulk_create(rows, batch_size=2_000)
    assert not UsageRecord.objects.exists(), "nothing may be pending in the ledger"
    calls_by_vendor = {}
    for (vendor, _api, _hour), calls in counts.items():
        calls_by_vendor[vendor] = calls_by_vendor.get(vendor, 0) + calls
    return {
        "accounts": accounts,
        "hours": len(hours),
        "apis": {vendor: list(apis) for vendor, apis in layout.items()},
        "rollups": len(rows),
        "calls": sum(counts.values()),
        "calls_by_vendor": calls_by_vendor,
    }


def time_bill(account, year: int, month: int, runs: int) -> tuple[list[float], object]:
    from billing.bills import current_bill

    view = current_bill(account, year, month)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        view = current_bill(account, year, month)
        times.append(time.perf_counter() - started)
    return times, view


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="split")
    parser.add_argument("--month", default="2025-01", help="YYYY-MM (Asia/Shanghai), a past month")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lines", action="store_true", help="also print the draft bills' lines")
    args = parser.parse_args()
    year, month = parse_month(args.month)

    print(f"machine: {_django.machine_load()} (before)")
    rows: list[list[str]] = []
    notes: list[str] = []
    problems = 0
    with _django.scratch_database("bill"):
        from billing.bills import USAGE_KINDS, finalize

        print(_django.server_version())
        started = time.perf_counter()
        built = build(args.layout, year, month, args.seed)
        print(
            f"inserted {built['rollups']:,} hourly rollups ({built['hours']} hours) holding "
            f"{built['calls']:,} calls in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        for state in ("draft", "final"):
            if state == "final":
                for account in built["accounts"].values():
                    finalize(account, year, month)
            for vendor, account in built["accounts"].items():
                times, view = time_bill(account, year, month, args.runs)
                median = statistics.median(times)
                ok = median < GOAL_SECONDS
                problems += not ok
                lines = view.lines
                priced = sum(line["calls"] for line in lines if line["kind"] in USAGE_KINDS)
                unpriced = sum(view.unpriced_calls.values())
                if priced + unpriced != built["calls_by_vendor"][vendor]:
                    problems += 1
                    notes.append(
                        f"FAIL {vendor} {state}: lines hold {priced + unpriced:,} calls, "
                        f"{built['calls_by_vendor'][vendor]:,} were inserted"
                    )
                kinds = sorted({line["kind"] for line in lines})
                rows.append(
                    [
                        f"{vendor} ({state})",
                        str(len(built["apis"][vendor])),
                        f"{built['calls_by_vendor'][vendor]:,}",
                        f"{median * 1000:,.0f}",
                        f"{min(times) * 1000:,.0f}",
                        f"{max(times) * 1000:,.0f}",
                        f"{view.total:,.2f}",
                        str(len(lines)),
                        "yes" if ok else "NO",
                    ]
                )
                if state == "draft" and args.lines:
                    for line in lines:
                        notes.append(
                            f"  {vendor} {line['api']:<16} {line['kind']:<17} "
                            f"{line['calls']:>12,} {line['amount']:>12} {line['reference']}"
                        )
                if state == "draft":
                    notes.append(f"{vendor} line kinds: {', '.join(kinds)}")
                    if view.unpriced_calls:
                        notes.append(f"{vendor} unpriced calls: {view.unpriced_calls}")
                print(f"  done: {vendor} {state} ({median * 1000:.0f} ms)", flush=True)

    print()
    print(
        f"current_bill for {args.month} over hourly rollups: {built['calls']:,} calls, "
        f"{built['rollups']:,} rollups, layout {args.layout!r} "
        f"(median of {args.runs} after one warm-up; goal under {GOAL_SECONDS:.0f} s per bill)"
    )
    print(
        _django.table(
            [
                "account (bill)",
                "APIs",
                "calls",
                "median ms",
                "min ms",
                "max ms",
                "total CNY",
                "lines",
                "< 1 s",
            ],
            rows,
            "lrrrrrrrl",
        )
    )
    for note in notes:
        print(note)
    print(f"machine: {_django.machine_load()} (after)")
    print(f"command: {_django.command_line()}")
    if problems:
        print(f"{problems} check(s) or goal(s) not met (reported above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
