"""Call limits the sandbox enforces like the vendors do: requests per second, calls per
day and calls in total, per API and per credential.

Every limit is off unless ``settings.SANDBOX`` sets it (``QPS_LIMIT``, ``DAILY_QUOTA``,
``TOTAL_QUOTA``; 0 = off). Counters live in Django's cache and move with its atomic
``incr``, so several web processes sharing one cache (Redis in production) agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.core.cache import cache

# Days are natural days in Beijing time: Baidu's 17 "Open api daily request limit reached"
# resets at Beijing midnight (产品价格, 免费测试资源).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_SECOND_WINDOW_TTL = 5  # a one-second window's counter outlives the second, then goes
_DAY_TTL = 2 * 24 * 3600


def now() -> float:
    """The clock every window is cut from (tests move it)."""
    return time.time()


def _limit(name: str) -> int:
    return int(settings.SANDBOX.get(name, 0) or 0)


def _key(kind: str, vendor: str, credential: str, api: str, window: str = "") -> str:
    # Credentials are hashed: cache backends limit key characters, and keys are visible.
    who = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]
    return f"sandbox:{kind}:{vendor}:{who}:{api}" + (f":{window}" if window else "")


def _incr(key: str, timeout: int | None) -> int:
    """Add one to ``key`` (created at 0 with ``timeout``) and return the new count."""
    for _ in range(3):
        cache.add(key, 0, timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: create it again
            continue
    cache.set(key, 1, timeout)
    return 1


def _decr(key: str) -> None:
    with contextlib.suppress(ValueError):  # already gone: nothing to give back
        cache.decr(key)


def within_qps(vendor: str, credential: str, api: str) -> bool:
    """Count one request in the current second; False when it is over ``QPS_LIMIT``."""
    limit = _limit("QPS_LIMIT")
    if not limit:
        return True
    second = str(int(now()))
    return _incr(_key("qps", vendor, credential, api, second), _SECOND_WINDOW_TTL) <= limit


def within_daily_quota(vendor: str, credential: str, api: str) -> bool:
    """Count one call today (Beijing date); False when it is over ``DAILY_QUOTA``."""
    limit = _limit("DAILY_QUOTA")
    if not limit:
        return True
    day = datetime.fromtimestamp(now(), BEIJING).strftime("%Y%m%d")
    return _incr(_key("day", vendor, credential, api, day), _DAY_TTL) <= limit


def take_total_quota(vendor: str, credential: str, api: str) -> bool:
    """Count one call against ``TOTAL_QUOTA``; False (and nothing counted) when it is used
    up. ``give_back_total_quota`` undoes the count for a call that turns out not to count."""
    limit = _limit("TOTAL_QUOTA")
    if not limit:
        return True
    key = _key("total", vendor, credential, api)
    if _incr(key, None) <= limit:
        return True
    _decr(key)
    return False


def give_back_total_quota(vendor: str, credential: str, api: str) -> None:
    if _limit("TOTAL_QUOTA"):
        _decr(_key("total", vendor, credential, api))
