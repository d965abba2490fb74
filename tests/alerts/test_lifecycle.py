"""The alert lifecycle: open, update, acknowledge, resolve (by a person or by itself),
cooldown, and at most one unresolved alert per rule, camera and region, even when
workers race."""

from __future__ import annotations

import contextlib
import threading
from datetime import time

import pytest
from django.db import IntegrityError, connection, transaction

from alerts import lifecycle
from alerts.lifecycle import AlertTransitionError, acknowledge, apply_decision, resolve
from alerts.models import Alert, AlertChange, AlertStatus, LiveEvent, RuleState
from cameras import roles
from cameras.models import Frame

from .conftest import CALLS, at, decision, results

pytestmark = pytest.mark.django_db


def fire(rule, frame, seconds, score=0.9, **options):
    return apply_decision(
        rule,
        rule.camera,
        rule.region,
        decision(score, **options),
        frame=frame,
        results=results(score),
        vendor_calls=CALLS,
        now=at(seconds),
    )


def actions(alert):
    return list(alert.changes.order_by("at", "id").values_list("action", flat=True))


def test_a_firing_decision_opens_an_alert_with_its_evidence(rule, make_frame):
    frame = make_frame(rule.camera)

    alert = fire(rule, frame, 0)

    assert alert.status == AlertStatus.OPEN
    assert (alert.site_id, alert.camera_id, alert.region_id) == (
        rule.camera.site_id,
        rule.camera_id,
        rule.region_id,
    )
    assert alert.severity == "critical"
    assert alert.title == "No entry to the yard"
    assert alert.summary == "1 person inside fence 'Yard'"
    assert alert.count == 1
    assert alert.opened_at == alert.last_seen_at == at(0)
    assert alert.best_score == pytest.approx(0.9)
    assert alert.best_frame == frame
    assert alert.evidence.name.endswith(".jpg")
    assert alert.evidence.storage.exists(alert.evidence.name)
    assert alert.findings[0]["label"] == "person inside fence"
    assert alert.normalized[0]["api"] == "body_attr"
    assert "raw" not in alert.normalized[0]
    assert alert.raw == [{"person_num": 2, "log_id": 1234}]
    assert alert.vendor_calls == [
        {"request_id": "req-1", "account": 7, "vendor": "", "api": "body_attr", "cost": "0.0040"}
    ]
    frame.refresh_from_db()
    assert frame.keep is True
    assert actions(alert) == ["opened"]
    assert LiveEvent.objects.get().type == "alert.opened"


def test_a_decision_that_holds_again_updates_the_open_alert(rule, make_frame):
    first = fire(rule, make_frame(rule.camera, 0), 0)

    second = fire(rule, make_frame(rule.camera, 5), 5, score=0.8)

    assert second.pk == first.pk
    assert Alert.objects.count() == 1
    assert second.count == 2
    assert second.last_seen_at == at(5)
    assert list(LiveEvent.objects.values_list("type", flat=True)) == [
        "alert.opened",
        "alert.updated",
    ]


def test_an_alert_confirmed_frame_after_frame_is_announced_at_most_every_few_seconds(
    rule, make_frame
):
    from django.core.cache import cache

    # Given an open alert, confirmed by five more frames in quick succession
    fire(rule, make_frame(rule.camera, 0), 0, score=0.9)
    for seconds in range(1, 6):
        alert = fire(rule, make_frame(rule.camera, seconds), seconds, score=0.5)

    # Then every frame is counted, and one update is announced
    assert alert.count == 6 and alert.last_seen_at == at(5)
    types = list(LiveEvent.objects.values_list("type", flat=True))
    assert types == ["alert.opened", "alert.updated"]
    # When the announcement interval has passed, the next frame is announced with the count
    cache.delete(f"alerts:announced:{alert.pk}")
    fire(rule, make_frame(rule.camera, 6), 6, score=0.5)
    last = LiveEvent.objects.order_by("id").last()
    assert (last.type, last.payload["alert"]["count"]) == ("alert.updated", 7)
    # And a frame with better evidence is announced at once
    fire(rule, make_frame(rule.camera, 7), 7, score=0.99)
    assert LiveEvent.objects.filter(type="alert.updated").count() == 3


def test_a_better_score_replaces_the_evidence_and_lets_the_old_frame_go(
    rule, make_frame, django_capture_on_commit_callbacks
):
    old_frame = make_frame(rule.camera, 0)
    alert = fire(rule, old_frame, 0, score=0.7)
    old_evidence = alert.evidence.name

    new_frame = make_frame(rule.camera, 5)
    with django_capture_on_commit_callbacks(execute=True):
        alert = fire(rule, new_frame, 5, score=0.95)

    assert alert.best_score == pytest.approx(0.95)
    assert alert.best_frame == new_frame
    assert alert.evidence.name != old_evidence
    assert not alert.evidence.storage.exists(old_evidence)
    assert Frame.objects.get(pk=new_frame.pk).keep is True
    assert Frame.objects.get(pk=old_frame.pk).keep is False
    assert actions(alert) == ["opened", "updated"]


def test_a_lower_score_keeps_the_best_evidence(rule, make_frame):
    best = make_frame(rule.camera, 0)
    alert = fire(rule, best, 0, score=0.9)
    evidence = alert.evidence.name

    alert = fire(rule, make_frame(rule.camera, 5), 5, score=0.6)

    assert alert.best_frame == best
    assert alert.evidence.name == evidence
    assert alert.count == 2
    # Frames that only confirmed the condition are not history entries.
    assert actions(alert) == ["opened"]


def test_a_decision_that_holds_without_firing_yet_opens_nothing(rule, make_frame):
    assert fire(rule, make_frame(rule.camera), 0, fire=False) is None
    assert not Alert.objects.exists()


def test_a_rule_outside_its_active_hours_neither_opens_nor_updates(rule, make_frame):
    alert = fire(rule, make_frame(rule.camera, 0), 0)

    assert fire(rule, make_frame(rule.camera, 5), 5, active=False, fire=False) is None

    alert.refresh_from_db()
    assert alert.count == 1


def test_open_acknowledge_resolve_records_every_change_with_who_did_it(
    rule, make_frame, make_user, site_a
):
    operator = make_user(roles.OPERATOR, site_a)
    supervisor = make_user(roles.ADMIN, site_a)
    alert = fire(rule, make_frame(rule.camera), 0)

    acknowledge(alert, operator, "on my way", now=at(10))
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert (alert.acknowledged_by, alert.acknowledged_at) == (operator, at(10))

    fire(rule, make_frame(rule.camera, 15), 15)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.count == 2

    resolve(alert, supervisor, "Visitor escorted out of the yard.", now=at(20))
    assert alert.status == AlertStatus.RESOLVED
    assert (alert.resolved_by, alert.resolved_at) == (supervisor, at(20))
    assert alert.resolution_note == "Visitor escorted out of the yard."

    history = list(alert.changes.order_by("at", "id").values_list("action", "user", "note"))
    assert history == [
        ("opened", None, ""),
        ("acknowledged", operator.pk, "on my way"),
        ("resolved", supervisor.pk, "Visitor escorted out of the yard."),
    ]
    assert list(LiveEvent.objects.values_list("type", flat=True)) == [
        "alert.opened",
        "alert.acknowledged",
        "alert.updated",
        "alert.resolved",
    ]


def test_acknowledging_a_resolved_alert_is_refused_with_a_clear_error(
    rule, make_frame, make_user, site_a
):
    operator = make_user(roles.OPERATOR, site_a)
    alert = fire(rule, make_frame(rule.camera), 0)
    resolve(alert, operator, "False alarm: a shadow.")

    with pytest.raises(AlertTransitionError, match="already resolved") as refused:
        acknowledge(alert, operator)

    assert refused.value.code == "already_resolved"
    alert.refresh_from_db()
    assert alert.acknowledged_by is None
    assert actions(alert) == ["opened", "resolved"]


def test_acknowledging_twice_is_refused_and_keeps_the_first(rule, make_frame, make_user, site_a):
    first, second = make_user(roles.OPERATOR, site_a), make_user(roles.OPERATOR, site_a)
    alert = fire(rule, make_frame(rule.camera), 0)
    acknowledge(alert, first)

    with pytest.raises(AlertTransitionError) as refused:
        acknowledge(Alert.objects.get(pk=alert.pk), second)

    assert refused.value.code == "already_acknowledged"
    assert Alert.objects.get(pk=alert.pk).acknowledged_by == first


def test_resolving_needs_a_note_and_happens_once(rule, make_frame, make_user, site_a):
    operator = make_user(roles.OPERATOR, site_a)
    alert = fire(rule, make_frame(rule.camera), 0)

    with pytest.raises(AlertTransitionError) as empty:
        resolve(alert, operator, "   ")
    assert empty.value.code == "note_required"
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN

    resolve(alert, operator, "Gate closed.")
    with pytest.raises(AlertTransitionError) as again:
        resolve(alert, operator, "Closed again.")
    assert again.value.code == "already_resolved"
    assert Alert.objects.get(pk=alert.pk).resolution_note == "Gate closed."


def test_an_alert_resolves_by_itself_once_the_condition_stayed_clear_for_clear_after(
    rule, make_frame, analysed
):
    alert = fire(rule, make_frame(rule.camera, 0), 0)
    fire(rule, make_frame(rule.camera, 10), 10)
    for second in range(12, 72, 2):
        analysed(rule.camera, second)

    assert lifecycle.resolve_stale(at(69)) == 0
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN

    assert lifecycle.resolve_stale(at(70)) == 1

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_at == at(70)
    assert alert.resolved_by is None
    change = alert.changes.get(action="auto_resolved")
    assert change.user is None
    assert change.data["clear_after_seconds"] == 60
    event = LiveEvent.objects.filter(type="alert.resolved").get()
    assert event.payload["auto"] is True
    assert lifecycle.resolve_stale(at(500)) == 0


def test_resolve_stale_can_be_limited_to_one_camera(rule, make_rule, make_camera, site_a, analysed):
    other_camera = make_camera(site_a)
    other_rule = make_rule(other_camera)
    fire(rule, None, 0)
    fire(other_rule, None, 0)
    for camera in (rule.camera, other_camera):
        analysed(camera, 60)
        analysed(camera, 120)

    assert lifecycle.resolve_stale(at(120), camera=rule.camera) == 1

    assert Alert.objects.get(rule=other_rule).status == AlertStatus.OPEN


def test_an_alert_stays_open_across_downtime_until_frames_are_analysed_clear_again(
    rule, make_frame, analysed
):
    # given an open alert (clear after 60 s) last seen at 10 s, then the product stops:
    # no frame of the camera is analysed for ten minutes
    alert = fire(rule, make_frame(rule.camera, 0), 0)
    fire(rule, make_frame(rule.camera, 10), 10)
    # when the resolver runs after the restart
    assert lifecycle.resolve_stale(at(610)) == 0
    # then the alert is still open: downtime is not time the condition was clear
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    # and one clear frame after the gap does not resolve it either: the clear time starts
    # at the first analysed frame after the downtime
    analysed(rule.camera, 612)
    assert lifecycle.resolve_stale(at(613)) == 0
    for second in range(614, 672, 2):
        analysed(rule.camera, second)
    assert lifecycle.resolve_stale(at(671)) == 0
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    analysed(rule.camera, 672)
    # when frames have been analysed clear for clear_after, it resolves by itself
    assert lifecycle.resolve_stale(at(673)) == 1
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.RESOLVED


def test_frames_that_were_not_analysed_do_not_count_as_clear(rule, make_frame):
    # given an open alert and later frames whose analysis never finished (vendor down)
    alert = fire(rule, make_frame(rule.camera, 0), 0)
    for second in range(2, 120, 2):
        make_frame(rule.camera, second)
    # then they do not make the condition clear
    assert lifecycle.resolve_stale(at(120)) == 0
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN


def test_cooldown_prevents_an_immediate_reopen_but_not_a_later_one(
    rule, make_frame, make_user, site_a
):
    alert = fire(rule, make_frame(rule.camera, 0), 0)
    resolve(alert, make_user(roles.OPERATOR, site_a), "Cleared.", now=at(10))

    assert fire(rule, make_frame(rule.camera, 20), 20) is None
    assert fire(rule, make_frame(rule.camera, 309), 309) is None
    reopened = fire(rule, make_frame(rule.camera, 310), 310)

    assert reopened is not None
    assert reopened.pk != alert.pk
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1


def test_an_alert_without_a_frame_has_no_evidence_but_opens(rule):
    alert = fire(rule, None, 0)

    assert alert.best_frame is None
    assert not alert.evidence


def test_alerts_on_the_whole_picture_are_one_per_rule_too(make_rule, camera):
    whole = make_rule(camera, None)

    first = fire(whole, None, 0)
    second = fire(whole, None, 5)

    assert first.pk == second.pk
    assert Alert.objects.count() == 1


@pytest.mark.parametrize("with_region", [True, False], ids=["region", "whole picture"])
def test_the_database_refuses_a_second_unresolved_alert(rule, make_rule, camera, with_region):
    target = rule if with_region else make_rule(camera, None)
    first = fire(target, None, 0)
    values = {
        "rule": target,
        "camera": camera,
        "region": target.region,
        "site": camera.site,
        "kind": target.kind,
        "severity": "info",
        "title": "duplicate",
        "opened_at": at(1),
        "last_seen_at": at(1),
    }

    for status in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(**values, status=status)

    # Resolved ones are history: any number may exist beside the unresolved one.
    Alert.objects.create(**values, status=AlertStatus.RESOLVED)
    Alert.objects.create(**values, status=AlertStatus.RESOLVED)
    Alert.objects.filter(pk=first.pk).update(status=AlertStatus.RESOLVED)
    Alert.objects.create(**values, status=AlertStatus.OPEN)
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1


def test_rule_state_is_kept_between_frames(rule):
    camera, region = rule.camera, rule.region
    assert lifecycle.load_rule_state(rule, camera, region) == ({"consecutive": 0}, None)

    lifecycle.save_rule_state(
        rule, camera, region, {"consecutive": 2, "tracks": []}, decision(), now=at(5)
    )
    lifecycle.save_rule_state(
        rule, camera, region, {"consecutive": 3, "tracks": []}, decision(), now=at(10)
    )

    assert lifecycle.load_rule_state(rule, camera, region) == (
        {"consecutive": 3, "tracks": []},
        at(10),
    )
    row = RuleState.objects.get()
    assert (row.consecutive, row.last_seen_at) == (3, at(10))


def test_a_rule_gives_its_config_with_local_active_hours_and_region_name(rule, settings):
    rule.active_days = [0, 1, 2, 3, 4]
    rule.active_start, rule.active_end = time(7), time(19)

    config = rule.to_config()

    assert config.kind == "fence_intrusion"
    assert config.active_days == frozenset({0, 1, 2, 3, 4})
    assert (config.active_start, config.active_end) == (time(7), time(19))
    assert config.cooldown_seconds == 300
    assert config.params["timezone"] == settings.TIME_ZONE
    assert config.params["region_name"] == "Yard"


# ---------------------------------------------------------------- racing workers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True], ids=["alone", "in the pipeline's"])
def test_two_workers_racing_on_the_same_rule_end_with_one_alert(
    rule, monkeypatch, media, in_transaction
):
    """Both workers see no unresolved alert before either inserts one (a barrier holds
    them there), so the unique constraint is what keeps the second from opening another:
    it must update the first one's alert instead.

    On PostgreSQL both then write at once (the second insert waits on the first's index
    entry). The in-memory SQLite of the test run fails concurrent writers at once with
    "table is locked" where the file database of the embedded default waits (busy
    timeout), so there the second worker writes once the first has finished."""
    serialize = connection.vendor == "sqlite"
    if serialize and in_transaction:
        pytest.skip("SQLite runs one writing transaction at a time: two cannot race")
    barrier = threading.Barrier(2, timeout=10)
    first_done = threading.Event()
    local = threading.local()
    first_lookups = []
    real_lookup = lifecycle.unresolved_alert

    def racing_lookup(*args, **kwargs):
        found = real_lookup(*args, **kwargs)
        if not getattr(local, "looked", False):
            local.looked = True
            first_lookups.append(found)
            barrier.wait()
            if serialize and local.second:
                assert first_done.wait(timeout=10)
        return found

    monkeypatch.setattr(lifecycle, "unresolved_alert", racing_lookup)
    outcomes, errors = [], []

    def worker(seconds, second):
        local.second = second
        try:
            # the pipeline decides inside its own transaction: the alert is locked as read
            with transaction.atomic() if in_transaction else contextlib.nullcontext():
                outcomes.append(fire(rule, None, seconds))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            first_done.set()
            connection.close()

    threads = [threading.Thread(target=worker, args=(n, n == 2)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert first_lookups == [None, None]
    assert len(outcomes) == 2
    alert = Alert.objects.get()
    assert {outcome.pk for outcome in outcomes} == {alert.pk}
    assert alert.count == 2
    assert AlertChange.objects.filter(action="opened").count() == 1
