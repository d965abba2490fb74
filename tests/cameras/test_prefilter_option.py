"""The "only when someone is there" option of a camera analysis: its default for new
analyses (on for a paid vendor on a camera with regions), in the API and the form."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import CameraAnalysis
from tests.factories import (
    BaiduAccountFactory,
    HttpCameraFactory,
    LocalAccountFactory,
    RegionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def api(admin) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    token, _created = Token.objects.get_or_create(user=admin)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def browser(admin) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    return client


def create(client, camera, account, **extra) -> dict:
    response = client.post(
        "/api/camera-analyses/",
        {"camera": camera.pk, "api": "body_attr", "account": account.pk, "interval": 10, **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_api_turns_it_on_for_a_paid_vendor_on_a_camera_with_regions(api, site_a):
    camera = HttpCameraFactory(site=site_a)
    RegionFactory(camera=camera)
    assert create(api, camera, BaiduAccountFactory())["only_with_person"] is True


def test_the_api_leaves_it_off_without_regions_or_on_a_free_account(api, site_a):
    bare = HttpCameraFactory(site=site_a)
    assert create(api, bare, BaiduAccountFactory())["only_with_person"] is False
    drawn = HttpCameraFactory(site=site_a)
    RegionFactory(camera=drawn)
    local = LocalAccountFactory()
    assert create(api, drawn, local, api="persons")["only_with_person"] is False


def test_the_api_keeps_what_it_is_given(api, site_a):
    camera = HttpCameraFactory(site=site_a)
    RegionFactory(camera=camera)
    body = create(api, camera, BaiduAccountFactory(), only_with_person=False)
    assert body["only_with_person"] is False
    changed = api.patch(
        f"/api/camera-analyses/{body['id']}/", {"only_with_person": True}, format="json"
    )
    assert changed.json()["only_with_person"] is True


def test_the_form_shows_it_ticked_on_a_camera_with_regions_and_saves_it(browser, site_a):
    camera = HttpCameraFactory(site=site_a)
    RegionFactory(camera=camera)
    page = browser.get(f"/cameras/{camera.pk}/analyses/new/").content.decode()
    (checkbox,) = re.findall(r'<input[^>]*name="only_with_person"[^>]*>', page)
    assert "checked" in checkbox
    account = BaiduAccountFactory()
    browser.post(
        f"/cameras/{camera.pk}/analyses/new/",
        {
            "api": "body_attr",
            "account": account.pk,
            "interval": "10",
            "enabled": "on",
            "only_with_person": "on",
        },
    )
    assert CameraAnalysis.objects.get(camera=camera).only_with_person is True


def test_the_form_turns_it_off_for_a_free_account(browser, site_a):
    camera = HttpCameraFactory(site=site_a)
    RegionFactory(camera=camera)
    browser.post(
        f"/cameras/{camera.pk}/analyses/new/",
        {
            "api": "persons",
            "account": LocalAccountFactory().pk,
            "interval": "10",
            "enabled": "on",
            "only_with_person": "on",
        },
    )
    assert CameraAnalysis.objects.get(camera=camera).only_with_person is False
