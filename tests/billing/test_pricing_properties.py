"""Properties of the pricing rules that must hold for any usage (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing import pricing
from billing.pricing import (
    Carry,
    HourlyUsage,
    LineKind,
    baidu_allocate_hours,
    baidu_count_package,
    baidu_free_quota,
    baidu_hour_charge,
    baidu_month_bill,
    baidu_qps_order,
    ctyun_allocate_hours,
    ctyun_free_quota,
    ctyun_package,
    graduated_amount,
    graduated_increment,
    qps_order_price,
)

D = Decimal
BAIDU = pricing.DEFAULT_PLANS["baidu"]
CTYUN = pricing.DEFAULT_PLANS["ctyun"]
MARCH = datetime(2024, 3, 1, tzinfo=pricing.SHANGHAI)
APRIL = datetime(2024, 4, 1, tzinfo=pricing.SHANGHAI)
HOURS_IN_MARCH = 31 * 24

all_tiers = st.sampled_from([api.payg_tiers for api in BAIDU.apis])
month_calls = st.integers(min_value=0, max_value=12_000_000)

# One account's resources, fixed so that only the usage varies.
FREE = [
    baidu_free_quota(BAIDU, "f-driver", "driver_behavior", MARCH - timedelta(days=40), "personal"),
    baidu_free_quota(BAIDU, "f-attr", "body_attr", MARCH + timedelta(days=3), "enterprise"),
]
PACKAGES = [
    baidu_count_package(BAIDU, "p-small", "driver_behavior", 300_000, MARCH + timedelta(days=5)),
    baidu_count_package(BAIDU, "p-big", "driver_behavior", 1_000_000, MARCH + timedelta(days=5)),
    baidu_count_package(BAIDU, "p-hand", "hand_analysis", 50_000, MARCH - timedelta(days=360)),
]
ORDERS = [
    baidu_qps_order(BAIDU, "q", "gesture", 5, 0, 7, MARCH + timedelta(days=10), bought_today=0)
]
RESOURCES = {"free_quotas": FREE, "packages": PACKAGES, "qps_orders": ORDERS}


@st.composite
def usage_rows(draw, max_size=25):
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, HOURS_IN_MARCH - 1),
                st.sampled_from(
                    ["driver_behavior", "body_attr", "hand_analysis", "gesture", "body_seg"]
                ),
                st.integers(0, 400_000),
                st.integers(0, 50_000),
            ),
            max_size=max_size,
        )
    )
    return [HourlyUsage(MARCH + timedelta(hours=h), api, s, f) for h, api, s, f in rows]


# --- graduated tiers ----------------------------------------------------------------------


@given(all_tiers, month_calls, month_calls)
def test_a_graduated_amount_never_decreases_when_calls_are_added(tiers, calls, more):
    before, after = graduated_amount(calls, tiers), graduated_amount(calls + more, tiers)
    assert after.exact_amount >= before.exact_amount
    assert after.amount >= before.amount


@given(all_tiers, month_calls)
def test_the_graduated_amount_equals_the_sum_over_its_tiers(tiers, calls):
    breakdown = graduated_amount(calls, tiers)
    # computed independently: each tier holds the calls between its bounds
    expected, lower = D(0), 0
    for tier in tiers:
        upper = calls if tier.upper is None else min(calls, tier.upper)
        expected += max(0, upper - lower) * tier.price_per_thousand / 1000
        lower = tier.upper or lower
    assert breakdown.exact_amount == expected
    assert sum(row.exact_amount for row in breakdown.rows) == expected
    assert sum(row.calls for row in breakdown.rows) == calls
    assert breakdown.amount == expected.quantize(D("0.01"), rounding=ROUND_HALF_UP)


@given(all_tiers, st.lists(st.integers(0, 2_000_000), max_size=40))
def test_increments_over_any_split_of_a_months_calls_add_up_to_the_whole(tiers, parts):
    before, total = 0, D(0)
    for added in parts:
        total += graduated_increment(before, added, tiers).exact_amount
        before += added
    assert total == graduated_amount(before, tiers).exact_amount


# --- the month's bill ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(usage_rows(), usage_rows(max_size=3))
def test_a_bill_never_decreases_when_calls_are_added(usage, extra):
    before = baidu_month_bill(2024, 3, usage, plan=BAIDU, **RESOURCES)
    after = baidu_month_bill(2024, 3, usage + extra, plan=BAIDU, **RESOURCES)
    assert after.total >= before.total


@settings(max_examples=60, deadline=None)
@given(usage_rows())
def test_every_call_lands_in_exactly_one_line(usage):
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, **RESOURCES)
    usage_kinds = {
        LineKind.FREE,
        LineKind.PACKAGE,
        LineKind.PAYG,
        LineKind.QPS_USAGE,
        LineKind.NOT_BILLED,
    }
    for api in {row.api for row in usage}:
        recorded = sum(row.success + row.failed for row in usage if row.api == api)
        assert (
            sum(line.calls for line in bill.lines if line.api == api and line.kind in usage_kinds)
            == recorded
        )


@settings(max_examples=60, deadline=None)
@given(usage_rows())
def test_the_hours_exact_charges_add_up_to_the_payg_lines_before_rounding(usage):
    allocations, _ = baidu_allocate_hours(usage, plan=BAIDU, until=APRIL, **RESOURCES)
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, **RESOURCES)
    for line in bill.lines_of(LineKind.PAYG):
        hourly = sum(baidu_hour_charge(a, BAIDU) for a in allocations if a.api == line.api)
        assert hourly == sum(row.exact_amount for row in line.tiers)
        assert line.amount == hourly.quantize(D("0.01"), rounding=ROUND_HALF_UP)


@settings(max_examples=60, deadline=None)
@given(usage_rows(), st.integers(1, HOURS_IN_MARCH - 1))
def test_billing_in_two_steps_with_a_carried_state_gives_the_same_bill(usage, split_hour):
    split = MARCH + timedelta(hours=split_hour)
    _, carry = baidu_allocate_hours(
        [row for row in usage if row.hour_start < split], plan=BAIDU, until=split, **RESOURCES
    )
    first_part, _ = baidu_allocate_hours(usage, plan=BAIDU, until=split, **RESOURCES)
    second_part, _ = baidu_allocate_hours(
        [row for row in usage if row.hour_start >= split],
        plan=BAIDU,
        until=APRIL,
        carried=carry,
        **RESOURCES,
    )
    whole, _ = baidu_allocate_hours(usage, plan=BAIDU, until=APRIL, **RESOURCES)
    assert first_part + second_part == whole


# --- QPS and CTYun -------------------------------------------------------------------------


@given(st.integers(1, 300), st.integers(0, 24), st.integers(0, 60), st.integers(0, 5))
def test_a_qps_order_never_costs_less_for_more_qps_or_a_longer_period(qps, months, days, more):
    if months + days == 0:
        days = 1
    price = qps_order_price(qps, months, days, BAIDU.qps_tiers)
    assert qps_order_price(qps + more, months, days, BAIDU.qps_tiers) >= price
    assert qps_order_price(qps, months + more, days, BAIDU.qps_tiers) >= price
    assert qps_order_price(qps, months, days + more, BAIDU.qps_tiers) >= price


CTYUN_PACKAGES = [
    ctyun_package(CTYUN, f"p{i}", "workwear", calls, MARCH - timedelta(days=30 - i))
    for i, calls in enumerate([100_000, 400_000, 100_000])
]
CTYUN_FREE = ctyun_free_quota(CTYUN, "f", "workwear", MARCH - timedelta(days=20))


@given(
    st.lists(st.integers(0, 100_000), min_size=3, max_size=3),
    st.integers(0, 10_000),
    st.lists(st.integers(0, 150_000), max_size=8),
)
def test_ctyun_allocations_conserve_calls_and_never_overdraw(used, free_used, batches):
    at = MARCH + timedelta(days=2)
    carried = Carry(
        as_of=at,
        package_used={p.id: min(u, p.calls) for p, u in zip(CTYUN_PACKAGES, used, strict=True)},
        free_used={CTYUN_FREE.id: free_used},
    )
    available = sum(p.calls - min(u, p.calls) for p, u in zip(CTYUN_PACKAGES, used, strict=True))
    available += 10_000 - free_used
    hours, closing = ctyun_allocate_hours(
        [
            HourlyUsage(at + timedelta(hours=i), "workwear", calls)
            for i, calls in enumerate(batches)
        ],
        plan=CTYUN,
        until=at + timedelta(hours=len(batches)),
        packages=CTYUN_PACKAGES,
        free_quotas=[CTYUN_FREE],
        carried=carried,
    )
    assert len(hours) == len(batches)
    for hour, calls in zip(hours, batches, strict=True):
        allocated = hour.free + sum(d.calls for d in hour.packages)
        assert allocated + hour.over_quota == calls
        assert allocated == min(calls, available)
        available -= allocated
    assert all(closing.package_used.get(p.id, 0) <= p.calls for p in CTYUN_PACKAGES)
    assert closing.free_used.get(CTYUN_FREE.id, 0) <= CTYUN_FREE.calls
