"""Baidu count packages (`2. 购买次数包`) and QPS orders (`3. 按QPS购买`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import pricing
from billing.pricing import (
    Carry,
    HourlyUsage,
    LineKind,
    PackageBalance,
    PackageDeduction,
    PricingError,
    add_months,
    baidu_allocate_hours,
    baidu_count_package,
    baidu_free_quota,
    baidu_month_bill,
    baidu_qps_order,
    qps_bought_today,
    qps_order_price,
    validate_qps_order,
)

D = Decimal
BAIDU = pricing.DEFAULT_PLANS["baidu"]
QPS_TIERS = BAIDU.qps_tiers


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=pricing.SHANGHAI)


def use(hour_start, api, success, failed=0):
    return HourlyUsage(hour_start=hour_start, api=api, success=success, failed=failed)


def package(package_id, calls, purchased_at, api="driver_behavior"):
    return baidu_count_package(BAIDU, package_id, api, calls, purchased_at)


def full(*packages):
    return [PackageBalance(p, p.calls) for p in packages]


def deduct_packages(hour_start, billable_calls, balances):
    """One hour's successful calls allocated by ``baidu_allocate_hours`` with only packages
    (given with the calls left in them): (package deductions, calls left for pay-as-you-go)."""
    carried = Carry(
        as_of=hour_start,
        package_used={b.package.id: b.package.calls - b.remaining for b in balances},
    )
    (hour,), _ = baidu_allocate_hours(
        [use(hour_start, "driver_behavior", billable_calls)],
        plan=BAIDU,
        until=hour_start + timedelta(hours=1),
        packages=[b.package for b in balances],
        carried=carried,
    )
    return hour.packages, hour.payg


def only_line(bill, kind, api=None):
    lines = bill.lines_of(kind, api)
    assert len(lines) == 1, lines
    return lines[0]


# --- count packages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "calls", "price"),
    [
        ("driver_behavior", 300_000, "500"),
        ("driver_behavior", 1_000_000, "1200"),
        ("driver_behavior", 2_000_000, "2000"),
        ("driver_behavior", 5_000_000, "4000"),
        ("driver_behavior", 10_000_000, "7000"),
        ("hand_analysis", 50_000, "275"),
        ("hand_analysis", 100_000, "500"),
        ("hand_analysis", 300_000, "1350"),
        ("hand_analysis", 1_000_000, "4000"),
        ("hand_analysis", 2_000_000, "7000"),
        ("hand_analysis", 5_000_000, "15000"),
    ],
)
def test_a_count_package_costs_the_seeds_price_for_its_size(api, calls, price):
    bought = baidu_count_package(BAIDU, "p", api, calls, sh(2024, 3, 1))
    assert (bought.calls, bought.price) == (calls, D(price))


def test_the_plan_sells_exactly_the_seeds_package_sizes():
    sizes = {
        api.api: [spec.calls for spec in api.package_specs]
        for api in BAIDU.apis
        if api.package_specs
    }
    assert sizes == {
        "driver_behavior": [300_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000],
        "hand_analysis": [50_000, 100_000, 300_000, 1_000_000, 2_000_000, 5_000_000],
    }


def test_packages_are_not_sold_for_apis_outside_driver_behavior_and_hand_analysis():
    with pytest.raises(PricingError, match="body_attr"):
        baidu_count_package(BAIDU, "p", "body_attr", 300_000, sh(2024, 3, 1))


def test_a_package_size_the_seed_does_not_list_is_refused():
    with pytest.raises(PricingError, match="400,000"):
        baidu_count_package(BAIDU, "p", "driver_behavior", 400_000, sh(2024, 3, 1))


def test_a_package_is_valid_until_the_same_day_and_time_twelve_months_later():
    bought = package("p", 300_000, sh(2024, 3, 15, 10, 30))
    assert bought.expires_at == sh(2025, 3, 15, 10, 30)


def test_a_package_bought_on_29_february_expires_at_the_end_of_february():
    assert package("p", 300_000, sh(2024, 2, 29, 9)).expires_at == sh(2025, 2, 28, 9)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (sh(2024, 1, 31, 8), 1, sh(2024, 2, 29, 8)),
        (sh(2023, 1, 31, 8), 1, sh(2023, 2, 28, 8)),
        (sh(2024, 11, 30, 23, 59), 3, sh(2025, 2, 28, 23, 59)),
        (sh(2024, 5, 10, 0), 0, sh(2024, 5, 10, 0)),
    ],
)
def test_adding_months_keeps_the_shanghai_day_and_time_or_the_months_last_day(
    start, months, expected
):
    assert add_months(start, months) == expected


def test_adding_months_uses_the_shanghai_calendar_for_utc_times():
    # 31 January 20:00 UTC is already 1 February in Shanghai
    assert add_months(datetime(2024, 1, 31, 20, tzinfo=UTC), 1) == sh(2024, 3, 1, 4)


# --- hourly deduction -----------------------------------------------------------------------


def test_an_hours_calls_are_deducted_from_the_earliest_bought_package_first():
    # given a newer small package and an older large one
    newer = package("newer", 300_000, sh(2024, 3, 2))
    older = package("older", 1_000_000, sh(2024, 3, 1))
    # when 10 calls are deducted
    deductions, rest = deduct_packages(sh(2024, 3, 5, 10), 10, full(newer, older))
    # then they come from the older one
    assert deductions == (PackageDeduction("older", 10),)
    assert rest == 0


def test_packages_bought_at_the_same_time_are_used_smallest_first():
    at = sh(2024, 3, 1, 9)
    big, small = package("big", 1_000_000, at), package("small", 300_000, at)
    deductions, _ = deduct_packages(sh(2024, 3, 5, 10), 300_005, full(big, small))
    assert deductions == (PackageDeduction("small", 300_000), PackageDeduction("big", 5))


def test_the_hours_calls_beyond_every_package_go_to_pay_as_you_go():
    bought = package("p", 300_000, sh(2024, 3, 1))
    deductions, rest = deduct_packages(sh(2024, 3, 5, 10), 500, [PackageBalance(bought, 120)])
    assert deductions == (PackageDeduction("p", 120),)
    assert rest == 380


def test_used_up_packages_are_skipped_and_the_balances_passed_in_are_left_alone():
    first, second = package("a", 300_000, sh(2024, 3, 1)), package("b", 300_000, sh(2024, 3, 2))
    balances = [PackageBalance(first, 0), PackageBalance(second, 50)]
    deductions, rest = deduct_packages(sh(2024, 3, 5, 10), 20, balances)
    assert (deductions, rest) == ((PackageDeduction("b", 20),), 0)
    assert balances == [PackageBalance(first, 0), PackageBalance(second, 50)]


def test_a_package_expiring_on_the_hour_covers_the_hour_before_but_not_the_hour_after():
    # given a package bought at 11:00 on 2024-03-01, expiring at 11:00 on 2025-03-01
    bought = package("p", 300_000, sh(2024, 3, 1, 11))
    # then the 10:00-11:00 hour is covered and the 11:00-12:00 hour is not
    assert deduct_packages(sh(2025, 3, 1, 10), 7, full(bought)) == ((PackageDeduction("p", 7),), 0)
    assert deduct_packages(sh(2025, 3, 1, 11), 7, full(bought)) == ((), 7)


def test_a_package_bought_during_an_hour_covers_that_hours_calls():
    # the hour's calls are settled at its end ("系统每小时将优先抵扣次数包额度")
    bought = package("p", 300_000, sh(2024, 3, 1, 10, 30))
    assert deduct_packages(sh(2024, 3, 1, 10), 7, full(bought)) == ((PackageDeduction("p", 7),), 0)


def test_a_package_bought_on_the_hour_does_not_cover_the_hour_before():
    bought = package("p", 300_000, sh(2024, 3, 1, 11))
    assert deduct_packages(sh(2024, 3, 1, 10), 7, full(bought)) == ((), 7)


# --- packages on the month's bill -----------------------------------------------------------


def test_free_quota_comes_first_then_the_package_then_pay_as_you_go():
    # given 10,000 free enterprise calls and a 300,000 package bought the same month
    quota = baidu_free_quota(BAIDU, "f", "driver_behavior", sh(2024, 3, 1, 9), "enterprise")
    bought = package("p", 300_000, sh(2024, 3, 1, 10))
    usage = [use(sh(2024, 3, 2, 10), "driver_behavior", 400_000)]
    # when March is billed
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, free_quotas=[quota], packages=[bought])
    # then 10,000 are free, 300,000 come from the package, 90,000 are paid at 2.0
    assert only_line(bill, LineKind.FREE).calls == 10_000
    assert only_line(bill, LineKind.PACKAGE).calls == 300_000
    payg = only_line(bill, LineKind.PAYG)
    assert (payg.calls, payg.amount) == (90_000, D("180.00"))
    # and the package is charged on the bill of the month it was bought in
    purchase = only_line(bill, LineKind.PACKAGE_PURCHASE)
    assert (purchase.reference, purchase.amount) == ("p", D("500.00"))
    assert bill.total == D("680.00")


def test_calls_taken_by_free_quota_and_packages_do_not_count_toward_the_payg_tier():
    # the console: "调用量"指使用按量后付费形式产生的计费调用量
    bought = package("p", 1_000_000, sh(2024, 3, 1))
    usage = [use(sh(2024, 3, 2, 10), "driver_behavior", 1_100_000)]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, packages=[bought])
    # 100,000 paid calls stay in the first tier: 200.00, not 1.6 per 1,000
    assert only_line(bill, LineKind.PAYG).amount == D("200.00")


def test_a_package_bought_in_an_earlier_month_is_used_without_being_charged_again():
    bought = package("p", 300_000, sh(2024, 2, 20, 15))
    usage = [
        use(sh(2024, 2, 21, 10), "driver_behavior", 2_000),
        use(sh(2024, 3, 2, 10), "driver_behavior", 1_000),
    ]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, packages=[bought])
    assert only_line(bill, LineKind.PACKAGE).calls == 1_000
    assert bill.lines_of(LineKind.PACKAGE_PURCHASE) == ()
    assert bill.total == D("0.00")


def test_a_package_bought_late_on_the_last_utc_day_of_march_is_on_aprils_bill():
    # 17:00 UTC on 31 March is 01:00 on 1 April in Shanghai
    bought = package("p", 300_000, datetime(2024, 3, 31, 17, tzinfo=UTC))
    assert baidu_month_bill(2024, 3, [], plan=BAIDU, packages=[bought]).total == D("0.00")
    assert baidu_month_bill(2024, 4, [], plan=BAIDU, packages=[bought]).total == D("500.00")


def test_what_is_left_of_a_package_at_expiry_is_lost():
    # given a package bought 2023-03-10 08:00 with 299,000 calls used before it lapsed
    bought = package("p", 300_000, sh(2023, 3, 10, 8))
    usage = [
        use(sh(2023, 4, 1, 10), "driver_behavior", 299_000),
        use(sh(2024, 3, 10, 7), "driver_behavior", 400),  # last covered hour
        use(sh(2024, 3, 10, 8), "driver_behavior", 500),  # after expiry
    ]
    # when March 2024 is billed
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, packages=[bought])
    # then 400 come from the package, and the 600 calls left in it do not cover the next hour
    assert only_line(bill, LineKind.PACKAGE).calls == 400
    payg = only_line(bill, LineKind.PAYG)
    assert (payg.calls, payg.amount) == (500, D("1.00"))


def test_package_lines_name_each_package_drawn_on():
    at = sh(2024, 3, 1, 9)
    small, big = package("small", 300_000, at), package("big", 1_000_000, at)
    usage = [use(sh(2024, 3, 2, 10), "driver_behavior", 300_010)]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, packages=[big, small])
    assert [(line.reference, line.calls) for line in bill.lines_of(LineKind.PACKAGE)] == [
        ("small", 300_000),
        ("big", 10),
    ]


# --- QPS orders: prices -------------------------------------------------------------------


def test_the_qps_price_table_follows_the_seed():
    assert [(t.upper, t.per_month, t.per_day) for t in QPS_TIERS] == [
        (10, D("500"), D("50")),
        (50, D("400"), D("40")),
        (100, D("300"), D("30")),
        (None, D("200"), D("20")),
    ]


def test_seed_example_one_fifteen_qps_for_a_month_costs_7000():
    # 示例一: 500 x 10 + 400 x 5 = 7000
    assert qps_order_price(15, 1, 0, QPS_TIERS) == D("7000.00")


def test_seed_example_two_two_qps_for_a_month_and_five_days_costs_1500():
    # 示例二: 500 x 2 + 50 x 5 x 2 = 1500
    assert qps_order_price(2, 1, 5, QPS_TIERS) == D("1500.00")


def test_the_consoles_one_qps_for_eight_days_costs_400():
    # the console's order form: 2019.03.25 - 2019.04.01, 1 QPS, ¥400 = 8 days x 50
    assert qps_order_price(1, 0, 8, QPS_TIERS) == D("400.00")


@pytest.mark.parametrize(
    ("qps", "months", "days", "expected"),
    [
        (10, 1, 0, "5000.00"),
        (51, 1, 0, "21300.00"),  # 10 x 500 + 40 x 400 + 1 x 300
        (120, 1, 0, "40000.00"),  # 5000 + 16000 + 15000 + 20 x 200
        (120, 0, 1, "4000.00"),  # 500 + 1600 + 1500 + 20 x 20
        (15, 2, 3, "16100.00"),  # 7000 x 2 + (10 x 50 + 5 x 40) x 3
    ],
)
def test_the_qps_price_is_graduated_within_one_order(qps, months, days, expected):
    assert qps_order_price(qps, months, days, QPS_TIERS) == D(expected)


def test_orders_never_add_up_for_tiering():
    # "阶梯价格梯度按照单次购买的数量计算，不同订单不累计"
    two_orders = qps_order_price(10, 1, 0, QPS_TIERS) + qps_order_price(10, 1, 0, QPS_TIERS)
    assert two_orders == D("10000.00")
    assert qps_order_price(20, 1, 0, QPS_TIERS) == D("9000.00")


@pytest.mark.parametrize(("qps", "months", "days"), [(0, 1, 0), (5, 0, 0), (5, -1, 3), (5, 1, -1)])
def test_an_order_without_qps_or_without_a_period_has_no_price(qps, months, days):
    with pytest.raises(PricingError):
        qps_order_price(qps, months, days, QPS_TIERS)


# --- QPS orders: what may be bought ---------------------------------------------------------


def test_fifty_qps_of_one_api_may_be_bought_in_a_day():
    assert validate_qps_order("body_attr", 50, 1, 0, bought_today=0) is None


def test_fifty_one_qps_in_one_order_is_refused():
    with pytest.raises(PricingError, match="50 QPS"):
        validate_qps_order("body_attr", 51, 1, 0, bought_today=0)


def test_thirty_and_then_twenty_one_qps_on_the_same_day_is_refused():
    validate_qps_order("gesture", 30, 1, 0, bought_today=0)
    with pytest.raises(PricingError, match="30 QPS"):
        validate_qps_order("gesture", 21, 1, 0, bought_today=30)


def test_thirty_today_and_thirty_tomorrow_is_allowed_by_the_shanghai_calendar():
    # given 30 QPS bought at 23:30 Shanghai time (15:30 UTC)
    first = baidu_qps_order(
        BAIDU, "q1", "body_num", 30, 1, 0, sh(2024, 5, 1, 23, 30), bought_today=0
    )
    # when more is bought at 00:10 the next Shanghai day (16:10 UTC, the same UTC day)
    later = sh(2024, 5, 2, 0, 10)
    bought_today = qps_bought_today([first], "body_num", later)
    # then nothing counts against the new day's 50
    assert bought_today == 0
    second = baidu_qps_order(BAIDU, "q2", "body_num", 30, 1, 0, later, bought_today=bought_today)
    assert second.qps == 30


def test_qps_bought_today_adds_only_that_apis_orders_of_that_shanghai_day():
    orders = [
        baidu_qps_order(BAIDU, "a", "body_num", 20, 1, 0, sh(2024, 5, 1, 0, 0), bought_today=0),
        baidu_qps_order(BAIDU, "b", "body_num", 10, 0, 3, sh(2024, 5, 1, 23, 59), bought_today=20),
        baidu_qps_order(BAIDU, "c", "body_seg", 40, 1, 0, sh(2024, 5, 1, 12), bought_today=0),
        baidu_qps_order(BAIDU, "d", "body_num", 40, 1, 0, sh(2024, 4, 30, 23, 59), bought_today=0),
    ]
    assert qps_bought_today(orders, "body_num", sh(2024, 5, 1, 18)) == 30


@pytest.mark.parametrize("api", ["body_tracking", "driver_behavior", "hand_analysis"])
def test_qps_cannot_be_bought_for_apis_the_seed_leaves_out(api):
    with pytest.raises(PricingError, match=api):
        validate_qps_order(api, 5, 1, 0, bought_today=0)


@pytest.mark.parametrize(("qps", "months", "days"), [(0, 1, 0), (5, 0, 0), (-5, 1, 0)])
def test_an_order_without_qps_or_without_a_period_is_refused(qps, months, days):
    with pytest.raises(PricingError):
        validate_qps_order("body_attr", qps, months, days, bought_today=0)


def test_an_order_is_priced_from_the_plan_and_runs_for_its_months_then_its_days():
    order = baidu_qps_order(BAIDU, "q", "body_attr", 2, 1, 5, sh(2024, 1, 10, 10), bought_today=0)
    assert order.price == D("1500.00")
    assert order.expires_at == sh(2024, 2, 15, 10)


# --- QPS orders on the bill ---------------------------------------------------------------


def test_calls_during_an_active_qps_order_cost_nothing_and_afterwards_are_paid():
    # given 2 QPS for a month and five days from 2024-01-10 10:00, ending 2024-02-15 10:00
    order = baidu_qps_order(BAIDU, "q", "body_attr", 2, 1, 5, sh(2024, 1, 10, 10), bought_today=0)
    usage = [
        use(sh(2024, 2, 15, 9), "body_attr", 1_000),  # last hour of the order
        use(sh(2024, 2, 15, 10), "body_attr", 1_000),  # after it
    ]
    # when January and February are billed
    january = baidu_month_bill(2024, 1, usage, plan=BAIDU, qps_orders=[order])
    february = baidu_month_bill(2024, 2, usage, plan=BAIDU, qps_orders=[order])
    # then the order is charged in January, its hours cost nothing, the hour after is paid
    assert only_line(january, LineKind.QPS_ORDER).amount == D("1500.00")
    assert only_line(february, LineKind.QPS_USAGE).calls == 1_000
    assert only_line(february, LineKind.QPS_USAGE).amount == D("0.00")
    assert only_line(february, LineKind.PAYG).amount == D("2.00")
    assert february.lines_of(LineKind.QPS_ORDER) == ()


def test_calls_under_a_qps_order_leave_the_free_quota_untouched():
    quota = baidu_free_quota(BAIDU, "f", "gesture", sh(2024, 1, 1), "personal")
    order = baidu_qps_order(BAIDU, "q", "gesture", 5, 0, 1, sh(2024, 1, 2, 0), bought_today=0)
    usage = [use(sh(2024, 1, 2, 10), "gesture", 3_000), use(sh(2024, 1, 3, 10), "gesture", 12_000)]
    bill = baidu_month_bill(2024, 1, usage, plan=BAIDU, free_quotas=[quota], qps_orders=[order])
    assert only_line(bill, LineKind.QPS_USAGE).calls == 3_000
    assert only_line(bill, LineKind.FREE).calls == 10_000
    assert only_line(bill, LineKind.PAYG).calls == 2_000
    # 5 QPS for one day = 250.00, plus 2,000 paid calls = 4.00
    assert bill.total == D("254.00")


def test_an_order_for_another_api_does_not_cover_this_apis_calls():
    order = baidu_qps_order(BAIDU, "q", "body_seg", 5, 1, 0, sh(2024, 1, 2), bought_today=0)
    usage = [use(sh(2024, 1, 3, 10), "body_attr", 1_000)]
    bill = baidu_month_bill(2024, 1, usage, plan=BAIDU, qps_orders=[order])
    assert only_line(bill, LineKind.PAYG, "body_attr").amount == D("2.00")
