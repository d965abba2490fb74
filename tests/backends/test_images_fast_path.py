"""A frame that already meets a vendor's limits is sent as it is without being decoded;
anything doubtful still goes through the full decode and its checks."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from monitoring.backends import images
from monitoring.backends.base import InvalidImage


def _jpeg(width=640, height=480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_fitting_jpeg_is_passed_through_without_a_full_decode(monkeypatch):
    data = _jpeg()

    def refuse_decoding(_data):
        raise AssertionError("decoded although the header was enough")

    monkeypatch.setattr(images, "decode_image", refuse_decoding)
    prepared = images.prepare_image(data, images.BAIDU)
    assert prepared.data is data
    assert (prepared.width, prepared.height, prepared.scale) == (640, 480, 1.0)


def test_a_truncated_jpeg_is_still_refused():
    data = _jpeg()
    with pytest.raises(InvalidImage, match=r"truncated|corrupt"):
        images.prepare_image(data[: len(data) // 2], images.BAIDU)


def test_a_jpeg_too_large_for_the_vendor_takes_the_full_path():
    prepared = images.prepare_image(_jpeg(5000, 1000), images.BAIDU)
    assert prepared.format == "JPEG"
    assert max(prepared.width, prepared.height) <= images.BAIDU.max_side
    assert prepared.scale < 1.0
