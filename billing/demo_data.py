"""Demo data of finance: a Baidu and a CTYun account pointed at the built-in vendor sandbox,
with a history a finance user can read at once: the free quota claimed, three earlier
months of usage (and the current month so far) loaded through the usage importer, a count
package, a QPS order, top-ups, the oldest month finalized with an adjustment, and a balance
low enough that its forecast runs out within days (a balance reminder).

Everything is made through finance's own code paths (``purchases``, ``importer``,
``bills``, ``settlement``), never by writing rows. The usage is generated
deterministically from the month (same months, same calls, same request ids).

A ``DEMO_HOOKS`` hook of the ``demo`` command. The history is written once, when the demo
accounts are created; on later starts the accounts are only pointed at the sandbox again
(``--sandbox-url``), so running the demo twice doubles nothing. The accounts' names say
"sandbox", so every page and export that names an account shows it.
"""

from __future__ import annotations

import io
import logging
import random
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.utils import timezone

from billing import bills, importer, purchases, settlement
from billing.models import Bill, HourlyCharge
from billing.pricing.calendar import month_bounds, month_of, shift_month
from monitoring.models import VendorAccount

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8000/sandbox"
BAIDU_ACCOUNT = "Baidu sandbox · 百度沙箱"
CTYUN_ACCOUNT = "CTYun sandbox · 天翼云沙箱"

# Calls per day of each API (weekdays; weekends see 40 %), spread over the working hours.
BAIDU_DAILY = {"body_attr": 400, "body_num": 250, "hand_analysis": 30}
CTYUN_DAILY = {"fence": 150, "helmet": 80}
WORK_HOURS = range(7, 20)
MONTHS_OF_HISTORY = 3
# A balance this many days of recent spending away from zero: the reminder of
# ``余额不足提醒`` (3, 2 and 1 days before) is due.
DAYS_OF_BALANCE_LEFT = Decimal("1.5")


def _month_start(year: int, month: int) -> datetime:
    return month_bounds(year, month)[0]


def _usage_csv(daily: dict[str, int], start: datetime, end: datetime, seed: str) -> bytes:
    """The usage export of ``[start, end)``: whole hours, deterministic for ``seed``."""
    out = io.StringIO()
    out.write(",".join(importer.HEADER) + "\n")
    hour = start
    while hour < end:
        rng = random.Random(f"{seed}:{hour:%Y%m%d%H}")  # noqa: S311 (demo data, not secrets)
        if hour.hour in WORK_HOURS:
            weekday = hour.weekday() < 5
            for api, per_day in daily.items():
                mean = per_day / len(WORK_HOURS) * (1.0 if weekday else 0.4)
                calls = max(0, round(rng.gauss(mean, mean / 5)))
                for number in range(calls):
                    moment = hour + timedelta(seconds=rng.randrange(3600))
                    success = "false" if rng.random() < 0.01 else "true"
                    out.write(
                        f"{moment.isoformat()},{api},{success},"
                        f"demo-{seed}-{api}-{hour:%Y%m%d%H}-{number}\n"
                    )
        hour += timedelta(hours=1)
    return out.getvalue().encode()


def sandbox_credentials(vendor: str, sandbox_url: str) -> dict[str, str]:
    """The sandbox's endpoint and credentials for a demo account of ``vendor``."""
    sandbox = settings.SANDBOX
    return {
        "baidu": {
            "base_url": f"{sandbox_url}/baidu",
            "ak": sandbox["BAIDU_API_KEY"],
            "sk": sandbox["BAIDU_SECRET_KEY"],
        },
        "ctyun": {
            "base_url": f"{sandbox_url}/ctyun",
            "ak": sandbox["CTYUN_AK"],
            "sk": sandbox["CTYUN_SK"],
            "appkey": sandbox["CTYUN_APPKEY"],
        },
    }[vendor]


def _point_at_sandbox(account: VendorAccount, sandbox_url: str) -> None:
    """Point an existing demo account at this run's sandbox (its credentials with it:
    a changed endpoint needs its secrets again)."""
    values = sandbox_credentials(account.vendor, sandbox_url)
    account.base_url = values["base_url"]
    account.api_key = values["ak"]
    account.secret_key = values["sk"]
    account.app_key = values.get("appkey", "")
    account.save()


def _import(account, daily, start, end, seed: str) -> int:
    return importer.import_usage(account, io.BytesIO(_usage_csv(daily, start, end, seed))).imported


def _recent_daily_spend(account, until: datetime) -> Decimal:
    charges = HourlyCharge.objects.filter(
        account=account, hour__gte=until - settlement.FORECAST_LOOKBACK, hour__lt=until
    ).values_list("amount", flat=True)
    return sum(charges, Decimal(0)) / Decimal(settlement.FORECAST_LOOKBACK.days)


def _baidu_history(account, now: datetime, stdout) -> None:
    oldest = shift_month(*month_of(now), -MONTHS_OF_HISTORY)
    last = shift_month(*month_of(now), -1)
    history_start = _month_start(*oldest)
    last_start = _month_start(*last)
    until = now.replace(minute=0, second=0, microsecond=0)

    purchases.top_up(account, "300.00", history_start + timedelta(hours=9), note="demo")
    # Last month: a count package of hand keypoints (`2. 购买次数包`) and a QPS order of
    # people counting (`3. 按QPS购买`), paid by a top-up the same morning.
    purchases.top_up(account, "2000.00", last_start + timedelta(hours=9), note="demo")
    purchases.buy_package(account, "hand_analysis", 50_000, last_start + timedelta(hours=10))
    purchases.buy_qps(account, "body_num", 5, 0, 10, last_start + timedelta(hours=10))
    calls = _import(account, BAIDU_DAILY, history_start, until, "baidu")
    stdout.write(f"Demo usage imported: {calls:,} calls into {account.name}\n")

    bill = bills.finalize(account, *oldest)
    bills.add_adjustment(
        bill,
        "body_attr",
        "-20.00",
        "Credit for a day of sandbox maintenance · 沙箱维护补偿",
    )
    # Settled before the last top-up, the history ends in arrears for a moment: not worth
    # a warning in the demo's output.
    quiet = logging.getLogger(settlement.__name__)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        status = settlement.settle(account, now)
    finally:
        quiet.setLevel(level)
    # Top up to leave a day and a half of recent spending: the forecast runs out within
    # days, so the balance reminder is due (never less than 0.01 CNY).
    target = _recent_daily_spend(account, status.settled_until) * DAYS_OF_BALANCE_LEFT
    missing = (target - settlement.balance_at(account, status.settled_until)).quantize(
        Decimal("0.01"), rounding=ROUND_UP
    )
    if missing > 0:
        purchases.top_up(account, missing, status.settled_until - timedelta(hours=1), note="demo")
        settlement.settle(account, now)


def _ctyun_history(account, now: datetime, stdout) -> None:
    oldest = shift_month(*month_of(now), -MONTHS_OF_HISTORY)
    history_start = _month_start(*oldest)
    until = now.replace(minute=0, second=0, microsecond=0)
    # `3.1 计费模式`: fence and helmet packages (free during the public beta).
    for api in CTYUN_DAILY:
        purchases.buy_package(account, api, 100_000, history_start + timedelta(days=1, hours=10))
    calls = _import(account, CTYUN_DAILY, history_start, until, "ctyun")
    stdout.write(f"Demo usage imported: {calls:,} calls into {account.name}\n")
    bills.finalize(account, *oldest)
    settlement.settle(account, now)


DEMO_ACCOUNTS = [
    # name, vendor, certification, history
    (BAIDU_ACCOUNT, "baidu", "personal", _baidu_history),
    (CTYUN_ACCOUNT, "ctyun", "enterprise", _ctyun_history),
]


def add_demo_billing(site, stdout, *, sandbox_url: str = DEFAULT_SANDBOX_URL) -> None:
    """Create the demo's sandbox accounts and their finance history, once."""
    now = timezone.now()
    claimed_at = _month_start(*shift_month(*month_of(now), -MONTHS_OF_HISTORY)) + timedelta(
        hours=8, minutes=30
    )
    sandbox_url = sandbox_url.rstrip("/")
    for name, vendor, certification, history in DEMO_ACCOUNTS:
        named = VendorAccount.objects.filter(name=name)
        if named.exists():
            account = named.filter(vendor=vendor).first()
            if account is None:
                stdout.write(f"Vendor account {name!r} is not a {vendor} account: left alone\n")
                continue
            if account.site_id is None:
                account.site = site
                account.save(update_fields=["site"])
            _point_at_sandbox(account, sandbox_url)
            stdout.write(f"Vendor account ready: {name} ({account.base_url})\n")
            continue
        credentials = sandbox_credentials(vendor, sandbox_url)
        account = purchases.add_account(
            name, vendor, certification, free_claimed_at=claimed_at, **credentials
        )
        # The demo site's own accounts: its admins see and edit them, other sites do not.
        account.site = site
        account.save(update_fields=["site"])
        history(account, now, stdout)
        finals = Bill.objects.filter(account=account).count()
        stdout.write(
            f"Vendor account added: {name} ({account.base_url}), {finals} finalized bill(s)\n"
        )
