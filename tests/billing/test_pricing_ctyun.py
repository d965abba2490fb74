"""CTYun Safety Production: capped packages, yearly free quota, consumption order (`3 计费说明`,
`5.1 计费类`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from billing import pricing
from billing.pricing import (
    Carry,
    CtyunQuotaState,
    FreeQuotaBalance,
    HourlyUsage,
    LineKind,
    PackageBalance,
    PackageDeduction,
    PackageSpec,
    PricingError,
    ctyun_allocate_hours,
    ctyun_can_call,
    ctyun_free_quota,
    ctyun_month_bill,
    ctyun_package,
    ctyun_quota_state,
)

D = Decimal
CTYUN = pricing.DEFAULT_PLANS["ctyun"]
LIMITED_TIME_FREE = (
    "face_quality",
    "liveness_shake",
    "liveness_up",
    "liveness_down",
    "liveness_left",
    "liveness_right",
    "liveness_mouth",
    "liveness_blink",
    "fall",
    "fight",
)


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=pricing.SHANGHAI)


def use(hour_start, api, success, failed=0):
    return HourlyUsage(hour_start=hour_start, api=api, success=success, failed=failed)


def helmet_package(package_id, calls, purchased_at):
    return ctyun_package(CTYUN, package_id, "helmet", calls, purchased_at)


def helmet_free(claimed_at, quota_id="f"):
    return ctyun_free_quota(CTYUN, quota_id, "helmet", claimed_at)


def state(*, packages=(), free=()):
    return CtyunQuotaState(
        api="helmet",
        packages=tuple(PackageBalance(p, left) for p, left in packages),
        free_quotas=tuple(FreeQuotaBalance(q, left) for q, left in free),
    )


def only_line(bill, kind, api=None):
    lines = bill.lines_of(kind, api)
    assert len(lines) == 1, lines
    return lines[0]


P1 = helmet_package("p1", 100_000, sh(2024, 1, 5, 10))
P2 = helmet_package("p2", 400_000, sh(2024, 2, 1, 10))
P3 = helmet_package("p3", 100_000, sh(2024, 2, 20, 10))
FREE = helmet_free(sh(2024, 3, 1, 9))
AT = sh(2024, 3, 2, 12)


# --- the plan -----------------------------------------------------------------------------


def test_helmet_workwear_and_fence_sell_the_seeds_five_package_sizes_at_the_beta_price_of_zero():
    for api in ("helmet", "workwear", "fence"):
        specs = CTYUN.api(api).package_specs
        assert [s.calls for s in specs] == [100_000, 400_000, 800_000, 4_000_000, 8_000_000]
        assert {s.price for s in specs} == {D("0")}
        assert CTYUN.api(api).free_calls_per_year == 10_000


def test_the_other_abilities_are_free_for_a_limited_time():
    assert CTYUN.limited_time_free_apis == LIMITED_TIME_FREE


def test_a_package_is_valid_one_year():
    assert helmet_package("p", 400_000, sh(2024, 3, 15, 10, 30)).expires_at == sh(
        2025, 3, 15, 10, 30
    )


def test_a_package_size_the_seed_does_not_list_is_refused():
    with pytest.raises(PricingError, match="500,000"):
        helmet_package("p", 500_000, sh(2024, 3, 1))


def test_no_package_is_sold_for_an_ability_that_is_free_for_a_limited_time():
    with pytest.raises(PricingError, match="fall"):
        ctyun_package(CTYUN, "p", "fall", 100_000, sh(2024, 3, 1))


def test_free_quota_lasts_until_the_end_of_the_calendar_year_it_was_claimed_in():
    # "当年有效，过期作废"
    quota = helmet_free(sh(2024, 6, 1, 9))
    assert (quota.calls, quota.expires_at) == (10_000, sh(2025, 1, 1))


def test_free_quota_claimed_on_new_years_eve_lasts_only_until_midnight():
    quota = helmet_free(sh(2024, 12, 31, 23, 30))
    assert quota.expires_at == sh(2025, 1, 1)
    s = state(free=[(quota, 10_000)])
    assert ctyun_can_call(s, at=sh(2024, 12, 31, 23, 59))
    assert not ctyun_can_call(s, at=sh(2025, 1, 1, 0, 0))


# --- consumption order (`5.1 计费类`: 调用量的扣费顺序是？) -------------------------------------


def allocate(*calls, packages=(), free=(), api="helmet", at=AT):
    """Hours of ``calls`` from ``at`` on, allocated by ``ctyun_allocate_hours`` from the
    balances given as (package or free quota, calls left); the hours' allocations and the
    state after them."""
    carried = Carry(
        as_of=at,
        package_used={p.id: p.calls - left for p, left in packages},
        free_used={q.id: q.calls - left for q, left in free},
    )
    hours = [at + timedelta(hours=i) for i in range(len(calls))]
    return ctyun_allocate_hours(
        [use(hour, api, count) for hour, count in zip(hours, calls, strict=True)],
        plan=CTYUN,
        until=at + timedelta(hours=len(calls)),
        packages=[p for p, _ in packages],
        free_quotas=[q for q, _ in free],
        carried=carried,
    )


def allocated(hour) -> int:
    return hour.free + sum(d.calls for d in hour.packages) + hour.unmetered


def test_packages_are_used_in_the_order_they_were_bought():
    # "购买次数包后，按照次数包下单顺序抵扣额度"
    (hour,), _ = allocate(100_005, packages=[(P2, 400_000), (P1, 100_000)])
    assert hour.packages == (PackageDeduction("p1", 100_000), PackageDeduction("p2", 5))
    assert hour.over_quota == 0


def test_after_the_current_package_runs_out_the_free_quota_comes_before_the_next_package():
    # given p1 in use (60,000 left), p2 untouched, and 10,000 free calls claimed
    # when 75,000 calls are allocated
    (hour,), _ = allocate(75_000, packages=[(P1, 60_000), (P2, 400_000)], free=[(FREE, 10_000)])
    # then p1 is finished first, then the free quota, then p2
    assert hour.packages == (PackageDeduction("p1", 60_000), PackageDeduction("p2", 5_000))
    assert hour.free == 10_000
    assert hour.over_quota == 0


def test_free_quota_claimed_before_any_package_is_started_is_used_first():
    (hour,), _ = allocate(15_000, packages=[(P1, 100_000)], free=[(FREE, 10_000)])
    assert hour.free == 10_000
    assert hour.packages == (PackageDeduction("p1", 5_000),)


def test_once_the_free_quota_is_gone_the_remaining_packages_go_oldest_first():
    # given p1 in use, then p2 (older, larger) and p3 (newer, smaller)
    (hour,), _ = allocate(
        400_115, packages=[(P3, 100_000), (P1, 10), (P2, 400_000)], free=[(FREE, 100)]
    )
    assert hour.packages == (
        PackageDeduction("p1", 10),
        PackageDeduction("p2", 400_000),
        PackageDeduction("p3", 5),
    )
    assert hour.free == 100


def test_the_next_hour_carries_on_where_the_previous_one_stopped():
    # p1 is done in the first hour and the free quota is in use: it goes on before p2
    first, second = allocate(
        65_000, 6_000, packages=[(P1, 60_000), (P2, 400_000)], free=[(FREE, 10_000)]
    )[0]
    assert (first.free, first.packages) == (5_000, (PackageDeduction("p1", 60_000),))
    assert (second.free, second.packages) == (5_000, (PackageDeduction("p2", 1_000),))


def test_the_closing_state_carries_the_calls_used_so_far():
    _, closing = allocate(65_000, packages=[(P1, 60_000), (P2, 400_000)], free=[(FREE, 10_000)])
    assert closing.as_of == AT + timedelta(hours=1)
    assert (dict(closing.package_used), dict(closing.free_used)) == ({"p1": 100_000}, {"f": 5_000})


def test_calls_beyond_every_package_and_free_quota_are_over_quota():
    (hour,), _ = allocate(500, packages=[(P1, 300)], free=[(FREE, 100)])
    assert allocated(hour) == 400
    assert hour.over_quota == 100


def test_an_api_with_nothing_left_cannot_be_called():
    assert not ctyun_can_call(state(packages=[(P1, 0)], free=[(FREE, 0)]), at=AT)
    assert not ctyun_can_call(state(), at=AT)
    assert ctyun_can_call(state(packages=[(P1, 1)]), at=AT)


def test_an_expired_package_is_not_used():
    expired = helmet_package("old", 100_000, sh(2023, 3, 1, 9))
    (hour,), _ = allocate(10, packages=[(expired, 99_000)])
    assert (allocated(hour), hour.over_quota) == (0, 10)
    assert not ctyun_can_call(state(packages=[(expired, 99_000)]), at=AT)


def test_a_package_is_not_used_before_it_is_bought():
    later = helmet_package("later", 100_000, sh(2024, 3, 3))
    assert not ctyun_can_call(state(packages=[(later, 100_000)]), at=AT)


@pytest.mark.parametrize("api", LIMITED_TIME_FREE)
def test_abilities_free_for_a_limited_time_are_metered_at_zero_and_never_refused(api):
    free_ability = ctyun_quota_state(CTYUN, api)
    (hour,), _ = allocate(1_000_000, api=api)
    assert (hour.unmetered, hour.free, hour.packages, hour.over_quota) == (
        1_000_000,
        0,
        (),
        0,
    )
    assert ctyun_can_call(free_ability, at=AT)


def test_the_quota_state_is_built_from_purchases_claims_and_what_was_used():
    carried = Carry(as_of=AT, free_used={"f": 9_000}, package_used={"p1": 100_000, "p2": 10})
    built = ctyun_quota_state(
        CTYUN, "helmet", packages=[P1, P2], free_quotas=[FREE], carried=carried
    )
    assert [(b.package.id, b.remaining) for b in built.packages] == [("p1", 0), ("p2", 399_990)]
    assert [(b.quota.id, b.remaining) for b in built.free_quotas] == [("f", 1_000)]


def test_the_quota_state_of_an_unknown_api_is_refused():
    with pytest.raises(PricingError, match="gesture"):
        ctyun_quota_state(CTYUN, "gesture")


# --- the month's bill -----------------------------------------------------------------------


def test_the_month_bill_counts_only_successful_calls_in_the_seeds_order():
    # given 10,000 free calls claimed on 1 March and a 100,000 package bought on 5 March
    free = helmet_free(sh(2024, 3, 1, 9))
    bought = helmet_package("p", 100_000, sh(2024, 3, 5, 10))
    usage = [
        use(sh(2024, 3, 2, 10), "helmet", success=6_000, failed=500),
        use(sh(2024, 3, 6, 10), "helmet", success=7_000),
    ]
    # when March is billed
    bill = ctyun_month_bill(2024, 3, usage, plan=CTYUN, free_quotas=[free], packages=[bought])
    # then failures count for nothing, the free quota goes first, then the package
    assert only_line(bill, LineKind.FREE).calls == 10_000
    assert only_line(bill, LineKind.PACKAGE).calls == 3_000
    assert only_line(bill, LineKind.NOT_BILLED).calls == 500
    purchase = only_line(bill, LineKind.PACKAGE_PURCHASE)
    assert (purchase.calls, purchase.amount) == (100_000, D("0.00"))
    assert bill.total == D("0.00")


def test_package_purchases_are_charged_at_the_plans_price():
    # given a plan after the beta, where a 100,000 helmet package costs 100
    priced = CTYUN.replace_api(
        "helmet", package_specs=(PackageSpec(100_000, D("100")), PackageSpec(400_000, D("350")))
    )
    bought = ctyun_package(priced, "p", "helmet", 100_000, sh(2024, 3, 5, 10))
    bill = ctyun_month_bill(2024, 3, [], plan=priced, packages=[bought])
    assert only_line(bill, LineKind.PACKAGE_PURCHASE).amount == D("100.00")
    assert bill.total == D("100.00")


def test_calls_recorded_beyond_every_quota_show_as_over_quota():
    usage = [use(sh(2024, 3, 2, 10), "fence", 25)]
    bill = ctyun_month_bill(2024, 3, usage, plan=CTYUN)
    assert only_line(bill, LineKind.OVER_QUOTA, "fence").calls == 25


def test_abilities_free_for_a_limited_time_appear_at_zero():
    usage = [use(sh(2024, 3, 2, 10), "fall", 40, failed=3)]
    line = only_line(ctyun_month_bill(2024, 3, usage, plan=CTYUN), LineKind.LIMITED_TIME_FREE)
    assert (line.api, line.calls, line.amount) == ("fall", 40, D("0.00"))


def test_last_years_free_quota_is_gone_in_january():
    free = helmet_free(sh(2023, 12, 1, 9))
    usage = [use(sh(2023, 12, 31, 23), "helmet", 100), use(sh(2024, 1, 1, 0), "helmet", 100)]
    bill = ctyun_month_bill(2024, 1, usage, plan=CTYUN, free_quotas=[free])
    assert bill.lines_of(LineKind.FREE) == ()
    assert only_line(bill, LineKind.OVER_QUOTA).calls == 100


def test_a_new_free_quota_may_be_claimed_each_calendar_year():
    claims = [helmet_free(sh(2023, 12, 1, 9), "f23"), helmet_free(sh(2024, 1, 2, 9), "f24")]
    usage = [use(sh(2023, 12, 2, 10), "helmet", 9_000), use(sh(2024, 1, 3, 10), "helmet", 2_000)]
    bill = ctyun_month_bill(2024, 1, usage, plan=CTYUN, free_quotas=claims)
    assert only_line(bill, LineKind.FREE).calls == 2_000


def test_a_second_free_quota_in_one_calendar_year_is_refused():
    claims = [helmet_free(sh(2024, 1, 2, 9), "a"), helmet_free(sh(2024, 7, 2, 9), "b")]
    with pytest.raises(PricingError, match="2024"):
        ctyun_month_bill(2024, 3, [], plan=CTYUN, free_quotas=claims)


def test_a_ctyun_month_billed_from_a_carried_state_matches_a_full_replay():
    free = helmet_free(sh(2024, 2, 1, 9))
    bought = [
        helmet_package("a", 100_000, sh(2024, 2, 2, 9)),
        helmet_package("b", 100_000, sh(2024, 2, 3, 9)),
    ]
    february = [use(sh(2024, 2, 5, 10), "helmet", 105_000)]
    march = [use(sh(2024, 3, 5, 10), "helmet", 8_000), use(sh(2024, 3, 6, 10), "helmet", 2_000)]
    closing = ctyun_month_bill(
        2024, 2, february, plan=CTYUN, free_quotas=[free], packages=bought
    ).closing
    carried = ctyun_month_bill(
        2024, 3, march, plan=CTYUN, free_quotas=[free], packages=bought, carried=closing
    )
    replayed = ctyun_month_bill(
        2024, 3, february + march, plan=CTYUN, free_quotas=[free], packages=bought
    )
    assert carried.lines == replayed.lines
    # February: 10,000 free, then 95,000 from a; March: a's last 5,000, then b
    assert [(line.reference, line.calls) for line in replayed.lines_of(LineKind.PACKAGE)] == [
        ("a", 5_000),
        ("b", 5_000),
    ]


def test_usage_of_an_api_ctyun_does_not_sell_is_refused():
    with pytest.raises(PricingError, match="body_attr"):
        ctyun_month_bill(2024, 3, [use(sh(2024, 3, 2, 10), "body_attr", 1)], plan=CTYUN)
