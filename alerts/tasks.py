"""Celery tasks of the alerts app: thin, they take ids, reload rows and call the domain
code (``alerts.events``, ``alerts.webhooks``).

Webhooks are triggered one way: ``queue_webhooks`` listens to ``alerts.events.published``
(connected in ``alerts.apps``) and queues ``notify_webhooks`` once an alert event commits;
``alerts.events`` never imports this module.

Periodic (the beat schedule in settings): ``prune_live_events``, every 10 minutes.
Alerts that went quiet are resolved by ``monitoring.tasks.resolve_stale_alerts``, which
leaves alone the cameras whose analysis has no data (offline is not clear).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from alerts import events, webhooks
from alerts.models import ALERT_EVENT_TYPES, LiveEvent, Webhook

logger = logging.getLogger(__name__)


def queue_webhooks(sender, event: LiveEvent, **kwargs) -> None:
    """``alerts.events.published`` receiver: after commit, queue the deliveries of an alert
    event when a webhook of its site wants it."""
    if event.type not in ALERT_EVENT_TYPES:
        return
    site_id, type, event_id = event.site_id, str(event.type), event.pk

    def enqueue() -> None:
        try:
            if type in webhooks.wanted_types(site_id):
                notify_webhooks.delay(event_id)
        except Exception:
            logger.exception("webhooks of live event %s could not be queued", event_id)

    transaction.on_commit(enqueue)


@shared_task(acks_late=True, ignore_result=True)
def prune_live_events() -> int:
    """Delete live events past the catch-up window."""
    return events.prune(timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def notify_webhooks(event_id: int) -> int:
    """Queue one delivery per webhook of the event's site that wants its type."""
    event = LiveEvent.objects.filter(pk=event_id).first()
    if event is None:
        return 0
    targets = webhooks.webhooks_for(event)
    for webhook in targets:
        deliver_webhook.delay(webhook.pk, event.pk)
    return len(targets)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=webhooks.MAX_ATTEMPTS - 1)
def deliver_webhook(self, webhook_id: int, event_id: int) -> bool:
    """One attempt at delivering an event to a webhook; failures that may pass are
    retried with exponential backoff (``webhooks.retry_delay``), every attempt recorded."""
    webhook = Webhook.objects.filter(pk=webhook_id, enabled=True).first()
    event = LiveEvent.objects.filter(pk=event_id).first()
    if webhook is None or event is None:
        return False
    outcome = webhooks.deliver(webhook, event, attempt=self.request.retries + 1)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return bool(outcome.delivery and outcome.delivery.succeeded)
