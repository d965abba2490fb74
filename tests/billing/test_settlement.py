"""Hourly settlement: what each hour cost, the balance, arrears and the balance reminders
(seed ``欠费处理`` and ``余额不足提醒``), and the Celery tasks that run it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import bills, purchases, rollup, settlement, tasks
from billing.models import HourlyCharge, HourlyRollup, Outcome, UsageRecord
from billing.pricing import SHANGHAI

D = Decimal


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def rolled_up(account, api, at, success, failed=0):
    hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rollup_row, _ = HourlyRollup.objects.get_or_create(account=account, api=api, hour=hour)
    rollup_row.success += success
    rollup_row.failed += failed
    rollup_row.save()


def charges(account, start=None, end=None):
    rows = HourlyCharge.objects.filter(account=account)
    if start:
        rows = rows.filter(hour__gte=start)
    if end:
        rows = rows.filter(hour__lt=end)
    return rows.aggregate(total=Sum("amount"))["total"] or D(0)


@pytest.fixture
def baidu(db):
    """A Baidu account without free quota: every billable call is paid."""
    return purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")


def test_the_hourly_charges_of_a_month_add_up_to_its_pay_as_you_go_amount(baidu):
    # given 30,000 body_attr calls on 1 March, 30,000 on 2 March and 7 on 3 March
    rolled_up(baidu, "body_attr", sh(2024, 3, 1, 10), 30_000)
    rolled_up(baidu, "body_attr", sh(2024, 3, 2, 10), 30_000)
    rolled_up(baidu, "body_attr", sh(2024, 3, 3, 10), 7)
    # when the whole month is settled
    settlement.settle(baidu, sh(2024, 4, 1))
    # then each hour is charged at its place in the tiers: 60, 40 + 18, and 7 x 0.0018
    by_hour = dict(HourlyCharge.objects.filter(account=baidu).values_list("hour", "amount"))
    assert by_hour == {
        sh(2024, 3, 1, 10): D("60.000000"),
        sh(2024, 3, 2, 10): D("58.000000"),
        sh(2024, 3, 3, 10): D("0.012600"),
    }
    # and they add up to the month's exact pay-as-you-go amount (118.0126, billed 118.01)
    assert charges(baidu) == D("118.0126")
    assert bills.current_bill(baidu, 2024, 3).lines_of("payg")[0]["amount"] == "118.01"


def test_only_whole_hours_are_settled_and_settling_again_adds_nothing(baidu):
    # given calls at 09:10 and 10:10
    rolled_up(baidu, "body_num", sh(2024, 3, 1, 9, 10), 1_000)
    rolled_up(baidu, "body_num", sh(2024, 3, 1, 10, 10), 1_000)
    # when settled at 10:30, twice
    settlement.settle(baidu, sh(2024, 3, 1, 10, 30))
    status = settlement.settle(baidu, sh(2024, 3, 1, 10, 45))
    # then only the 09:00 hour is settled, once
    assert status.settled_until == sh(2024, 3, 1, 10)
    assert list(HourlyCharge.objects.values_list("hour", "amount")) == [
        (sh(2024, 3, 1, 9), D("2.000000"))
    ]
    # and the 10:00 hour is settled on the next hour
    settlement.settle(baidu, sh(2024, 3, 1, 11))
    assert HourlyCharge.objects.count() == 2


def test_the_balance_is_top_ups_minus_purchases_minus_hourly_charges(baidu):
    purchases.top_up(baidu, D("1000.00"), sh(2024, 3, 1))
    purchases.buy_package(baidu, "driver_behavior", 300_000, sh(2024, 3, 1, 1))
    purchases.buy_qps(baidu, "gesture", 2, 0, 5, sh(2024, 3, 1, 2))  # 50 x 2 x 5 = 500
    rolled_up(baidu, "body_attr", sh(2024, 3, 1, 5), 10_000)  # 20.00
    status = settlement.settle(baidu, sh(2024, 3, 2))
    assert status.balance == D("1000.00") - D("500.00") - D("500.00") - D("20.00")
    assert status.in_arrears


def test_an_account_falls_into_arrears_when_the_balance_cannot_pay_the_last_hour(baidu):
    # given 30 CNY paid in, and 10,000 calls (20.00) at 09:00 then 10,000 more at 10:00
    purchases.top_up(baidu, D("30.00"), sh(2024, 3, 1))
    rolled_up(baidu, "body_attr", sh(2024, 3, 1, 9), 10_000)
    rolled_up(baidu, "body_attr", sh(2024, 3, 1, 10), 10_000)
    # when 09:00 is settled the balance pays it
    assert not settlement.settle(baidu, sh(2024, 3, 1, 10)).in_arrears
    # when 10:00 is settled the 10 CNY left cannot pay 20: arrears
    status = settlement.settle(baidu, sh(2024, 3, 1, 11))
    assert (status.balance, status.in_arrears) == (D("-10.00"), True)
    assert status.runs_out_at == sh(2024, 3, 1, 11)
    assert settlement.notices(status)[0]["kind"] == "arrears"
    # when money is paid in, the next settlement lifts the arrears
    purchases.top_up(baidu, D("100.00"), sh(2024, 3, 1, 11, 30))
    status = settlement.settle(baidu, sh(2024, 3, 1, 12))
    assert (status.balance, status.in_arrears) == (D("90.00"), False)
    assert "arrears" not in [notice["kind"] for notice in settlement.notices(status)]
    # and the hours already charged are not rewritten
    assert charges(baidu) == D("40.000000")


def test_calls_recorded_late_for_a_settled_hour_are_charged_with_the_next_hour(baidu):
    # given 09:00 settled with 1,000 calls
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=baidu,
            api="body_attr",
            request_id=f"on-time-{i}",
            occurred_at=sh(2024, 3, 1, 9, 5),
            outcome=Outcome.SUCCESS,
        )
        for i in range(1_000)
    )
    settlement.settle(baidu, sh(2024, 3, 1, 10))
    # when 500 more 09:00 calls are imported late, and 10:00 had 250 calls
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=baidu,
            api="body_attr",
            request_id=f"late-{i}",
            occurred_at=sh(2024, 3, 1, 9, 50) if i < 500 else sh(2024, 3, 1, 10, 5),
            outcome=Outcome.SUCCESS,
        )
        for i in range(750)
    )
    settlement.settle(baidu, sh(2024, 3, 1, 11))
    # then 09:00 keeps its charge and 10:00 carries its own calls plus the late ones
    by_hour = dict(HourlyCharge.objects.values_list("hour", "amount"))
    assert by_hour == {sh(2024, 3, 1, 9): D("2.000000"), sh(2024, 3, 1, 10): D("1.500000")}
    assert charges(baidu) == D("3.5")


def test_reminders_go_out_three_two_and_one_days_before_each_once(baidu, caplog):
    # given 300 CNY paid in and 36 CNY of hand_analysis calls a day (250 calls an hour at 6.0)
    purchases.top_up(baidu, D("300.00"), sh(2024, 3, 1))
    for hour in range(9 * 24):
        rolled_up(baidu, "hand_analysis", sh(2024, 3, 1) + timedelta(hours=hour), 250)
    caplog.set_level(logging.WARNING, logger="billing.settlement")

    def sent_after(moment):
        return sorted(settlement.settle(baidu, moment).reminders_sent)

    # when settled day after day, then each reminder is recorded once, in turn
    assert sent_after(sh(2024, 3, 6)) == []  # 120 CNY left: 3.3 days
    assert sent_after(sh(2024, 3, 6, 12)) == ["3"]  # 102 left: 2.8 days
    assert sent_after(sh(2024, 3, 7)) == ["3"]  # 84 left: 2.3 days, already reminded
    assert sent_after(sh(2024, 3, 7, 12)) == ["2", "3"]  # 66 left: 1.8 days
    assert sent_after(sh(2024, 3, 8, 12)) == ["1", "2", "3"]  # 30 left: 0.8 days
    reminders = [r.getMessage() for r in caplog.records if "billing reminder" in r.getMessage()]
    assert len(reminders) == 3
    assert "within 1 day" in reminders[-1]
    status = settlement.settle(baidu, sh(2024, 3, 8, 12))
    expected = sh(2024, 3, 8, 12) + timedelta(hours=20)  # 30 CNY at 36 a day
    assert abs(status.runs_out_at - expected) < timedelta(seconds=1)
    assert {n["kind"] for n in settlement.notices(status)} == {
        "1_days_before",
        "2_days_before",
        "3_days_before",
    }


def test_a_top_up_ends_the_reminder_episode_so_the_next_shortfall_is_reminded_again(baidu):
    purchases.top_up(baidu, D("100.00"), sh(2024, 3, 1))
    for hour in range(5 * 24):
        rolled_up(baidu, "hand_analysis", sh(2024, 3, 1) + timedelta(hours=hour), 250)
    assert settlement.settle(baidu, sh(2024, 3, 2)).reminders_sent.keys() == {"2"}
    purchases.top_up(baidu, D("1000.00"), sh(2024, 3, 2, 0, 30))
    assert settlement.settle(baidu, sh(2024, 3, 2, 1)).reminders_sent == {}


def test_ctyun_usage_is_prepaid_so_its_hours_cost_nothing(db):
    account = purchases.add_account(
        "Plant 1 CTYun", "ctyun", "enterprise", free_claimed_at=sh(2024, 1, 1)
    )
    purchases.top_up(account, D("10.00"), sh(2024, 3, 1))
    rolled_up(account, "helmet", sh(2024, 3, 1, 9), 5_000)
    status = settlement.settle(account, sh(2024, 3, 2))
    assert (status.balance, status.in_arrears) == (D("10.00"), False)
    assert not HourlyCharge.objects.exists()


def test_an_account_with_no_activity_is_settled_up_to_now_without_charges(baidu):
    status = settlement.settle(baidu, sh(2024, 3, 1, 10, 30))
    assert (status.settled_until, status.balance, status.in_arrears) == (
        sh(2024, 3, 1, 10),
        D("0.00"),
        False,
    )


def test_the_hourly_tasks_roll_up_and_settle_every_billed_account(baidu):
    # given a call not rolled up yet and a CTYun account too
    other = purchases.add_account("Plant 1 CTYun", "ctyun", "personal")
    UsageRecord.objects.create(
        account=baidu,
        api="body_attr",
        request_id="t1",
        occurred_at=sh(2024, 3, 1, 9),
        outcome=Outcome.SUCCESS,
    )
    # when the tasks run (as beat runs them on the hour)
    assert tasks.roll_up_usage() == 1
    assert tasks.settle_accounts() == 2
    # then the call is rolled up and both accounts have a status
    assert HourlyRollup.objects.get(account=baidu).success == 1
    assert baidu.billing_status.settled_until is not None
    assert other.billing_status.settled_until is not None
    assert rollup.roll_up() == 0


def test_the_beat_schedule_runs_both_tasks_every_hour_on_the_hour():
    for entry in tasks.BEAT_SCHEDULE.values():
        schedule = entry["schedule"]
        assert schedule.minute == {0}
        assert schedule.hour == set(range(24))
    assert {entry["task"] for entry in tasks.BEAT_SCHEDULE.values()} == {
        "billing.tasks.roll_up_usage",
        "billing.tasks.settle_accounts",
    }
