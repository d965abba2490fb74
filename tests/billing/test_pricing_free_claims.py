"""Free quotas as the vendors grant them: Baidu per API, each from its own claim date, valid
365 days (`免费测试资源`); CTYun per API per calendar year, claimed again each year
(`3.1 计费模式`: "以单个 API 为统计维度，当年有效，过期作废")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from billing import pricing
from billing.pricing import SHANGHAI, FreeClaim, PricingError, claimed_free_quotas

BAIDU = pricing.DEFAULT_PLANS["baidu"]
CTYUN = pricing.DEFAULT_PLANS["ctyun"]


def sh(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def by_id(quotas) -> dict:
    return {quota.id: quota for quota in quotas}


# ---------------------------------------------------------------- Baidu


def test_a_baidu_claim_of_one_api_grants_that_api_only_for_365_days_from_its_own_date():
    quotas = claimed_free_quotas(
        BAIDU, [FreeClaim(BAIDU, sh(2026, 3, 1, 10), "body_attr")], "personal"
    )

    assert [q.api for q in quotas] == ["body_attr"]
    (quota,) = quotas
    assert quota.id == "free:body_attr"
    assert quota.calls == 10_000
    assert quota.claimed_at == sh(2026, 3, 1, 10)
    assert quota.expires_at == sh(2026, 3, 1, 10) + timedelta(days=365)


def test_two_baidu_apis_claimed_on_different_dates_each_keep_their_own_date_and_size():
    quotas = by_id(
        claimed_free_quotas(
            BAIDU,
            [
                FreeClaim(BAIDU, sh(2026, 1, 5), "body_num"),
                FreeClaim(BAIDU, sh(2026, 6, 20), "driver_behavior"),
            ],
            "enterprise",
        )
    )

    assert quotas["free:body_num"].expires_at == sh(2027, 1, 5)
    assert quotas["free:body_num"].calls == 50_000
    assert quotas["free:driver_behavior"].claimed_at == sh(2026, 6, 20)
    assert quotas["free:driver_behavior"].calls == 10_000


def test_a_whole_account_claim_covers_every_api_the_plan_prices_unless_one_has_its_own_date():
    quotas = by_id(
        claimed_free_quotas(
            BAIDU,
            [
                FreeClaim(BAIDU, sh(2026, 1, 1)),  # every API at once
                FreeClaim(BAIDU, sh(2026, 9, 1), "gesture"),
            ],
            "personal",
        )
    )

    assert set(quotas) == {f"free:{api.api}" for api in BAIDU.apis}
    assert quotas["free:body_attr"].claimed_at == sh(2026, 1, 1)
    assert quotas["free:gesture"].claimed_at == sh(2026, 9, 1)


def test_a_baidu_api_cannot_be_claimed_twice_its_free_quota_is_one_off():
    with pytest.raises(PricingError, match="one-off"):
        claimed_free_quotas(
            BAIDU,
            [
                FreeClaim(BAIDU, sh(2026, 1, 1), "body_attr"),
                FreeClaim(BAIDU, sh(2027, 2, 1), "body_attr"),
            ],
            "personal",
        )


def test_a_baidu_claim_for_an_api_the_plan_does_not_price_is_refused():
    with pytest.raises(PricingError):
        claimed_free_quotas(BAIDU, [FreeClaim(BAIDU, sh(2026, 1, 1), "fingertip")], "personal")


# ---------------------------------------------------------------- CTYun


def test_a_ctyun_claim_is_valid_until_the_end_of_its_calendar_year_in_shanghai():
    (quota,) = claimed_free_quotas(CTYUN, [FreeClaim(CTYUN, sh(2026, 11, 30, 9), "helmet")], "")

    assert quota.id == "free:helmet:2026"
    assert quota.calls == 10_000
    assert quota.expires_at == sh(2027, 1, 1)


def test_a_ctyun_api_claimed_again_the_next_year_keeps_both_years_as_separate_quotas():
    quotas = by_id(
        claimed_free_quotas(
            CTYUN,
            [
                FreeClaim(CTYUN, sh(2026, 4, 1), "fence"),
                FreeClaim(CTYUN, sh(2027, 1, 1, 0, 5), "fence"),
            ],
            "",
        )
    )

    assert set(quotas) == {"free:fence:2026", "free:fence:2027"}
    assert quotas["free:fence:2026"].expires_at == sh(2027, 1, 1)
    assert quotas["free:fence:2027"].claimed_at == sh(2027, 1, 1, 0, 5)
    assert quotas["free:fence:2027"].expires_at == sh(2028, 1, 1)


def test_a_ctyun_api_cannot_be_claimed_twice_in_one_calendar_year():
    with pytest.raises(PricingError, match="once a year"):
        claimed_free_quotas(
            CTYUN,
            [
                FreeClaim(CTYUN, sh(2026, 2, 1), "helmet"),
                FreeClaim(CTYUN, sh(2026, 12, 31, 23), "helmet"),
            ],
            "",
        )


def test_a_whole_account_ctyun_claim_covers_the_metered_apis_of_its_year_only():
    quotas = by_id(
        claimed_free_quotas(
            CTYUN,
            [FreeClaim(CTYUN, sh(2026, 5, 1)), FreeClaim(CTYUN, sh(2027, 3, 1), "workwear")],
            "",
        )
    )

    assert set(quotas) == {
        "free:helmet:2026",
        "free:workwear:2026",
        "free:fence:2026",
        "free:workwear:2027",
    }


def test_a_ctyun_per_api_claim_in_the_year_of_a_whole_account_claim_takes_its_place():
    quotas = by_id(
        claimed_free_quotas(
            CTYUN,
            [FreeClaim(CTYUN, sh(2026, 5, 1)), FreeClaim(CTYUN, sh(2026, 2, 1), "helmet")],
            "",
        )
    )

    assert quotas["free:helmet:2026"].claimed_at == sh(2026, 2, 1)
    assert quotas["free:fence:2026"].claimed_at == sh(2026, 5, 1)


def test_a_ctyun_claim_for_an_ability_free_for_a_limited_time_is_refused():
    with pytest.raises(PricingError, match="limited time"):
        claimed_free_quotas(CTYUN, [FreeClaim(CTYUN, sh(2026, 1, 1), "fall")], "")


def test_last_years_quota_no_longer_serves_calls_but_this_years_claim_does():
    quotas = claimed_free_quotas(
        CTYUN,
        [FreeClaim(CTYUN, sh(2026, 3, 1), "helmet"), FreeClaim(CTYUN, sh(2027, 1, 2), "helmet")],
        "",
    )
    used_up_2026 = pricing.ctyun_quota_state(
        CTYUN,
        "helmet",
        free_quotas=quotas,
        carried=pricing.Carry(as_of=sh(2026, 12, 1), free_used={"free:helmet:2026": 10_000}),
    )

    assert not pricing.ctyun_can_call(used_up_2026, at=sh(2026, 12, 31, 23))
    assert not pricing.ctyun_can_call(used_up_2026, at=sh(2027, 1, 1, 12))  # not claimed yet
    assert pricing.ctyun_can_call(used_up_2026, at=sh(2027, 1, 2, 0, 1))
