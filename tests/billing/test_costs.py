"""Projected calls and cost per month of a camera's analyses, worked out by hand."""

from __future__ import annotations

import sys
import types
from decimal import Decimal

import pytest
from django.test import Client

from billing.costs import calls_per_month, camera_cost, current_plan, project
from billing.pricing import DEFAULT_PLANS, PackageSpec
from cameras import roles
from tests.factories import (
    AnalysisFactory,
    BaiduAccountFactory,
    HttpCameraFactory,
    LocalAccountFactory,
)

CTYUN = DEFAULT_PLANS["ctyun"]
PRICED_CTYUN = CTYUN.replace_api(
    "helmet",
    package_specs=(
        PackageSpec(100_000, Decimal("100")),
        PackageSpec(400_000, Decimal("300")),
        PackageSpec(800_000, Decimal("500")),
        PackageSpec(4_000_000, Decimal("2000")),
        PackageSpec(8_000_000, Decimal("3500")),
    ),
)


@pytest.mark.parametrize(
    ("interval", "calls"),
    [(10, 259_200), (1, 2_592_000), (0.2, 12_960_000), (7, 370_285), (86_400, 30)],
)
def test_calls_per_month_are_thirty_days_of_seconds_over_the_interval(interval, calls):
    assert calls_per_month(interval) == calls


@pytest.mark.parametrize("interval", [0, 0.1, -5, 86_401, "soon", float("nan")])
def test_an_interval_outside_a_fifth_of_a_second_to_a_day_is_refused(interval):
    with pytest.raises(ValueError):
        calls_per_month(interval)


def test_body_attr_every_ten_seconds_costs_476_56_a_month():
    # 50,000 × 2.0 / 1000 + 209,200 × 1.8 / 1000 = 100 + 376.56
    projection = project("baidu", "body_attr", 10, plan=DEFAULT_PLANS["baidu"])
    assert projection.calls_per_month == 259_200
    assert projection.cost_per_month == Decimal("476.56")
    assert projection.currency == "CNY"


def test_body_num_every_second_climbs_four_tiers():
    # 50,000 × 2.0 + 250,000 × 1.8 + 700,000 × 1.6 + 1,592,000 × 1.4, per 1,000 calls
    # = 100 + 450 + 1,120 + 2,228.80
    projection = project("baidu", "body_num", 1, plan=DEFAULT_PLANS["baidu"])
    assert projection.cost_per_month == Decimal("3898.80")


def test_driver_behaviour_is_priced_on_its_own_tiers():
    # 259,200 calls all in its first tier (up to 300,000) at 2.0 per 1,000.
    projection = project("baidu", "driver_behavior", 10, plan=DEFAULT_PLANS["baidu"])
    assert projection.cost_per_month == Decimal("518.40")


def test_ctyun_helmet_costs_nothing_in_the_public_beta():
    projection = project("ctyun", "helmet", 10, plan=CTYUN)
    assert projection.cost_per_month == Decimal("0.00")
    assert "package" in projection.basis


def test_ctyun_helmet_spreads_the_smallest_covering_package_over_its_twelve_months():
    # Every 60 s: 43,200 calls a month, 518,400 in 12 months: the 800,000 package,
    # 500 CNY / 12 = 41.666... → 41.67.
    projection = project("ctyun", "helmet", 60, plan=PRICED_CTYUN)
    assert projection.calls_per_month == 43_200
    assert projection.cost_per_month == Decimal("41.67")


def test_ctyun_helmet_beyond_the_largest_package_buys_several():
    # Every second: 31,104,000 calls in 12 months: 4 packages of 8,000,000 at 3,500 CNY,
    # 14,000 / 12 = 1,166.666... → 1,166.67.
    projection = project("ctyun", "helmet", 1, plan=PRICED_CTYUN)
    assert projection.cost_per_month == Decimal("1166.67")


def test_limited_time_free_ctyun_abilities_cost_nothing():
    assert project("ctyun", "fall", 1, plan=CTYUN).cost_per_month == Decimal("0.00")


@pytest.mark.parametrize("vendor", ["local", "baidu_private"])
def test_the_local_analyzer_and_a_private_deployment_cost_nothing_per_call(vendor):
    projection = project(vendor, "body_num", 1)
    assert projection.calls_per_month == 2_592_000
    assert projection.cost_per_month == Decimal("0.00")


def test_an_api_without_a_price_has_no_cost_rather_than_zero():
    projection = project("baidu", "fingertip", 10, plan=DEFAULT_PLANS["baidu"])
    assert projection.cost_per_month is None
    assert projection.calls_per_month == 259_200


@pytest.mark.django_db
def test_the_plan_in_force_comes_from_billing_plans_when_it_has_one(monkeypatch):
    cheap = DEFAULT_PLANS["baidu"].replace_api(
        "body_attr", payg_tiers=(DEFAULT_PLANS["baidu"].api("body_attr").payg_tiers[-1],)
    )
    fake = types.ModuleType("billing.plans")
    fake.plan_at = lambda vendor, moment: cheap if vendor == "baidu" else None
    monkeypatch.setitem(sys.modules, "billing.plans", fake)

    assert current_plan("baidu") is cheap
    # 259,200 calls at the last tier's 1.0 per 1,000.
    assert project("baidu", "body_attr", 10).cost_per_month == Decimal("259.20")


@pytest.mark.django_db
def test_a_camera_costs_the_sum_of_its_enabled_analyses_and_nothing_while_disabled(site_a):
    camera = HttpCameraFactory(site=site_a)
    AnalysisFactory(camera=camera, api="body_attr", interval=10)  # 476.56
    AnalysisFactory(camera=camera, api="body_num", interval=10)  # 476.56
    AnalysisFactory(camera=camera, api="persons", account=LocalAccountFactory(), interval=1)
    AnalysisFactory(camera=camera, api="gesture", interval=1, enabled=False)

    cost = camera_cost(camera)

    assert cost.calls_per_month == 259_200 * 2 + 2_592_000
    assert cost.cost_per_month == Decimal("953.12")
    camera.enabled = False
    assert camera_cost(camera).cost_per_month == Decimal("0.00")


# ------------------------------------------------------------------------- JSON endpoint


@pytest.fixture
def admin_browser(make_user, site_a) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(roles.ADMIN, site_a))
    return client


@pytest.mark.django_db
def test_the_projection_endpoint_answers_calls_and_cny_a_month(admin_browser):
    account = BaiduAccountFactory()
    response = admin_browser.get(
        "/cameras/projection/", {"account": account.pk, "api": "body_attr", "interval": "10"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["calls_per_month"] == 259_200
    assert body["cost_per_month"] == "476.56"
    assert body["currency"] == "CNY"


@pytest.mark.django_db
def test_the_projection_endpoint_says_what_is_wrong_with_each_parameter(admin_browser):
    account = BaiduAccountFactory()
    response = admin_browser.get(
        "/cameras/projection/", {"account": account.pk, "api": "helmet", "interval": "0"}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"api", "interval"}
    missing = admin_browser.get("/cameras/projection/", {"api": "helmet", "interval": "5"})
    assert set(missing.json()["errors"]) == {"account"}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.OPERATOR, roles.FINANCE])
def test_the_projection_endpoint_is_for_admins_only(make_user, site_a, role):
    client = Client()
    client.force_login(make_user(role, site_a))
    account = BaiduAccountFactory()
    response = client.get(
        "/cameras/projection/", {"account": account.pk, "api": "body_attr", "interval": "10"}
    )
    assert response.status_code == 403
