"""Celery tasks of cameras: frame retention, run by beat (``BEAT_SCHEDULE``), and
deleting a deleted camera's files.

Thin and idempotent: run twice or late, it deletes nothing that a single run would not.
"""

from __future__ import annotations

from celery import shared_task

from cameras import frames, storage

# What settings' CELERY_BEAT_SCHEDULE holds for cameras: every ten minutes.
BEAT_SCHEDULE = {
    "cameras-delete-old-frames": {
        "task": "cameras.tasks.delete_old_frames",
        "schedule": 600.0,
    },
}


@shared_task(acks_late=True, ignore_result=True)
def delete_old_frames() -> int:
    """Delete frames past their camera's retention (files too), except evidence."""
    return frames.delete_old_frames()


@shared_task(acks_late=True, ignore_result=True)
def delete_camera_files(camera_id: int) -> int:
    """Delete every frame and evidence file of a deleted camera."""
    return storage.delete_camera_files(camera_id)
