"""Requests per second per vendor account and API, shared by every worker.

Owns:

* the sliding-window limiters: ``RedisLimiter`` (one atomic Lua script per try, on a
  sorted set per account and API, timed by the Redis server's clock so that workers on
  many hosts agree) when ``settings.REDIS_URL`` is set, ``InProcessLimiter`` (a lock
  and a deque per key) otherwise; ``get_limiter`` picks one per process;
* ``acquire(account_id, api, qps, *, wait)``: take a slot, waiting up to ``wait``
  seconds; at most ``qps`` grants fall in any one-second window;
* ``effective_qps(account, api)``: the rate the vendor grants this account and API.

Seeds: ``seeds/baidu-body-analysis.txt`` (``产品价格``: ``免费测试资源``, ``1. 按调用量后付费``,
``2. 购买次数包``, ``3. 按QPS购买``); ``seeds/ctyun-safety-production.txt`` (FAQ
"安全生产服务的并发是多少？").
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from billing.models import QpsOrder
from billing.usage import baidu_free_quota_left, free_quota_of
from monitoring.backends.registry import traits

logger = logging.getLogger(__name__)

WINDOW = 1.0  # seconds: QPS is "每秒向服务发送的请求数量峰值"

# `1. 按调用量后付费`: "开通按调用量后付费后，默认保证10QPS并发"; `2. 购买次数包`: "购买次数包费后，
# 默认保证10QPS并发".
BAIDU_PAID_QPS = 10
# `免费测试资源`: personal certification 2 QPS, enterprise 5 QPS, per API; driver_behavior
# and hand_analysis 2 QPS for both.
BAIDU_FREE_QPS = {"personal": 2, "enterprise": 5}
BAIDU_FREE_QPS_BY_API = {"driver_behavior": 2, "hand_analysis": 2}
# The CTYun seed documents no number ("并发量会根据线上用户的调用情况动态调整"): a setting.
CTYUN_DEFAULT_QPS = 5


class InProcessLimiter:
    """A sliding-window limiter for one process (thread-safe): grant times per key in a
    deque, the ones older than the window dropped on each try."""

    def __init__(
        self,
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._grants: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str, qps: int) -> float:
        """Take a slot now: 0.0 when granted, else the seconds until one frees."""
        with self._lock:
            now = self.clock()
            grants = self._grants.setdefault(key, deque())
            while grants and grants[0] <= now - self.window:
                grants.popleft()
            if len(grants) < qps:
                grants.append(now)
                return 0.0
            return max(grants[0] + self.window - now, 1e-6)

    def acquire(self, key: str, qps: int, *, wait: float) -> bool:
        return _acquire(self, key, qps, wait)


# KEYS[1]: the sorted set of one account and API; ARGV: qps, window (µs), a unique member.
# Scores are grant times in µs from the server's clock, so every worker shares one clock.
_SLIDING_WINDOW_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
"""


class RedisLimiter:
    """The sliding-window limiter on Redis, shared by every process using that server.

    If Redis cannot be reached, the process falls back to its own ``InProcessLimiter``
    (limits still hold within the process) and logs it, rather than stopping analysis."""

    def __init__(
        self,
        url: str,
        *,
        window: float = WINDOW,
        prefix: str = "ssd:qps",
        sleep: Callable[[float], None] = time.sleep,
    ):
        import redis

        self.window = window
        self.prefix = prefix
        self.sleep = sleep
        self.clock = time.monotonic  # for waiting only: windows run on the server's clock
        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._script = self._client.register_script(_SLIDING_WINDOW_LUA)
        self._fallback = InProcessLimiter(window=window, sleep=sleep)
        self._window_us = round(window * 1_000_000)

    def try_acquire(self, key: str, qps: int) -> float:
        import redis

        try:
            waited_us = self._script(
                keys=[f"{self.prefix}:{key}"], args=[qps, self._window_us, uuid.uuid4().hex]
            )
        except redis.RedisError:
            logger.warning("QPS limiter: Redis unreachable, limiting within this process only")
            return self._fallback.try_acquire(key, qps)
        return int(waited_us) / 1_000_000

    def acquire(self, key: str, qps: int, *, wait: float) -> bool:
        return _acquire(self, key, qps, wait)

    def reset(self, key: str) -> None:
        self._client.delete(f"{self.prefix}:{key}")


def _acquire(limiter: InProcessLimiter | RedisLimiter, key: str, qps: int, wait: float) -> bool:
    """Try, then sleep until a slot frees while that is within ``wait`` seconds."""
    if qps <= 0:
        return False
    deadline = limiter.clock() + max(0.0, wait)
    while True:
        pause = limiter.try_acquire(key, qps)
        if pause == 0.0:
            return True
        left = deadline - limiter.clock()
        if pause > left:
            return False  # no slot frees in time: say so now rather than at the deadline
        limiter.sleep(pause)


_limiter: InProcessLimiter | RedisLimiter | None = None
_limiter_lock = threading.Lock()


def get_limiter() -> InProcessLimiter | RedisLimiter:
    """This process's limiter: on Redis when ``settings.REDIS_URL`` is set."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            url = getattr(settings, "REDIS_URL", "")
            if url:
                from monitoring.lib.env import parse_redis_url

                _limiter = RedisLimiter(parse_redis_url(url).redis)
            else:
                _limiter = InProcessLimiter()
        return _limiter


def limiter_key(account_id: int, api: str) -> str:
    return f"{account_id}:{api}"


def acquire(account_id: int, api: str, qps: int, *, wait: float) -> bool:
    """Take one request slot of ``api`` for the account, waiting up to ``wait`` seconds.

    False when none frees in time. Grants of one account and API never exceed ``qps`` in
    any one-second window, across every worker sharing the Redis server."""
    return get_limiter().acquire(limiter_key(account_id, api), qps, wait=wait)


# ---------------------------------------------------------------- the vendor's rate


def effective_qps(account, api: str, *, at: datetime | None = None) -> int | None:
    """The requests per second the vendor grants ``account`` for ``api``; None: no limit
    (the local analyzer and a private deployment are the customer's own machines).

    Baidu (``产品价格``), per API ("每个接口单独计算QPS") and shared by every application of
    the account ("同一个账号下多个应用共享接口QPS"):

    * QPS orders in force: their QPS, plus the free trial QPS while the trial lasts
      (``3. 按QPS购买`` 示例一: "除测试赠送的5个QPS（需要企业认证），还需购买15个QPS");
    * otherwise, while the free trial quota is in force and not used up, the free QPS
      (``免费测试资源``: personal 2, enterprise 5; driver_behavior and hand_analysis 2);
    * otherwise pay-as-you-go or count packages: 10.

    CTYun: ``settings.METERING_CTYUN_QPS`` (default 5): its seed gives no number.
    """
    vendor_traits = traits(account.vendor)
    if vendor_traits.paid_by_packages:
        return int(getattr(settings, "METERING_CTYUN_QPS", CTYUN_DEFAULT_QPS))
    if not vendor_traits.sells_qps:
        return None
    at = at or timezone.now()
    trial_qps = BAIDU_FREE_QPS_BY_API.get(api, BAIDU_FREE_QPS.get(account.certification, 2))
    in_trial = _baidu_trial_in_force(account, api, at)
    ordered = sum(
        QpsOrder.objects.filter(
            account=account, api=api, purchased_at__lte=at, expires_at__gt=at
        ).values_list("qps", flat=True)
    )
    if ordered:
        return ordered + (trial_qps if in_trial else 0)
    if in_trial and baidu_free_quota_left(account, api, at=at) > 0:
        return trial_qps
    return BAIDU_PAID_QPS


def _baidu_trial_in_force(account, api: str, at: datetime) -> bool:
    quota = free_quota_of(account, api)
    return quota is not None and quota.claimed_at <= at < quota.expires_at
