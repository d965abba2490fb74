"""Stored frames: writing a camera's JPEG to the media storage with its row, keeping the
camera's resolution current, and deleting frames past the camera's retention.

``store_frame`` writes the file first and the row after; if the row cannot be written
the file is removed again. ``delete_old_frames`` deletes rows first and their files
after the transaction commits (local disk or object storage alike, through
``cameras.storage``), in batches, and never touches a frame kept as evidence
(``keep=True``), whatever its age.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .models import Camera, Frame
from .sources import image_size
from .storage import delete_files

logger = logging.getLogger(__name__)

DELETE_BATCH = 500


def store_frame(
    camera: Camera, jpeg: bytes, captured_at: datetime, age: float | None = None
) -> Frame:
    """Save ``jpeg`` as a new frame of ``camera`` taken at ``captured_at`` (aware), that
    had waited ``age`` seconds in its source, and record the camera's resolution and
    last frame time."""
    width, height = image_size(jpeg)
    frame = Frame(
        camera=camera,
        captured_at=captured_at,
        width=width,
        height=height,
        size=len(jpeg),
        age=age,
    )
    frame.image.save("frame.jpg", ContentFile(jpeg), save=False)
    try:
        frame.save()
    except BaseException:
        frame.image.storage.delete(frame.image.name)
        raise
    update_resolution(camera, width, height)
    Camera.objects.filter(pk=camera.pk).update(last_frame_at=captured_at)
    camera.last_frame_at = captured_at
    return frame


def update_resolution(camera: Camera, width: int, height: int) -> bool:
    """Record a new frame size on ``camera``, rescaling its regions when the project
    offers ``cameras.polygons.rescale_camera_regions``; whether anything changed."""
    previous = (camera.width, camera.height)
    if previous == (width, height):
        return False
    try:
        from . import polygons
    except ImportError:
        polygons = None
    rescale = getattr(polygons, "rescale_camera_regions", None)
    with transaction.atomic():
        if rescale is not None:
            try:
                rescale(camera, width, height)
            except ValueError as error:
                logger.warning("camera %s: regions not rescaled: %s", camera.pk, error)
        Camera.objects.filter(pk=camera.pk).update(width=width, height=height)
    logger.info("camera %s: resolution %sx%s -> %sx%s", camera.pk, *previous, width, height)
    camera.width, camera.height = width, height
    return True


def delete_old_frames(now: datetime | None = None) -> int:
    """Delete every frame older than its camera's ``frame_retention_hours``, files too,
    except frames kept as evidence. Returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    for camera_id, hours in Camera.objects.values_list("pk", "frame_retention_hours"):
        # Each camera on its own: one that cannot be cleaned (a retention out of bounds
        # written around the validators, a database error) is logged, the rest are cleaned.
        try:
            deleted += _delete_camera_frames(camera_id, now - timedelta(hours=hours))
        except Exception:
            logger.exception(
                "camera %s: old frames not deleted (keep frames for %s hours)", camera_id, hours
            )
    return deleted


def _delete_camera_frames(camera_id: int, cutoff: datetime) -> int:
    deleted = 0
    while True:
        count = _delete_batch(camera_id, cutoff)
        deleted += count
        if count < DELETE_BATCH:
            return deleted


def _delete_batch(camera_id: int, cutoff: datetime) -> int:
    with transaction.atomic():
        # Locked rows: a frame cannot be marked as evidence while its deletion is decided.
        batch = list(
            Frame.objects.select_for_update(skip_locked=True)
            .filter(camera_id=camera_id, captured_at__lt=cutoff, keep=False)
            .order_by("captured_at")
            .values_list("pk", "image")[:DELETE_BATCH]
        )
        if not batch:
            return 0
        Frame.objects.filter(pk__in=[pk for pk, _name in batch]).delete()
        names = [name for _pk, name in batch if name]
        transaction.on_commit(lambda: delete_files(names, Frame._meta.get_field("image").storage))
    return len(batch)
