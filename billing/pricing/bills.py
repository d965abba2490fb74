"""Bills: line kinds, bill lines, the carried state between months and the month bill, with
the helpers both vendors' replays share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from billing.pricing.calendar import aware, shanghai_text
from billing.pricing.holdings import CountPackage, HourlyUsage, baidu_package_order
from billing.pricing.money import NO_CHARGE, ZERO, PricingError, TierRow, check_count, round_line

# --- bills ------------------------------------------------------------------------------------


class LineKind(StrEnum):
    FREE = "free"  # calls taken by a free quota
    PACKAGE = "package"  # calls taken by one package (``reference`` names it)
    PAYG = "payg"  # pay-as-you-go calls, with their tier breakdown
    QPS_USAGE = "qps_usage"  # calls made while a QPS order was active: no charge per call
    NOT_BILLED = "not_billed"  # failed calls the rules do not bill, beyond any free quota
    LIMITED_TIME_FREE = "limited_time_free"  # CTYun abilities free for a limited time
    OVER_QUOTA = "over_quota"  # CTYun successes beyond every package and free quota
    PACKAGE_PURCHASE = "package_purchase"  # a package bought this month
    QPS_ORDER = "qps_order"  # a QPS order placed this month


@dataclass(frozen=True, slots=True)
class BillLine:
    """One bill line; ``amount`` is rounded to the cent, once."""

    api: str
    kind: LineKind
    calls: int
    amount: Decimal
    tiers: tuple[TierRow, ...] = ()
    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class Carry:
    """What an account had used up to ``as_of`` (exclusive): free quota and package calls by
    id, and, for Baidu, pay-as-you-go calls so far in the Shanghai month containing ``as_of``.
    Store it with a bill to compute later months without replaying history."""

    as_of: datetime
    free_used: Mapping[str, int] = field(default_factory=dict)
    package_used: Mapping[str, int] = field(default_factory=dict)
    payg_month_to_date: Mapping[str, int] = field(default_factory=dict)


def carry_to_dict(carry: Carry) -> dict[str, Any]:
    """A JSON-safe dict of a carried state."""
    return {
        "as_of": carry.as_of.isoformat(),
        "free_used": dict(carry.free_used),
        "package_used": dict(carry.package_used),
        "payg_month_to_date": dict(carry.payg_month_to_date),
    }


def carry_from_dict(data: Mapping[str, Any]) -> Carry:
    """The carried state stored by ``carry_to_dict``."""
    return Carry(
        as_of=aware(datetime.fromisoformat(data["as_of"]), "carried state time"),
        free_used=dict(data.get("free_used", {})),
        package_used=dict(data.get("package_used", {})),
        payg_month_to_date=dict(data.get("payg_month_to_date", {})),
    )


@dataclass(frozen=True)
class MonthBill:
    """A vendor account's bill for one natural Shanghai month."""

    vendor: str
    year: int
    month: int
    period_start: datetime
    period_end: datetime
    lines: tuple[BillLine, ...]
    total: Decimal
    closing: Carry

    def lines_of(self, kind: LineKind, api: str | None = None) -> tuple[BillLine, ...]:
        return tuple(
            line for line in self.lines if line.kind == kind and (api is None or line.api == api)
        )


def merged_hours(
    usage: Iterable[HourlyUsage], start: datetime | None, until: datetime
) -> list[tuple[datetime, str, int, int]]:
    """Usage rows in [start, until), one per hour and API, in time order."""
    merged: dict[tuple[datetime, str], list[int]] = {}
    for row in usage:
        hour = row.hour_start
        if not isinstance(hour, datetime) or hour.utcoffset() is None:
            raise PricingError(f"The usage hour needs a time zone: {hour!r} ({row.api}).")
        if hour.minute or hour.second or hour.microsecond:
            raise PricingError(f"A usage rollup must start on the hour, not at {hour.isoformat()}.")
        if hour >= until or (start is not None and hour < start):
            continue
        check_count(row.success, "number of successful calls")
        check_count(row.failed, "number of failed calls")
        counts = merged.get((hour, row.api))
        if counts is None:
            merged[(hour, row.api)] = [row.success, row.failed]
        else:
            counts[0] += row.success
            counts[1] += row.failed
    return sorted(
        ((hour, api, s, f) for (hour, api), (s, f) in merged.items()), key=lambda r: (r[0], r[1])
    )


def by_api(records: Iterable, order) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for record in records:
        grouped.setdefault(record.api, []).append(record)
    return {api: sorted(items, key=order) for api, items in grouped.items()}


def unique_ids(kind: str, records: Sequence) -> None:
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise PricingError(f"Two {kind} share one id.")


def replay_start(
    carried: Carry | None, until: datetime, plan, free_quotas: Sequence, packages: Sequence, *more
) -> datetime | None:
    """Check what a replay is given (every record of an API the plan prices, ids unique) and
    return where it starts: ``carried.as_of``, or None (from the first row)."""
    for record in (*free_quotas, *packages, *more):
        plan.api(record.api)
    unique_ids("free quotas", free_quotas)
    unique_ids("packages", packages)
    return start_of_replay(carried, until)


def calls_left(records: Iterable[Any], used: Mapping[str, int]) -> dict[str, int]:
    """Calls left in each package or free quota (by id), given the calls used of each."""
    return {r.id: r.calls - used.get(r.id, 0) for r in records}


def calls_used(records: Iterable[Any], left: Mapping[str, int]) -> dict[str, int]:
    """Calls used of each package or free quota touched (by id), given the calls left."""
    return {r.id: r.calls - left[r.id] for r in records if left[r.id] != r.calls}


def start_of_replay(carried: Carry | None, until: datetime) -> datetime | None:
    aware(until, "end of the period")
    if carried is None:
        return None
    aware(carried.as_of, "carried state time")
    if carried.as_of > until:
        raise PricingError("The carried state is later than the end of the period to compute.")
    return carried.as_of


def purchase_lines(
    packages: Sequence[CountPackage], start: datetime, end: datetime
) -> list[BillLine]:
    # Purchases are charged on the bill of the month they are bought in.
    return [
        BillLine(
            api=p.api,
            kind=LineKind.PACKAGE_PURCHASE,
            calls=p.calls,
            amount=round_line(p.price),
            reference=p.id,
            note=f"{p.calls:,}-call package, valid until {shanghai_text(p.expires_at)}",
        )
        for p in sorted(packages, key=baidu_package_order)
        if start <= p.purchased_at < end
    ]


def month_bill(vendor, year, month, start, end, lines, closing) -> MonthBill:
    total = sum((line.amount for line in lines), ZERO)
    return MonthBill(vendor, year, month, start, end, tuple(lines), round_line(total), closing)


def check_opening(carried: Carry | None, start: datetime) -> None:
    """A month is computed from a state carried from its start or earlier, never later."""
    if carried is not None and aware(carried.as_of, "carried state time") > start:
        raise PricingError("The carried state must be from the month's start or earlier.")


def month_sums(
    allocations: Iterable[Any], start: datetime, counts: Sequence[str]
) -> tuple[dict[str, list[int]], dict[str, dict[str, int]]]:
    """Per API, the sums of the hour allocations' ``counts`` fields from ``start`` on, and the
    calls each package gave (by package id)."""
    totals: dict[str, list[int]] = {}
    package_calls: dict[str, dict[str, int]] = {}
    for a in allocations:
        if a.hour_start < start:
            continue
        sums = totals.setdefault(a.api, [0] * len(counts))
        for index, name in enumerate(counts):
            sums[index] += getattr(a, name)
        for d in a.packages:
            per_package = package_calls.setdefault(a.api, {})
            per_package[d.package_id] = per_package.get(d.package_id, 0) + d.calls
    return totals, package_calls


def package_lines(
    api: str, calls_by_package: Mapping[str, int], rank: Mapping[str, int], note: str
) -> list[BillLine]:
    """One no-charge line per package the API's calls were taken from, in deduction order."""
    return [
        BillLine(api, LineKind.PACKAGE, calls, NO_CHARGE, reference=package_id, note=note)
        for package_id, calls in sorted(calls_by_package.items(), key=lambda i: rank[i[0]])
    ]
