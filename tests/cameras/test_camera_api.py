"""The REST API of sites, cameras, analyses, regions and frames: who may see and change
what, the fields each object carries, and that the camera password never comes back."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Camera, CameraAnalysis, ChangeRecord, Region, Site
from tests.cameras import CAMERA_PASSWORD, jpeg_bytes, store_frame
from tests.factories import (
    AnalysisFactory,
    BaiduAccountFactory,
    CtyunAccountFactory,
    HttpCameraFactory,
    RegionFactory,
)

SQUARE = [[100, 100], [400, 100], [400, 300], [100, 300]]
BOW_TIE = [[100, 100], [400, 300], [400, 100], [100, 300]]


def api_for(user) -> APIClient:
    """A client signed in with the user's API token."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def camera_a(site_a):
    return HttpCameraFactory(site=site_a, name="Gate A", password=CAMERA_PASSWORD)


@pytest.fixture
def camera_b(site_b):
    return HttpCameraFactory(site=site_b, name="Gate B")


@pytest.fixture
def admin_a(make_user, site_a):
    return api_for(make_user(roles.ADMIN, site_a))


@pytest.fixture
def operator_a(make_user, site_a):
    return api_for(make_user(roles.OPERATOR, site_a))


def camera_payload(site: Site, **changes) -> dict:
    payload = {
        "site": site.pk,
        "name": "North gate",
        "source_kind": "rtsp",
        "source_url": "rtsp://192.168.1.70:554/stream1",
        "username": "viewer",
        "password": CAMERA_PASSWORD,
        "sample_interval": 2.0,
        "enabled": True,
        "frame_retention_hours": 48,
    }
    payload.update(changes)
    return payload


# ------------------------------------------------------------------------- access


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/cameras/", "/api/regions/", "/api/camera-analyses/", "/api/sites/"]
)
def test_an_anonymous_caller_gets_401(url):
    response = APIClient().get(url)
    assert response.status_code == 401


@pytest.mark.django_db
def test_an_admin_of_site_a_sees_only_site_a_cameras(admin_a, camera_a, camera_b):
    response = admin_a.get("/api/cameras/")
    assert response.status_code == 200
    assert [camera["id"] for camera in response.json()["results"]] == [camera_a.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_an_admin_of_site_a_gets_404_for_a_site_b_camera(admin_a, camera_b, site_a, method):
    response = getattr(admin_a, method)(
        f"/api/cameras/{camera_b.pk}/", camera_payload(site_a), format="json"
    )
    assert response.status_code == 404
    assert Camera.objects.get(pk=camera_b.pk).name == "Gate B"


@pytest.mark.django_db
def test_an_admin_of_site_a_cannot_add_a_camera_to_site_b(admin_a, site_b):
    response = admin_a.post("/api/cameras/", camera_payload(site_b), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["site"]
    assert not Camera.objects.filter(site=site_b).exists()


@pytest.mark.django_db
def test_an_admin_of_site_a_gets_404_for_site_b_regions_and_frames(admin_a, camera_b, media):
    region = RegionFactory(camera=camera_b)
    store_frame(camera_b)
    assert admin_a.get(f"/api/regions/{region.pk}/").status_code == 404
    assert admin_a.get(f"/api/cameras/{camera_b.pk}/frame/").status_code == 404
    assert admin_a.delete(f"/api/regions/{region.pk}/").status_code == 404
    assert Region.objects.filter(pk=region.pk).exists()


@pytest.mark.django_db
def test_an_operator_reads_cameras_and_regions(operator_a, camera_a):
    region = RegionFactory(camera=camera_a)
    assert operator_a.get(f"/api/cameras/{camera_a.pk}/").status_code == 200
    assert operator_a.get(f"/api/regions/{region.pk}/").status_code == 200
    assert operator_a.get("/api/camera-analyses/").status_code == 200


@pytest.mark.django_db
def test_an_operator_gets_403_on_every_write(operator_a, camera_a, site_a):
    region = RegionFactory(camera=camera_a)
    attempts = [
        operator_a.post("/api/cameras/", camera_payload(site_a), format="json"),
        operator_a.patch(f"/api/cameras/{camera_a.pk}/", {"name": "x"}, format="json"),
        operator_a.delete(f"/api/cameras/{camera_a.pk}/"),
        operator_a.post(
            "/api/regions/",
            {"camera": camera_a.pk, "name": "r", "kind": "zone", "points": SQUARE},
            format="json",
        ),
        operator_a.patch(f"/api/regions/{region.pk}/", {"name": "x"}, format="json"),
        operator_a.delete(f"/api/regions/{region.pk}/"),
        operator_a.patch(f"/api/sites/{site_a.pk}/", {"name": "x"}, format="json"),
    ]
    assert [response.status_code for response in attempts] == [403] * len(attempts)
    assert Camera.objects.get(pk=camera_a.pk).name == "Gate A"
    assert Region.objects.filter(pk=region.pk).exists()


@pytest.mark.django_db
def test_finance_cannot_read_cameras(make_user, site_a, camera_a):
    finance = api_for(make_user(roles.FINANCE, site_a))
    assert finance.get("/api/cameras/").status_code == 403
    assert finance.get("/api/sites/").status_code == 200


# ------------------------------------------------------------------------- sites


@pytest.mark.django_db
def test_only_a_superuser_creates_a_site(admin_a, make_user):
    refused = admin_a.post("/api/sites/", {"name": "Plant 3"}, format="json")
    superuser = api_for(make_user(None, is_superuser=True))
    created = superuser.post("/api/sites/", {"name": "Plant 3", "address": "Dock road"})

    assert refused.status_code == 403
    assert created.status_code == 201
    assert created.json()["name"] == "Plant 3"
    assert Site.objects.filter(name="Plant 3").count() == 1


@pytest.mark.django_db
def test_an_admin_renames_their_site_and_the_change_is_recorded(admin_a, site_a):
    response = admin_a.patch(f"/api/sites/{site_a.pk}/", {"name": "Site A North"}, format="json")
    assert response.status_code == 200
    record = ChangeRecord.objects.get(object_type="site", object_id=site_a.pk)
    assert record.changes == {"name": ["Site A", "Site A North"]}


@pytest.mark.django_db
def test_an_admin_cannot_see_or_change_another_site(admin_a, site_b):
    assert admin_a.get(f"/api/sites/{site_b.pk}/").status_code == 404
    assert admin_a.patch(f"/api/sites/{site_b.pk}/", {"name": "x"}).status_code == 404


# ------------------------------------------------------------------------- cameras


@pytest.mark.django_db
def test_a_camera_goes_through_create_read_update_delete(admin_a, site_a):
    created = admin_a.post("/api/cameras/", camera_payload(site_a), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    camera_id = body["id"]
    assert body["site"] == site_a.pk
    assert body["password_set"] is True
    assert body["health"] == "unknown"
    assert body["latest_frame"] is None

    read = admin_a.get(f"/api/cameras/{camera_id}/").json()
    assert read["name"] == "North gate"
    assert read["source_url"] == "rtsp://192.168.1.70:554/stream1"

    changed = admin_a.patch(
        f"/api/cameras/{camera_id}/", {"sample_interval": 5, "enabled": False}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["sample_interval"], changed.json()["enabled"]) == (5.0, False)

    assert admin_a.delete(f"/api/cameras/{camera_id}/").status_code == 204
    assert admin_a.get(f"/api/cameras/{camera_id}/").status_code == 404


@pytest.mark.django_db
def test_the_camera_password_never_comes_back_in_any_answer(admin_a, site_a, camera_a):
    answers = [
        admin_a.post("/api/cameras/", camera_payload(site_a), format="json"),
        admin_a.get("/api/cameras/"),
        admin_a.get(f"/api/cameras/{camera_a.pk}/"),
        admin_a.put(
            f"/api/cameras/{camera_a.pk}/",
            camera_payload(site_a, name="Gate A", password=CAMERA_PASSWORD + "2"),
            format="json",
        ),
        admin_a.patch(f"/api/cameras/{camera_a.pk}/", {"password": "x" * 600}, format="json"),
        admin_a.get("/api/schema/"),
    ]
    for response in answers:
        text = response.content.decode()
        assert CAMERA_PASSWORD not in text
        assert "x" * 600 not in text
    assert answers[1].json()["results"][0]["password_set"] is True


@pytest.mark.django_db
def test_an_update_without_a_password_keeps_it_and_clear_password_removes_it(admin_a, camera_a):
    kept = admin_a.patch(f"/api/cameras/{camera_a.pk}/", {"password": ""}, format="json")
    assert kept.json()["password_set"] is True
    assert Camera.objects.get(pk=camera_a.pk).password == CAMERA_PASSWORD

    cleared = admin_a.patch(f"/api/cameras/{camera_a.pk}/", {"clear_password": True}, format="json")
    assert cleared.json()["password_set"] is False
    assert Camera.objects.get(pk=camera_a.pk).password == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source_url": "rtsp://admin:12345@192.168.1.70/stream"}, "source_url"),
        ({"source_kind": "http", "source_url": "rtsp://192.168.1.70/"}, "source_url"),
        ({"name": "Gate A"}, "name"),
        ({"sample_interval": 0.1}, "sample_interval"),
    ],
    ids=["credentials in URL", "wrong scheme", "name taken", "too fast"],
)
def test_a_wrong_camera_gets_400_with_one_reason_for_the_field(
    admin_a, site_a, camera_a, changes, field
):
    response = admin_a.post("/api/cameras/", camera_payload(site_a, **changes), format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert len(response.json()[field]) == 1


@pytest.mark.django_db
def test_cameras_filter_by_site(make_user, site_a, site_b, camera_a, camera_b):
    both = api_for(make_user(roles.ADMIN, site_a, site_b))
    only_b = both.get(f"/api/cameras/?site={site_b.pk}").json()["results"]
    assert [camera["id"] for camera in only_b] == [camera_b.pk]
    assert both.get("/api/cameras/?site=abc").status_code == 400


# ------------------------------------------------------------------------- frames


@pytest.mark.django_db
def test_the_latest_frame_is_404_until_one_is_stored_then_its_jpeg(admin_a, camera_a, media):
    assert admin_a.get(f"/api/cameras/{camera_a.pk}/frame/").status_code == 404
    store_frame(camera_a, jpeg_bytes(colour=(0, 0, 255)))
    newest = jpeg_bytes(colour=(0, 255, 0))
    store_frame(camera_a, newest)

    response = admin_a.get(f"/api/cameras/{camera_a.pk}/frame/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == newest
    body = admin_a.get(f"/api/cameras/{camera_a.pk}/").json()
    assert body["latest_frame"] == f"http://testserver/api/cameras/{camera_a.pk}/frame/"


@pytest.mark.django_db
def test_a_browser_asking_for_an_image_gets_the_jpeg(admin_a, camera_a, media):
    store_frame(camera_a)
    response = admin_a.get(
        f"/api/cameras/{camera_a.pk}/frame/", HTTP_ACCEPT="image/avif,image/webp,image/*,*/*;q=0.8"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


# ------------------------------------------------------------------------- regions


@pytest.mark.django_db
def test_a_region_goes_through_create_read_update_delete(admin_a, camera_a):
    created = admin_a.post(
        "/api/regions/",
        {"camera": camera_a.pk, "name": "Pit", "kind": "fence", "points": SQUARE},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["camera"] == camera_a.pk
    assert body["points"] == SQUARE
    assert (body["frame_width"], body["frame_height"]) == (1280, 720)

    moved = [[x + 10, y] for x, y in SQUARE]
    changed = admin_a.patch(f"/api/regions/{body['id']}/", {"points": moved}, format="json")
    assert changed.status_code == 200
    assert admin_a.get(f"/api/regions/{body['id']}/").json()["points"] == moved

    assert admin_a.delete(f"/api/regions/{body['id']}/").status_code == 204
    assert not Region.objects.filter(pk=body["id"]).exists()


@pytest.mark.django_db
def test_a_region_on_a_camera_without_resolution_needs_a_frame_size(admin_a, site_a):
    camera = HttpCameraFactory(site=site_a, width=None, height=None)
    payload = {"camera": camera.pk, "name": "Pit", "kind": "zone", "points": SQUARE}

    refused = admin_a.post("/api/regions/", payload, format="json")
    accepted = admin_a.post(
        "/api/regions/", {**payload, "frame_width": 640, "frame_height": 480}, format="json"
    )

    assert refused.status_code == 400
    assert set(refused.json()) == {"frame_width", "frame_height"}
    assert accepted.status_code == 201
    assert accepted.json()["frame_width"] == 640


@pytest.mark.django_db
def test_a_bow_tie_region_gets_400_with_one_reason_for_points(admin_a, camera_a):
    response = admin_a.post(
        "/api/regions/",
        {"camera": camera_a.pk, "name": "Pit", "kind": "zone", "points": BOW_TIE},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["points"]
    [reason] = response.json()["points"]
    assert "crosses itself" in reason


@pytest.mark.django_db
def test_a_region_outside_the_frame_gets_400_saying_which_point(admin_a, camera_a):
    outside = [[100, 100], [1400, 100], [400, 300]]
    response = admin_a.post(
        "/api/regions/",
        {"camera": camera_a.pk, "name": "Pit", "kind": "zone", "points": outside},
        format="json",
    )
    assert response.json() == {
        "points": [
            "Point 2 (1400, 100) is outside the 1280×720 picture "
            "(x from 0 to 1279, y from 0 to 719)."
        ]
    }


@pytest.mark.django_db
def test_the_eleventh_crowd_area_gets_400_through_the_api(admin_a, camera_a):
    AnalysisFactory(camera=camera_a, api="body_num")
    for _ in range(10):
        RegionFactory(camera=camera_a, kind="crowd")
    response = admin_a.post(
        "/api/regions/",
        {"camera": camera_a.pk, "name": "Eleventh", "kind": "crowd", "points": SQUARE},
        format="json",
    )
    assert response.status_code == 400
    assert "10 crowd areas" in response.json()["non_field_errors"][0]


@pytest.mark.django_db
def test_a_region_cannot_be_drawn_on_another_sites_camera(admin_a, camera_b):
    response = admin_a.post(
        "/api/regions/",
        {"camera": camera_b.pk, "name": "Pit", "kind": "zone", "points": SQUARE},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["camera"]


@pytest.mark.django_db
def test_regions_filter_by_camera_and_site(make_user, site_a, site_b, camera_a, camera_b):
    client = api_for(make_user(roles.OPERATOR, site_a, site_b))
    mine = RegionFactory(camera=camera_a)
    theirs = RegionFactory(camera=camera_b)
    by_camera = client.get(f"/api/regions/?camera={camera_a.pk}").json()["results"]
    by_site = client.get(f"/api/regions/?site={site_b.pk}").json()["results"]
    assert [region["id"] for region in by_camera] == [mine.pk]
    assert [region["id"] for region in by_site] == [theirs.pk]


# ------------------------------------------------------------------------- analyses


@pytest.mark.django_db
def test_an_analysis_goes_through_create_read_update_delete_with_its_projection(admin_a, camera_a):
    account = BaiduAccountFactory()
    created = admin_a.post(
        "/api/camera-analyses/",
        {"camera": camera_a.pk, "api": "body_attr", "account": account.pk, "interval": 10},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["projection"]["calls_per_month"] == 259_200
    assert body["projection"]["cost_per_month"] == "476.56"

    changed = admin_a.patch(
        f"/api/camera-analyses/{body['id']}/", {"interval": 20, "enabled": False}, format="json"
    )
    assert changed.json()["projection"]["calls_per_month"] == 129_600
    listed = admin_a.get(f"/api/camera-analyses/?camera={camera_a.pk}").json()["results"]
    assert [analysis["id"] for analysis in listed] == [body["id"]]

    assert admin_a.delete(f"/api/camera-analyses/{body['id']}/").status_code == 204
    assert not CameraAnalysis.objects.exists()


@pytest.mark.django_db
def test_an_analysis_the_account_does_not_offer_gets_400_on_api(admin_a, camera_a):
    response = admin_a.post(
        "/api/camera-analyses/",
        {"camera": camera_a.pk, "api": "body_attr", "account": CtyunAccountFactory().pk},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["api"]


@pytest.mark.django_db
def test_an_analysis_faster_than_the_camera_gets_400_on_interval(admin_a, camera_a):
    response = admin_a.post(
        "/api/camera-analyses/",
        {
            "camera": camera_a.pk,
            "api": "body_attr",
            "account": BaiduAccountFactory().pk,
            "interval": 0.5,
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["interval"]


# ------------------------------------------------------------------------- schema


@pytest.mark.django_db
def test_the_schema_is_generated_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_given_frame_is_served_instead_of_the_latest_when_asked(admin_a, camera_a, media):
    older_bytes = jpeg_bytes(colour=(0, 0, 255))
    older = store_frame(camera_a, older_bytes)
    newest = jpeg_bytes(colour=(0, 255, 0))
    store_frame(camera_a, newest)
    url = f"/api/cameras/{camera_a.pk}/frame/"
    assert admin_a.get(f"{url}?frame={older.pk}").content == older_bytes
    assert admin_a.get(url).content == newest
    assert admin_a.get(f"{url}?frame=999999").status_code == 404
    assert admin_a.get(f"{url}?frame=x").status_code == 404
