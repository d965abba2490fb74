"""Celery tasks of the analysis side: thin, they take ids and call ``monitoring.pipeline``.

* ``analyze_frame_task(frame_id)``: the pipeline on one stored frame. Acknowledged
  after it ran (``acks_late``) and given back to the queue when its worker dies
  (``reject_on_worker_lost``): every effect is idempotent (see the pipeline), and each
  start records the vendor requests it really sends under its own delivery number.
  Transient infrastructure errors (database or Redis connection) are retried a few
  times with backoff; vendor errors are the pipeline's business and never retried here.
* ``enqueue_analysis(frame)``: the capture service's frame hook; it queues the task once
  the frame's row is committed, and never lets a broker outage stop capture.
* ``resolve_stale_alerts`` and ``close_abandoned_runs``: periodic (``BEAT_SCHEDULE``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitoring import pipeline

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
)
MAX_RETRIES = 5

# What settings' CELERY_BEAT_SCHEDULE holds for the analysis side.
BEAT_SCHEDULE = {
    "monitoring-resolve-stale-alerts": {
        "task": "monitoring.tasks.resolve_stale_alerts",
        "schedule": 15.0,
    },
    "monitoring-close-abandoned-runs": {
        "task": "monitoring.tasks.close_abandoned_runs",
        "schedule": 60.0,
    },
}


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
)
def analyze_frame_task(self, frame_id: int) -> str:
    """Analyse one stored frame; returns what became of it (analyzed, dropped, missing)."""
    return pipeline.analyze_frame(frame_id).status


@shared_task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, max_retries=2)
def resolve_stale_alerts() -> int:
    """Resolve alerts that stayed clear long enough, on cameras that have data."""
    return pipeline.resolve_stale_alerts()


@shared_task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, max_retries=2)
def close_abandoned_runs() -> int:
    """Drop the frames whose worker died under them (``pipeline.close_abandoned_runs``)."""
    return pipeline.close_abandoned_runs()


def enqueue_analysis(frame) -> None:
    """Queue the analysis of ``frame`` once the transaction that stored it commits."""
    frame_id = frame.pk
    transaction.on_commit(lambda: send_analysis(frame_id))


def send_analysis(frame_id: int) -> bool:
    """Queue ``analyze_frame_task(frame_id)``; False (logged) when the broker cannot be
    reached: the camera's next frame is queued again once it can."""
    try:
        analyze_frame_task.delay(frame_id)
    except Exception:  # a broker outage must not stop capture
        logger.exception("frame %s: could not queue its analysis", frame_id)
        return False
    return True
