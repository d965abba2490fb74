"""The vendors' stop rules: which answers hold calls back, for what, and until when.

A vendor answer that says "stop" (a daily or total limit, credentials or permissions
refused, nothing bought or left) is turned here into a ``StopRule``: its ``scope``
(``"api"``: that API on that account; ``"account"``: every API of the account), its
``state`` (``"paused"``: until a stated time; ``"refused"``: until an action) and what
lifts it (``"next_day"``: 00:00 Asia/Shanghai; ``"resume"``: an admin resumes;
``"quota"``: a package or quota recorded for that API, or an admin).

Rate limits (Baidu 18 and 4, CTYun's concurrency answers) are no stop: the clients back
off (``RetryPolicy`` reads ``retry_after``) and the pipeline waits ``retry_after`` before
the analysis' next call. Everything else (bad requests, service errors) is no stop
either: the analysis is ``failing`` and its next frame is sent as usual.

This is the one place that reads vendor error codes for this purpose: the metered path
and the pipeline ask ``stop_rule(error)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from monitoring.backends.base import AuthError, BackendError

# China has one time zone and no daylight saving.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

PAUSED = "paused"
REFUSED = "refused"
SCOPE_API = "api"
SCOPE_ACCOUNT = "account"
LIFT_NEXT_DAY = "next_day"
LIFT_RESUME = "resume"
LIFT_QUOTA = "quota"


@dataclass(frozen=True)
class StopRule:
    """What a vendor's answer stops, and what lifts the stop."""

    scope: str  # SCOPE_API or SCOPE_ACCOUNT
    state: str  # PAUSED or REFUSED
    lift: str  # LIFT_NEXT_DAY, LIFT_RESUME or LIFT_QUOTA
    reason: str  # the key of the reason shown to people (``monitoring.analysis_health``)

    def until(self, now: datetime) -> datetime | None:
        """When the stop ends by itself, for a stop starting at ``now``; None if never."""
        if self.lift == LIFT_NEXT_DAY:
            return next_shanghai_midnight(now)
        return None


def next_shanghai_midnight(now: datetime) -> datetime:
    """The next 00:00 in Asia/Shanghai after ``now`` (an aware datetime)."""
    local = now.astimezone(SHANGHAI)
    return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


# Baidu, `错误码` > `错误码信息`:
# 17 "Open api daily request limit reached" (每天请求量超限额): that API, until the next
#    day (`产品价格` > `免费测试资源`: the daily free volume resets each day, Beijing time).
# 19 "Open api total request limit reached" (请求总量超限额): that API, until an admin has
#    the limit raised and resumes.
# 6 "No permission to access data" (创建应用时未勾选相关接口), 14 "IAM Certification
#    failed", 15 "app not exists or create failed": the account's credentials or
#    application are wrong: every API of the account, until an admin resumes.
# 100/110/111 (access token) reach here only after the client refreshed the token once
#    and the vendor refused it again (``baidu.client._token_refused``), and a refused key pair at
#    the token endpoint is the same: the account, until an admin resumes.
_BAIDU: dict[int, StopRule] = {
    17: StopRule(SCOPE_API, PAUSED, LIFT_NEXT_DAY, "daily_limit"),
    19: StopRule(SCOPE_API, REFUSED, LIFT_RESUME, "total_limit"),
    6: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "no_permission"),
    14: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
    15: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "no_application"),
    100: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "token"),
    110: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "token"),
    111: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "token"),
}
_BAIDU_TOKEN_REFUSED = StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials")

# CTYun, `4.1.3 状态码` > `全局请求返回错误码`:
# 51001 购买服务已过期, 51002 收费 API 未购买, 51003 API 可用次数已不足: that API, until a
#    package or quota is recorded for it (`5.1 计费类`: "有效期内资源包中的次数用完之后，
#    用户无法再调用 AI 产品 API").
# 10002 生成签名时官网 ak 信息错误, 10020 签名错误, 40002 缺少 appkey 头, 40006 无效的
#    appkey: the account's keys are wrong: every API of the account, until an admin resumes.
_CTYUN: dict[int, StopRule] = {
    51001: StopRule(SCOPE_API, REFUSED, LIFT_QUOTA, "service_expired"),
    51002: StopRule(SCOPE_API, REFUSED, LIFT_QUOTA, "not_bought"),
    51003: StopRule(SCOPE_API, REFUSED, LIFT_QUOTA, "used_up"),
    10002: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
    10020: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
    40002: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
    40006: StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
}

_BY_VENDOR: dict[str, dict[int, StopRule]] = {"baidu": _BAIDU, "ctyun": _CTYUN}


def _int_code(code: object) -> int | None:
    try:
        return int(str(code))
    except (TypeError, ValueError):
        return None


def stop_rule(error: BackendError) -> StopRule | None:
    """The stop a vendor's typed error calls for, or None (go on calling)."""
    table = _BY_VENDOR.get(error.vendor)
    if table is None:
        return None
    code = _int_code(error.code)
    if error.vendor == "baidu":
        if error.api == "token" and isinstance(error, AuthError):
            return _BAIDU_TOKEN_REFUSED
        if code in (100, 110, 111) and not isinstance(error, AuthError):
            return None  # a token error the client has not retried with a new token
    return table.get(code) if code is not None else None


# Each reason belongs to one scope: what a resume of that reason lifts.
REASON_SCOPES: dict[str, str] = {
    rule.reason: rule.scope for rule in [*_BAIDU.values(), *_CTYUN.values(), _BAIDU_TOKEN_REFUSED]
}
