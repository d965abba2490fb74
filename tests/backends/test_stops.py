"""The vendors' stop rules as the seeds' error tables give them (Baidu `错误码`, CTYun
`4.1.3 状态码`), read from the clients' own typed errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring.backends import baidu, ctyun
from monitoring.backends.baidu import client as baidu_client
from monitoring.backends.base import AuthError, RateLimited, ServiceError, TokenExpired
from monitoring.backends.stops import next_shanghai_midnight, stop_rule


@pytest.mark.parametrize(
    ("code", "scope", "state", "lift"),
    [
        (17, "api", "paused", "next_day"),
        (19, "api", "refused", "resume"),
        (6, "account", "refused", "resume"),
        (14, "account", "refused", "resume"),
        (15, "account", "refused", "resume"),
    ],
)
def test_baidu_stop_codes(code, scope, state, lift):
    error = baidu.error_from_answer({"error_code": code, "error_msg": "x"}, api="body_attr")
    rule = stop_rule(error)
    assert (rule.scope, rule.state, rule.lift) == (scope, state, lift)


@pytest.mark.parametrize("code", [1, 2, 4, 18, 216100, 282000])
def test_baidu_codes_that_do_not_stop(code):
    error = baidu.error_from_answer({"error_code": code, "error_msg": "x"}, api="body_attr")
    assert stop_rule(error) is None


def test_a_baidu_token_error_stops_only_once_the_client_refreshed_the_token():
    first = baidu.error_from_answer({"error_code": 110, "error_msg": "x"}, api="body_attr")
    assert isinstance(first, TokenExpired) and stop_rule(first) is None
    again = baidu_client._token_refused(first)
    assert stop_rule(again).scope == "account"
    refused_key_pair = AuthError("invalid_client", vendor="baidu", api="token", code="x")
    assert stop_rule(refused_key_pair).scope == "account"


@pytest.mark.parametrize(
    ("code", "scope", "lift"),
    [
        (51001, "api", "quota"),
        (51002, "api", "quota"),
        (51003, "api", "quota"),
        (10002, "account", "resume"),
        (10020, "account", "resume"),
        (40002, "account", "resume"),
        (40006, "account", "resume"),
    ],
)
def test_ctyun_stop_codes(code, scope, lift):
    error_class = ctyun.GATEWAY_ERRORS[code][0]
    error = error_class("x", vendor="ctyun", api="helmet", code=code)
    rule = stop_rule(error)
    assert (rule.scope, rule.state, rule.lift) == (scope, "refused", lift)


def test_rate_limits_and_service_errors_never_stop():
    assert stop_rule(RateLimited("busy", vendor="ctyun", api="helmet", http_status=429)) is None
    assert stop_rule(ServiceError("x", vendor="ctyun", api="helmet", code=50000)) is None


def test_the_daily_pause_ends_at_midnight_in_shanghai():
    # 23:59 in Shanghai on 4 May is 15:59 UTC; 00:30 on 5 May is 16:30 UTC on 4 May
    assert next_shanghai_midnight(datetime(2026, 5, 4, 15, 59, tzinfo=UTC)) == datetime(
        2026, 5, 4, 16, 0, tzinfo=UTC
    )
    assert next_shanghai_midnight(datetime(2026, 5, 4, 16, 30, tzinfo=UTC)) == datetime(
        2026, 5, 5, 16, 0, tzinfo=UTC
    )
