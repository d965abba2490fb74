"""Monthly bills from the ledger, the plan in force, free quota, packages and QPS orders;
final bills frozen; price plans as versioned data.

Every expected amount is worked out by hand from the seeds' tables (SPEC.md sections 2-3):
Baidu body APIs 2.0 / 1.8 per 1,000 calls below / above 50,000 a month; driver_behavior
2.0 up to 300,000; 15 QPS for a month = 500 x 10 + 400 x 5 = 7000; enterprise free quota
50,000 calls per API; CTYun 10,000 free calls a year per API, packages at 0 in the beta.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing import bills, plans, pricing, purchases
from billing.models import Bill, HourlyRollup, Outcome, PricePlan, UsageRecord
from billing.pricing import SHANGHAI, PricingError
from billing.pricing.calendar import parse_month
from tests.factories import LocalAccountFactory

D = Decimal
_ids = itertools.count()


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def rolled_up(account, api, at, success, failed=0):
    """Calls as the hourly rollup leaves them (big volumes without a row per call)."""
    hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rollup, _ = HourlyRollup.objects.get_or_create(account=account, api=api, hour=hour)
    rollup.success += success
    rollup.failed += failed
    rollup.save()


def calls(account, api, at, count=1, outcome=Outcome.SUCCESS):
    """Calls recorded in the ledger (not rolled up yet)."""
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account, api=api, request_id=f"c{next(_ids)}", occurred_at=at, outcome=outcome
        )
        for _ in range(count)
    )


def only(view, kind, api=None):
    lines = view.lines_of(kind, api)
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def enterprise(db):
    """A Baidu enterprise account whose free quota was claimed on 1 January 2024."""
    return purchases.add_account(
        "Plant 1 Baidu", "baidu", "enterprise", free_claimed_at=sh(2024, 1, 1)
    )


@pytest.fixture
def unclaimed(db):
    """A Baidu account that never claimed its free quota: everything is paid."""
    return purchases.add_account("Plant 2 Baidu", "baidu", "enterprise")


# --- price plans ----------------------------------------------------------------------------


def test_the_migration_loads_the_seed_plans_effective_from_2000(db):
    for vendor in ("baidu", "ctyun"):
        version = PricePlan.objects.get(vendor=vendor)
        assert version.effective_from == sh(2000, 1, 1)
        assert version.data == pricing.plan_to_dict(pricing.DEFAULT_PLANS[vendor])
        assert plans.plan_at(vendor, sh(2024, 3, 1)) == pricing.DEFAULT_PLANS[vendor]


def test_a_new_version_is_in_force_from_its_start_and_history_is_kept(db):
    # given a Baidu plan whose body_attr costs double, from 15 March 2024
    dearer = pricing.DEFAULT_PLANS["baidu"].replace_api(
        "body_attr", payg_tiers=(pricing.Tier(None, D("4.0")),)
    )
    plans.add_version("baidu", dearer, sh(2024, 3, 15), None, "body_attr doubled")
    # then moments before it see the seed plan, and after it the new one
    assert plans.plan_at("baidu", sh(2024, 3, 14, 23, 59)) == pricing.DEFAULT_PLANS["baidu"]
    assert plans.plan_at("baidu", sh(2024, 3, 15)) == dearer
    assert PricePlan.objects.filter(vendor="baidu").count() == 2
    # and a month's usage is priced by the version in force at the month's start
    assert plans.plan_for_month("baidu", 2024, 3) == pricing.DEFAULT_PLANS["baidu"]
    assert plans.plan_for_month("baidu", 2024, 4) == dearer


def test_a_plan_version_is_added_from_its_stored_form_and_checked(db):
    data = pricing.plan_to_dict(pricing.DEFAULT_PLANS["ctyun"])
    version = plans.add_version("ctyun", data, sh(2025, 1, 1), None, "same prices")
    assert pricing.plan_from_dict(version.data) == pricing.DEFAULT_PLANS["ctyun"]
    with pytest.raises(PricingError, match="not a baidu plan"):
        plans.add_version("baidu", data, sh(2025, 1, 1))
    with pytest.raises(PricingError, match="malformed"):
        plans.add_version("ctyun", {"vendor": "ctyun"}, sh(2025, 2, 1))
    with pytest.raises(PricingError, match="already starts"):
        plans.add_version("ctyun", data, sh(2025, 1, 1))


def test_a_plan_version_cannot_start_inside_or_before_a_finalized_month(enterprise):
    # given March 2024 finalized for a Baidu account
    bills.finalize(enterprise, 2024, 3)
    plan = pricing.DEFAULT_PLANS["baidu"]
    # when a version is backdated into March, it is refused
    with pytest.raises(PricingError, match="history is never rewritten"):
        plans.add_version("baidu", plan, sh(2024, 3, 20))
    # and one from April on is accepted
    assert plans.add_version("baidu", plan, sh(2024, 4, 1)).pk


def test_a_purchase_is_priced_by_the_version_in_force_when_it_is_made(unclaimed):
    # given a cheaper driver_behavior package from 15 March 2024
    cheaper = pricing.DEFAULT_PLANS["baidu"].replace_api(
        "driver_behavior",
        package_specs=(pricing.PackageSpec(300_000, D("450")),),
    )
    plans.add_version("baidu", cheaper, sh(2024, 3, 15))
    # when packages are bought before and after
    before = purchases.buy_package(unclaimed, "driver_behavior", 300_000, sh(2024, 3, 1))
    after = purchases.buy_package(unclaimed, "driver_behavior", 300_000, sh(2024, 3, 20))
    # then each is priced by its own moment's plan, and the bill shows what was paid
    assert (before.price, after.price) == (D("500.00"), D("450.00"))
    view = bills.current_bill(unclaimed, 2024, 3)
    paid = [line["amount"] for line in view.lines_of("package_purchase")]
    assert paid == ["500.00", "450.00"]


# --- Baidu bills ----------------------------------------------------------------------------


def test_an_enterprise_account_pays_only_the_calls_beyond_its_free_quota(enterprise):
    # given 80,000 body_attr calls in March 2024 and 50,000 free calls
    for day in range(1, 9):
        rolled_up(enterprise, "body_attr", sh(2024, 3, day, 10), 10_000)
    # when March is billed
    view = bills.current_bill(enterprise, 2024, 3)
    # then 50,000 are free and 30,000 cost 2.0 per 1,000 = 60.00
    assert only(view, "free", "body_attr")["calls"] == 50_000
    payg = only(view, "payg", "body_attr")
    assert (payg["calls"], payg["amount"]) == (30_000, "60.00")
    assert payg["tiers"] == [
        {"from": 0, "to": 50_000, "calls": 30_000, "unit_price": "2.0", "amount": "60.00"}
    ]
    assert view.total == D("60.00")


def test_a_month_crossing_50000_paid_calls_prices_the_rest_at_the_next_tier(unclaimed):
    # given 70,000 paid body_attr calls in March
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 2, 9), 40_000)
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 20, 9), 30_000)
    # when March is billed
    view = bills.current_bill(unclaimed, 2024, 3)
    # then 50,000 x 2.0 + 20,000 x 1.8 per 1,000 = 100.00 + 36.00 = 136.00
    payg = only(view, "payg", "body_attr")
    assert payg["amount"] == "136.00"
    assert [(t["from"], t["to"], t["calls"], t["amount"]) for t in payg["tiers"]] == [
        (0, 50_000, 50_000, "100.00"),
        (50_000, 300_000, 20_000, "36.00"),
    ]
    assert view.total == D("136.00")


def test_the_free_quota_is_used_up_across_months_without_final_bills(enterprise):
    # given 30,000 body_attr calls in February and 30,000 in March
    rolled_up(enterprise, "body_attr", sh(2024, 2, 10, 9), 30_000)
    rolled_up(enterprise, "body_attr", sh(2024, 3, 10, 9), 30_000)
    # when March is billed (history replayed from the claim)
    view = bills.current_bill(enterprise, 2024, 3)
    # then 20,000 free calls were left, and 10,000 cost 20.00
    assert only(view, "free")["calls"] == 20_000
    assert only(view, "payg")["amount"] == "20.00"


def test_a_driver_behavior_package_is_bought_and_deducted_before_paying(unclaimed):
    # given a 300,000-call package bought on 1 March and 320,000 calls on 10 March
    package = purchases.buy_package(unclaimed, "driver_behavior", 300_000, sh(2024, 3, 1))
    rolled_up(unclaimed, "driver_behavior", sh(2024, 3, 10, 14), 320_000)
    # when March is billed
    view = bills.current_bill(unclaimed, 2024, 3)
    # then the package takes 300,000 calls, 20,000 cost 2.0 per 1,000 = 40.00, and the
    # package's price is on the month it was bought in
    used = only(view, "package", "driver_behavior")
    assert (used["calls"], used["amount"], used["reference"]) == (
        300_000,
        "0.00",
        f"package:{package.pk}",
    )
    assert "300,000-call package bought 2024-03-01 00:00" in used["note"]
    assert only(view, "payg", "driver_behavior")["amount"] == "40.00"
    assert only(view, "package_purchase")["amount"] == "500.00"
    assert view.total == D("540.00")


def test_a_qps_order_is_charged_on_its_month_and_makes_calls_free_while_active(unclaimed):
    # given 15 QPS of body_attr bought for one month on 5 March 10:00
    purchases.buy_qps(unclaimed, "body_attr", 15, 1, 0, sh(2024, 3, 5, 10))
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 10, 9), 1_000)
    rolled_up(unclaimed, "body_attr", sh(2024, 4, 4, 9), 2_000)
    rolled_up(unclaimed, "body_attr", sh(2024, 4, 6, 9), 3_000)
    # when March and April are billed
    march = bills.current_bill(unclaimed, 2024, 3)
    april = bills.current_bill(unclaimed, 2024, 4)
    # then March carries the order, 500 x 10 + 400 x 5 = 7000.00, and its calls cost nothing
    assert only(march, "qps_order")["amount"] == "7000.00"
    assert only(march, "qps_usage")["calls"] == 1_000
    assert march.lines_of("payg") == []
    assert march.total == D("7000.00")
    # and in April the calls before 5 April 10:00 are covered, those after are paid
    assert april.lines_of("qps_order") == []
    assert only(april, "qps_usage")["calls"] == 2_000
    assert only(april, "payg")["amount"] == "6.00"


def test_failed_calls_use_the_free_quota_but_are_not_paid_beyond_it(unclaimed):
    rolled_up(unclaimed, "body_num", sh(2024, 3, 3, 9), 1_000, failed=500)
    view = bills.current_bill(unclaimed, 2024, 3)
    assert only(view, "payg")["calls"] == 1_000
    assert only(view, "not_billed")["calls"] == 500


def test_calls_of_an_api_the_plan_does_not_price_are_listed_apart(unclaimed):
    calls(unclaimed, "fingertip", sh(2024, 3, 3, 9), 3)
    calls(unclaimed, "body_attr", sh(2024, 3, 3, 9), 2)
    view = bills.current_bill(unclaimed, 2024, 3)
    assert view.unpriced_calls == {"fingertip": 3}
    assert {line["api"] for line in view.lines} == {"body_attr"}


def test_calls_not_rolled_up_yet_are_on_the_bill(unclaimed):
    calls(unclaimed, "body_attr", sh(2024, 3, 3, 9), 5)
    calls(unclaimed, "body_attr", sh(2024, 3, 3, 9), 2, Outcome.TRANSPORT_ERROR)
    assert only(bills.current_bill(unclaimed, 2024, 3), "payg")["calls"] == 5


# --- CTYun bills ----------------------------------------------------------------------------


def test_ctyun_free_quota_comes_first_then_the_package(db):
    # given a CTYun account that claimed its free quota in January and bought a package
    account = purchases.add_account(
        "Plant 1 CTYun", "ctyun", "enterprise", free_claimed_at=sh(2024, 1, 15)
    )
    package = purchases.buy_package(account, "helmet", 100_000, sh(2024, 2, 1))
    # when 15,000 helmet calls succeed and 500 fail in March
    rolled_up(account, "helmet", sh(2024, 3, 5, 9), 15_000, failed=500)
    view = bills.current_bill(account, 2024, 3)
    # then 10,000 come from the free quota, 5,000 from the package, failures are not counted
    assert only(view, "free", "helmet")["calls"] == 10_000
    used = only(view, "package", "helmet")
    assert (used["calls"], used["reference"]) == (5_000, f"package:{package.pk}")
    assert only(view, "not_billed", "helmet")["calls"] == 500
    assert view.total == D("0.00")
    # and the package (0 CNY in the public beta) is on February's bill
    february = bills.current_bill(account, 2024, 2)
    assert only(february, "package_purchase")["amount"] == "0.00"


def test_ctyun_free_quota_is_valid_for_the_calendar_year_of_the_claim(db):
    account = purchases.add_account(
        "Plant 2 CTYun", "ctyun", "enterprise", free_claimed_at=sh(2024, 12, 1)
    )
    rolled_up(account, "fence", sh(2025, 1, 2, 9), 10)
    view = bills.current_bill(account, 2025, 1)
    assert view.lines_of("free") == []
    assert only(view, "over_quota", "fence")["calls"] == 10


def test_ctyun_limited_time_free_abilities_need_nothing(db):
    account = purchases.add_account("Plant 3 CTYun", "ctyun", "personal")
    calls(account, "fall", sh(2024, 3, 5, 9), 4)
    view = bills.current_bill(account, 2024, 3)
    assert only(view, "limited_time_free", "fall")["calls"] == 4


# --- final bills ----------------------------------------------------------------------------


def test_a_finalized_bill_is_stored_and_never_recomputed(unclaimed):
    # given March finalized with 10,000 paid calls
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 3, 9), 10_000)
    final = bills.finalize(unclaimed, 2024, 3)
    assert (final.status, final.total) == ("final", D("20.00"))
    # when late calls of March are recorded afterwards
    calls(unclaimed, "body_attr", sh(2024, 3, 31, 23), 1_000)
    view = bills.current_bill(unclaimed, 2024, 3)
    # then the bill keeps its lines and total, and says how many calls came late
    assert view.status == "final"
    assert view.total == D("20.00")
    assert only(view, "payg")["calls"] == 10_000
    assert view.late_calls == {"body_attr": 1_000}
    stored = Bill.objects.get(account=unclaimed, year=2024, month=3)
    assert stored.closing["payg_month_to_date"] == {}


def test_a_month_is_finalized_once_and_only_after_it_ended(unclaimed):
    bills.finalize(unclaimed, 2024, 3)
    with pytest.raises(PricingError, match="already final"):
        bills.finalize(unclaimed, 2024, 3)
    with pytest.raises(PricingError, match="has not ended"):
        bills.finalize(unclaimed, 2999, 1)


def test_the_month_after_a_final_bill_starts_from_its_frozen_state(enterprise):
    # given February finalized after 40,000 free calls
    rolled_up(enterprise, "body_attr", sh(2024, 2, 3, 9), 40_000)
    bills.finalize(enterprise, 2024, 2)
    # when more February calls arrive late and 20,000 calls are made in March
    rolled_up(enterprise, "body_attr", sh(2024, 2, 28, 9), 5_000)
    rolled_up(enterprise, "body_attr", sh(2024, 3, 3, 9), 20_000)
    view = bills.current_bill(enterprise, 2024, 3)
    # then March starts from the frozen 40,000 used: 10,000 free, 10,000 paid (20.00)
    assert only(view, "free")["calls"] == 10_000
    assert only(view, "payg")["amount"] == "20.00"


def test_adjustments_go_on_final_bills_only_and_change_the_total(unclaimed):
    # given a draft and a final month
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 3, 9), 10_000)
    draft = bills.current_bill(unclaimed, 2024, 4)
    with pytest.raises(PricingError, match="Only a final bill"):
        bills.add_adjustment(draft, "", D("1.00"), "early")
    final = bills.finalize(unclaimed, 2024, 3)
    # when a credit is added to the final bill
    bills.add_adjustment(final, "body_attr", D("-5.50"), "disputed calls", None)
    view = bills.current_bill(unclaimed, 2024, 3)
    # then the lines stay, and the total includes the credit
    assert view.lines_total == D("20.00")
    assert view.total == D("14.50")
    assert [(a["api"], a["amount"], a["note"]) for a in view.adjustments] == [
        ("body_attr", "-5.50", "disputed calls")
    ]
    with pytest.raises(PricingError, match="needs a note"):
        bills.add_adjustment(final, "", D("1.00"), " ")
    with pytest.raises(PricingError, match="two decimals"):
        bills.add_adjustment(final, "", D("1.005"), "x")


# --- the bill as JSON, usage series, projection ---------------------------------------------------


def test_the_bill_json_has_amounts_as_two_decimal_strings_and_tiers_under_lines(unclaimed):
    rolled_up(unclaimed, "body_seg", sh(2024, 3, 3, 9), 1)
    data = json.loads(json.dumps(bills.current_bill(unclaimed, 2024, 3).to_dict()))
    assert (data["account"], data["month"], data["status"]) == ("Plant 2 Baidu", "2024-03", "draft")
    assert data["total"] == "0.00"
    line = data["lines"][0]
    assert (line["api"], line["kind"], line["calls"], line["amount"]) == (
        "body_seg",
        "payg",
        1,
        "0.00",
    )
    assert line["tiers"] == [
        {"from": 0, "to": 50_000, "calls": 1, "unit_price": "4.0", "amount": "0.004"}
    ]
    assert data["period_start"] == "2024-03-01T00:00:00+08:00"
    assert data["plan"]["effective_from"] == "2000-01-01T00:00:00+08:00"


def test_daily_usage_counts_calls_per_api_per_shanghai_day(unclaimed):
    # given calls late on 1 March and early on 2 March, Shanghai time (both 1 March in UTC)
    calls(unclaimed, "body_attr", sh(2024, 3, 1, 23, 30), 2)
    calls(unclaimed, "body_attr", sh(2024, 3, 2, 0, 30), 1, Outcome.VENDOR_ERROR)
    calls(unclaimed, "body_num", sh(2024, 3, 2, 7, 59), 3)
    # when the March series is read
    series = bills.daily_usage(unclaimed, 2024, 3)
    # then each lands on its Shanghai day
    assert series == [
        {"day": "2024-03-01", "api": "body_attr", "success": 2, "failed": 0, "calls": 2},
        {"day": "2024-03-02", "api": "body_attr", "success": 0, "failed": 1, "calls": 1},
        {"day": "2024-03-02", "api": "body_num", "success": 3, "failed": 0, "calls": 3},
    ]


def test_the_month_end_projection_prices_the_linear_volume_through_the_tiers(unclaimed):
    # given 30,000 paid body_attr calls in the first half of March (15.5 of 31 days)
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 5, 9), 30_000)
    # when the month is projected at mid-month
    projection = bills.project_month(unclaimed, 2024, 3, now=sh(2024, 3, 16, 12))
    # then 60,000 calls are expected: 50,000 x 2.0 + 10,000 x 1.8 = 118.00, not 2 x 60.00
    assert projection.elapsed_fraction == 0.5
    assert projection.total_so_far == D("60.00")
    assert projection.projected_calls == {"body_attr": 60_000}
    assert projection.projected_total == D("118.00")


def test_an_ended_month_projects_to_its_bill(unclaimed):
    rolled_up(unclaimed, "body_attr", sh(2024, 3, 5, 9), 1_000)
    projection = bills.project_month(unclaimed, 2024, 3, now=sh(2024, 5, 1))
    assert projection.projected_total == projection.total_so_far == D("2.00")


def test_accounts_without_per_call_billing_have_no_bill(db):

    local = LocalAccountFactory(name="Local")
    with pytest.raises(PricingError, match="not billed per call"):
        bills.current_bill(local, 2024, 3)


@pytest.mark.parametrize("text", ["2024-3", "2024/03", "24-03", "2024-13", "March"])
def test_a_malformed_month_is_refused(text):
    with pytest.raises(PricingError):
        parse_month(text)
