"""Webhooks: signed POSTs of a site's alert events, retried with backoff when the
receiver fails, every attempt recorded, and never in the way of the alert itself."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import respx

from alerts import lifecycle, tasks, webhooks
from alerts.events import publish
from alerts.models import LiveEvent, Webhook, WebhookDelivery
from cameras import roles

from .conftest import at, decision

pytestmark = pytest.mark.django_db
URL = "https://receiver.example/hooks/safety"
SECRET = "s3cret-shared-with-the-receiver"


@pytest.fixture
def webhook(site_a):
    return Webhook.objects.create(site=site_a, name="Control room", url=URL, secret=SECRET)


@pytest.fixture
def event(site_a):
    return publish(site_a.pk, "alert.opened", {"alert": {"id": 1, "title": "No entry"}})


def test_the_signature_verifies_with_the_secret_and_fails_with_another():
    body = b'{"id":1,"type":"alert.opened"}'
    now = int(time.time())
    signature = webhooks.sign(SECRET, now, body)

    assert signature.startswith("sha256=")
    assert webhooks.verify(SECRET, str(now), body, signature)
    assert not webhooks.verify("another secret", str(now), body, signature)
    assert not webhooks.verify(SECRET, str(now), body + b" ", signature)
    assert not webhooks.verify(SECRET, str(now + 1), body, signature)


def test_an_old_signature_is_refused_by_the_receiver():
    body = b"{}"
    sent = int(time.time()) - webhooks.TOLERANCE_SECONDS - 1

    assert not webhooks.verify(SECRET, str(sent), body, webhooks.sign(SECRET, sent, body))


def test_the_secret_is_stored_encrypted(webhook):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM alerts_webhook WHERE id = %s", [webhook.pk])
        (stored,) = cursor.fetchone()

    assert SECRET not in stored
    assert Webhook.objects.get(pk=webhook.pk).secret == SECRET


@respx.mock
def test_a_delivery_posts_the_signed_event_and_is_recorded(webhook, event):
    route = respx.post(URL).mock(return_value=httpx.Response(204))

    outcome = webhooks.deliver(webhook, event, attempt=1)

    request = route.calls.last.request
    body = request.content
    assert json.loads(body) == event.as_message()
    assert request.headers["X-Webhook-Event-Id"] == str(event.pk)
    assert request.headers["X-Webhook-Event"] == "alert.opened"
    assert webhooks.verify(
        SECRET, request.headers["X-Webhook-Timestamp"], body, request.headers["X-Signature"]
    )
    assert not webhooks.verify(
        "wrong", request.headers["X-Webhook-Timestamp"], body, request.headers["X-Signature"]
    )
    delivery = outcome.delivery
    assert (delivery.attempt, delivery.status_code, delivery.succeeded) == (1, 204, True)
    assert delivery.event_id == event.pk
    assert delivery.duration_ms >= 0
    assert outcome.retry_in is None


@respx.mock
def test_failures_are_retried_with_growing_waits_until_one_succeeds(webhook, event):
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(500),
            httpx.ConnectError("connection refused"),
            httpx.Response(200),
        ]
    )

    tasks.deliver_webhook.apply(args=[webhook.pk, event.pk])

    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert attempts[0].status_code == 500
    assert attempts[1].status_code is None
    assert "ConnectError" in attempts[1].error
    waits = [(a.next_retry_at - a.at).total_seconds() for a in attempts[:2]]
    assert waits == [webhooks.retry_delay(1), webhooks.retry_delay(2)]
    assert waits[1] > waits[0]
    assert attempts[2].next_retry_at is None


@respx.mock
def test_retries_stop_after_the_last_attempt(webhook, event):
    route = respx.post(URL).mock(return_value=httpx.Response(503))

    tasks.deliver_webhook.apply(args=[webhook.pk, event.pk])

    assert route.call_count == webhooks.MAX_ATTEMPTS
    last = WebhookDelivery.objects.order_by("attempt").last()
    assert last.attempt == webhooks.MAX_ATTEMPTS
    assert last.next_retry_at is None


@respx.mock
def test_a_refusal_by_the_receiver_is_not_retried(webhook, event):
    route = respx.post(URL).mock(return_value=httpx.Response(401, text="bad signature"))

    tasks.deliver_webhook.apply(args=[webhook.pk, event.pk])

    assert route.call_count == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.error.startswith("HTTP 401")
    assert delivery.next_retry_at is None


@respx.mock
def test_an_event_delivered_once_is_not_posted_again(webhook, event):
    route = respx.post(URL).mock(return_value=httpx.Response(200))

    tasks.deliver_webhook.apply(args=[webhook.pk, event.pk])
    tasks.deliver_webhook.apply(args=[webhook.pk, event.pk])

    assert route.call_count == 1
    assert WebhookDelivery.objects.count() == 1


def test_alert_events_go_to_the_subscribed_webhooks_of_their_site_only(site_a, site_b, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda *args: queued.append(args))
    opened_only = Webhook.objects.create(site=site_a, name="a", url=URL, secret=SECRET)
    everything = Webhook.objects.create(
        site=site_a,
        name="b",
        url=URL,
        secret=SECRET,
        event_types=["alert.opened", "alert.updated", "alert.acknowledged", "alert.resolved"],
    )
    Webhook.objects.create(site=site_a, name="off", url=URL, secret=SECRET, enabled=False)
    Webhook.objects.create(site=site_b, name="elsewhere", url=URL, secret=SECRET)
    opened = publish(site_a.pk, "alert.opened", {})
    updated = publish(site_a.pk, "alert.updated", {})

    tasks.notify_webhooks(opened.pk)
    tasks.notify_webhooks(updated.pk)

    assert sorted(queued) == sorted(
        [(opened_only.pk, opened.pk), (everything.pk, opened.pk), (everything.pk, updated.pk)]
    )


def test_only_alert_events_are_queued_for_webhooks_after_commit(
    site_a, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.notify_webhooks, "delay", queued.append)
    Webhook.objects.create(site=site_a, name="a", url=URL, secret=SECRET)

    with django_capture_on_commit_callbacks(execute=True):
        publish(site_a.pk, "frame.analyzed", {"camera": 1})
        alert_event = publish(site_a.pk, "alert.opened", {})

    assert queued == [alert_event.pk]


def test_an_alert_event_no_webhook_of_its_site_wants_queues_nothing_until_one_does(
    site_a, site_b, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.notify_webhooks, "delay", queued.append)
    # Given webhooks elsewhere, disabled, or subscribed to other types only
    Webhook.objects.create(site=site_b, name="elsewhere", url=URL, secret=SECRET)
    Webhook.objects.create(site=site_a, name="off", url=URL, secret=SECRET, enabled=False)
    opened_only = Webhook.objects.create(site=site_a, name="a", url=URL, secret=SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        publish(site_a.pk, "alert.updated", {})
    assert queued == []
    # When an admin subscribes a webhook of the site to updates
    opened_only.event_types = ["alert.opened", "alert.updated"]
    opened_only.save()
    with django_capture_on_commit_callbacks(execute=True):
        updated = publish(site_a.pk, "alert.updated", {})
    # Then the next update is queued at once
    assert queued == [updated.pk]
    # And once the webhook is gone, nothing is queued any more
    opened_only.delete()
    with django_capture_on_commit_callbacks(execute=True):
        publish(site_a.pk, "alert.opened", {})
    assert queued == [updated.pk]


def test_a_broker_that_is_down_does_not_stop_the_alert(
    make_rule, camera, make_user, site_a, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.notify_webhooks, "delay", down)
    rule = make_rule(camera)

    with django_capture_on_commit_callbacks(execute=True):
        alert = lifecycle.apply_decision(
            rule, camera, None, decision(), frame=None, results=[], vendor_calls=[], now=at(0)
        )
        lifecycle.acknowledge(alert, make_user(roles.OPERATOR, site_a))

    assert alert.status == "acknowledged"
    assert LiveEvent.objects.count() == 2
