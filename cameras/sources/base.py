"""What every frame source is: ``Source``, ``SourceSettings``, ``SourceError`` and the
image checks (``as_jpeg``, ``encode_jpeg``, ``image_size``) the adapters share."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

JPEG_QUALITY = 90
# Decompression-bomb guard, checked on the header: far above any site camera.
MAX_PIXELS = 8192 * 8192


class SourceError(Exception):
    """A frame could not be had. ``message`` is the reason shown as the camera's health."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceSettings:
    kind: str
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0  # seconds for one frame (HTTP answer, RTSP fresh frame)
    interval: float = 2.0  # the camera's sampling interval, seconds

    @classmethod
    def of(cls, camera: Any, timeout: float | None = None) -> SourceSettings:
        """Settings from a ``Camera``, a mapping or any object with the same names."""

        def get(name: str, default: Any = "") -> Any:
            if isinstance(camera, Mapping):
                return camera.get(name, default)
            return getattr(camera, name, default)

        return cls(
            kind=str(get("source_kind") or get("kind") or "").strip().lower(),
            url=str(get("source_url") or get("url") or "").strip(),
            username=str(get("username") or ""),
            password=str(get("password") or ""),
            timeout=float(timeout if timeout is not None else get("timeout", None) or 10.0),
            interval=float(get("sample_interval", None) or get("interval", None) or 2.0),
        )


class Source:
    """One open camera. Subclasses implement ``grab`` and, when they hold anything
    open, ``close``. ``frame_age``: how many seconds the frame the last ``grab``
    returned had waited in the source (None when the source cannot tell)."""

    kind = ""
    frame_age: float | None = None

    def grab(self) -> bytes:
        raise NotImplementedError

    def set_interval(self, seconds: float) -> None:
        """The camera's sampling interval changed (a source that reads a stream decodes
        around it)."""
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------- image helpers


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header (no full decode)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, SyntaxError, ValueError) as error:
        raise SourceError(f"not an image: {error}") from None


def as_jpeg(data: bytes, what: str = "the answer") -> bytes:
    """``data`` checked to be a whole, decodable image, as JPEG: a JPEG is returned as it
    is, another format is re-encoded. Raises ``SourceError`` for anything else."""
    if not data:
        raise SourceError(f"{what} is empty, not an image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise SourceError(f"{what} is a {width}x{height} image, too large")
            image_format = image.format
            image.load()
            if image_format == "JPEG":
                return data
            return encode_jpeg(image)
    except UnidentifiedImageError:
        raise SourceError(f"{what} is not an image ({_describe(data)})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise SourceError(f"{what} is a corrupt image: {error}") from None


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    if image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _describe(data: bytes) -> str:
    head = data[:200].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        kind = "an HTML page"
    elif head.startswith((b"{", b"[")):
        kind = "JSON"
    elif head.startswith(b"<?xml") or head.startswith(b"<"):
        kind = "XML"
    else:
        kind = "unknown data"
    return f"{kind}, {len(data)} bytes"
