"""What both emulated vendors share: the view wrapper (enabled switch, no login, no CSRF:
vendor auth is the sandbox's own), reading the raw body, base64 and image decoding, and
JSON answers with the replay marker.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from PIL import Image, ImageOps

from monitoring.backends.base import InvalidImage
from monitoring.backends.images import decode_image

from .examples import REPLAY_HEADER

ANALYZER_HEADER = "X-Sandbox-Analyzer"

_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def enabled() -> bool:
    return bool(settings.SANDBOX.get("ENABLED"))


def sandbox_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A vendor endpoint: 404 while the sandbox is switched off, reachable without a login
    session and without a CSRF token (the vendor's own credentials are checked instead)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not enabled():
            raise Http404("the sandbox is switched off")
        return view(request, *args, **kwargs)

    return login_not_required(csrf_exempt(wrapped))


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw request body as received, or None when it is longer than ``limit`` bytes.

    Read from the stream, not through ``request.body``: Django caps that at
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB), below what both vendors accept.
    """
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > limit:
        return None
    data = request.read(limit + 1)
    if len(data) > limit:
        return None
    return data


def json_response(
    data: Any,
    status: int = 200,
    *,
    replay: bool = False,
    analyzed: bool = False,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A JSON answer. ``replay`` marks a recorded example with ``X-Sandbox-Replay: true``;
    ``analyzed`` says the on-box analyzer computed it from the image sent."""
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/json;charset=utf-8",
    )
    if replay:
        response[REPLAY_HEADER] = "true"
    if analyzed:
        response[ANALYZER_HEADER] = "local"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def b64decode(text: str, *, urlsafe_too: bool = False) -> bytes | None:
    """Bytes from base64 text, or None when it is not base64.

    Line breaks are ignored and missing padding is restored; ``urlsafe_too`` also takes
    the URL-safe alphabet (``-`` and ``_``), which CTYun asks for ("使用常规的 safe base64
    编码方式") while its samples send either.
    """
    cleaned = text.replace("\r", "").replace("\n", "")
    if urlsafe_too:
        cleaned = cleaned.replace("-", "+").replace("_", "/")
    stripped = cleaned.rstrip("=")
    if len(stripped) % 4 == 1 or not _BASE64_TEXT.fullmatch(cleaned):
        return None
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def open_image(data: bytes) -> Image.Image | None:
    """The decoded image, or None when ``data`` is not a readable image."""
    try:
        return decode_image(data)
    except InvalidImage:
        return None


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, as the analyzer sees it (so that
    areas are checked and results drawn in the same pixels the analyzer reports)."""
    try:
        orientation = int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block: take the pixels as stored
        return image
    if orientation == 1:
        return image
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image
