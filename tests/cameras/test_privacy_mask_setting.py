"""A camera's privacy mask as people set it (the camera page's form, the REST API), and
Baidu person segmentation (``body_seg``), read by the privacy mask alone: a camera without
a mask is refused it, with the reason, by the REST API and the analysis form alike."""

from __future__ import annotations

import pytest
from django.utils import translation

from cameras import roles
from cameras.forms import CameraAnalysisForm
from cameras.models import Camera as CameraModel
from cameras.models import CameraAnalysis, PrivacyMask
from tests.cameras.test_camera_api import api_for
from tests.cameras.test_camera_pages import admin, browser, camera_form  # noqa: F401
from tests.factories import BaiduAccountFactory, HttpCameraFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def camera(site_a):
    return HttpCameraFactory(site=site_a, name="Press hall")


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


def test_the_camera_page_sets_the_mask_and_a_post_without_it_keeps_it(browser, site_a):  # noqa: F811
    browser.post("/cameras/new/", camera_form(site_a, privacy_mask="fill"))
    camera = CameraModel.objects.get(name="North gate")
    assert camera.privacy_mask == PrivacyMask.FILL
    page = browser.get(f"/cameras/{camera.pk}/")
    assert 'name="privacy_mask"' in page.content.decode()

    response = browser.post(f"/cameras/{camera.pk}/", camera_form(site_a, name="North gate"))

    assert response.status_code == 302, response.context["form"].errors
    camera.refresh_from_db()
    assert camera.privacy_mask == PrivacyMask.FILL
