"""Hourly rollups of the usage ledger: idempotent, safe to run concurrently, and
``hourly_usage`` always current without counting an hour twice."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from billing import purchases, rollup
from billing.models import HourlyRollup, Outcome, UsageRecord
from billing.pricing import SHANGHAI, HourlyUsage

_ids = itertools.count()


def sh(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def utc(year, month, day, hour=0):
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def account(db):
    return purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")


def record(account, api, at, outcome=Outcome.SUCCESS, count=1):
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            api=api,
            request_id=f"r{next(_ids)}",
            occurred_at=at,
            outcome=outcome,
        )
        for _ in range(count)
    )


def rollups(account):
    return {
        (r.api, r.hour): (r.success, r.failed, r.transport_errors, r.refused)
        for r in HourlyRollup.objects.filter(account=account)
    }


def test_rolling_up_counts_each_hour_by_outcome_and_marks_the_rows(account):
    # given calls of one API in the 10:00 Shanghai hour, with every outcome
    record(account, "body_attr", sh(2024, 3, 1, 10, 5), count=3)
    record(account, "body_attr", sh(2024, 3, 1, 10, 59), Outcome.VENDOR_ERROR, count=2)
    record(account, "body_attr", sh(2024, 3, 1, 10, 30), Outcome.TRANSPORT_ERROR)
    record(account, "body_attr", sh(2024, 3, 1, 10, 31), Outcome.REFUSED, count=4)
    # when the ledger is rolled up
    claimed = rollup.roll_up()
    # then the hour (02:00 UTC) holds every count and no row is left pending
    assert claimed == 10
    assert rollups(account) == {("body_attr", utc(2024, 3, 1, 2)): (3, 2, 1, 4)}
    assert not UsageRecord.objects.filter(rolled_up=False).exists()


def test_rolling_up_twice_changes_nothing(account):
    # given a rolled-up ledger
    record(account, "body_num", sh(2024, 3, 1, 9), count=5)
    record(account, "gesture", sh(2024, 3, 1, 11), Outcome.VENDOR_ERROR, count=2)
    rollup.roll_up()
    before = rollups(account)
    # when it is rolled up again
    claimed = rollup.roll_up()
    # then nothing is claimed and the counts are the same
    assert claimed == 0
    assert rollups(account) == before


def test_rows_recorded_after_a_rollup_are_folded_into_their_hour(account):
    # given an hour already rolled up
    record(account, "body_attr", sh(2024, 3, 1, 10, 1), count=4)
    rollup.roll_up()
    # when more calls of that hour arrive late (an import) and the ledger is rolled up again
    record(account, "body_attr", sh(2024, 3, 1, 10, 50), count=3)
    record(account, "body_attr", sh(2024, 3, 1, 10, 51), Outcome.VENDOR_ERROR)
    rollup.roll_up()
    # then the hour is recounted from the whole ledger, not added to twice
    assert rollups(account) == {("body_attr", utc(2024, 3, 1, 2)): (7, 1, 0, 0)}


def test_small_batches_give_the_same_rollups_as_one_batch(account):
    # given calls spread over several hours and APIs
    for hour in range(6):
        record(account, "body_attr", sh(2024, 3, 1, hour, 10), count=hour + 1)
        record(account, "body_num", sh(2024, 3, 1, hour, 20), Outcome.VENDOR_ERROR, count=2)
    # when they are rolled up three rows at a time
    claimed = rollup.roll_up(batch_size=3)
    # then every row is counted exactly once
    assert claimed == 21 + 12
    counts = rollups(account)
    assert sum(c[0] for c in counts.values()) == 21
    assert sum(c[1] for c in counts.values()) == 12


def test_a_rollup_recomputed_from_a_stale_count_is_corrected_by_the_ledger(account):
    # given a rollup whose counts are wrong (as if an earlier run had counted too early)
    record(account, "body_attr", sh(2024, 3, 1, 10), count=2)
    HourlyRollup.objects.create(
        account=account, api="body_attr", hour=utc(2024, 3, 1, 2), success=9
    )
    # when the pending rows of that hour are rolled up
    rollup.roll_up()
    # then the counts come from the ledger, not from what was stored
    assert rollups(account) == {("body_attr", utc(2024, 3, 1, 2)): (2, 0, 0, 0)}


def test_hourly_usage_counts_billable_calls_per_api_and_utc_hour(account):
    # given calls of every outcome around a Shanghai hour boundary
    record(account, "body_attr", sh(2024, 3, 1, 8, 59, 59), count=2)
    record(account, "body_attr", sh(2024, 3, 1, 9, 0, 0), Outcome.VENDOR_ERROR)
    record(account, "body_attr", sh(2024, 3, 1, 9, 0, 1), Outcome.TRANSPORT_ERROR)
    record(account, "body_attr", sh(2024, 3, 1, 9, 0, 2), Outcome.REFUSED)
    # when the usage of the day is read (pending rows, no rollup yet)
    usage = rollup.hourly_usage(account, sh(2024, 3, 1), sh(2024, 3, 2))
    # then successes and vendor errors are billable; transport errors and refusals are not
    assert usage == [
        HourlyUsage(utc(2024, 3, 1, 0), "body_attr", 2, 0),
        HourlyUsage(utc(2024, 3, 1, 1), "body_attr", 0, 1),
    ]


def test_hourly_usage_never_counts_an_hour_twice_when_it_has_a_rollup_and_pending_rows(account):
    # given an hour rolled up, then more calls in it not rolled up yet
    record(account, "body_attr", sh(2024, 3, 1, 10, 1), count=5)
    rollup.roll_up()
    record(account, "body_attr", sh(2024, 3, 1, 10, 2), count=2)
    # when the usage is read
    usage = rollup.hourly_usage(account, sh(2024, 3, 1), sh(2024, 3, 2))
    # then the hour counts every call once: 7, not 5 + 7 or 5 + 2 + 5
    assert usage == [HourlyUsage(utc(2024, 3, 1, 2), "body_attr", 7, 0)]


def test_hourly_usage_is_the_same_before_and_after_rolling_up(account):
    # given calls in several hours, some of them rolled up already
    record(account, "body_attr", sh(2024, 3, 1, 1), count=3)
    rollup.roll_up()
    record(account, "body_attr", sh(2024, 3, 1, 1, 30), Outcome.VENDOR_ERROR)
    record(account, "body_num", sh(2024, 3, 2, 23, 59), count=4)
    before = rollup.hourly_usage(account, sh(2024, 3, 1), sh(2024, 4, 1))
    # when everything is rolled up
    rollup.roll_up()
    # then the usage read is unchanged
    assert rollup.hourly_usage(account, sh(2024, 3, 1), sh(2024, 4, 1)) == before
    assert sum(u.success + u.failed for u in before) == 8


def test_hourly_usage_keeps_to_the_hours_starting_in_the_range_and_to_the_account(account):
    # given calls just before, inside and at the end of March, and another account's calls
    other = purchases.add_account("Other", "baidu", "personal")
    record(account, "body_attr", sh(2024, 2, 29, 23, 59))
    record(account, "body_attr", sh(2024, 3, 1, 0, 0), count=2)
    record(account, "body_attr", sh(2024, 4, 1, 0, 0))
    record(other, "body_attr", sh(2024, 3, 5), count=9)
    # when March is read
    usage = rollup.hourly_usage(account, sh(2024, 3, 1), sh(2024, 4, 1))
    # then only this account's March calls are there
    assert usage == [HourlyUsage(utc(2024, 2, 29, 16), "body_attr", 2, 0)]


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="needs PostgreSQL row locks (the SQLite test database is one in-memory connection)",
)
@pytest.mark.django_db(transaction=True)
def test_rollups_running_concurrently_with_new_calls_never_double_count():
    # given an account whose calls keep arriving while two rollup workers run
    account = purchases.add_account("Concurrent", "baidu", "enterprise")
    hours = [sh(2024, 3, 1, h, 30) for h in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        try:
            for index in range(300):
                record(account, ("body_attr", "body_num")[index % 2], hours[index % 3])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()
            close_old_connections()
            connection.close()

    def roller():
        try:
            while not stop.is_set():
                rollup.roll_up(batch_size=7)
            rollup.roll_up(batch_size=7)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=roller) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # when a last rollup runs after the calls stopped
    rollup.roll_up()
    # then every call is in exactly one rollup count, and none is pending
    assert errors == []
    assert not UsageRecord.objects.filter(rolled_up=False).exists()
    counts = rollups(account)
    assert sum(c[0] for c in counts.values()) == 300
    for (api, hour), (success, *_rest) in counts.items():
        ledger = UsageRecord.objects.filter(
            account=account, api=api, occurred_at__gte=hour, occurred_at__lt=hour + rollup.HOUR
        ).count()
        assert success == ledger


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="needs PostgreSQL row locks (the SQLite test database is one in-memory connection)",
)
@pytest.mark.django_db(transaction=True)
def test_a_run_that_counted_first_cannot_overwrite_a_later_runs_count(monkeypatch):
    # given an hour already rolled up, and run A that has claimed a late call of that hour
    # and counted the hour, then pauses
    account = purchases.add_account("Race", "baidu", "enterprise")
    record(account, "body_attr", sh(2024, 3, 1, 10, 0))
    rollup.roll_up()
    record(account, "body_attr", sh(2024, 3, 1, 10, 1))
    counted, release = threading.Event(), threading.Event()
    real_counts = rollup._ledger_counts
    errors: list[BaseException] = []

    def counts_then_pause(*args, **kwargs):
        result = real_counts(*args, **kwargs)
        if threading.current_thread().name == "run-a":
            counted.set()
            release.wait(timeout=30)
        return result

    monkeypatch.setattr(rollup, "_ledger_counts", counts_then_pause)

    def run():
        try:
            rollup.roll_up()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    run_a = threading.Thread(target=run, name="run-a")
    run_a.start()
    assert counted.wait(timeout=30)
    # when a second call of that hour arrives and run B rolls it up while A is paused
    record(account, "body_attr", sh(2024, 3, 1, 10, 2))
    run_b = threading.Thread(target=run, name="run-b")
    run_b.start()
    run_b.join(timeout=1)
    release.set()
    run_a.join(timeout=30)
    run_b.join(timeout=30)
    # then the hour holds all three calls: A's earlier count did not overwrite B's
    assert errors == []
    assert rollups(account) == {("body_attr", utc(2024, 3, 1, 2)): (3, 0, 0, 0)}
