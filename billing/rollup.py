"""Hourly rollups of the usage ledger, and the hourly usage bills are computed from.

``roll_up()`` claims ledger rows not yet rolled up, recomputes every (account, API, hour)
group they touch from the whole ledger, writes the counts to ``HourlyRollup`` and marks
the rows. Counts are always recomputed from the ledger, never added to, so running it
twice, or two at once, never counts a call twice:

* rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite runs
  one writer at a time), so two runs do not claim the same rows;
* before counting a group, the run locks its rollup row, so a run that counted earlier
  can never overwrite the counts of a run that saw more rows (the later statement sees
  everything committed before it got the lock).

``hourly_usage(account, start, end)`` is always current: for an hour and API with rows
not yet rolled up it counts the ledger directly, otherwise it reads the rollup; never both
for one hour, since a rollup already holds every row committed when it was computed.

Hours are UTC hour starts (Asia/Shanghai is UTC+8 all year, so every Shanghai hour, day
and month starts on a UTC hour).

What is billable (``pricing.HourlyUsage``): ``success`` is the successful calls and
``failed`` the calls the vendor answered with an error (``vendor_error``): both reached
the vendor's meter (Baidu's free quota counts both, ``免费测试资源``). Transport errors
(no answer: the request may never have arrived) and local refusals (the quota gate never
sent the call) are kept in the rollup for reports but are not billed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import CharField, Count
from django.db.models.functions import Substr, TruncHour
from django.utils import timezone

from billing.models import HourlyRollup, Outcome, UsageRecord
from billing.pricing import HourlyUsage
from billing.pricing.calendar import HOUR, utc_hour_start

BATCH_SIZE = 20_000

# Rollup column of each ledger outcome.
OUTCOME_COLUMNS = {
    Outcome.SUCCESS: "success",
    Outcome.VENDOR_ERROR: "failed",
    Outcome.TRANSPORT_ERROR: "transport_errors",
    Outcome.REFUSED: "refused",
}
COUNT_COLUMNS = tuple(OUTCOME_COLUMNS.values())

Group = tuple[int, str, datetime]  # (account id, api, UTC hour start)


def _chunks(items: list, size: int | None) -> Iterable[list]:
    if not size:
        yield items
        return
    for index in range(0, len(items), size):
        yield items[index : index + size]


def _param_chunk() -> int | None:
    limit = connection.features.max_query_params
    return None if limit is None else max(1, limit - 10)


def _hour_bucket():
    """An expression for the UTC hour of ``occurred_at``. SQLite stores datetimes as UTC
    text ("YYYY-MM-DD HH:MM:SS..."), whose first 13 characters name the hour: cutting them
    is much faster there than ``TruncHour``, which calls back into Python for every row."""
    if connection.vendor == "sqlite":
        return Substr("occurred_at", 1, 13, output_field=CharField())
    return TruncHour("occurred_at", tzinfo=UTC)


def _as_hour(value) -> datetime:
    if isinstance(value, str):
        return datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _ledger_counts(
    account_id: int, apis: Iterable[str], start: datetime, end: datetime, **extra
) -> dict[tuple[str, datetime], dict[str, int]]:
    """Counts per (api, hour) and outcome column of the ledger in [start, end)."""
    rows = (
        UsageRecord.objects.filter(
            account_id=account_id,
            api__in=sorted(set(apis)),
            occurred_at__gte=start,
            occurred_at__lt=end,
            **extra,
        )
        .annotate(hour=_hour_bucket())
        .values("api", "hour", "outcome")
        .annotate(calls=Count("id"))
        .order_by()
    )
    counts: dict[tuple[str, datetime], dict[str, int]] = defaultdict(dict)
    for row in rows:
        column = OUTCOME_COLUMNS.get(row["outcome"])
        if column is not None:
            counts[(row["api"], _as_hour(row["hour"]))][column] = row["calls"]
    return counts


def _claim(batch_size: int) -> tuple[int, set[Group]]:
    """Claim up to ``batch_size`` rows not rolled up yet: lock them (skipping rows another
    run holds) and mark them. Returns how many, and the groups they fall in. Runs inside
    the caller's transaction."""
    if connection.vendor == "postgresql":
        return _claim_postgresql(batch_size)
    rows = list(
        UsageRecord.objects.select_for_update(skip_locked=True)
        .filter(rolled_up=False)
        .order_by("account_id", "occurred_at")
        .values_list("id", "account_id", "api", "occurred_at")[:batch_size]
    )
    ids = [row[0] for row in rows]
    for chunk in _chunks(ids, _param_chunk()):
        UsageRecord.objects.filter(id__in=chunk, rolled_up=False).update(rolled_up=True)
    return len(rows), {(account_id, api, utc_hour_start(at)) for _id, account_id, api, at in rows}


def _claim_postgresql(batch_size: int) -> tuple[int, set[Group]]:
    """The same in one statement: the rows stay in the database, only their groups come
    back."""
    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH claimed AS (SELECT id FROM {table} WHERE NOT rolled_up "  # noqa: S608
            "ORDER BY account_id, occurred_at LIMIT %s FOR UPDATE SKIP LOCKED), "
            f"marked AS (UPDATE {table} AS u SET rolled_up = true FROM claimed "
            "WHERE u.id = claimed.id RETURNING u.account_id, u.api, "
            "date_trunc('hour', u.occurred_at AT TIME ZONE 'UTC') AS hour) "
            "SELECT account_id, api, hour, count(*) FROM marked GROUP BY account_id, api, hour",
            [batch_size],
        )
        rows = cursor.fetchall()
    groups = {(account_id, api, hour.replace(tzinfo=UTC)) for account_id, api, hour, _n in rows}
    return sum(row[3] for row in rows), groups


def _recompute(groups: set[Group]) -> None:
    """Recompute the rollups of ``groups`` from the ledger (inside the caller's transaction)."""
    by_account: dict[int, set[tuple[str, datetime]]] = defaultdict(set)
    for account_id, api, hour in groups:
        by_account[account_id].add((api, hour))
    now = timezone.now()
    for account_id in sorted(by_account):
        touched = sorted(by_account[account_id])
        apis = sorted({api for api, _hour in touched})
        first = min(hour for _api, hour in touched)
        last = max(hour for _api, hour in touched)
        # Make sure each touched group has a row, then lock the rows (in one order, so two
        # runs never wait on each other in a circle) before counting.
        HourlyRollup.objects.bulk_create(
            [HourlyRollup(account_id=account_id, api=api, hour=hour) for api, hour in touched],
            ignore_conflicts=True,
            batch_size=1000,
        )
        locked = {
            (rollup.api, rollup.hour.astimezone(UTC)): rollup
            for rollup in HourlyRollup.objects.select_for_update()
            .filter(account_id=account_id, api__in=apis, hour__gte=first, hour__lte=last)
            .order_by("api", "hour")
        }
        counts = _ledger_counts(account_id, apis, first, last + HOUR)
        changed = []
        for key in touched:
            rollup = locked[key]
            fresh = counts.get(key, {})
            for column in COUNT_COLUMNS:
                setattr(rollup, column, fresh.get(column, 0))
            rollup.updated_at = now
            changed.append(rollup)
        HourlyRollup.objects.bulk_update(changed, [*COUNT_COLUMNS, "updated_at"], batch_size=500)


def roll_up(*, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> int:
    """Fold ledger rows not rolled up yet into ``HourlyRollup``; return how many were
    claimed. Each batch is one transaction: claim, recompute the touched groups, commit."""
    claimed = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            count, groups = _claim(batch_size)
            if not count:
                break
            _recompute(groups)
        claimed += count
        batches += 1
        if count < batch_size:
            break
    return claimed


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValueError("hourly_usage needs aware datetimes.")
    first = utc_hour_start(start)
    if first < start:
        first += HOUR
    return first, end


def hour_counts(account, start: datetime, end: datetime) -> dict[tuple[str, datetime], dict]:
    """Every outcome's count per (api, UTC hour) for the hours starting in [start, end),
    always current (see the module docstring)."""
    first, end = _window(start, end)
    if first >= end:
        return {}
    account_id = getattr(account, "pk", account)
    pending = {
        (row["api"], _as_hour(row["hour"]))
        for row in UsageRecord.objects.filter(
            account_id=account_id, rolled_up=False, occurred_at__gte=first, occurred_at__lt=end
        )
        .annotate(hour=_hour_bucket())
        .values("api", "hour")
        .distinct()
        .order_by()
    }
    result: dict[tuple[str, datetime], dict] = {}
    for rollup in HourlyRollup.objects.filter(
        account_id=account_id, hour__gte=first, hour__lt=end
    ).values("api", "hour", *COUNT_COLUMNS):
        key = (rollup["api"], rollup["hour"].astimezone(UTC))
        if key not in pending:
            result[key] = {column: rollup[column] for column in COUNT_COLUMNS}
    if pending:
        low = min(hour for _api, hour in pending)
        high = max(hour for _api, hour in pending) + HOUR
        counts = _ledger_counts(account_id, {api for api, _hour in pending}, low, high)
        for key in pending:
            fresh = counts.get(key, {})
            result[key] = {column: fresh.get(column, 0) for column in COUNT_COLUMNS}
    return result


def hourly_usage(account, start: datetime, end: datetime) -> list[HourlyUsage]:
    """The billable calls per API and UTC hour for the hours starting in [start, end),
    in time order: ``success`` and ``failed`` (vendor errors). Always current."""
    rows = [
        HourlyUsage(hour_start=hour, api=api, success=c["success"], failed=c["failed"])
        for (api, hour), c in hour_counts(account, start, end).items()
        if c["success"] or c["failed"]
    ]
    rows.sort(key=lambda row: (row.hour_start, row.api))
    return rows
