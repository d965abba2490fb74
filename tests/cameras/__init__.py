"""Factories shared by the camera tests: vendor accounts, cameras, analyses, regions and
stored frames."""

from __future__ import annotations

import io

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from cameras.models import Camera, CameraAnalysis, Frame, Region
from monitoring.models import VendorAccount

CAMERA_PASSWORD = "cam-pass-Qx7Lw2Rz9Tn4"


class BaiduAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    vendor = "baidu"
    name = factory.Sequence(lambda n: f"Baidu {n}")
    api_key = "AK-baidu-test"
    secret_key = "SK-baidu-test"


class CtyunAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    vendor = "ctyun"
    name = factory.Sequence(lambda n: f"CTYun {n}")
    api_key = "AK-ctyun-test"
    secret_key = "SK-ctyun-test"
    app_key = "APPKEY-ctyun-test"


class LocalAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    vendor = "local"
    name = factory.Sequence(lambda n: f"Local {n}")


class CameraFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Camera

    name = factory.Sequence(lambda n: f"Gate {n}")
    source_kind = "http"
    source_url = "http://192.168.1.64/snapshot.jpg"
    username = "viewer"
    width = 1280
    height = 720
    sample_interval = 1.0


class AnalysisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CameraAnalysis

    api = "body_attr"
    account = factory.SubFactory(BaiduAccountFactory)
    interval = 10.0


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Region {n}")
    kind = "zone"
    points = [[100, 100], [400, 100], [400, 300], [100, 300]]
    frame_width = 1280
    frame_height = 720


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
