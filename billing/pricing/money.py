"""Money and counts: ``PricingError``, rounding once per bill line, checks of amounts and
counts, and graduated pay-as-you-go tiers (``1. 按调用量后付费``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal(0)
NO_CHARGE = Decimal("0.00")


class PricingError(ValueError):
    """A vendor's pricing rules refuse this; the message says why, in plain English."""


def round_line(amount: Decimal) -> Decimal:
    """Round a bill line's exact amount to the cent, half up (done once per line)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def per_thousand(price_per_thousand: Decimal, calls: int) -> Decimal:
    return (price_per_thousand * calls).scaleb(-3)


def check_count(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PricingError(f"The {what} must be a whole number, not {value!r}.")
    if value < 0:
        raise PricingError(f"The {what} cannot be negative ({value:,}).")
    return value


def check_money(value: Any, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise PricingError(f"The {what} must be a Decimal amount, not {value!r}.")
    if value < 0:
        raise PricingError(f"The {what} cannot be negative ({value}).")
    return value


# --- graduated tiers (`1. 按调用量后付费`) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    """A pay-as-you-go tier: the month's cumulative billable calls up to ``upper`` (inclusive;
    ``None`` for the last, open-ended tier) cost ``price_per_thousand`` CNY per 1,000 calls."""

    upper: int | None
    price_per_thousand: Decimal


@dataclass(frozen=True, slots=True)
class TierRow:
    """The calls of one bill line that fall in one tier: ``lower < n <= upper``."""

    lower: int
    upper: int | None
    calls: int
    price_per_thousand: Decimal
    exact_amount: Decimal


@dataclass(frozen=True, slots=True)
class TierBreakdown:
    """A graduated amount: rows per tier (exact), their exact sum, and the line amount
    rounded once."""

    rows: tuple[TierRow, ...]
    calls: int
    exact_amount: Decimal
    amount: Decimal


def check_tiers(tiers: Sequence[Tier]) -> None:
    if not tiers:
        raise PricingError("A price plan needs at least one tier.")
    lower = 0
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if (tier.upper is None) != last:
            raise PricingError("Only the last tier may be open-ended, and it must be.")
        if tier.upper is not None and tier.upper <= lower:
            raise PricingError(f"Tier bounds must rise: {tier.upper:,} follows {lower:,}.")
        check_money(tier.price_per_thousand, "price per 1,000 calls")
        lower = tier.upper or lower


def graduated_increment(before: int, added: int, tiers: Sequence[Tier]) -> TierBreakdown:
    """Price calls number ``before + 1`` to ``before + added`` of a month.

    The part above a tier's upper bound is priced at the next tier
    ("超出本阶梯部分按照下一阶梯单价计算", ``1.1 人体关键点识别接口``). Increments over any
    split of a month add up exactly to the month's graduated amount before rounding.
    """
    check_count(before, "number of calls already billed")
    check_count(added, "number of calls")
    check_tiers(tiers)
    start, end = before, before + added
    rows: list[TierRow] = []
    lower = 0
    for tier in tiers:
        upper = tier.upper
        low = max(start, lower)
        high = end if upper is None else min(end, upper)
        if high > low:
            price = tier.price_per_thousand
            rows.append(TierRow(lower, upper, high - low, price, per_thousand(price, high - low)))
        if upper is None or upper >= end:
            break
        lower = upper
    exact = sum((row.exact_amount for row in rows), ZERO)
    return TierBreakdown(
        rows=tuple(rows), calls=added, exact_amount=exact, amount=round_line(exact)
    )


def graduated_amount(calls: int, tiers: Sequence[Tier]) -> TierBreakdown:
    """Price a month's ``calls`` billable pay-as-you-go calls on graduated ``tiers``."""
    return graduated_increment(0, calls, tiers)
