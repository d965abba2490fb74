"""Helpers shared by the camera tests: pictures and stored frames (the model factories
are in tests/factories.py)."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from cameras.models import Camera, Frame

CAMERA_PASSWORD = "cam-pass-Qx7Lw2Rz9Tn4"


def jpeg_bytes(width: int = 64, height: int = 36, colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def store_frame(camera: Camera, data: bytes | None = None, at=None) -> Frame:
    """A frame of ``camera`` stored in the (test) media folder."""
    data = data or jpeg_bytes()
    frame = Frame(
        camera=camera,
        captured_at=at or timezone.now(),
        width=64,
        height=36,
        size=len(data),
    )
    frame.image.save("frame.jpg", ContentFile(data), save=False)
    frame.save()
    return frame
