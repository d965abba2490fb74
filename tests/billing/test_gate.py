"""The quota gate: what refuses a call before it leaves, with which code."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import facts, pricing, purchases
from billing.gate import QuotaGate, forget
from billing.limiter import InProcessLimiter
from billing.models import AccountStatus, Package, PricePlan, UsageRecord
from monitoring.backends.base import RefusedLocally
from tests.factories import BaiduAccountFactory, CtyunAccountFactory, LocalAccountFactory

pytestmark = pytest.mark.django_db


class FrozenClock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def gate() -> QuotaGate:
    clock = FrozenClock()
    return QuotaGate(rate_limiter=InProcessLimiter(clock=clock, sleep=clock.sleep), qps_wait=0)


@pytest.fixture
def baidu():
    return BaiduAccountFactory(name="Baidu")


@pytest.fixture
def ctyun():
    return CtyunAccountFactory(
        name="CTYun", free_quota_claimed_at=timezone.now() - timedelta(hours=3)
    )


def successes(account, api: str, count: int, *, outcome: str = "success") -> None:
    at = timezone.now() - timedelta(hours=1)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account, api=api, request_id=f"{outcome}-{n}", occurred_at=at, outcome=outcome
        )
        for n in range(count)
    )


def refusal(gate: QuotaGate, account, api: str, **kwargs) -> RefusedLocally:
    with pytest.raises(RefusedLocally) as caught:
        gate.check(account, api, **kwargs)
    return caught.value


def test_a_disabled_account_is_refused_whatever_the_vendor(gate, baidu):
    local = LocalAccountFactory(name="Local", enabled=False)
    baidu.enabled = False
    baidu.save()
    for account, api in ((baidu, "body_attr"), (local, "persons")):
        refused = refusal(gate, account, api)
        assert refused.code == "disabled"
        assert "disabled" in str(refused)


def test_an_account_in_arrears_may_still_use_its_unused_free_quota(gate, baidu):
    # given a Baidu account in arrears whose free trial quota is in force and unused
    baidu.free_quota_claimed_at = timezone.now() - timedelta(days=3)
    baidu.save()
    AccountStatus.objects.create(account=baidu, in_arrears=True, balance=Decimal("-5"))
    # then the call goes ("欠费后...只能使用免费额度")
    gate.check(baidu, "body_attr")


def test_an_account_in_arrears_is_refused_once_its_free_quota_is_used_up(gate, baidu):
    # given a personal claim (5,000 driver_behavior calls) used up, and arrears
    baidu.free_quota_claimed_at = timezone.now() - timedelta(days=3)
    baidu.save()
    successes(baidu, "driver_behavior", 5_000)
    AccountStatus.objects.create(account=baidu, in_arrears=True)
    # then the call is refused for arrears, while another API's free quota still works
    refused = refusal(gate, baidu, "driver_behavior")
    assert refused.code == "arrears"
    assert "top up" in refused.message
    gate.check(baidu, "hand_analysis")


def test_an_account_in_arrears_without_free_quota_is_refused_and_paying_lifts_it(gate, baidu):
    status = AccountStatus.objects.create(account=baidu, in_arrears=True)
    assert refusal(gate, baidu, "body_attr").code == "arrears"
    # when the settlement finds the balance sufficient again
    status.in_arrears = False
    status.save()
    # then the cached arrears are dropped at once and the call goes
    gate.check(baidu, "body_attr")


def test_ctyun_with_its_free_quota_used_and_no_package_is_refused_until_one_is_bought(gate, ctyun):
    # given 10,000 successful helmet calls in this year's free quota and no package
    successes(ctyun, "helmet", 10_000)
    # then helmet is refused before anything leaves
    refused = refusal(gate, ctyun, "helmet")
    assert refused.code == "ctyun_quota"
    assert "buy a package" in refused.message
    # when a package is bought
    now = timezone.now()
    Package.objects.create(
        account=ctyun,
        api="helmet",
        calls=100_000,
        price=Decimal(0),
        purchased_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(days=365),
    )
    # then helmet calls go again
    gate.check(ctyun, "helmet")


def test_ctyun_failed_calls_do_not_use_the_quota(gate, ctyun):
    # given a plan whose workwear free quota is 100 calls a year
    plan = pricing.DEFAULT_PLANS["ctyun"].replace_api("workwear", free_calls_per_year=100)
    PricePlan.objects.create(
        vendor="ctyun",
        effective_from=timezone.now() - timedelta(days=1),
        data=pricing.plan_to_dict(plan),
    )
    # when 100 calls failed ("Only successful calls count")
    successes(ctyun, "workwear", 100, outcome="vendor_error")
    # then the free quota is whole and the call goes
    gate.check(ctyun, "workwear")
    # while 100 successes use it up
    successes(ctyun, "workwear", 100)
    forget(ctyun.pk)
    assert refusal(gate, ctyun, "workwear").code == "ctyun_quota"


def test_ctyun_abilities_free_for_a_limited_time_need_no_quota(gate, ctyun):
    ctyun.free_quota_claimed_at = None
    ctyun.save()
    gate.check(ctyun, "fall")
    assert refusal(gate, ctyun, "fence").code == "ctyun_quota"


def test_the_gate_refuses_for_qps_when_no_slot_frees_in_time(gate, baidu):
    # given a Baidu pay-as-you-go account (10 QPS) and no patience
    for _ in range(10):
        gate.check(baidu, "body_attr")
    # then the 11th call in the same second is refused for QPS
    refused = refusal(gate, baidu, "body_attr")
    assert refused.code == "qps"
    # and another API has its own rate
    gate.check(baidu, "body_num")


def test_a_check_that_takes_no_slot_leaves_the_rate_alone(gate, baidu):
    for _ in range(25):
        gate.check(baidu, "body_attr", acquire=False)
    for _ in range(10):
        gate.check(baidu, "body_attr")


def test_the_local_analyzer_is_never_refused_for_quota_or_rate(gate):
    local = LocalAccountFactory(name="Local")
    AccountStatus.objects.create(account=local, in_arrears=True)
    for _ in range(50):
        gate.check(local, "persons")


def test_the_gate_caches_what_it_read_for_a_few_seconds(gate, ctyun, django_assert_num_queries):
    gate.check(ctyun, "helmet")
    # when checking again within the cache time, no query reaches the database
    with django_assert_num_queries(0):
        gate.check(ctyun, "helmet")


# ---------------------------------------------------------------- free quotas per API and year


def gate_at(moment) -> QuotaGate:
    clock = FrozenClock()
    return QuotaGate(
        rate_limiter=InProcessLimiter(clock=clock, sleep=clock.sleep),
        qps_wait=0,
        clock=lambda: moment,
    )


def calls_at(account, api: str, count: int, at) -> None:
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            api=api,
            request_id=f"{api}-{at:%Y%m%d%H}-{n}",
            occurred_at=at,
            outcome="success",
        )
        for n in range(count)
    )


def test_a_ctyun_api_with_nothing_bought_or_claimed_is_refused_as_the_vendor_would(gate, ctyun):
    # `5.1 计费类`: "我们只提供封顶资源包的计费方式": no pay-as-you-go; 51002 "收费 API 未购买"
    ctyun.free_quota_claimed_at = None
    ctyun.save()
    refused = refusal(gate, ctyun, "helmet")
    assert refused.code == "ctyun_quota"
    assert "51002" in refused.message
    assert "claim-free" in refused.message


def test_a_ctyun_account_is_called_again_from_1_january_once_the_new_years_claim_is_recorded(
    ctyun,
):
    # given this year's helmet free quota claimed and used up, and no package
    ctyun.free_quota_claimed_at = None
    ctyun.save()
    shanghai = pricing.SHANGHAI
    purchases.claim_free_quota(ctyun, ["helmet"], datetime(2026, 3, 1, tzinfo=shanghai))
    calls_at(ctyun, "helmet", 10_000, datetime(2026, 6, 1, 10, tzinfo=shanghai))
    december = gate_at(datetime(2026, 12, 31, 23, tzinfo=shanghai))
    assert refusal(december, ctyun, "helmet").code == "ctyun_quota"
    # on 1 January last year's quota is gone, and without a new claim the API stays refused
    new_year = datetime(2027, 1, 1, 9, tzinfo=shanghai)
    assert refusal(gate_at(new_year), ctyun, "helmet").code == "ctyun_quota"
    # when this year's claim is recorded
    purchases.claim_free_quota(ctyun, ["helmet"], datetime(2027, 1, 1, 8, tzinfo=shanghai))
    # then helmet is called again, while last year's bill keeps its own quota
    gate_at(new_year).check(ctyun, "helmet")
    ids = [q.id for q in facts.free_quotas_of(ctyun)]
    assert ids == ["free:helmet:2026", "free:helmet:2027"]


def test_a_baidu_account_in_arrears_may_call_only_the_apis_whose_own_claim_is_in_force(baidu):
    # given body_attr claimed 400 days ago (expired) and body_num claimed 10 days ago
    now = timezone.now()
    purchases.claim_free_quota(baidu, ["body_attr"], now - timedelta(days=400))
    purchases.claim_free_quota(baidu, ["body_num"], now - timedelta(days=10))
    AccountStatus.objects.create(account=baidu, in_arrears=True)
    gate = gate_at(now)
    # then body_num goes on its own quota and body_attr is refused
    gate.check(baidu, "body_num")
    assert refusal(gate, baidu, "body_attr").code == "arrears"
