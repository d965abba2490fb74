"""Recording accounts, top-ups, count packages and QPS orders, with the vendors' refusals
(SPEC.md section 2: ``2. 购买次数包``, ``3. 按QPS购买``; section 3: ``3.1 计费模式``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from billing import bills, purchases, settlement
from billing.models import Package, QpsOrder, TopUp
from billing.pricing import SHANGHAI, PricingError
from monitoring.models import VendorAccount

D = Decimal


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def baidu(db):
    return purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")


@pytest.fixture
def ctyun(db):
    return purchases.add_account("Plant 1 CTYun", "ctyun", "enterprise")


# --- QPS orders -------------------------------------------------------------------------------


def test_fifteen_qps_for_a_month_cost_7000(baidu):
    order = purchases.buy_qps(baidu, "body_attr", 15, 1, 0, sh(2024, 3, 5, 10))
    assert order.price == D("7000.00")
    assert order.expires_at == sh(2024, 4, 5, 10)


def test_two_qps_for_a_month_and_five_days_cost_1500(baidu):
    # the seed's second worked example: 500 x 2 + 50 x 5 x 2
    order = purchases.buy_qps(baidu, "gesture", 2, 1, 5, sh(2024, 3, 5, 10))
    assert order.price == D("1500.00")
    assert order.expires_at == sh(2024, 4, 10, 10)


def test_more_than_50_qps_in_one_order_is_refused(baidu):
    with pytest.raises(PricingError, match="At most 50 QPS of body_attr may be bought per day"):
        purchases.buy_qps(baidu, "body_attr", 51, 1, 0, sh(2024, 3, 5, 10))
    assert not QpsOrder.objects.exists()


def test_orders_of_one_api_on_one_shanghai_day_may_not_exceed_50_qps(baidu):
    # given 30 QPS of body_attr bought at 09:00 on 5 March
    purchases.buy_qps(baidu, "body_attr", 30, 1, 0, sh(2024, 3, 5, 9))
    # when 21 more are ordered the same day, it is refused with the arithmetic
    with pytest.raises(PricingError, match="30 QPS were bought today, so 21 more would make 51"):
        purchases.buy_qps(baidu, "body_attr", 21, 1, 0, sh(2024, 3, 5, 23, 59))
    # then 20 more are fine, another API has its own cap, and the next day starts afresh
    purchases.buy_qps(baidu, "body_attr", 20, 1, 0, sh(2024, 3, 5, 23, 59))
    purchases.buy_qps(baidu, "body_num", 50, 1, 0, sh(2024, 3, 5, 12))
    purchases.buy_qps(baidu, "body_attr", 21, 1, 0, sh(2024, 3, 6, 0, 0))
    assert QpsOrder.objects.count() == 4


def test_qps_is_not_sold_for_apis_without_qps_purchase(baidu):
    with pytest.raises(PricingError, match="QPS cannot be bought for driver_behavior"):
        purchases.buy_qps(baidu, "driver_behavior", 5, 1, 0, sh(2024, 3, 5))


def test_a_qps_order_needs_a_period(baidu):
    with pytest.raises(PricingError, match="at least one month or one day"):
        purchases.buy_qps(baidu, "body_attr", 5, 0, 0, sh(2024, 3, 5))


def test_ctyun_sells_no_qps(ctyun):
    with pytest.raises(PricingError, match="QPS is sold by Baidu only"):
        purchases.buy_qps(ctyun, "helmet", 5, 1, 0, sh(2024, 3, 5))


# --- count packages ---------------------------------------------------------------------------


def test_a_driver_behavior_package_is_priced_and_valid_twelve_months(baidu):
    package = purchases.buy_package(baidu, "driver_behavior", 1_000_000, sh(2024, 2, 29, 15))
    assert package.price == D("1200.00")
    assert package.expires_at == sh(2025, 2, 28, 15)


def test_a_package_for_body_attr_is_refused(baidu):
    with pytest.raises(PricingError, match="No count packages are sold for body_attr"):
        purchases.buy_package(baidu, "body_attr", 300_000, sh(2024, 3, 1))
    assert not Package.objects.exists()


def test_a_package_size_not_on_sale_is_refused_with_the_sizes_on_sale(baidu):
    with pytest.raises(PricingError, match="50,000, 100,000, 300,000"):
        purchases.buy_package(baidu, "hand_analysis", 60_000, sh(2024, 3, 1))


def test_ctyun_sells_packages_of_helmet_workwear_and_fence_only(ctyun):
    assert purchases.buy_package(ctyun, "fence", 8_000_000, sh(2024, 3, 1)).price == D("0")
    with pytest.raises(PricingError, match="free for a limited time"):
        purchases.buy_package(ctyun, "fall", 100_000, sh(2024, 3, 1))
    with pytest.raises(PricingError, match="does not cover the API 'body_attr'"):
        purchases.buy_package(ctyun, "body_attr", 100_000, sh(2024, 3, 1))


def test_nothing_can_be_bought_in_a_month_whose_bill_is_final(baidu):
    bills.finalize(baidu, 2024, 3)
    with pytest.raises(PricingError, match="is final"):
        purchases.buy_package(baidu, "driver_behavior", 300_000, sh(2024, 3, 31))
    with pytest.raises(PricingError, match="is final"):
        purchases.buy_qps(baidu, "body_attr", 1, 1, 0, sh(2024, 3, 31))


def test_a_purchase_is_never_refused_for_the_balance(baidu):
    # given 100 CNY paid in
    purchases.top_up(baidu, D("100.00"), sh(2024, 3, 1))
    # when a 500 CNY package is bought
    purchases.buy_package(baidu, "driver_behavior", 300_000, sh(2024, 3, 2))
    # then it is recorded and the balance goes below zero
    status = settlement.settle(baidu, sh(2024, 3, 3))
    assert status.balance == D("-400.00")
    assert status.in_arrears


def test_a_purchase_time_needs_a_time_zone(baidu):
    with pytest.raises(PricingError, match="time zone"):
        purchases.buy_package(baidu, "driver_behavior", 300_000, datetime(2024, 3, 1))


# --- top-ups ----------------------------------------------------------------------------------


def test_a_top_up_is_recorded_with_who_made_it(baidu, make_user):
    user = make_user("Finance")
    top_up = purchases.top_up(baidu, "1000.50", sh(2024, 3, 1), user, note="transfer 42")
    assert (top_up.amount, top_up.created_by, top_up.note) == (D("1000.50"), user, "transfer 42")


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("0", "more than zero"), ("-5", "more than zero"), ("1.001", "two decimals"), ("ten", "CNY")],
)
def test_a_malformed_top_up_amount_is_refused(baidu, amount, reason):
    with pytest.raises(PricingError, match=reason):
        purchases.top_up(baidu, amount, sh(2024, 3, 1))
    assert not TopUp.objects.exists()


# --- accounts ---------------------------------------------------------------------------------


def test_an_account_may_be_added_without_credentials_for_billing_only(db):
    account = purchases.add_account(
        "Billing only", "ctyun", "personal", free_claimed_at=sh(2024, 1, 1)
    )
    assert account.base_url == "https://ai-global.ctapi.ctyun.cn"
    assert account.free_quota_claimed_at == sh(2024, 1, 1)
    assert not account.credentials_complete


def test_credentials_given_must_be_the_vendors_full_set(db):
    with pytest.raises(PricingError, match="app_key"):
        purchases.add_account("Half", "ctyun", "enterprise", ak="ak", sk="sk")
    account = purchases.add_account("Whole", "baidu", "enterprise", ak="ak", sk="sk")
    assert VendorAccount.objects.get(pk=account.pk).credentials_complete


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"vendor": "local"}, "Unknown vendor"),
        ({"certification": "government"}, "Unknown certification"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"free_claimed_at": datetime(2024, 1, 1)}, "time zone"),
    ],
)
def test_an_account_with_bad_details_is_refused(db, kwargs, reason):
    details = {"vendor": "baidu", "certification": "personal", **kwargs}
    with pytest.raises(PricingError, match=reason):
        purchases.add_account("Bad", **details)


def test_account_names_are_unique(baidu):
    with pytest.raises(PricingError, match="already exists"):
        purchases.add_account("Plant 1 Baidu", "baidu", "personal")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00", sh(2024, 3, 1, 10)),
        ("2024-03-01", sh(2024, 3, 1)),
        ("2024-03-01T02:00:00Z", sh(2024, 3, 1, 10)),
        ("2024-03-01T10:00:00+08:00", sh(2024, 3, 1, 10)),
    ],
)
def test_a_time_without_an_offset_is_shanghai_time(text, expected):
    assert purchases.parse_moment(text) == expected


def test_a_malformed_time_is_refused():
    with pytest.raises(PricingError, match="ISO 8601"):
        purchases.parse_moment("next Tuesday")
