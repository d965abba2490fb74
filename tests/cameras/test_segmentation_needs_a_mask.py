"""Baidu person segmentation (``body_seg``) is read by the privacy mask alone: a camera
without a mask is refused it, with the reason, by the REST API and the camera page's form
alike."""

from __future__ import annotations

import pytest
from django.utils import translation

from cameras import roles
from cameras.forms import CameraAnalysisForm
from cameras.models import CameraAnalysis, PrivacyMask
from tests.cameras import BaiduAccountFactory, CameraFactory
from tests.cameras.test_camera_api import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def camera(site_a):
    return CameraFactory(site=site_a, name="Press hall")


@pytest.fixture
def baidu():
    return BaiduAccountFactory()


def test_without_a_mask_body_seg_is_refused_in_both_languages(make_user, site_a, camera, baidu):
    client = api_for(make_user(roles.ADMIN, site_a))
    payload = {"camera": camera.pk, "api": "body_seg", "account": baidu.pk, "interval": 10}
    english = client.post("/api/camera-analyses/", payload, format="json")
    assert english.status_code == 400
    assert "Only the privacy mask reads person segmentation" in english.json()["api"][0]
    chinese = client.post(
        "/api/camera-analyses/", payload, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "隐私遮挡" in chinese.json()["api"][0]
    with translation.override("en"):
        form = CameraAnalysisForm(
            data={"api": "body_seg", "account": baidu.pk, "interval": 10, "enabled": "on"},
            camera=camera,
        )
        assert not form.is_valid()
        assert "turn this camera's privacy mask on" in form.errors["api"][0]
    assert not CameraAnalysis.objects.exists()


def test_with_a_mask_body_seg_is_taken(make_user, site_a, camera, baidu):
    camera.privacy_mask = PrivacyMask.BLUR
    camera.save()
    client = api_for(make_user(roles.ADMIN, site_a))
    payload = {"camera": camera.pk, "api": "body_seg", "account": baidu.pk, "interval": 10}
    answer = client.post("/api/camera-analyses/", payload, format="json")
    assert answer.status_code == 201, answer.json()
    assert CameraAnalysis.objects.get().api == "body_seg"
