"""Monthly budgets per camera and per site: the estimated spend, the status for admin
pages, and what a reached budget does (pause refuses, slow lets one frame in N)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import pricing
from billing.budgets import (
    BudgetStatus,
    budget_status,
    marginal_unit_price,
    should_analyze,
    spend_of,
)
from billing.gate import QuotaGate
from billing.limiter import InProcessLimiter
from billing.models import Budget, PricePlan, QpsOrder, UsageRecord
from billing.pricing.calendar import shanghai_month
from cameras.models import Camera
from monitoring.backends.base import RefusedLocally
from tests.factories import BaiduAccountFactory, CameraFactory, CtyunAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def baidu():
    return BaiduAccountFactory(name="Baidu")


@pytest.fixture
def cameras(site_a):
    def camera(name: str) -> Camera:
        return CameraFactory(site=site_a, name=name, source_kind="demo", source_url="yard")

    return camera("Gate"), camera("Yard")


def calls(
    account,
    camera,
    count: int,
    *,
    api: str = "body_attr",
    outcome: str = "success",
    at=None,
    tag: str = "",
) -> None:
    at = at or timezone.now() - timedelta(seconds=5)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            api=api,
            camera_id=None if camera is None else camera.pk,
            request_id=f"{tag}{getattr(camera, 'pk', 'none')}-{api}-{outcome}-{n}",
            occurred_at=at,
            outcome=outcome,
        )
        for n in range(count)
    )


def test_one_more_baidu_call_costs_the_price_of_the_tier_the_month_has_reached(baidu, cameras):
    # given no call this month: body_attr's first tier, 2.0 CNY per 1,000 calls
    assert marginal_unit_price(baidu, "body_attr") == Decimal("0.002")
    # and a price plan for this month whose first tier ends at 100 calls (the seed's: 50,000)
    plan = pricing.DEFAULT_PLANS["baidu"].replace_api(
        "body_attr",
        payg_tiers=(pricing.Tier(100, Decimal("2.0")), pricing.Tier(None, Decimal("1.8"))),
    )
    month_start, _ = shanghai_month(timezone.now())
    PricePlan.objects.create(
        vendor="baidu",
        effective_from=month_start - timedelta(hours=1),
        data=pricing.plan_to_dict(plan),
    )
    # when the account has made 100 billable calls this month (all cameras together)
    calls(baidu, None, 100)
    # then the next call is in the second tier: 1.8 per 1,000
    assert marginal_unit_price(baidu, "body_attr") == Decimal("0.0018")


def test_calls_covered_by_a_qps_order_and_ctyun_calls_cost_nothing_per_call(baidu):
    now = timezone.now()
    QpsOrder.objects.create(
        account=baidu,
        api="body_attr",
        qps=5,
        months=1,
        price=Decimal("2500"),
        purchased_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=20),
    )
    ctyun = CtyunAccountFactory(name="C")
    assert marginal_unit_price(baidu, "body_attr") == 0
    assert marginal_unit_price(baidu, "body_num") == Decimal("0.002")
    assert marginal_unit_price(ctyun, "helmet") == 0


def test_a_cameras_spend_is_its_billable_calls_this_month_at_the_marginal_price(baidu, cameras):
    gate_camera, yard = cameras
    # given 1,000 successes and 300 failures of the gate camera, 500 of the yard
    calls(baidu, gate_camera, 1_000)
    calls(baidu, gate_camera, 300, outcome="vendor_error")
    calls(baidu, yard, 500)
    # and calls of last month, which do not count
    start, _ = shanghai_month(timezone.now())
    calls(baidu, gate_camera, 700, at=start - timedelta(hours=1), tag="old")
    # then the gate camera spent 1,000 x 0.002 (failures are not billed by the default plan)
    assert spend_of([gate_camera.pk]) == Decimal("2.00")
    assert spend_of([gate_camera.pk, yard.pk]) == Decimal("3.00")


def test_budget_status_reports_spent_limit_action_and_whether_it_is_reached(baidu, cameras, site_a):
    gate_camera, yard = cameras
    Budget.objects.create(
        site=site_a, camera_id=gate_camera.pk, monthly_limit=Decimal("2.00"), action="pause"
    )
    Budget.objects.create(site=site_a, monthly_limit=Decimal("10.00"), action="slow")
    calls(baidu, gate_camera, 1_000)
    calls(baidu, yard, 500)
    assert budget_status(gate_camera) == BudgetStatus(
        Decimal("2.00"), Decimal("2.00"), "pause", True
    )
    assert budget_status(site_a) == BudgetStatus(Decimal("3.00"), Decimal("10.00"), "slow", False)
    assert budget_status(yard) is None


@pytest.fixture
def gate() -> QuotaGate:
    return QuotaGate(rate_limiter=InProcessLimiter(), qps_wait=0)


def test_a_reached_pause_budget_makes_the_gate_refuse_that_cameras_calls(
    baidu, cameras, site_a, gate
):
    # given a camera budget of 1.00 CNY, pause when reached, and 600 calls (1.20)
    gate_camera, yard = cameras
    Budget.objects.create(
        site=site_a, camera_id=gate_camera.pk, monthly_limit=Decimal("1.00"), action="pause"
    )
    calls(baidu, gate_camera, 600)
    # then its calls are refused for budget, and no frame of it is worth analysing
    with pytest.raises(RefusedLocally) as refused:
        gate.check(baidu, "body_attr", camera_id=gate_camera.pk)
    assert refused.value.code == "budget"
    assert should_analyze(gate_camera.pk, 0) is False
    # while the other camera of the site goes on
    gate.check(baidu, "body_attr", camera_id=yard.pk)
    assert should_analyze(yard.pk, 1) is True


def test_a_reached_site_budget_pauses_every_camera_of_the_site(baidu, cameras, site_a, gate):
    gate_camera, yard = cameras
    Budget.objects.create(site=site_a, monthly_limit=Decimal("1.00"), action="pause")
    calls(baidu, gate_camera, 300)
    calls(baidu, yard, 300)
    for camera in cameras:
        with pytest.raises(RefusedLocally):
            gate.check(baidu, "body_attr", camera_id=camera.pk)


def test_a_budget_not_reached_yet_changes_nothing(baidu, cameras, site_a, gate):
    gate_camera, _ = cameras
    Budget.objects.create(
        site=site_a, camera_id=gate_camera.pk, monthly_limit=Decimal("5.00"), action="pause"
    )
    calls(baidu, gate_camera, 600)
    gate.check(baidu, "body_attr", camera_id=gate_camera.pk)
    assert all(should_analyze(gate_camera.pk, n) for n in range(10))


def test_a_reached_slow_budget_lets_one_frame_in_its_factor_through_and_the_gate_agrees(
    baidu, cameras, site_a, gate
):
    # given a reached camera budget that slows analysis down by 3
    gate_camera, _ = cameras
    Budget.objects.create(
        site=site_a,
        camera_id=gate_camera.pk,
        monthly_limit=Decimal("1.00"),
        action="slow",
        slow_factor=3,
    )
    calls(baidu, gate_camera, 600)
    # then frames 0, 3, 6 and 9 of ten are analysed
    assert [n for n in range(10) if should_analyze(gate_camera.pk, n)] == [0, 3, 6, 9]
    # and the gate lets their calls through
    gate.check(baidu, "body_attr", camera_id=gate_camera.pk)


def test_changing_a_budget_takes_effect_at_once(baidu, cameras, site_a):
    gate_camera, _ = cameras
    budget = Budget.objects.create(
        site=site_a, camera_id=gate_camera.pk, monthly_limit=Decimal("1.00"), action="pause"
    )
    calls(baidu, gate_camera, 600)
    assert should_analyze(gate_camera.pk, 1) is False
    # when the admin raises the limit
    budget.monthly_limit = Decimal("50.00")
    budget.save()
    # then the cached verdict is dropped
    assert should_analyze(gate_camera.pk, 1) is True


def test_a_camera_without_budget_or_unknown_analyses_every_frame(cameras):
    assert should_analyze(cameras[0].pk, 7) is True
    assert should_analyze(None, 7) is True
    assert should_analyze(987_654, 7) is True
