"""Webhooks: a site's alert events POSTed as JSON to the addresses its admins chose,
signed so that the receiver can tell they came from here, every attempt recorded.

Signature (see docs/alerts.md): with ``t`` the Unix time in seconds sent as
``X-Webhook-Timestamp`` and ``body`` the exact bytes of the request body,
``X-Signature: sha256=<hex HMAC-SHA256(secret, t + "." + body)>``. Receivers recompute
it, compare in constant time and refuse timestamps far from their clock.

``deliver`` makes one attempt and records it; retrying is ``alerts.tasks``' job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from alerts.models import LiveEvent, Webhook, WebhookDelivery

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
EVENT_ID_HEADER = "X-Webhook-Event-Id"
EVENT_TYPE_HEADER = "X-Webhook-Event"
USER_AGENT = "site-safety-dashboard-webhooks/1"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Attempts per event and webhook, and the wait before attempt n + 1: 30 s, 1, 2, 4, 8 min.
MAX_ATTEMPTS = 6
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
# Receivers should refuse signatures older than this.
TOLERANCE_SECONDS = 300


def body_for(event: LiveEvent) -> bytes:
    """The exact bytes POSTed for ``event``: its live message as compact JSON."""
    return json.dumps(
        event.as_message(), ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature or "")


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (attempt - 1))


@dataclass(frozen=True)
class Outcome:
    """How an attempt went; ``retry_in`` is set when another attempt should follow."""

    delivery: WebhookDelivery | None
    retry_in: int | None = None


def deliver(
    webhook: Webhook,
    event: LiveEvent,
    attempt: int,
    *,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> Outcome:
    """One attempt at POSTing ``event`` to ``webhook``, recorded as a ``WebhookDelivery``.

    Skipped (``delivery`` None) when the event was already delivered to this webhook or
    this attempt was already made (a task run twice). Server errors, timeouts, 408 and
    429 are retried up to ``MAX_ATTEMPTS``; other 4xx answers are not.
    """
    if WebhookDelivery.objects.filter(webhook=webhook, event_id=event.pk, succeeded=True).exists():
        return Outcome(None)
    if WebhookDelivery.objects.filter(webhook=webhook, event_id=event.pk, attempt=attempt).exists():
        return Outcome(None)
    body = body_for(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        EVENT_ID_HEADER: str(event.pk),
        EVENT_TYPE_HEADER: event.type,
    }
    started = time.perf_counter()
    status_code, error, retryable = None, "", False
    owns_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        response = client.post(webhook.url, content=body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
            retryable = status_code >= 500 or status_code in (408, 429)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        retryable = True
    finally:
        if owns_client:
            client.close()
    duration_ms = (time.perf_counter() - started) * 1000
    succeeded = not error
    retry_in = retry_delay(attempt) if retryable and attempt < MAX_ATTEMPTS else None
    moment = now or timezone.now()
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                webhook=webhook,
                event_id=event.pk,
                event_type=event.type,
                attempt=attempt,
                at=moment,
                status_code=status_code,
                error=error[:500],
                duration_ms=duration_ms,
                succeeded=succeeded,
                next_retry_at=moment + timedelta(seconds=retry_in) if retry_in else None,
            )
    except IntegrityError:
        # The same attempt ran twice at once: the other run records it and retries.
        return Outcome(None)
    return Outcome(delivery, retry_in)


# What the enabled webhooks of a site subscribe to is kept in the shared cache this long
# (and forgotten as soon as one of them changes).
WANTED_SECONDS = 60


def _wanted_key(site_id: int) -> str:
    return f"webhooks:wanted:{site_id}"


def wanted_types(site_id: int) -> frozenset[str]:
    """The event types at least one enabled webhook of the site subscribes to: an event
    of another type queues no delivery task at all."""
    key = _wanted_key(site_id)
    wanted = cache.get(key)
    if wanted is None:
        wanted = sorted(
            {
                str(event_type)
                for types in Webhook.objects.filter(site_id=site_id, enabled=True).values_list(
                    "event_types", flat=True
                )
                for event_type in types or []
            }
        )
        cache.set(key, wanted, WANTED_SECONDS)
    return frozenset(wanted)


@receiver(post_save, sender=Webhook, dispatch_uid="alerts.webhooks.saved")
@receiver(post_delete, sender=Webhook, dispatch_uid="alerts.webhooks.deleted")
def _webhook_changed(sender, instance: Webhook, **kwargs) -> None:
    key = _wanted_key(instance.site_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def webhooks_for(event: LiveEvent) -> list[Webhook]:
    """The enabled webhooks of the event's site that subscribe to its type."""
    return [
        webhook
        for webhook in Webhook.objects.filter(site_id=event.site_id, enabled=True)
        if webhook.wants(event.type)
    ]
