"""A fence analysis names the fence region it watches: a foreign key, validated alike by the
REST API, the camera page's form and the Django admin; carried over from the old
``params["region"]`` by the migration."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from cameras import roles
from cameras.admin import CameraAnalysisAdminForm
from cameras.forms import CameraAnalysisForm
from cameras.models import CameraAnalysis
from tests.cameras.test_camera_api import api_for
from tests.factories import CtyunAccountFactory, HttpCameraFactory, RegionFactory

pytestmark = pytest.mark.django_db

carry = importlib.import_module("cameras.migrations.0003_analysis_names_its_fence_region")


@pytest.fixture
def camera(site_a):
    return HttpCameraFactory(site=site_a, name="Yard")


@pytest.fixture
def admin_a(make_user, site_a):
    return api_for(make_user(roles.ADMIN, site_a))


@pytest.fixture
def ctyun():
    return CtyunAccountFactory()


def fence(camera, name: str):
    return RegionFactory(camera=camera, name=name, kind="fence")


def post(client, camera, account, **fields):
    payload = {"camera": camera.pk, "api": "fence", "account": account.pk, "interval": 10}
    return client.post("/api/camera-analyses/", {**payload, **fields}, format="json")


def test_two_fences_of_a_camera_each_get_their_own_fence_analysis_through_one_account(
    admin_a, camera, ctyun
):
    north, south = fence(camera, "North"), fence(camera, "South")
    first = post(admin_a, camera, ctyun, region=north.pk)
    second = post(admin_a, camera, ctyun, region=south.pk)
    assert first.status_code == 201, first.json()
    assert second.status_code == 201, second.json()
    assert second.json()["region"] == south.pk
    # but the same fence twice through the same account is refused
    again = post(admin_a, camera, ctyun, region=north.pk)
    assert again.status_code == 400
    assert "already runs fence on this region" in again.json()["api"][0]


def test_with_two_fences_a_fence_analysis_must_say_which_it_watches(admin_a, camera, ctyun):
    fence(camera, "North"), fence(camera, "South")
    answer = post(admin_a, camera, ctyun)
    assert answer.status_code == 400
    assert "choose the one this analysis watches" in answer.json()["region"][0]
    chinese = admin_a.post(
        "/api/camera-analyses/",
        {"camera": camera.pk, "api": "fence", "account": ctyun.pk, "interval": 10},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "围栏" in chinese.json()["region"][0]


def test_with_one_fence_a_fence_analysis_may_leave_the_region_to_it(admin_a, camera, ctyun):
    fence(camera, "North")
    assert post(admin_a, camera, ctyun).status_code == 201


def test_a_region_of_another_camera_or_not_a_fence_is_refused(admin_a, camera, ctyun, site_a):
    other = fence(HttpCameraFactory(site=site_a, name="Other"), "Theirs")
    zone = RegionFactory(camera=camera, name="Walkway", kind="zone")
    assert "another camera" in post(admin_a, camera, ctyun, region=other.pk).json()["region"][0]
    assert (
        "Choose a fence region" in post(admin_a, camera, ctyun, region=zone.pk).json()["region"][0]
    )


def test_only_a_fence_analysis_names_a_region(admin_a, camera, ctyun):
    north = fence(camera, "North")
    answer = post(admin_a, camera, ctyun, api="helmet", region=north.pk)
    assert answer.status_code == 400
    assert "Only a fence analysis" in answer.json()["region"][0]


def test_the_camera_page_form_offers_only_the_cameras_fences_and_checks_alike(camera, ctyun):
    north, south = fence(camera, "North"), fence(camera, "South")
    RegionFactory(camera=camera, name="Walkway", kind="zone")
    form = CameraAnalysisForm(
        data={"api": "fence", "account": ctyun.pk, "interval": 10, "enabled": "on"},
        camera=camera,
    )
    assert set(form.fields["region"].queryset) == {north, south}
    assert not form.is_valid()
    assert "region" in form.errors
    chosen = CameraAnalysisForm(
        data={
            "api": "fence",
            "account": ctyun.pk,
            "region": south.pk,
            "interval": 10,
            "enabled": "on",
        },
        camera=camera,
    )
    assert chosen.is_valid(), chosen.errors
    assert chosen.save().region == south


def test_the_admin_form_refuses_a_region_of_another_camera(camera, ctyun, site_a):
    other = fence(HttpCameraFactory(site=site_a, name="Other"), "Theirs")
    form = CameraAnalysisAdminForm(
        data={
            "camera": camera.pk,
            "api": "fence",
            "account": ctyun.pk,
            "region": other.pk,
            "interval": 10,
            "enabled": "on",
            "params": "{}",
        }
    )
    assert not form.is_valid()
    assert "another camera" in form.errors["region"][0]


def test_the_migration_carries_the_region_named_in_params_by_id_or_name(camera, ctyun, site_a):
    north, south = fence(camera, "North"), fence(camera, "South")
    by_name = CameraAnalysis.objects.create(
        camera=camera, api="fence", account=ctyun, params={"region": "South", "x": 1}
    )
    other_camera = HttpCameraFactory(site=site_a, name="Gate")
    gate = fence(other_camera, "Gate fence")
    by_id = CameraAnalysis.objects.create(
        camera=other_camera, api="fence", account=ctyun, params={"region": str(gate.pk)}
    )
    # a region of another camera, named by id, is not taken
    wrong = CameraAnalysis.objects.create(
        camera=camera, api="fence", account=CtyunAccountFactory(), params={"region": gate.pk}
    )

    carry.carry_region_param(apps, None)

    for analysis in (by_name, by_id, wrong):
        analysis.refresh_from_db()
    assert (by_name.region, by_name.params) == (south, {"x": 1})
    assert (by_id.region, by_id.params) == (gate, {})
    assert (wrong.region, wrong.params) == (None, {})
    assert north.analyses.count() == 0


# ---------------------------------------------------------------- APIs not offered on cameras


def test_liveness_is_refused_on_cameras_with_the_reason_in_both_languages(admin_a, camera, ctyun):
    payload = {"camera": camera.pk, "api": "liveness_blink", "account": ctyun.pk, "interval": 10}
    english = admin_a.post("/api/camera-analyses/", payload, format="json")
    assert english.status_code == 400
    assert "not offered on cameras" in english.json()["api"][0]
    chinese = admin_a.post(
        "/api/camera-analyses/", payload, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "不在摄像头上提供" in chinese.json()["api"][0]
    assert not CameraAnalysis.objects.exists()


def test_the_camera_form_neither_offers_liveness_nor_takes_it(camera, ctyun):
    form = CameraAnalysisForm(
        data={"api": "liveness_shake", "account": ctyun.pk, "interval": 10, "enabled": "on"},
        camera=camera,
    )
    offered = {value for value, _label in form.fields["api"].choices}
    assert "fall" in offered and "face_quality" not in offered
    assert not any(name.startswith("liveness_") for name in offered)
    assert not form.is_valid()
    assert "not offered on cameras" in form.errors["api"][0]


def test_face_quality_is_refused_on_cameras_with_the_reason_in_both_languages(
    admin_a, camera, ctyun
):
    payload = {"camera": camera.pk, "api": "face_quality", "account": ctyun.pk, "interval": 10}
    english = admin_a.post("/api/camera-analyses/", payload, format="json")
    assert english.status_code == 400
    assert "Face quality (face_quality)" in english.json()["api"][0]
    assert "not offered on cameras" in english.json()["api"][0]
    chinese = admin_a.post(
        "/api/camera-analyses/", payload, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "人脸质量检测" in chinese.json()["api"][0]
    assert "不在摄像头上提供" in chinese.json()["api"][0]
    with translation.override("en"):
        form = CameraAnalysisForm(
            data={"api": "face_quality", "account": ctyun.pk, "interval": 10, "enabled": "on"},
            camera=camera,
        )
        assert not form.is_valid()
        assert "Face quality (face_quality)" in form.errors["api"][0]
    assert not CameraAnalysis.objects.exists()
