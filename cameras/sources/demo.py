"""The demo camera: a source whose every grab renders a demo scene (painted by
``cameras.sources.demo_scene``) at the wall-clock time, so every process shows the same
moment. ``SCENES``, ``get_scene`` and ``GroundTruth`` are re-exported for callers that
name the camera's scenes."""

from __future__ import annotations

import time
from collections.abc import Callable

from .base import Source, SourceError, SourceSettings
from .demo_scene import SCENES, GroundTruth, get_scene

__all__ = ["SCENES", "DemoSource", "GroundTruth", "get_scene"]


# ---------------------------------------------------------------- as a camera


class DemoSource(Source):
    """A camera showing a demo scene: each grab renders the scene at the wall-clock
    time, so every process shows the same moment. ``last_truth`` is the ground truth
    of the latest frame, for evaluation only."""

    kind = "demo"

    def __init__(self, settings: SourceSettings, clock: Callable[[], float] | None = None):
        try:
            self.scene = get_scene(settings.url)
        except KeyError as error:
            raise SourceError(str(error.args[0])) from None
        self._clock = clock or time.time
        self.last_truth: GroundTruth | None = None

    def grab(self) -> bytes:
        t = self._clock()
        data = self.scene.jpeg(t)
        self.last_truth = self.scene.ground_truth(t)
        return data
