"""The camera pages: the list per site, adding and editing a camera, testing its
connection, choosing its analyses with their cost, and the way into the fence editor."""

from __future__ import annotations

import sys
import types

import pytest
from django.test import Client

from cameras import roles
from cameras.models import Camera, CameraAnalysis
from tests.cameras import CAMERA_PASSWORD, jpeg_bytes, store_frame
from tests.factories import (
    AnalysisFactory,
    BaiduAccountFactory,
    CtyunAccountFactory,
    HttpCameraFactory,
    RegionFactory,
)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def browser(admin) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    return client


@pytest.fixture
def camera(site_a):
    # at the address camera_form() sends: a changed address would need the password again
    return HttpCameraFactory(
        site=site_a,
        name="Gate A",
        password=CAMERA_PASSWORD,
        source_url="http://192.168.1.80/cgi-bin/snapshot.cgi",
    )


def camera_form(site, **changes) -> dict:
    data = {
        "action": "save",
        "site": site.pk,
        "name": "North gate",
        "source_kind": "http",
        "source_url": "http://192.168.1.80/cgi-bin/snapshot.cgi",
        "username": "viewer",
        "password": "",
        "sample_interval": "2",
        "enabled": "on",
        "frame_retention_hours": "24",
    }
    data.update(changes)
    return data


class FakeSourceError(Exception):
    pass


@pytest.fixture
def fake_sources(monkeypatch):
    """``cameras.sources`` answering with ``grabbed`` (bytes, or an exception to raise);
    ``opened`` lists the cameras it was asked to open, ``closed`` counts the closings."""
    module = types.ModuleType("cameras.sources")
    module.SourceError = FakeSourceError
    module.grabbed = jpeg_bytes(320, 180)
    module.opened = []
    module.closed = 0

    class Source:
        def __init__(self, camera):
            module.opened.append(camera)

        def grab(self):
            if isinstance(module.grabbed, Exception):
                raise module.grabbed
            return module.grabbed

        def close(self):
            module.closed += 1

    module.open_source = Source
    monkeypatch.setitem(sys.modules, "cameras.sources", module)
    return module


# ------------------------------------------------------------------------- access


PAGES = [
    "/cameras/",
    "/cameras/new/",
    "/cameras/{camera}/",
    "/cameras/{camera}/regions/",
    "/cameras/{camera}/analyses/new/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_every_camera_page_renders_for_an_admin(browser, camera, url):
    response = browser.get(url.format(camera=camera.pk))
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.OPERATOR, roles.FINANCE])
@pytest.mark.parametrize("url", PAGES)
def test_operators_and_finance_are_refused_every_camera_page(make_user, site_a, camera, role, url):
    client = Client()
    client.force_login(make_user(role, site_a))
    assert client.get(url.format(camera=camera.pk)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/cameras/{camera}/", "/cameras/{camera}/regions/", "/cameras/{camera}/delete/"]
)
def test_another_sites_camera_is_404_for_an_admin(browser, site_b, url):
    other = HttpCameraFactory(site=site_b)
    assert browser.get(url.format(camera=other.pk)).status_code == 404


# ------------------------------------------------------------------------- list


@pytest.mark.django_db
def test_the_list_shows_each_camera_with_health_last_frame_and_thumbnail(browser, camera, media):
    camera.health, camera.health_reason = "degraded", "3 of the last 10 snapshots timed out"
    camera.save()
    store_frame(camera)
    HttpCameraFactory(site=camera.site, name="Yard", health="offline")

    page = browser.get("/cameras/").content.decode()

    assert "Site A" in page
    assert 'class="health health-degraded"' in page
    assert "3 of the last 10 snapshots timed out" in page
    assert 'class="health health-offline"' in page
    assert f'src="/api/cameras/{camera.pk}/frame/"' in page
    assert f'href="/cameras/{camera.pk}/regions/"' in page
    assert "Draw regions" in page


@pytest.mark.django_db
def test_the_list_leaves_out_cameras_of_other_sites(browser, camera, site_b):
    HttpCameraFactory(site=site_b, name="Hidden dock")
    page = browser.get("/cameras/").content.decode()
    assert "Gate A" in page
    assert "Hidden dock" not in page


# ------------------------------------------------------------------------- add and edit


@pytest.mark.django_db
def test_an_admin_adds_a_camera_to_one_of_their_sites(browser, site_a):
    response = browser.post("/cameras/new/", camera_form(site_a, password=CAMERA_PASSWORD))

    camera = Camera.objects.get(name="North gate")
    assert response.status_code == 302
    assert response["Location"] == f"/cameras/{camera.pk}/"
    assert camera.site == site_a
    assert camera.password == CAMERA_PASSWORD


@pytest.mark.django_db
def test_a_camera_cannot_be_added_to_a_site_the_admin_is_not_a_member_of(browser, site_b):
    response = browser.post("/cameras/new/", camera_form(site_b))
    assert response.status_code == 200
    assert "site" in response.context["form"].errors
    assert not Camera.objects.exists()


@pytest.mark.django_db
def test_credentials_in_the_address_are_refused_with_a_reason(browser, site_a):
    response = browser.post(
        "/cameras/new/",
        camera_form(site_a, source_kind="rtsp", source_url="rtsp://admin:pw@192.168.1.9/"),
    )
    [reason] = response.context["form"].errors["source_url"]
    assert "Do not put a user name or password in the address" in reason


@pytest.mark.django_db
def test_editing_with_a_blank_password_keeps_it_and_never_shows_it(browser, camera):
    page = browser.get(f"/cameras/{camera.pk}/").content.decode()
    browser.post(f"/cameras/{camera.pk}/", camera_form(camera.site, name="Gate A2"))

    camera.refresh_from_db()
    assert CAMERA_PASSWORD not in page
    assert "•••• set" in page
    assert camera.name == "Gate A2"
    assert camera.password == CAMERA_PASSWORD


@pytest.mark.django_db
def test_removing_the_stored_password_clears_it(browser, camera):
    browser.post(f"/cameras/{camera.pk}/", camera_form(camera.site, clear_password="on"))
    camera.refresh_from_db()
    assert camera.password == ""


@pytest.mark.django_db
def test_an_admin_deletes_a_camera_after_confirming(browser, camera):
    assert browser.get(f"/cameras/{camera.pk}/delete/").status_code == 200
    assert Camera.objects.filter(pk=camera.pk).exists()
    response = browser.post(f"/cameras/{camera.pk}/delete/")
    assert response.status_code == 302
    assert not Camera.objects.filter(pk=camera.pk).exists()


# ------------------------------------------------------------------------- test connection


@pytest.mark.django_db
def test_test_connection_shows_the_snapshot_just_grabbed_and_saves_nothing(
    browser, camera, fake_sources
):
    response = browser.post(
        f"/cameras/{camera.pk}/", camera_form(camera.site, action="test", name="Renamed")
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'src="data:image/jpeg;base64,' in page
    assert "Snapshot of 320×180 pixels" in page
    [opened] = fake_sources.opened
    assert opened.name == "Renamed"
    assert opened.password == CAMERA_PASSWORD  # a blank password keeps the stored one
    assert fake_sources.closed == 1
    camera.refresh_from_db()
    assert camera.name == "Gate A"


@pytest.mark.django_db
def test_test_connection_shows_the_exact_error_of_the_source(browser, site_a, fake_sources):
    fake_sources.grabbed = FakeSourceError("HTTP 401 from 192.168.1.80: wrong user or password")

    response = browser.post("/cameras/new/", camera_form(site_a, action="test"))

    page = response.content.decode()
    assert "HTTP 401 from 192.168.1.80: wrong user or password" in page
    assert "data:image" not in page
    assert fake_sources.closed == 1
    assert not Camera.objects.exists()


@pytest.mark.django_db
def test_test_connection_refuses_an_answer_that_is_not_a_picture(browser, camera, fake_sources):
    fake_sources.grabbed = b"<html>login</html>"
    response = browser.post(f"/cameras/{camera.pk}/", camera_form(camera.site, action="test"))
    assert "not with a picture" in response.content.decode()


# ------------------------------------------------------------------------- analyses


@pytest.mark.django_db
def test_an_admin_adds_an_analysis_and_sees_its_monthly_cost_on_the_camera_page(browser, camera):
    account = BaiduAccountFactory(name="Baidu plant")
    response = browser.post(
        f"/cameras/{camera.pk}/analyses/new/",
        {"api": "body_attr", "account": account.pk, "interval": "10", "enabled": "on"},
    )

    assert response.status_code == 302
    analysis = CameraAnalysis.objects.get(camera=camera)
    assert (analysis.api, analysis.account, analysis.interval) == ("body_attr", account, 10.0)
    page = browser.get(f"/cameras/{camera.pk}/").content.decode()
    assert "259,200" in page
    assert "476.56" in page


@pytest.mark.django_db
def test_the_analysis_form_shows_the_projection_of_what_is_chosen(browser, camera):
    analysis = AnalysisFactory(camera=camera, api="body_attr", interval=10)
    page = browser.get(f"/cameras/analyses/{analysis.pk}/").content.decode()
    assert '<strong data-projection="calls">259,200</strong>' in page
    assert '<strong data-projection="cost">476.56</strong>' in page
    assert 'src="/static/js/camera-form.js"' in page
    assert 'id="account-apis"' in page


@pytest.mark.django_db
def test_an_api_the_account_does_not_offer_is_refused_on_the_form(browser, camera):
    response = browser.post(
        f"/cameras/{camera.pk}/analyses/new/",
        {"api": "body_attr", "account": CtyunAccountFactory().pk, "interval": "10"},
    )
    assert response.status_code == 200
    assert "does not offer body_attr" in response.context["form"].errors["api"][0]
    assert not CameraAnalysis.objects.exists()


@pytest.mark.django_db
def test_an_admin_removes_an_analysis(browser, camera):
    analysis = AnalysisFactory(camera=camera)
    response = browser.post(f"/cameras/analyses/{analysis.pk}/delete/")
    assert response.status_code == 302
    assert not CameraAnalysis.objects.exists()


# ------------------------------------------------------------------------- fence editor


@pytest.mark.django_db
def test_the_region_editor_gets_the_camera_regions_kinds_limits_and_frame(browser, camera, media):
    region = RegionFactory(camera=camera, name="Pit", kind="fence")
    AnalysisFactory(camera=camera, api="fence", account=CtyunAccountFactory())
    store_frame(camera)

    response = browser.get(f"/cameras/{camera.pk}/regions/")

    context = response.context
    assert response.templates[0].name == "cameras/fence_editor.html"
    assert context["camera"] == camera
    assert context["regions"] == [
        {
            "id": region.pk,
            "name": "Pit",
            "kind": "fence",
            "points": region.points,
            "frame_width": 1280,
            "frame_height": 720,
        }
    ]
    assert context["latest_frame_url"] == f"/api/cameras/{camera.pk}/frame/"
    assert {kind["value"] for kind in context["kinds"]} == {
        "fence",
        "helmet",
        "workwear",
        "crowd",
        "flow",
        "zone",
        "danger",
    }
    assert all(kind["colour"].startswith("#") for kind in context["kinds"])
    assert context["limits"]["fence"]["max_points"] == 9
    assert context["editor_data"]["limits"] == context["limits"]
    assert context["editor_data"]["regions_api_url"] == "/api/regions/"


@pytest.mark.django_db
def test_the_region_editor_has_no_frame_url_before_the_first_frame(browser, camera):
    response = browser.get(f"/cameras/{camera.pk}/regions/")
    assert response.context["latest_frame_url"] is None


# ------------------------------------------------------------------------- Django admin


@pytest.mark.django_db
def test_the_django_admin_edits_a_camera_without_showing_its_password(make_user, camera):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(None, is_superuser=True, is_staff=True))
    RegionFactory(camera=camera)
    AnalysisFactory(camera=camera)

    pages = [
        client.get(f"/admin/cameras/camera/{camera.pk}/change/"),
        client.get("/admin/cameras/region/"),
        client.get("/admin/cameras/cameraanalysis/"),
        client.get("/admin/cameras/changerecord/"),
    ]

    assert [page.status_code for page in pages] == [200] * len(pages)
    assert CAMERA_PASSWORD not in pages[0].content.decode()
