"""Baidu Body Analysis pay-as-you-go tiers, free quota, monthly bills and arrears.

Every expected amount is worked out by hand from the seed's `产品价格` tables.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import pricing
from billing.pricing import (
    Carry,
    Charge,
    HourlyUsage,
    LineKind,
    PricingError,
    Tier,
    baidu_allocate_hours,
    baidu_free_quota,
    baidu_hour_charge,
    baidu_month_bill,
    carry_from_dict,
    carry_to_dict,
    forecast_arrears,
    graduated_amount,
    graduated_increment,
    is_in_arrears,
    plan_from_dict,
    plan_to_dict,
)

D = Decimal
BAIDU = pricing.DEFAULT_PLANS["baidu"]
CTYUN = pricing.DEFAULT_PLANS["ctyun"]
BODY_APIS = ("body_analysis", "body_attr", "body_num", "body_tracking", "gesture")


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=pricing.SHANGHAI)


def tiers_of(api):
    return BAIDU.api(api).payg_tiers


def use(hour_start, api, success, failed=0):
    return HourlyUsage(hour_start=hour_start, api=api, success=success, failed=failed)


def only_line(bill, kind, api=None):
    lines = bill.lines_of(kind, api)
    assert len(lines) == 1, lines
    return lines[0]


# --- the seed's price tables --------------------------------------------------------------

STANDARD = [
    (50_000, "2.0"),
    (300_000, "1.8"),
    (1_000_000, "1.6"),
    (3_000_000, "1.4"),
    (None, "1.0"),
]


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        *((api, STANDARD) for api in BODY_APIS),
        (
            "body_seg",
            [
                (50_000, "4.0"),
                (300_000, "3.6"),
                (1_000_000, "3.2"),
                (3_000_000, "2.8"),
                (None, "2.0"),
            ],
        ),
        (
            "driver_behavior",
            [
                (300_000, "2.0"),
                (1_000_000, "1.6"),
                (2_000_000, "1.2"),
                (5_000_000, "1.0"),
                (None, "0.8"),
            ],
        ),
        ("hand_analysis", [(None, "6.0")]),
    ],
)
def test_the_default_plan_carries_the_seeds_tiers_for_every_api(api, expected):
    # given the seed's tables under `1. 按调用量后付费`
    # when the default plan's tiers are read
    tiers = [(tier.upper, tier.price_per_thousand) for tier in tiers_of(api)]
    # then every bound and every price per 1,000 calls matches
    assert tiers == [(upper, D(price)) for upper, price in expected]


def test_driver_behavior_tiers_match_the_consoles_price_per_call():
    # given the console's "开通付费" table: 0.002, 0.0016, 0.0012, 0.001, 0.0008 CNY per call
    per_call = [tier.price_per_thousand / 1000 for tier in tiers_of("driver_behavior")]
    # then the tiers per 1,000 calls say the same
    assert per_call == [D("0.002"), D("0.0016"), D("0.0012"), D("0.001"), D("0.0008")]


# --- graduated amounts at every bound -----------------------------------------------------


@pytest.mark.parametrize(
    ("api", "calls", "expected"),
    [
        ("body_attr", 0, "0.00"),
        ("body_attr", 50_000, "100.00"),  # 50 x 2.0
        ("body_attr", 50_001, "100.00"),  # 100 + 0.0018
        ("body_attr", 50_003, "100.01"),  # 100 + 0.0054
        ("body_attr", 300_000, "550.00"),  # 100 + 250 x 1.8
        ("body_attr", 300_001, "550.00"),  # 550 + 0.0016
        ("body_attr", 1_000_000, "1670.00"),  # 550 + 700 x 1.6
        ("body_attr", 1_000_001, "1670.00"),  # 1670 + 0.0014
        ("body_attr", 3_000_000, "4470.00"),  # 1670 + 2000 x 1.4
        ("body_attr", 3_000_001, "4470.00"),  # 4470 + 0.001
        ("body_attr", 4_000_000, "5470.00"),  # 4470 + 1000 x 1.0
        ("body_seg", 50_000, "200.00"),  # 50 x 4.0
        ("body_seg", 300_000, "1100.00"),  # 200 + 250 x 3.6
        ("body_seg", 1_000_000, "3340.00"),  # 1100 + 700 x 3.2
        ("body_seg", 3_000_000, "8940.00"),  # 3340 + 2000 x 2.8
        ("body_seg", 3_001_000, "8942.00"),  # 8940 + 1 x 2.0
        ("driver_behavior", 300_000, "600.00"),  # 300 x 2.0
        ("driver_behavior", 300_001, "600.00"),  # 600 + 0.0016
        ("driver_behavior", 1_000_000, "1720.00"),  # 600 + 700 x 1.6
        ("driver_behavior", 2_000_000, "2920.00"),  # 1720 + 1000 x 1.2
        ("driver_behavior", 5_000_000, "5920.00"),  # 2920 + 3000 x 1.0
        ("driver_behavior", 5_000_001, "5920.00"),  # 5920 + 0.0008
        ("driver_behavior", 6_000_000, "6720.00"),  # 5920 + 1000 x 0.8
        ("hand_analysis", 1_000, "6.00"),
        ("hand_analysis", 10_000_000, "60000.00"),
    ],
)
def test_graduated_amount_at_every_tier_bound_matches_the_hand_computed_amount(
    api, calls, expected
):
    # given a month's billable calls of one API
    # when the graduated amount is computed
    breakdown = graduated_amount(calls, tiers_of(api))
    # then the line amount is the hand-computed one
    assert breakdown.amount == D(expected)
    assert breakdown.calls == calls


def test_the_call_above_a_tiers_upper_bound_is_priced_at_the_next_tier():
    # given 50,001 calls, one above the first bound ("超出本阶梯部分按照下一阶梯单价计算")
    breakdown = graduated_amount(50_001, tiers_of("body_analysis"))
    # then 50,000 are at 2.0 and the last one at 1.8, each row unrounded
    rows = [
        (r.lower, r.upper, r.calls, r.price_per_thousand, r.exact_amount) for r in breakdown.rows
    ]
    assert rows == [
        (0, 50_000, 50_000, D("2.0"), D("100.0")),
        (50_000, 300_000, 1, D("1.8"), D("0.0018")),
    ]
    assert breakdown.exact_amount == D("100.0018")


def test_the_fifty_thousandth_call_is_still_in_the_first_tier():
    # given the seed's bound "0<月调用量<=5" (万次): the upper bound is inclusive
    breakdown = graduated_amount(50_000, tiers_of("gesture"))
    # then no call falls in the second tier
    assert [(r.calls, r.price_per_thousand) for r in breakdown.rows] == [(50_000, D("2.0"))]


def test_one_call_rounds_to_nothing_but_three_calls_round_up_to_a_cent():
    # given 2.0 CNY per 1,000 calls
    tiers = tiers_of("body_num")
    # when one call is billed: 0.002; when three are: 0.006
    one, three = graduated_amount(1, tiers), graduated_amount(3, tiers)
    # then the line rounds once, half up, to the cent
    assert (one.exact_amount, one.amount) == (D("0.002"), D("0.00"))
    assert (three.exact_amount, three.amount) == (D("0.006"), D("0.01"))


def test_exactly_half_a_cent_rounds_up():
    # given 3,000,005 calls: 4470 + 5 x 0.001 = 4470.005
    breakdown = graduated_amount(3_000_005, tiers_of("body_attr"))
    # then ROUND_HALF_UP gives 4470.01 (banker's rounding would give 4470.00)
    assert breakdown.exact_amount == D("4470.005")
    assert breakdown.amount == D("4470.01")


def test_graduated_increment_prices_only_the_calls_after_those_already_billed():
    # given 40,000 payg calls already this month
    # when 20,000 more arrive
    breakdown = graduated_increment(40_000, 20_000, tiers_of("body_attr"))
    # then 10,000 fill the first tier at 2.0 and 10,000 go to the second at 1.8
    assert [(r.calls, r.price_per_thousand) for r in breakdown.rows] == [
        (10_000, D("2.0")),
        (10_000, D("1.8")),
    ]
    assert breakdown.amount == D("38.00")


def test_graduated_increment_across_two_bounds_adds_up_to_the_whole_month():
    # given the driver_behavior bounds 300k and 1M
    tiers = tiers_of("driver_behavior")
    # when 250,000 calls were billed and 1,000,000 more arrive
    part = graduated_increment(250_000, 1_000_000, tiers)
    # then 50k at 2.0 + 700k at 1.6 + 250k at 1.2 = 100 + 1120 + 300
    assert part.amount == D("1520.00")
    whole = graduated_amount(1_250_000, tiers)
    assert graduated_amount(250_000, tiers).exact_amount + part.exact_amount == whole.exact_amount


def test_negative_call_counts_are_refused_with_a_reason():
    with pytest.raises(PricingError, match="negative"):
        graduated_amount(-1, tiers_of("body_attr"))


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (Tier(50_000, D("2.0")),),  # no open-ended last tier
        (Tier(50_000, D("2.0")), Tier(40_000, D("1.8")), Tier(None, D("1.0"))),  # bounds fall
        (Tier(None, D("-1.0")),),  # negative price
    ],
)
def test_tiers_that_do_not_rise_to_an_open_end_are_refused(tiers):
    with pytest.raises(PricingError):
        graduated_amount(10, tiers)


# --- free trial quota (`免费测试资源`) ------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "certification", "calls"),
    [
        *((api, "personal", 10_000) for api in (*BODY_APIS, "body_seg")),
        *((api, "enterprise", 50_000) for api in (*BODY_APIS, "body_seg")),
        ("driver_behavior", "personal", 5_000),
        ("driver_behavior", "enterprise", 10_000),
        ("hand_analysis", "personal", 5_000),
        ("hand_analysis", "enterprise", 10_000),
    ],
)
def test_free_quota_size_depends_on_the_api_and_the_certification(api, certification, calls):
    quota = baidu_free_quota(BAIDU, "f", api, sh(2024, 1, 1, 9), certification)
    assert quota.calls == calls


def test_free_quota_expires_365_days_after_the_claim():
    # given a claim on 2024-01-01 09:00 (2024 is a leap year)
    quota = baidu_free_quota(BAIDU, "f", "body_attr", sh(2024, 1, 1, 9), "personal")
    # then it lapses 365 days later, 2024-12-31 09:00
    assert quota.expires_at == sh(2024, 12, 31, 9)


def test_an_unknown_certification_is_refused():
    with pytest.raises(PricingError, match="certification"):
        baidu_free_quota(BAIDU, "f", "body_attr", sh(2024, 1, 1), "anonymous")


def test_calls_use_the_free_quota_before_pay_as_you_go():
    # given an enterprise claim of 50,000 body_attr calls
    quota = baidu_free_quota(BAIDU, "f", "body_attr", sh(2024, 3, 1, 9), "enterprise")
    usage = [
        use(sh(2024, 3, 2, 10), "body_attr", 30_000),
        use(sh(2024, 3, 2, 11), "body_attr", 30_000),
    ]
    # when March is billed
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, free_quotas=[quota])
    # then 50,000 are free and 10,000 are paid at 2.0
    assert only_line(bill, LineKind.FREE).calls == 50_000
    payg = only_line(bill, LineKind.PAYG)
    assert (payg.calls, payg.amount) == (10_000, D("20.00"))
    assert bill.total == D("20.00")


def test_failed_calls_consume_free_quota_but_are_never_billed_for_driver_behavior():
    # given a personal claim of 5,000 driver_behavior calls
    quota = baidu_free_quota(BAIDU, "f", "driver_behavior", sh(2024, 3, 1, 9), "personal")
    usage = [
        # 4,000 successes and 1,000 of the failures use up the free quota
        use(sh(2024, 3, 2, 10), "driver_behavior", success=4_000, failed=2_000),
        use(sh(2024, 3, 2, 11), "driver_behavior", success=1_000, failed=500),
    ]
    # when March is billed
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU, free_quotas=[quota])
    # then the free quota took 5,000 calls, 1,500 failures cost nothing, 1,000 successes are paid
    assert only_line(bill, LineKind.FREE).calls == 5_000
    assert only_line(bill, LineKind.NOT_BILLED).calls == 1_500
    payg = only_line(bill, LineKind.PAYG)
    assert (payg.calls, payg.amount) == (1_000, D("2.00"))


def test_failed_hand_analysis_calls_are_not_billed_after_the_free_quota_either():
    usage = [use(sh(2024, 3, 2, 10), "hand_analysis", success=1_000, failed=4_000)]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    assert only_line(bill, LineKind.PAYG).amount == D("6.00")
    assert only_line(bill, LineKind.NOT_BILLED).calls == 4_000


@pytest.mark.parametrize(("bill_failed", "expected"), [(False, "2.00"), (True, "4.00")])
def test_failed_calls_of_the_other_apis_are_billed_only_when_the_plan_says_so(
    bill_failed, expected
):
    # given a plan where body_attr does (or, by default, does not) bill failed calls
    plan = BAIDU.replace_api("body_attr", bill_failed_calls=bill_failed)
    usage = [use(sh(2024, 3, 2, 10), "body_attr", success=1_000, failed=1_000)]
    # when March is billed
    bill = baidu_month_bill(2024, 3, usage, plan=plan)
    # then the failures are paid only when the plan says so
    assert only_line(bill, LineKind.PAYG).amount == D(expected)


def test_the_default_plan_does_not_bill_failed_calls():
    assert not any(api.bill_failed_calls for api in BAIDU.apis)


@pytest.mark.parametrize("api", ["driver_behavior", "hand_analysis"])
def test_a_plan_cannot_bill_failed_calls_the_seed_says_are_free(api):
    with pytest.raises(PricingError, match="failed calls"):
        BAIDU.replace_api(api, bill_failed_calls=True)


def test_free_quota_covers_the_hour_before_its_expiry_but_not_the_hour_it_expires_in():
    # given a claim on 2024-01-01 08:00, lapsing on 2024-12-31 08:00
    quota = baidu_free_quota(BAIDU, "f", "body_num", sh(2024, 1, 1, 8), "personal")
    usage = [use(sh(2024, 12, 31, 7), "body_num", 100), use(sh(2024, 12, 31, 8), "body_num", 100)]
    # when December is billed
    bill = baidu_month_bill(2024, 12, usage, plan=BAIDU, free_quotas=[quota])
    # then the 07:00 hour is free and the 08:00 hour is paid
    assert only_line(bill, LineKind.FREE).calls == 100
    payg = only_line(bill, LineKind.PAYG)
    assert (payg.calls, payg.amount) == (100, D("0.20"))


def test_a_free_quota_claimed_last_year_is_used_up_across_months():
    # given 10,000 free calls claimed in November 2023 and used in November and December
    quota = baidu_free_quota(BAIDU, "f", "body_attr", sh(2023, 11, 20, 9), "personal")
    usage = [
        use(sh(2023, 11, 25, 10), "body_attr", 4_000),
        use(sh(2023, 12, 5, 10), "body_attr", 5_000),
        use(sh(2024, 1, 3, 10), "body_attr", 3_000),
    ]
    # when January 2024 is billed from every hour since the claim
    bill = baidu_month_bill(2024, 1, usage, plan=BAIDU, free_quotas=[quota])
    # then only the 1,000 calls left are free and 2,000 are paid
    assert only_line(bill, LineKind.FREE).calls == 1_000
    assert only_line(bill, LineKind.PAYG).amount == D("4.00")


def test_a_month_billed_from_the_previous_months_closing_state_matches_a_full_replay():
    # given usage since a November claim, and December's bill with its closing state
    quota = baidu_free_quota(BAIDU, "f", "body_attr", sh(2023, 11, 20, 9), "personal")
    earlier = [
        use(sh(2023, 11, 25, 10), "body_attr", 4_000),
        use(sh(2023, 12, 5, 10), "body_attr", 70_000),
    ]
    january = [
        use(sh(2024, 1, 3, 10), "body_attr", 3_000),
        use(sh(2024, 1, 31, 23), "body_attr", 9),
    ]
    december = baidu_month_bill(2023, 12, earlier, plan=BAIDU, free_quotas=[quota])
    # when January is billed from that state and only January's hours
    carried = baidu_month_bill(
        2024, 1, january, plan=BAIDU, free_quotas=[quota], carried=december.closing
    )
    replayed = baidu_month_bill(2024, 1, earlier + january, plan=BAIDU, free_quotas=[quota])
    # then both give the same lines and total
    assert carried.lines == replayed.lines
    assert carried.total == replayed.total
    assert december.closing.as_of == sh(2024, 1, 1)
    assert december.closing.free_used == {"f": 10_000}


def test_a_carried_state_survives_a_round_trip_through_json():
    quota = baidu_free_quota(BAIDU, "f", "body_attr", sh(2024, 2, 20, 9), "personal")
    usage = [use(sh(2024, 2, 25, 10), "body_attr", 4_000)]
    closing = baidu_month_bill(2024, 2, usage, plan=BAIDU, free_quotas=[quota]).closing
    assert carry_from_dict(json.loads(json.dumps(carry_to_dict(closing)))) == closing


def test_a_carried_state_from_after_the_month_start_is_refused():
    carried = Carry(as_of=sh(2024, 3, 2))
    with pytest.raises(PricingError, match="carried"):
        baidu_month_bill(2024, 3, [], plan=BAIDU, carried=carried)


def test_pay_as_you_go_volume_restarts_at_the_start_of_each_shanghai_month():
    # given 50,000 calls in Shanghai's last hour of February and 10,000 in its first of March
    # (16:00 UTC on 29 February is already 1 March in Shanghai)
    usage = [
        use(datetime(2024, 2, 29, 15, tzinfo=UTC), "body_num", 50_000),
        use(datetime(2024, 2, 29, 16, tzinfo=UTC), "body_num", 10_000),
    ]
    february = baidu_month_bill(2024, 2, usage, plan=BAIDU)
    march = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    # then March starts again in the first tier
    assert february.total == D("100.00")
    assert march.total == D("20.00")


def test_hourly_charges_restart_in_the_first_tier_at_the_shanghai_month_start():
    # given 50,000 paid calls in February's last hour and 10,000 in March's first
    usage = [
        use(sh(2024, 2, 29, 23), "body_num", 50_000),
        use(sh(2024, 3, 1, 0), "body_num", 10_000),
    ]
    # when the hours are allocated and charged one by one
    allocations, closing = baidu_allocate_hours(usage, plan=BAIDU, until=sh(2024, 3, 1, 1))
    # then March's first hour starts again from zero, at 2.0
    assert [a.payg_before for a in allocations] == [0, 0]
    assert baidu_hour_charge(allocations[1], BAIDU) == D("20.0")
    assert closing.payg_month_to_date == {"body_num": 10_000}
    # and a state carried to the month's end holds no month-to-date volume
    _, at_month_end = baidu_allocate_hours(usage[:1], plan=BAIDU, until=sh(2024, 3, 1))
    assert at_month_end.payg_month_to_date == {}


def test_rounding_happens_once_per_bill_line_not_once_per_hour():
    # given three hours of one paid call each, 0.002 CNY apiece
    hours = [sh(2024, 3, 2, h) for h in (10, 11, 12)]
    usage = [use(hour, "body_attr", 1) for hour in hours]
    allocations, _ = baidu_allocate_hours(usage, plan=BAIDU, until=sh(2024, 4, 1))
    # when each hour is charged exactly and the month is billed
    hourly = [baidu_hour_charge(a, BAIDU) for a in allocations]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    # then the hours add up to 0.006 exactly, and only the line rounds: 0.01
    assert hourly == [D("0.002")] * 3
    assert sum(hourly) == D("0.006")
    assert only_line(bill, LineKind.PAYG).amount == D("0.01")


def test_the_payg_line_shows_its_tier_breakdown():
    usage = [use(sh(2024, 3, 2, 10), "body_attr", 60_000)]
    payg = only_line(baidu_month_bill(2024, 3, usage, plan=BAIDU), LineKind.PAYG)
    assert [(r.lower, r.upper, r.calls, r.price_per_thousand) for r in payg.tiers] == [
        (0, 50_000, 50_000, D("2.0")),
        (50_000, 300_000, 10_000, D("1.8")),
    ]
    assert payg.amount == D("118.00")


def test_several_rollup_rows_for_one_hour_and_api_are_added_together():
    usage = [use(sh(2024, 3, 2, 10), "body_attr", 1), use(sh(2024, 3, 2, 10), "body_attr", 2)]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    assert only_line(bill, LineKind.PAYG).calls == 3


def test_the_bill_total_is_the_sum_of_its_rounded_lines():
    usage = [
        use(sh(2024, 3, 2, 10), api, 1_001) for api in ("body_attr", "body_seg", "hand_analysis")
    ]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    # 2.002 -> 2.00, 4.004 -> 4.00, 6.006 -> 6.01
    assert [line.amount for line in bill.lines_of(LineKind.PAYG)] == [
        D("2.00"),
        D("4.00"),
        D("6.01"),
    ]
    assert bill.total == D("12.01")


def test_hours_outside_the_month_are_left_off_the_bill():
    usage = [use(sh(2024, 2, 29, 23), "body_attr", 5), use(sh(2024, 4, 1, 0), "body_attr", 7)]
    bill = baidu_month_bill(2024, 3, usage, plan=BAIDU)
    assert bill.lines == ()
    assert bill.total == D("0.00")


def test_usage_of_an_api_the_plan_does_not_price_is_refused():
    usage = [use(sh(2024, 3, 2, 10), "fingertip", 1)]
    with pytest.raises(PricingError, match="fingertip"):
        baidu_month_bill(2024, 3, usage, plan=BAIDU)


def test_a_rollup_without_a_time_zone_is_refused():
    usage = [use(datetime(2024, 3, 2, 10), "body_attr", 1)]
    with pytest.raises(PricingError, match="time zone"):
        baidu_month_bill(2024, 3, usage, plan=BAIDU)


def test_a_rollup_that_does_not_start_on_the_hour_is_refused():
    usage = [use(sh(2024, 3, 2, 10, 30), "body_attr", 1)]
    with pytest.raises(PricingError, match="hour"):
        baidu_month_bill(2024, 3, usage, plan=BAIDU)


def test_a_second_free_quota_claim_for_one_api_is_refused():
    claims = [
        baidu_free_quota(BAIDU, "a", "body_attr", sh(2024, 1, 1), "personal"),
        baidu_free_quota(BAIDU, "b", "body_attr", sh(2024, 2, 1), "enterprise"),
    ]
    with pytest.raises(PricingError, match="one-off"):
        baidu_month_bill(2024, 3, [], plan=BAIDU, free_quotas=claims)


# --- plans as data ------------------------------------------------------------------------


@pytest.mark.parametrize("plan", [BAIDU, CTYUN])
def test_a_plan_survives_a_round_trip_through_json(plan):
    # given a plan stored as JSON
    stored = json.dumps(plan_to_dict(plan))
    # when it is read back
    restored = plan_from_dict(json.loads(stored))
    # then it is the same plan, prices still exact decimals
    assert restored == plan
    assert isinstance(restored.apis[0].package_specs, tuple)


def test_a_plan_stores_prices_as_strings_so_json_keeps_them_exact():
    stored = plan_to_dict(BAIDU)
    assert stored["vendor"] == "baidu"
    assert stored["apis"][0]["payg_tiers"][0] == {"upper": 50_000, "price_per_thousand": "2.0"}


def test_a_stored_plan_of_an_unknown_vendor_is_refused():
    with pytest.raises(PricingError, match="vendor"):
        plan_from_dict({"vendor": "acme"})


def test_the_default_plans_cannot_be_changed_in_place():
    with pytest.raises(TypeError):
        pricing.DEFAULT_PLANS["baidu"] = BAIDU
    with pytest.raises(dataclasses.FrozenInstanceError):
        BAIDU.name = "other"


# --- arrears (`余额不足提醒`, `欠费处理`) ----------------------------------------------------

NOW = sh(2024, 3, 10, 12)


def hourly_charges(amount, hours):
    return [
        Charge(NOW - (i + 1) * timedelta(hours=1), NOW - i * timedelta(hours=1), D(amount))
        for i in range(hours)
    ]


def test_the_balance_runs_out_after_balance_over_run_rate():
    # given one day of 1.00 CNY per hour: 24.00 a day
    forecast = forecast_arrears(D("100"), hourly_charges("1.00", 24), now=NOW)
    # then 100.00 lasts 100/24 days and no reminder is due yet
    assert forecast.daily_run_rate == D("24")
    assert abs(forecast.runs_out_at - (NOW + timedelta(hours=100))) < timedelta(seconds=1)
    assert forecast.reminder_days_before is None


@pytest.mark.parametrize(
    ("balance", "reminder"),
    [("72.01", None), ("72", 3), ("60", 3), ("48.01", 3), ("48", 2), ("24", 1), ("1", 1)],
)
def test_a_reminder_is_due_three_two_and_one_day_before_the_balance_runs_out(balance, reminder):
    forecast = forecast_arrears(D(balance), hourly_charges("1.00", 24), now=NOW)
    assert forecast.reminder_days_before == reminder


def test_daily_charges_give_the_same_run_rate_as_hourly_ones():
    daily = [
        Charge(NOW - timedelta(days=i + 1), NOW - timedelta(days=i), D("24.00")) for i in range(7)
    ]
    assert forecast_arrears(D("60"), daily, now=NOW).daily_run_rate == D("24")


def test_only_the_lookback_window_sets_the_run_rate():
    old = [Charge(NOW - timedelta(days=30), NOW - timedelta(days=29), D("1000"))]
    forecast = forecast_arrears(D("60"), old + hourly_charges("1.00", 24), now=NOW)
    assert forecast.daily_run_rate == D("24")


def test_without_charges_the_balance_never_runs_out():
    forecast = forecast_arrears(D("10"), [], now=NOW)
    assert (forecast.runs_out_at, forecast.reminder_days_before) == (None, None)


def test_an_empty_balance_has_already_run_out_and_gets_no_reminder():
    forecast = forecast_arrears(D("0"), hourly_charges("1.00", 24), now=NOW)
    assert forecast.runs_out_at == NOW
    assert forecast.reminder_days_before is None


@pytest.mark.parametrize(("balance", "arrears"), [("5.00", True), ("5.01", False), ("5.02", False)])
def test_the_account_is_in_arrears_when_the_balance_cannot_pay_the_last_hours_bill(
    balance, arrears
):
    assert is_in_arrears(D(balance), D("5.01")) is arrears
