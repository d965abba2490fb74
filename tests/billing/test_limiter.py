"""The QPS limiter: a sliding one-second window per account and API, in process and on
Redis, and the rate each vendor grants an account."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import limiter
from billing.limiter import InProcessLimiter, RedisLimiter, effective_qps
from billing.models import QpsOrder, UsageRecord
from monitoring.models import VendorAccount
from tests.factories import BaiduAccountFactory, CtyunAccountFactory, LocalAccountFactory

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (make test starts Redis)")


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------- the window


def test_the_in_process_limiter_grants_n_in_a_second_then_says_how_long_to_wait():
    # given a limiter of 3 per second on a clock that does not move
    clock = FakeClock()
    rate = InProcessLimiter(clock=clock, sleep=clock.advance)
    # when 4 slots are asked for at once
    answers = [rate.try_acquire("1:body_attr", 3) for _ in range(4)]
    # then 3 are granted and the 4th must wait the whole window
    assert answers[:3] == [0.0, 0.0, 0.0]
    assert answers[3] == pytest.approx(1.0)


def test_a_slot_frees_one_window_after_the_oldest_grant_not_at_the_next_whole_second():
    # given grants at t=0 and t=0.5 with a limit of 2 (times exact in binary)
    clock = FakeClock(0.0)
    rate = InProcessLimiter(clock=clock)
    assert rate.try_acquire("k", 2) == 0.0
    clock.advance(0.5)
    assert rate.try_acquire("k", 2) == 0.0
    # when asking at t=0.75, then at t=1.0
    clock.advance(0.25)
    waiting = rate.try_acquire("k", 2)
    clock.advance(0.25)
    # then at 0.75 the wait is until t=1.0, and at t=1.0 the first grant has aged out
    assert waiting == 0.25
    assert rate.try_acquire("k", 2) == 0.0
    # and the window now holds 0.5 and 1.0: a third grant must wait until 1.5
    assert rate.try_acquire("k", 2) == 0.5


def test_acquire_waits_for_a_slot_within_its_wait_and_refuses_at_once_beyond_it():
    # given a limit of 1 per second already used
    clock = FakeClock()
    rate = InProcessLimiter(clock=clock, sleep=clock.advance)
    assert rate.acquire("k", 1, wait=0)
    # when another slot is asked with 0.5 s of patience
    started = clock.now
    refused = rate.acquire("k", 1, wait=0.5)
    # then it is refused without sleeping (no slot frees within 0.5 s)
    assert refused is False
    assert clock.now == started
    # and with 1.5 s of patience it sleeps one second and gets the slot
    assert rate.acquire("k", 1, wait=1.5)
    assert clock.now == pytest.approx(started + 1.0)


def test_accounts_and_apis_have_separate_windows():
    clock = FakeClock()
    rate = InProcessLimiter(clock=clock)
    assert rate.try_acquire(limiter.limiter_key(1, "body_attr"), 1) == 0.0
    assert rate.try_acquire(limiter.limiter_key(1, "body_num"), 1) == 0.0
    assert rate.try_acquire(limiter.limiter_key(2, "body_attr"), 1) == 0.0
    assert rate.try_acquire(limiter.limiter_key(1, "body_attr"), 1) > 0


def test_a_limit_of_zero_never_grants():
    assert InProcessLimiter().acquire("k", 0, wait=0.1) is False


def _hammer(acquire, threads: int, seconds: float) -> list[float]:
    """Threads asking for slots for ``seconds``; the monotonic times of the grants."""
    grants: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work() -> None:
        while time.monotonic() < stop:
            if acquire(wait=0.05):
                with lock:
                    grants.append(time.monotonic())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 5)
    return sorted(grants)


def _most_in_any_window(times: list[float], window: float) -> int:
    most, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_threads_sharing_the_in_process_limiter_never_get_more_than_n_in_a_second():
    # given 8 threads asking as fast as they can for 1.3 s with a limit of 5 per second
    rate = InProcessLimiter()
    grants = _hammer(lambda wait: rate.acquire("k", 5, wait=wait), threads=8, seconds=1.3)
    # then no one-second window holds more than 5 grants, and the limit was reached
    assert _most_in_any_window(grants, 1.0) <= 5
    assert len(grants) >= 6


@needs_redis
def test_threads_sharing_the_redis_limiter_never_get_more_than_n_in_a_second():
    # given two limiters on one Redis server (two workers), 4 threads each, limit 5
    from monitoring.lib.env import parse_redis_url

    url = parse_redis_url(REDIS_URL).redis
    key = f"test-{time.time_ns()}"
    first, second = RedisLimiter(url), RedisLimiter(url)
    try:
        grants = _hammer_two(first, second, key)
        # then, seen from here (a few ms after the server granted), no window of 0.9 s
        # holds more than 5 grants, and the limit was reached
        assert _most_in_any_window(grants, 0.9) <= 5
        assert len(grants) >= 6
    finally:
        first.reset(key)


def _hammer_two(first: RedisLimiter, second: RedisLimiter, key: str) -> list[float]:
    grants: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 1.3

    def work(rate: RedisLimiter) -> None:
        while time.monotonic() < stop:
            if rate.acquire(key, 5, wait=0.05):
                with lock:
                    grants.append(time.monotonic())

    workers = [threading.Thread(target=work, args=(rate,)) for rate in (first, second) * 4]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    return sorted(grants)


@needs_redis
def test_the_redis_limiter_says_how_long_until_a_slot_frees():
    from monitoring.lib.env import parse_redis_url

    rate = RedisLimiter(parse_redis_url(REDIS_URL).redis)
    key = f"test-{time.time_ns()}"
    try:
        assert rate.try_acquire(key, 1) == 0.0
        assert 0.5 < rate.try_acquire(key, 1) <= 1.0
    finally:
        rate.reset(key)


def test_without_redis_the_process_uses_the_in_process_limiter(settings, monkeypatch):
    # given no REDIS_URL
    settings.REDIS_URL = ""
    monkeypatch.setattr(limiter, "_limiter", None)
    # then the process limiter is the in-process one
    assert isinstance(limiter.get_limiter(), InProcessLimiter)


# ---------------------------------------------------------------- the vendor's rate


@pytest.fixture
def baidu(db):
    def make(**fields) -> VendorAccount:
        fields.setdefault("name", f"Baidu {VendorAccount.objects.count()}")
        return BaiduAccountFactory(**fields)

    return make


def test_a_personal_account_in_its_free_trial_gets_2_qps_and_an_enterprise_one_5(baidu):
    # `免费测试资源`: personal 2 QPS, enterprise 5 QPS
    claimed = timezone.now() - timedelta(days=10)
    personal = baidu(certification="personal", free_quota_claimed_at=claimed)
    enterprise = baidu(certification="enterprise", free_quota_claimed_at=claimed)
    assert effective_qps(personal, "body_attr") == 2
    assert effective_qps(enterprise, "body_attr") == 5


def test_driver_behaviour_gets_2_free_qps_even_for_an_enterprise(baidu):
    account = baidu(certification="enterprise", free_quota_claimed_at=timezone.now())
    assert effective_qps(account, "driver_behavior") == 2


def test_pay_as_you_go_gets_10_qps_once_the_free_quota_is_used_up_or_never_claimed(baidu):
    # given a personal trial whose 5,000 driver_behavior calls are all used
    claimed = timezone.now() - timedelta(days=1)
    used_up = baidu(certification="personal", free_quota_claimed_at=claimed)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=used_up,
            api="driver_behavior",
            request_id=f"r{n}",
            occurred_at=claimed + timedelta(minutes=1),
            outcome="success" if n % 2 else "vendor_error",
        )
        for n in range(5_000)
    )
    # then pay-as-you-go's 10 QPS apply, as for an account that never claimed a trial
    assert effective_qps(used_up, "driver_behavior") == 10
    assert effective_qps(baidu(), "driver_behavior") == 10


def test_an_expired_trial_gives_pay_as_you_go_qps(baidu):
    account = baidu(
        certification="enterprise", free_quota_claimed_at=timezone.now() - timedelta(days=400)
    )
    assert effective_qps(account, "body_attr") == 10


def test_a_qps_order_adds_to_the_free_trial_qps_and_alone_once_the_trial_is_over(baidu):
    # `3. 按QPS购买` 示例一: 5 free trial QPS plus 15 bought make 20
    now = timezone.now()
    in_trial = baidu(certification="enterprise", free_quota_claimed_at=now - timedelta(days=5))
    after_trial = baidu(certification="enterprise", free_quota_claimed_at=now - timedelta(days=500))
    for account in (in_trial, after_trial):
        QpsOrder.objects.create(
            account=account,
            api="body_attr",
            qps=15,
            months=1,
            price=Decimal("7000"),
            purchased_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=29),
        )
    assert effective_qps(in_trial, "body_attr") == 20
    assert effective_qps(after_trial, "body_attr") == 15
    # and an order for another API changes nothing here
    assert effective_qps(after_trial, "body_num") == 10


def test_an_expired_qps_order_no_longer_counts(baidu):
    now = timezone.now()
    account = baidu()
    QpsOrder.objects.create(
        account=account,
        api="gesture",
        qps=30,
        days=1,
        price=Decimal("1400"),
        purchased_at=now - timedelta(days=2),
        expires_at=now - timedelta(days=1),
    )
    assert effective_qps(account, "gesture") == 10


def test_ctyun_uses_the_configured_rate_and_the_local_analyzer_has_none(db, settings):
    ctyun = CtyunAccountFactory(name="CTYun")
    local = LocalAccountFactory(name="Local")
    assert effective_qps(ctyun, "helmet") == limiter.CTYUN_DEFAULT_QPS
    settings.METERING_CTYUN_QPS = 3
    assert effective_qps(ctyun, "helmet") == 3
    assert effective_qps(local, "persons") is None
