"""Live events: stored with an increasing id, sent to the site's channel group once the
transaction that made them commits, replayed to browsers that reconnect, pruned.

``publish`` is the one way to send something to browsers. Each event type has one typed
payload (the ``TypedDict``s below) and one producer: ``publish_alert`` (the four
``alert.*`` types), ``publish_frame_analyzed``, ``publish_camera_status`` and
``publish_analysis_health``. Tests and browser tests publish through the same producers.
``replay`` answers a browser's ``last_event_id``. The channel group names and the group
message (``site_group``, ``user_group``, ``live_message``) are made here, once, for the
publisher and the consumer alike.

Events go one way: this module knows nothing of webhooks; ``published`` (a Django
signal) tells whoever listens (``alerts.tasks`` queues webhook deliveries) about every
stored event.

Every event reaches browsers as ``{"id": ..., "type": ..., "site": ..., "at": ..., ...}``
(see docs/alerts.md for each type's fields).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, EventType, LiveEvent

logger = logging.getLogger(__name__)

# A reconnecting browser gets at most this many missed events, none older than this;
# beyond that it is told to reload (``resync``).
REPLAY_LIMIT = getattr(settings, "LIVE_EVENTS_REPLAY_LIMIT", 500)
REPLAY_MAX_AGE = timedelta(seconds=getattr(settings, "LIVE_EVENTS_REPLAY_SECONDS", 24 * 3600))
# How long events are kept: frame overlays are frequent and soon superseded.
KEEP_EVENTS = REPLAY_MAX_AGE
KEEP_FRAME_EVENTS = timedelta(seconds=getattr(settings, "LIVE_EVENTS_FRAME_SECONDS", 3600))

# Sent inside ``publish`` with ``event`` (the stored ``LiveEvent``): receivers that act
# on it later register ``transaction.on_commit`` themselves.
published = Signal()


def site_group(site_id: int) -> str:
    """The channel group of every browser watching a site."""
    return f"site-{site_id}"


def user_group(user_id: int) -> str:
    """The group of every socket of one user: where ``access.check`` messages go."""
    return f"user-{user_id}"


def event_text(event: dict) -> str:
    """An event as browsers receive it: the text of its websocket message."""
    return json.dumps(event)


def live_message(event: dict) -> dict:
    """The group message that relays ``event`` to the browsers of its site.

    ``text`` is the event already encoded for browsers and ``id`` its id (to skip
    duplicates); ``event`` keeps the event itself for consumers that encode it. Messages
    with ``event`` only are relayed too.
    """
    return {"type": "live.event", "id": event.get("id"), "text": event_text(event), "event": event}


def publish(
    site_id: int, type: str, payload: Mapping[str, Any], *, camera_id: int | None = None
) -> LiveEvent:
    """Store an event for ``site_id`` and send it to the site's browsers after commit.

    Called inside a transaction, the event is stored with the change it describes and
    sent only if that change commits. Sending never raises: a browser that missed it
    gets it on reconnect.
    """
    now = timezone.now()
    body = {"site": site_id, "at": now.isoformat(), **payload}
    if camera_id is None and isinstance(payload.get("camera"), int):
        camera_id = payload["camera"]
    event = LiveEvent.objects.create(
        site_id=site_id, camera_id=camera_id, type=str(type), payload=body, created_at=now
    )
    message = event.as_message()
    transaction.on_commit(lambda: _send(site_id, message))
    published.send(sender=LiveEvent, event=event)
    return event


def _send(site_id: int, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # Encoded here once, not once per browser by the consumers.
        group, body = site_group(site_id), live_message(message)
        if _keeps_connections(layer):
            _sender_loop().run(layer.group_send(group, body))
        else:
            async_to_sync(layer.group_send)(group, body)
    except Exception:
        logger.exception("live event %s could not be sent to site %s", message["id"], site_id)


def _keeps_connections(layer) -> bool:
    """Redis layers keep their connections per event loop: ``async_to_sync`` runs each
    call on a new loop, which opened (and closed) a Redis connection per event. Those
    layers send from one long-lived loop instead; others (in-memory) as before."""
    return type(layer).__module__.startswith("channels_redis.")


class _SenderLoop:
    """An event loop on a daemon thread of this process, for sending events."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self.loop.run_forever, name="live-events-sender", daemon=True
        )
        thread.start()

    def run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


_sender: _SenderLoop | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> _SenderLoop:
    """This process' sender loop (a forked child starts its own: threads do not fork)."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = _SenderLoop()
        return _sender


# ---------------------------------------------------------------- payloads


class AlertEvent(TypedDict):
    """``alert.opened``, ``alert.updated``, ``alert.acknowledged``, ``alert.resolved``."""

    camera: int
    alert: dict[str, Any]  # ``alert_payload``
    auto: NotRequired[bool]  # alert.resolved: by itself (quiet) or by a person
    note: NotRequired[str]  # alert.updated by a note


class AnalysisRun(TypedDict):
    """How one analysis of a ``frame.analyzed`` frame went."""

    analysis: int
    api: str
    status: str
    error: str
    frames_sent: int


class FrameAnalyzedEvent(TypedDict):
    """``frame.analyzed``: the overlay of one analysed frame, in the frame's pixels."""

    camera: int
    frame: int
    frame_url: str | None
    frame_size: list[int]
    captured_at: str | None
    persons: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    regions: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    analyses: list[AnalysisRun]


class AnalysisAvailability(TypedDict):
    """Whether a camera's analyses work (``monitoring.pipeline.analysis_status``)."""

    analysis: str  # "available" or "unavailable"
    analysis_reason: str
    analyses: list[dict[str, Any]]


class CameraStatusEvent(AnalysisAvailability):
    """``camera.status``: the capture health of a camera and its analyses' availability."""

    camera: int
    camera_name: str
    health: str
    reason: str
    changed_at: str | None
    last_frame_at: str | None


class AnalysisHealthEvent(TypedDict):
    """``analysis.health``: one analysis' health (``monitoring.analysis_health``)."""

    camera: int
    analysis: int
    api: str
    account: int | None
    health: dict[str, Any]


def _iso(value: datetime | None, zone=None) -> str | None:
    """ISO 8601, with the offset of ``zone`` (the site's) when given."""
    if not value:
        return None
    return (value.astimezone(zone) if zone is not None else value).isoformat()


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def evidence_url(alert: Alert) -> str | None:
    """Where a signed-in user of the alert's site gets its overlay picture."""
    if not alert.evidence:
        return None
    return reverse("alert-evidence", args=[alert.pk])


def frame_url(camera_id: int, frame_id: int | None) -> str | None:
    """Where a signed-in user gets the picture of one frame of a camera (the REST API;
    found while retention keeps the frame)."""
    if frame_id is None:
        return None
    return f"{reverse('camera-frame', args=[camera_id])}?frame={frame_id}"


def alert_payload(alert: Alert) -> dict[str, Any]:
    """An alert as events and webhooks carry it; times with the offset of the site's zone,
    named in ``time_zone``."""
    zone = alert.site.zone
    return {
        "id": alert.pk,
        "rule": alert.rule_id,
        "rule_name": alert.rule.name,
        "kind": alert.kind,
        "site": alert.site_id,
        "camera": alert.camera_id,
        "camera_name": alert.camera.name,
        "region": alert.region_id,
        "region_name": alert.region.name if alert.region_id else None,
        "status": alert.status,
        "severity": alert.severity,
        "title": alert.title,
        "summary": alert.summary,
        "opened_at": _iso(alert.opened_at, zone),
        "last_seen_at": _iso(alert.last_seen_at, zone),
        "count": alert.count,
        "best_score": alert.best_score,
        "findings": alert.findings,
        "frame": alert.best_frame_id,
        "frame_url": frame_url(alert.camera_id, alert.best_frame_id),
        "evidence_url": evidence_url(alert),
        "acknowledged_by": _username(alert.acknowledged_by),
        "acknowledged_at": _iso(alert.acknowledged_at, zone),
        "resolved_by": _username(alert.resolved_by),
        "resolved_at": _iso(alert.resolved_at, zone),
        "resolution_note": alert.resolution_note,
        "time_zone": alert.site.time_zone,
    }


def publish_alert(
    alert: Alert, type: str, *, auto: bool | None = None, note: str | None = None
) -> LiveEvent:
    """``alert.opened``, ``alert.updated``, ``alert.acknowledged`` or ``alert.resolved``."""
    payload: AlertEvent = {"camera": alert.camera_id, "alert": alert_payload(alert)}
    if auto is not None:
        payload["auto"] = auto
    if note is not None:
        payload["note"] = note
    return publish(alert.site_id, type, payload, camera_id=alert.camera_id)


def _box(value) -> dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        left, top = value["left"], value["top"]
        width, height = value["width"], value["height"]
    else:
        left, top, width, height = value.left, value.top, value.width, value.height
    return {
        "left": round(float(left), 1),
        "top": round(float(top), 1),
        "width": round(float(width), 1),
        "height": round(float(height), 1),
    }


def _attributes(person) -> dict[str, Any]:
    return {
        name: {"value": attribute.value, "score": round(float(attribute.score), 3)}
        for name, attribute in getattr(person, "attributes", {}).items()
    }


@dataclass(frozen=True)
class Problem:
    """Something a rule found wrong on a frame, for the overlay and the feed."""

    rule_id: int
    kind: str
    severity: str
    summary: str
    findings: Sequence[Any] = field(default_factory=tuple)
    alert_id: int | None = None
    region_id: int | None = None


def finding_payload(finding) -> dict[str, Any]:
    return {
        "label": finding.label,
        "score": round(float(finding.score), 3),
        "box": _box(finding.box),
        "track_id": finding.track_id,
        **(
            {"points": [[round(x, 1), round(y, 1)] for x, y in finding.points]}
            if getattr(finding, "points", ())
            else {}
        ),
    }


def publish_frame_analyzed(
    camera,
    frame,
    results: Iterable[Any],
    problems: Iterable[Problem] = (),
    *,
    regions: Iterable[Any] | None = None,
    analyses: Iterable[AnalysisRun] = (),
) -> LiveEvent:
    """``frame.analyzed``: what the live wall draws on a frame: persons and objects found,
    the camera's regions (``regions``, else read) in the frame's pixels, what is wrong,
    and how each analysis went."""
    width, height = frame.width, frame.height
    persons, objects = [], []
    for result in results:
        for person in result.persons:
            persons.append(
                {
                    "box": _box(person.box),
                    "score": round(float(person.score), 3),
                    "track_id": person.track_id,
                    "attributes": _attributes(person),
                    "keypoints": [
                        {
                            "name": point.name,
                            "x": round(float(point.x), 1),
                            "y": round(float(point.y), 1),
                            "score": round(float(point.score), 3),
                        }
                        for point in person.keypoints
                    ],
                    "source": result.api,
                }
            )
        for obj in result.objects:
            objects.append(
                {
                    "label": obj.label,
                    "box": _box(obj.box),
                    "score": round(float(obj.score), 3),
                    "source": result.api,
                }
            )
        for driver in getattr(result, "drivers", []):
            objects.append(
                {
                    "label": "driver",
                    "box": _box(driver.box),
                    "score": round(float(driver.score), 3),
                    "source": result.api,
                }
            )
    regions = [
        {
            "id": region.pk,
            "name": region.name,
            "kind": region.kind,
            "points": region.points_on((width, height)),
        }
        for region in (camera.regions.order_by("pk") if regions is None else regions)
    ]
    payload: FrameAnalyzedEvent = {
        "camera": camera.pk,
        "frame": frame.pk,
        "frame_url": frame_url(camera.pk, frame.pk),
        "frame_size": [width, height],
        "captured_at": _iso(frame.captured_at),
        "persons": persons,
        "objects": objects,
        "regions": regions,
        "problems": [
            {
                "rule": problem.rule_id,
                "kind": problem.kind,
                "severity": problem.severity,
                "summary": problem.summary,
                "region": problem.region_id,
                "alert": problem.alert_id,
                "findings": [finding_payload(finding) for finding in problem.findings],
            }
            for problem in problems
        ],
        "analyses": list(analyses),
    }
    return publish(camera.site_id, EventType.FRAME_ANALYZED, payload, camera_id=camera.pk)


def publish_camera_status(camera, availability: AnalysisAvailability) -> LiveEvent:
    """``camera.status``: the camera's health as the capture service last wrote it, and
    whether its analyses are available (``monitoring.pipeline.analysis_status``)."""
    camera.refresh_from_db(fields=["health", "health_reason", "health_changed_at", "last_frame_at"])
    payload: CameraStatusEvent = {
        "camera": camera.pk,
        "camera_name": camera.name,
        "health": camera.health,
        "reason": camera.health_reason,
        "changed_at": _iso(camera.health_changed_at),
        "last_frame_at": _iso(camera.last_frame_at),
        "analysis": availability["analysis"],
        "analysis_reason": availability["analysis_reason"],
        "analyses": availability["analyses"],
    }
    return publish(camera.site_id, EventType.CAMERA_STATUS, payload, camera_id=camera.pk)


def publish_analysis_health(site_id: int, payload: AnalysisHealthEvent) -> LiveEvent:
    """``analysis.health``: the payload is ``monitoring.analysis_health``'s
    ``analysis_health_payload``, its one builder."""
    return publish(site_id, EventType.ANALYSIS_HEALTH, payload, camera_id=payload["camera"])


# ---------------------------------------------------------------- catch-up and pruning


@dataclass
class Replay:
    """What a reconnecting browser is sent: the events it missed, in id order, or (when
    too many or too old) ``resync`` with the id to continue from after reloading."""

    events: list[dict[str, Any]]
    resync: bool = False
    last_event_id: int | None = None


def replay(site_ids: Sequence[int], last_event_id: int, *, now: datetime | None = None) -> Replay:
    """The events of ``site_ids`` after ``last_event_id``, oldest first (nothing for 0:
    a browser that has seen no event loads the current state through the API).

    Of ``frame.analyzed`` events only each camera's latest is replayed: an overlay
    replaces the one before. A resume point that no longer exists (pruned, or from
    another database), older than the replay window, or followed by more than
    ``REPLAY_LIMIT`` events yields ``resync``.
    """
    now = now or timezone.now()
    if last_event_id <= 0:
        return Replay([])
    latest = LiveEvent.objects.aggregate(latest=Max("id"))["latest"] or 0
    if last_event_id > latest:
        return Replay([], resync=True, last_event_id=latest)
    if last_event_id == latest:
        return Replay([])
    horizon = now - REPLAY_MAX_AGE
    since = LiveEvent.objects.filter(id=last_event_id).values_list("created_at", flat=True).first()
    if since is None or since < horizon:
        return Replay([], resync=True, last_event_id=latest)
    missed = LiveEvent.objects.filter(
        site_id__in=site_ids, id__gt=last_event_id, created_at__gte=horizon
    )
    lasting = list(missed.exclude(type=EventType.FRAME_ANALYZED).order_by("id")[: REPLAY_LIMIT + 1])
    if len(lasting) > REPLAY_LIMIT:
        return Replay([], resync=True, last_event_id=latest)
    frame_ids = (
        missed.filter(type=EventType.FRAME_ANALYZED)
        .values("camera_id")
        .annotate(latest=Max("id"))
        .values_list("latest", flat=True)
    )
    overlays = list(LiveEvent.objects.filter(id__in=list(frame_ids)))
    events = sorted(lasting + overlays, key=lambda event: event.pk)
    return Replay([event.as_message() for event in events])


def prune(now: datetime | None = None) -> int:
    """Delete events past the replay window (frame overlays sooner). Returns how many."""
    now = now or timezone.now()
    frames, _ = LiveEvent.objects.filter(
        type=EventType.FRAME_ANALYZED, created_at__lt=now - KEEP_FRAME_EVENTS
    ).delete()
    others, _ = LiveEvent.objects.filter(created_at__lt=now - KEEP_EVENTS).delete()
    return frames + others
