"""The usage ledger as the call path writes it (one row per attempt, idempotent on the
request id) and reads it (hourly counts, what is left of free quota and packages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing import pricing, rollup
from billing.models import Package, QpsOrder, UsageRecord
from billing.usage import (
    INTERRUPTED,
    PENDING_GRACE,
    baidu_free_quota_left,
    close_interrupted,
    complete_attempt,
    ctyun_free_quota_left,
    ctyun_quota_state_now,
    ledger_request_id,
    record_attempt,
)
from monitoring.backends.base import Attempt
from tests.factories import BaiduAccountFactory, CtyunAccountFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def attempt(request_id: str = "req-1", **fields) -> Attempt:
    values = {
        "vendor": "baidu",
        "api": "body_attr",
        "request_id": request_id,
        "started_at": NOON.timestamp(),
        "latency_ms": 123.0,
        "outcome": "success",
    }
    values.update(fields)
    return Attempt(**values)


@pytest.fixture
def baidu():
    return BaiduAccountFactory(name="Baidu")


@pytest.fixture
def ctyun():
    return CtyunAccountFactory(name="CTYun")


def rows(account, api: str, outcome: str, count: int, at: datetime, tag: str = "r") -> None:
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            api=api,
            request_id=f"{tag}-{api}-{outcome}-{n}",
            occurred_at=at,
            outcome=outcome,
        )
        for n in range(count)
    )


# ---------------------------------------------------------------- writing


def test_recording_an_attempt_writes_one_row_with_its_facts(baidu):
    # when one attempt is recorded for camera 7
    created = record_attempt(
        baidu.pk, attempt(outcome="vendor_error", error_code="18", images=1), camera_id=7
    )
    # then one row holds what happened, when and for whom
    assert created is True
    row = UsageRecord.objects.get()
    assert (row.account_id, row.api, row.camera_id, row.request_id) == (
        baidu.pk,
        "body_attr",
        7,
        "req-1",
    )
    assert (row.outcome, row.error_code, row.latency_ms) == ("vendor_error", "18", 123.0)
    assert row.occurred_at == NOON
    assert row.source == "live" and row.rolled_up is False


def test_recording_the_same_request_id_again_adds_nothing_and_says_so(baidu):
    assert record_attempt(baidu.pk, attempt("same")) is True
    # when the same attempt is recorded again (a re-run task)
    again = record_attempt(baidu.pk, attempt("same", outcome="transport_error"))
    # then there is still one row, the first one
    assert again is False
    assert list(UsageRecord.objects.values_list("outcome", flat=True)) == ["success"]


def test_a_conflict_inside_a_transaction_leaves_the_transaction_usable(baidu):
    # given an outer transaction (a task's) that records a duplicate
    with transaction.atomic():
        record_attempt(baidu.pk, attempt("dup"))
        assert record_attempt(baidu.pk, attempt("dup")) is False
        # then the transaction can still write
        assert record_attempt(baidu.pk, attempt("other")) is True
    assert UsageRecord.objects.count() == 2


def test_one_request_id_on_two_accounts_is_two_rows(baidu, ctyun):
    assert record_attempt(baidu.pk, attempt("shared"))
    assert record_attempt(ctyun.pk, attempt("shared", vendor="ctyun", api="helmet"))
    assert UsageRecord.objects.count() == 2


def test_an_attempt_without_request_id_or_with_an_unknown_outcome_is_rejected(baidu):
    with pytest.raises(ValueError, match="request id"):
        record_attempt(baidu.pk, attempt(""))
    with pytest.raises(ValueError, match="outcome"):
        record_attempt(baidu.pk, attempt(outcome="maybe"))
    assert not UsageRecord.objects.exists()


# ---------------------------------------------------------------- requests in flight


def test_a_pending_row_gets_the_outcome_that_came_back_and_is_rolled_up_again(baidu):
    # Given a request recorded as it left, and rolled up while it was in flight
    assert record_attempt(baidu.pk, attempt(outcome="pending", latency_ms=0.0), camera_id=4)
    rollup.roll_up()
    assert UsageRecord.objects.get().rolled_up
    assert rollup.hourly_usage(baidu, NOON, NOON + timedelta(hours=1)) == []
    # When its answer comes back as a vendor error
    done = attempt(outcome="vendor_error", error_code="18", latency_ms=250.0)
    assert complete_attempt(baidu.pk, done, camera_id=4)
    # Then the same row holds the outcome, ready to be rolled up again
    row = UsageRecord.objects.get()
    assert (row.outcome, row.error_code, row.latency_ms, row.camera_id, row.rolled_up) == (
        "vendor_error",
        "18",
        250.0,
        4,
        False,
    )
    # and the next rollup counts it as a failed call the vendor answered
    rollup.roll_up()
    (hour,) = rollup.hourly_usage(baidu, NOON, NOON + timedelta(hours=1))
    assert (hour.success, hour.failed) == (0, 1)


def test_an_answer_that_comes_after_its_row_was_closed_as_interrupted_still_counts(baidu):
    # Given a request whose row was closed as interrupted while it was still in flight
    left = NOON - PENDING_GRACE - timedelta(minutes=1)
    record_attempt(baidu.pk, attempt(outcome="pending", started_at=left.timestamp()))
    assert close_interrupted(NOON) == 1
    # When its answer comes after all
    assert complete_attempt(baidu.pk, attempt(outcome="success", started_at=left.timestamp()))
    # Then the row holds it, to be rolled up again
    row = UsageRecord.objects.get()
    assert (row.outcome, row.error_code, row.rolled_up) == ("success", "", False)


def test_completing_an_attempt_without_a_pending_row_records_it(baidu):
    assert complete_attempt(baidu.pk, attempt(outcome="success"))
    assert UsageRecord.objects.get().outcome == "success"
    # and a second completion of a finished row changes nothing
    assert not complete_attempt(baidu.pk, attempt(outcome="transport_error"))
    assert UsageRecord.objects.get().outcome == "success"


def test_an_attempt_is_completed_with_an_outcome_not_pending(baidu):
    with pytest.raises(ValueError, match="pending"):
        complete_attempt(baidu.pk, attempt(outcome="pending"))


def test_rows_pending_past_the_grace_are_closed_as_interrupted_transport_errors(baidu):
    # Given two requests in flight: one left just over the grace ago, one just under
    left_long_ago = NOON - PENDING_GRACE - timedelta(seconds=1)
    left_lately = NOON - PENDING_GRACE + timedelta(seconds=1)
    record_attempt(
        baidu.pk, attempt("old", outcome="pending", started_at=left_long_ago.timestamp())
    )
    record_attempt(baidu.pk, attempt("new", outcome="pending", started_at=left_lately.timestamp()))
    record_attempt(baidu.pk, attempt("done", started_at=left_long_ago.timestamp()))
    rollup.roll_up()
    # When the interrupted ones are closed at noon
    assert close_interrupted(NOON) == 1
    # Then only the old one is closed, as a transport error to roll up again
    closed = {
        r.request_id: (r.outcome, r.error_code, r.rolled_up) for r in UsageRecord.objects.all()
    }
    assert closed == {
        "old": ("transport_error", INTERRUPTED, False),
        "new": ("pending", "", True),
        "done": ("success", "", True),
    }
    # and closing again finds nothing more
    assert close_interrupted(NOON) == 0
    rollup.roll_up()
    hour = left_long_ago.replace(minute=0, second=0, microsecond=0)
    counts = rollup.hour_counts(baidu, hour, NOON)
    assert counts[("body_attr", hour)]["transport_errors"] == 1


def test_ledger_request_ids_name_the_work_the_request_and_the_attempt():
    assert ledger_request_id("frame-42", "body_attr", 0, 1) == "frame-42:body_attr:0:1"
    assert ledger_request_id("frame-42", "fence", 1, 3) == "frame-42:fence:1:3"
    # a refusal never takes the id of the request a later run really makes
    refused = ledger_request_id("frame-42", "body_attr", 0, 1, refused=True)
    assert refused == "frame-42:body_attr:0:1:refused"


def test_a_long_prefix_is_hashed_so_the_id_fits_and_stays_deterministic():
    prefix = "x" * 200
    first = ledger_request_id(prefix, "body_attr", 0, 1)
    assert len(first) <= 100
    assert first == ledger_request_id(prefix, "body_attr", 0, 1)
    assert first != ledger_request_id(prefix + "y", "body_attr", 0, 1)
    assert first.endswith(":body_attr:0:1")


# ---------------------------------------------------------------- reading


def test_the_baidu_free_quota_is_used_by_successes_and_failures_since_the_claim(baidu):
    # given a personal claim (10,000 calls) and 300 successes and 200 failures after it
    now = timezone.now()
    baidu.free_quota_claimed_at = now - timedelta(days=2)
    baidu.save()
    rows(baidu, "body_attr", "success", 300, now - timedelta(days=1))
    rows(baidu, "body_attr", "vendor_error", 200, now - timedelta(hours=5))
    # and calls before the claim, of another API, or refused, which do not count
    rows(baidu, "body_attr", "success", 50, now - timedelta(days=3), tag="before")
    rows(baidu, "body_num", "success", 70, now - timedelta(hours=1))
    rows(baidu, "body_attr", "refused", 90, now - timedelta(hours=1), tag="ref")
    # then 9,500 calls are left
    assert baidu_free_quota_left(baidu, "body_attr", at=now) == 9_500


def test_calls_covered_by_a_qps_order_leave_the_free_quota_alone(baidu):
    now = timezone.now()
    baidu.free_quota_claimed_at = now - timedelta(days=10)
    baidu.save()
    QpsOrder.objects.create(
        account=baidu,
        api="body_attr",
        qps=2,
        days=3,
        price=Decimal("300"),
        purchased_at=now - timedelta(days=4),
        expires_at=now - timedelta(days=1),
    )
    rows(baidu, "body_attr", "success", 400, now - timedelta(days=2))  # under the order
    rows(baidu, "body_attr", "success", 100, now - timedelta(hours=3), tag="after")
    assert baidu_free_quota_left(baidu, "body_attr", at=now) == 9_900


def test_there_is_no_baidu_free_quota_without_a_claim_or_after_365_days(baidu):
    now = timezone.now()
    assert baidu_free_quota_left(baidu, "body_attr", at=now) == 0
    baidu.free_quota_claimed_at = now - timedelta(days=366)
    baidu.save()
    assert baidu_free_quota_left(baidu, "body_attr", at=now) == 0


def test_ctyun_successes_use_the_free_quota_first_then_packages(ctyun):
    # given this year's free quota and a 100,000-call package bought later
    now = timezone.now()
    ctyun.free_quota_claimed_at = now - timedelta(hours=6)
    ctyun.save()
    Package.objects.create(
        account=ctyun,
        api="helmet",
        calls=100_000,
        price=Decimal(0),
        purchased_at=now - timedelta(hours=2),
        expires_at=now + timedelta(days=300),
    )
    rows(ctyun, "helmet", "success", 120, now - timedelta(hours=1))
    rows(ctyun, "helmet", "vendor_error", 500, now - timedelta(hours=1))  # never counted
    state = ctyun_quota_state_now(ctyun, "helmet", at=now)
    # then the free quota took the successes, the package is whole
    assert ctyun_free_quota_left(state, at=now) == 10_000 - 120
    assert [b.remaining for b in state.packages] == [100_000]
    assert pricing.ctyun_can_call(state, at=now)


def test_a_ctyun_ability_free_for_a_limited_time_is_not_metered(ctyun):
    state = ctyun_quota_state_now(ctyun, "fall", at=timezone.now())
    assert state is not None and state.metered is False


def test_what_is_left_counts_rolled_up_hours_and_the_hour_not_rolled_up_yet_alike(baidu):
    # given a claim, 300 calls rolled up into hourly rollups, then 200 more not yet
    from billing.rollup import roll_up

    now = timezone.now()
    baidu.free_quota_claimed_at = now - timedelta(days=2)
    baidu.save()
    rows(baidu, "body_attr", "success", 300, now - timedelta(days=1))
    assert roll_up() == 300
    rows(baidu, "body_attr", "success", 200, now - timedelta(seconds=30), tag="new")
    # then every call counts once
    assert baidu_free_quota_left(baidu, "body_attr", at=now) == 10_000 - 500
