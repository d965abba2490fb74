"""The model builders every test shares (factory-boy): sites, cameras, vendor accounts,
camera analyses and regions.

Each factory gives a valid object with the fewest fields a test has to think about; a test
names only what it is about (``CameraFactory(site=site_a, name="Gate")``,
``CtyunAccountFactory(free_quota_claimed_at=...)``). Calling a factory saves through the
model's manager (``objects.create``); ``.build()`` does not save.

- ``SiteFactory``: "Site 1", "Site 2"...
- ``CameraFactory``: a camera showing the ``site-gate`` demo scene, on a new site unless
  one is given, otherwise as the model makes it (no frame size yet);
  ``HttpCameraFactory``: an HTTP snapshot camera of 1280x720 with a user name.
- vendor accounts, one factory per vendor: ``BaiduAccountFactory`` (API key and secret
  key), ``CtyunAccountFactory`` (plus an app key), ``LocalAccountFactory`` (the on-box
  analyzer, no keys) and ``BaiduPrivateAccountFactory`` (a Baidu deployed on the local
  network, not billed per call);
- ``AnalysisFactory`` (a ``body_attr`` analysis through a new Baidu account) and
  ``RegionFactory`` (a 300x200 zone of a 1280x720 frame).
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from cameras.models import Camera, CameraAnalysis, Region, Site
from monitoring.models import VendorAccount


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n + 1}")


# ---------------------------------------------------------------- vendor accounts


class VendorAccountFactory(DjangoModelFactory):
    """The on-box analyzer's account; the vendors' factories below add their keys."""

    class Meta:
        model = VendorAccount

    vendor = "local"
    name = factory.Sequence(lambda n: f"Local {n}")


LocalAccountFactory = VendorAccountFactory


class BaiduAccountFactory(VendorAccountFactory):
    vendor = "baidu"
    name = factory.Sequence(lambda n: f"Baidu {n}")
    api_key = "AK-baidu-test"
    secret_key = "SK-baidu-test"


class CtyunAccountFactory(VendorAccountFactory):
    vendor = "ctyun"
    name = factory.Sequence(lambda n: f"CTYun {n}")
    api_key = "AK-ctyun-test"
    secret_key = "SK-ctyun-test"
    app_key = "APPKEY-ctyun-test"


class BaiduPrivateAccountFactory(VendorAccountFactory):
    vendor = "baidu_private"
    name = factory.Sequence(lambda n: f"On site {n}")
    base_url = "http://192.168.0.10"


# ---------------------------------------------------------------- cameras


class CameraFactory(DjangoModelFactory):
    class Meta:
        model = Camera

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Camera {n}")
    source_kind = "demo"
    source_url = "demo://site-gate"


class HttpCameraFactory(CameraFactory):
    name = factory.Sequence(lambda n: f"Gate {n}")
    source_kind = "http"
    source_url = "http://192.168.1.64/snapshot.jpg"
    username = "viewer"
    width = 1280
    height = 720
    sample_interval = 1.0


class AnalysisFactory(DjangoModelFactory):
    class Meta:
        model = CameraAnalysis

    api = "body_attr"
    account = factory.SubFactory(BaiduAccountFactory)
    interval = 10.0


class RegionFactory(DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Region {n}")
    kind = "zone"
    points = [[100, 100], [400, 100], [400, 300], [100, 300]]
    frame_width = 1280
    frame_height = 720
