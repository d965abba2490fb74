"""The change history: who changed which camera, analysis or region, and how, with the
camera password never written down."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cameras import roles
from cameras.history import camera_history, record_change, snapshot
from cameras.models import ChangeRecord
from tests.cameras import CAMERA_PASSWORD
from tests.factories import AnalysisFactory, HttpCameraFactory, RegionFactory

SQUARE = [[100, 100], [400, 100], [400, 300], [100, 300]]


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def camera(site_a):
    return HttpCameraFactory(site=site_a, name="Gate", password=CAMERA_PASSWORD)


@pytest.mark.django_db
def test_an_update_records_the_user_and_each_changed_field_before_and_after(admin, camera):
    before = snapshot(camera)
    camera.sample_interval = 3.0
    camera.enabled = False
    camera.save()

    record = record_change(admin, camera, "update", before, snapshot(camera))

    assert record.user == admin
    assert record.site_id == camera.site_id
    assert (record.object_type, record.object_id, record.action) == ("camera", camera.pk, "update")
    assert record.object_repr == "Site A / Gate"
    assert record.changes == {"sample_interval": [1.0, 3.0], "enabled": [True, False]}


@pytest.mark.django_db
def test_an_update_that_changes_nothing_records_nothing(admin, camera):
    assert record_change(admin, camera, "update", snapshot(camera), snapshot(camera)) is None
    assert not ChangeRecord.objects.exists()


@pytest.mark.django_db
def test_a_changed_password_is_recorded_as_changed_and_never_by_value(admin, camera):
    before = snapshot(camera)
    camera.password = "new-secret-Hk3Pq8"
    camera.save()

    record = record_change(admin, camera, "update", before, snapshot(camera))
    created = record_change(admin, camera, "create", None, snapshot(camera))

    assert record.changes == {"password": [None, "changed"]}
    assert created.changes["password"] == [None, "changed"]
    stored = json.dumps(list(ChangeRecord.objects.values("changes", "object_repr")))
    assert CAMERA_PASSWORD not in stored
    assert "new-secret-Hk3Pq8" not in stored


@pytest.mark.django_db
def test_the_snapshot_leaves_out_what_the_capture_service_keeps(camera):
    recorded = snapshot(camera)
    assert "health" not in recorded
    assert "width" not in recorded
    assert "updated_at" not in recorded
    assert recorded["site"] == camera.site_id


@pytest.mark.django_db
def test_region_changes_through_the_api_are_recorded_with_user_and_changes(admin, camera):
    client = APIClient()
    client.force_login(admin)

    created = client.post(
        "/api/regions/",
        {"camera": camera.pk, "name": "Pit", "kind": "fence", "points": SQUARE},
        format="json",
    ).json()
    client.patch(f"/api/regions/{created['id']}/", {"name": "Deep pit"}, format="json")
    client.delete(f"/api/regions/{created['id']}/")

    records = list(
        ChangeRecord.objects.filter(object_type="region", object_id=created["id"]).order_by("pk")
    )
    assert [record.action for record in records] == ["create", "update", "delete"]
    assert all(record.user == admin for record in records)
    assert records[0].object_repr == "Site A / Gate / Pit"
    assert records[0].changes["points"] == [None, SQUARE]
    assert records[1].changes == {"name": ["Pit", "Deep pit"]}
    assert records[2].changes["camera"] == [camera.pk, None]


@pytest.mark.django_db
def test_camera_changes_through_the_api_never_record_the_password(admin, camera):
    client = APIClient()
    client.force_login(admin)
    client.patch(
        f"/api/cameras/{camera.pk}/",
        {"password": "api-secret-Jd8Wq2", "username": "operator2"},
        format="json",
    )
    record = ChangeRecord.objects.get(object_type="camera", action="update")
    assert record.changes == {"username": ["viewer", "operator2"], "password": [None, "changed"]}
    assert "api-secret-Jd8Wq2" not in json.dumps(record.changes)


@pytest.mark.django_db
def test_saving_a_camera_page_records_the_change(admin, camera):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    client.post(
        f"/cameras/{camera.pk}/",
        {
            "action": "save",
            "site": camera.site_id,
            "name": "Gate east",
            "source_kind": "http",
            "source_url": camera.source_url,
            "username": camera.username,
            "password": "",
            "sample_interval": "1",
            "enabled": "on",
            "frame_retention_hours": "24",
        },
    )
    record = ChangeRecord.objects.get(object_type="camera")
    assert record.user == admin
    assert record.changes == {"name": ["Gate", "Gate east"]}


@pytest.mark.django_db
def test_a_camera_history_keeps_its_deleted_regions_and_analyses(admin, camera, site_a):
    region = RegionFactory(camera=camera)
    record_change(admin, region, "create", None, snapshot(region))
    region_id = region.pk
    record_change(admin, region, "update", snapshot(region), {**snapshot(region), "name": "x"})
    record_change(admin, region, "delete", snapshot(region), None)
    region.delete()
    analysis = AnalysisFactory(camera=camera)
    record_change(admin, analysis, "create", None, snapshot(analysis))
    other = RegionFactory(camera=HttpCameraFactory(site=site_a))
    record_change(admin, other, "create", None, snapshot(other))

    history = list(camera_history(camera))

    assert {(record.object_type, record.object_id) for record in history} == {
        ("region", region_id),
        ("cameraanalysis", analysis.pk),
    }
    assert len(history) == 4


@pytest.mark.django_db
def test_a_change_by_the_system_has_no_user(camera):
    record = record_change(None, camera, "update", {"name": "a"}, {"name": "b"})
    assert record.user is None
