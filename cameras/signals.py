"""What the cameras room announces, for the rooms above it to act on: cameras import
nothing of theirs, they connect receivers (``monitoring.apps``: the pipeline analyses every
stored frame and tells browsers about health changes).

- ``frame_stored`` (``sender=Frame``, ``frame=``): the capture service stored a frame.
- ``camera_health_changed`` (``sender=Camera``, ``camera=``): a camera's health or its
  reason changed.

The capture service sends them with ``send_robust``: a failing receiver is logged and
never stops capture.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

frame_stored = Signal()
camera_health_changed = Signal()


def send_logged(signal: Signal, sender: type, what: str, **named) -> None:
    """``signal.send_robust``, each receiver's failure logged with its traceback."""
    for receiver, result in signal.send_robust(sender=sender, **named):
        if isinstance(result, Exception):
            logger.error("%s receiver %r failed", what, receiver, exc_info=result)
