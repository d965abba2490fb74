"""A camera's setup as the pipeline reads it on every frame, kept per process.

Every frame needs the camera's regions, its enabled analyses (with their vendor
accounts) and its enabled rules (with their regions). Reading them is three queries and
their models; a worker analysing many frames of the same camera keeps them instead, and
asks the shared cache for two stamps (one for every camera, one for this camera) in one
round trip to learn whether they are still current.

A save or delete of a region, an analysis or a rule gives its camera a new stamp; a save
or delete of a vendor account gives every camera one. The stamp is replaced at once and
again when the transaction commits, so a worker that read the setup between the two
(still the old one) reads it again on its next frame. A kept setup is read again after
``KEEP_SECONDS`` whatever the stamps say, so a change no stamp told of (a bulk SQL
update, Redis out of reach while saving) is seen within that time. Without a shared
cache (no ``REDIS_URL``: processes cannot tell each other) nothing is kept.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from alerts.models import Rule
from cameras.models import CameraAnalysis, Region

logger = logging.getLogger(__name__)

ALL_CAMERAS_KEY = "pipeline:setup:all"
KEEP_SECONDS = 60.0


def camera_key(camera_id: int) -> str:
    return f"pipeline:setup:camera:{camera_id}"


@dataclass(frozen=True)
class CameraSetup:
    """What the pipeline reads of a camera's setup, ordered by id."""

    regions: tuple[Region, ...]
    analyses: tuple[CameraAnalysis, ...]
    rules: tuple[Rule, ...]


# camera id -> (stamps, when it was read (monotonic), the setup)
_kept: dict[int, tuple[tuple[str, str], float, CameraSetup]] = {}
_lock = threading.Lock()


def load(camera_id: int) -> CameraSetup:
    """The camera's setup as the database holds it now."""
    return CameraSetup(
        regions=tuple(Region.objects.filter(camera_id=camera_id).order_by("pk")),
        analyses=tuple(
            CameraAnalysis.objects.filter(camera_id=camera_id, enabled=True)
            .select_related("account")
            .order_by("pk")
        ),
        rules=tuple(
            Rule.objects.filter(camera_id=camera_id, enabled=True)
            .select_related("region")
            .order_by("pk")
        ),
    )


def shared_cache() -> bool:
    """Whether the cache is one all processes share (Redis)."""
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def setup_of(camera_id: int) -> CameraSetup:
    """The camera's current setup: kept from an earlier frame while its stamps stand."""
    if not shared_cache():
        return load(camera_id)
    keys = (ALL_CAMERAS_KEY, camera_key(camera_id))
    found = cache.get_many(keys)
    if any(found.get(key) is None for key in keys):
        # Unknown (first use, or the cache was emptied): stamp it, read it fresh.
        for key in keys:
            if found.get(key) is None:
                cache.add(key, uuid.uuid4().hex, timeout=None)
        return load(camera_id)
    stamp = (found[keys[0]], found[keys[1]])
    now = time.monotonic()
    kept = _kept.get(camera_id)
    if kept is not None and kept[0] == stamp and now - kept[1] < KEEP_SECONDS:
        return kept[2]
    setup = load(camera_id)
    with _lock:
        _kept[camera_id] = (stamp, now, setup)
    return setup


def changed(camera_id: int | None) -> None:
    """The setup of ``camera_id`` (None: of every camera) changed: new stamp now, and
    again once the change commits."""
    key = ALL_CAMERAS_KEY if camera_id is None else camera_key(camera_id)

    def restamp() -> None:
        try:
            cache.set(key, uuid.uuid4().hex, timeout=None)
        except Exception:  # the change itself must not fail for it
            logger.warning("camera setup stamp %s not replaced: cache unreachable", key)

    restamp()
    transaction.on_commit(restamp)


def forget() -> None:
    """Drop every kept setup (tests)."""
    with _lock:
        _kept.clear()


def on_part_changed(sender, instance, **kwargs) -> None:
    """Signal receiver: a region, analysis or rule was saved or deleted."""
    changed(instance.camera_id)


def on_account_changed(sender, instance, **kwargs) -> None:
    """Signal receiver: a vendor account was saved or deleted."""
    changed(None)


def connect() -> None:
    """Listen to the saves and deletes that change a camera's setup."""
    from django.db.models.signals import post_delete, post_save

    from monitoring.models import VendorAccount

    for model in (Region, CameraAnalysis, Rule):
        for signal in (post_save, post_delete):
            signal.connect(
                on_part_changed,
                sender=model,
                dispatch_uid=f"camera_setup:{model._meta.label}:{signal is post_save}",
            )
    for signal in (post_save, post_delete):
        signal.connect(
            on_account_changed,
            sender=VendorAccount,
            dispatch_uid=f"camera_setup:account:{signal is post_save}",
        )
