"""Frame sources: where a camera's pictures come from.

``open_source(camera)`` gives a ``Source`` for a saved ``Camera`` or for plain settings
(a dict or any object with ``source_kind``, ``source_url``, ``username``, ``password``),
so a camera can be tried before it is saved. ``source.grab()`` returns one JPEG, the
freshest the camera has (never a frame that waited in a queue); ``close()`` releases
the connection; a source is also a context manager. Every failure is a
``SourceError`` whose message says what went wrong in words an installer can act on.

Kinds: ``http`` (snapshot URL, basic or digest auth), ``rtsp`` (a stream read in the
background over TCP, reconnecting by itself), ``file`` (a video file or an image folder,
looped) and ``demo`` (a construction site rendered on this machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    JPEG_QUALITY,
    MAX_PIXELS,
    Source,
    SourceError,
    SourceSettings,
    as_jpeg,
    encode_jpeg,
    image_size,
)

__all__ = [
    "JPEG_QUALITY",
    "MAX_PIXELS",
    "Source",
    "SourceError",
    "SourceSettings",
    "as_jpeg",
    "encode_jpeg",
    "image_size",
    "open_source",
]


def open_source(camera: Any, timeout: float | None = None) -> Source:
    """The source for ``camera`` (a ``Camera``, a dict or an object with its fields).

    Raises ``SourceError`` for an unknown kind or an unusable address; anything that
    needs the network is reported by ``grab``.
    """
    from monitoring.lib.crypto import needs_reentry

    password = (
        camera.get("password") if isinstance(camera, Mapping) else getattr(camera, "password", "")
    )
    if needs_reentry(password):
        raise SourceError(
            "the stored password cannot be read with this server's encryption keys: enter it again"
        )
    settings = SourceSettings.of(camera, timeout)
    if not settings.url:
        raise SourceError("no address given")
    if settings.kind == "http":
        from .http import HttpSnapshotSource

        return HttpSnapshotSource(settings)
    if settings.kind == "rtsp":
        from .rtsp import RtspSource

        return RtspSource(settings)
    if settings.kind == "file":
        from .files import open_file_source

        return open_file_source(settings)
    if settings.kind == "demo":
        from .demo import DemoSource

        return DemoSource(settings)
    raise SourceError(f"unknown source kind {settings.kind!r}; use http, rtsp, file or demo")
