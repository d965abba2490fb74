"""The change history of alert rules: every create, update and delete from the rules
pages, the REST API and the Django admin says who changed which fields from what to what,
and a camera's history lists the rules it has and had."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts.models import Alert, Rule
from cameras import roles
from cameras.history import camera_history
from cameras.models import ChangeRecord

from .conftest import T0

pytestmark = pytest.mark.django_db

NAME = "Keep out of the yard"
REPR = f"Site A / Yard gate / {NAME}"


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a, username="adam")


@pytest.fixture
def superuser(make_user, site_a):
    return make_user(None, site_a, username="root", is_superuser=True, is_staff=True)


def rule_records(rule_id: int) -> list[ChangeRecord]:
    return list(
        ChangeRecord.objects.filter(object_type="rule", object_id=rule_id).order_by("at", "pk")
    )


def expected_creation(camera, region=None) -> dict:
    """What creating the rule the forms below describe records, field by field."""
    created = {
        "camera": [None, camera.pk],
        "name": [None, NAME],
        "kind": [None, "fence_intrusion"],
        "enabled": [None, True],
        "min_confidence": [None, 0.6],
        "consecutive_frames": [None, 2],
        "active_days": [None, [0, 1, 2, 3, 4]],
        "active_start": [None, "07:00:00"],
        "active_end": [None, "19:00:00"],
        "severity": [None, "critical"],
        "cooldown_seconds": [None, 120],
        "clear_after_seconds": [None, 30],
        "params": [None, {}],
    }
    if region is not None:
        created["region"] = [None, region.pk]
    return created


def expected_deletion(creation: dict, **changed) -> dict:
    """What deleting that rule records: every value before, nothing after."""
    deleted = {name: [after, None] for name, (_, after) in creation.items()}
    deleted.update({name: [value, None] for name, value in changed.items()})
    return deleted


def assert_lifecycle(records, user, camera, region=None):
    """A create, one update of the severity and a delete, each by ``user``."""
    assert [record.action for record in records] == ["create", "update", "delete"]
    assert all(record.user == user for record in records)
    assert all(record.site_id == camera.site_id for record in records)
    assert all(record.object_repr == REPR for record in records)
    creation = expected_creation(camera, region)
    assert records[0].changes == creation
    assert records[1].changes == {"severity": ["critical", "warning"]}
    assert records[2].changes == expected_deletion(creation, severity="warning")


def open_alert(rule) -> Alert:
    return Alert.objects.create(
        rule=rule,
        camera=rule.camera,
        region=rule.region,
        site_id=rule.camera.site_id,
        kind=rule.kind,
        severity=rule.severity,
        title=rule.name,
        opened_at=T0,
        last_seen_at=T0,
    )


# --------------------------------------------------------------------------- pages


def page_form(**overrides) -> dict:
    data = {
        "name": NAME,
        "kind": "fence_intrusion",
        "enabled": "on",
        "region": "",
        "severity": "critical",
        "min_confidence": "0.6",
        "consecutive_frames": "2",
        "active_days": ["0", "1", "2", "3", "4"],
        "active_start": "07:00",
        "active_end": "19:00",
        "cooldown_seconds": "120",
        "clear_after_seconds": "30",
    }
    data.update(overrides)
    return data


def test_the_rules_pages_record_a_creation_an_edit_and_a_deletion(admin, camera, region):
    client = client_for(admin)

    created = client.post(f"/alerts/rules/new/?camera={camera.pk}", page_form(region=region.pk))
    rule = Rule.objects.get(name=NAME)
    edited = client.post(
        f"/alerts/rules/{rule.pk}/", page_form(region=region.pk, severity="warning")
    )
    deleted = client.post(f"/alerts/rules/{rule.pk}/delete/")

    assert [created.status_code, edited.status_code, deleted.status_code] == [302] * 3
    assert not Rule.objects.filter(pk=rule.pk).exists()
    assert_lifecycle(rule_records(rule.pk), admin, camera, region)


def test_saving_a_rules_page_unchanged_records_nothing(admin, camera):
    client = client_for(admin)
    client.post(f"/alerts/rules/new/?camera={camera.pk}", page_form())
    rule = Rule.objects.get(name=NAME)

    response = client.post(f"/alerts/rules/{rule.pk}/", page_form())

    assert response.status_code == 302
    assert [record.action for record in rule_records(rule.pk)] == ["create"]


def test_a_refused_form_records_nothing(admin, camera):
    response = client_for(admin).post(
        f"/alerts/rules/new/?camera={camera.pk}", page_form(kind="crowd")
    )

    assert response.status_code == 200
    assert not ChangeRecord.objects.filter(object_type="rule").exists()


def test_a_rule_the_page_keeps_for_its_alerts_records_no_deletion(admin, rule):
    open_alert(rule)

    client_for(admin).post(f"/alerts/rules/{rule.pk}/delete/")

    assert Rule.objects.filter(pk=rule.pk).exists()
    assert rule_records(rule.pk) == []


# --------------------------------------------------------------------------- API


def api_body(camera, **fields) -> dict:
    body = {
        "camera": camera.pk,
        "region": None,
        "name": NAME,
        "kind": "fence_intrusion",
        "min_confidence": 0.6,
        "consecutive_frames": 2,
        "active_days": [4, 0, 1, 2, 3],
        "active_start": "07:00:00",
        "active_end": "19:00:00",
        "severity": "critical",
        "cooldown_seconds": 120,
        "clear_after_seconds": 30,
        "params": {},
    }
    body.update(fields)
    return body


def test_the_api_records_a_creation_an_edit_and_a_deletion(admin, camera):
    client = client_for(admin)

    created = client.post("/api/rules/", api_body(camera), content_type="application/json")
    url = f"/api/rules/{created.json()['id']}/"
    edited = client.patch(url, {"severity": "warning"}, content_type="application/json")
    deleted = client.delete(url)

    assert [created.status_code, edited.status_code, deleted.status_code] == [201, 200, 204]
    assert_lifecycle(rule_records(created.json()["id"]), admin, camera)


def test_an_api_update_that_changes_nothing_records_nothing(admin, camera):
    client = client_for(admin)
    rule_id = client.post("/api/rules/", api_body(camera), content_type="application/json").json()[
        "id"
    ]

    put = client.put(f"/api/rules/{rule_id}/", api_body(camera), content_type="application/json")
    patch = client.patch(
        f"/api/rules/{rule_id}/", {"severity": "critical"}, content_type="application/json"
    )

    assert (put.status_code, patch.status_code) == (200, 200)
    assert [record.action for record in rule_records(rule_id)] == ["create"]


def test_a_rule_the_api_keeps_for_its_alerts_records_no_deletion(admin, rule):
    open_alert(rule)

    response = client_for(admin).delete(f"/api/rules/{rule.pk}/")

    assert response.status_code == 409
    assert rule_records(rule.pk) == []


# --------------------------------------------------------------------------- Django admin


def admin_form(camera, **overrides) -> dict:
    data = {
        "camera": str(camera.pk),
        "region": "",
        "name": NAME,
        "kind": "fence_intrusion",
        "enabled": "on",
        "min_confidence": "0.6",
        "consecutive_frames": "2",
        "active_days": "[0, 1, 2, 3, 4]",
        "active_start": "07:00:00",
        "active_end": "19:00:00",
        "severity": "critical",
        "cooldown_seconds": "120",
        "clear_after_seconds": "30",
        "params": "{}",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_the_django_admin_records_a_creation_an_edit_and_a_deletion(superuser, camera):
    client = client_for(superuser)

    created = client.post("/admin/alerts/rule/add/", admin_form(camera))
    rule = Rule.objects.get(name=NAME)
    edited = client.post(
        f"/admin/alerts/rule/{rule.pk}/change/", admin_form(camera, severity="warning")
    )
    deleted = client.post(f"/admin/alerts/rule/{rule.pk}/delete/", {"post": "yes"})

    assert [created.status_code, edited.status_code, deleted.status_code] == [302] * 3
    assert not Rule.objects.filter(pk=rule.pk).exists()
    assert_lifecycle(rule_records(rule.pk), superuser, camera)


def test_saving_a_rule_unchanged_in_the_django_admin_records_nothing(superuser, camera):
    client = client_for(superuser)
    client.post("/admin/alerts/rule/add/", admin_form(camera))
    rule = Rule.objects.get(name=NAME)

    response = client.post(f"/admin/alerts/rule/{rule.pk}/change/", admin_form(camera))

    assert response.status_code == 302
    assert [record.action for record in rule_records(rule.pk)] == ["create"]


def test_deleting_selected_rules_in_the_django_admin_records_each(superuser, make_rule, camera):
    first, second = make_rule(camera, name="First"), make_rule(camera, name="Second")

    response = client_for(superuser).post(
        "/admin/alerts/rule/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Rule.objects.filter(pk__in=[first.pk, second.pk]).exists()
    for rule in (first, second):
        [record] = rule_records(rule.pk)
        assert (record.action, record.user) == ("delete", superuser)
        assert record.changes["name"] == [rule.name, None]
        assert record.changes["camera"] == [camera.pk, None]


# --------------------------------------------------------------------------- camera history


def test_a_camera_history_lists_its_rules_present_and_deleted_and_no_others(
    admin, camera, make_camera, site_a
):
    other = make_camera(site_a, "Dock")
    client = client_for(admin)

    def create(on, name) -> int:
        response = client.post(
            "/api/rules/", api_body(on, name=name), content_type="application/json"
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    kept, removed, elsewhere = create(camera, "Kept"), create(camera, "Removed"), create(other, "X")
    client.patch(f"/api/rules/{kept}/", {"enabled": False}, content_type="application/json")
    client.delete(f"/api/rules/{removed}/")

    history = [(r.object_type, r.object_id, r.action) for r in camera_history(camera)]
    other_history = [(r.object_type, r.object_id, r.action) for r in camera_history(other)]

    assert sorted(history) == sorted(
        [
            ("rule", kept, "create"),
            ("rule", kept, "update"),
            ("rule", removed, "create"),
            ("rule", removed, "delete"),
        ]
    )
    assert other_history == [("rule", elsewhere, "create")]


def test_the_camera_page_shows_rule_changes_as_rule_changes(admin, camera):
    client = client_for(admin)
    client.post(f"/alerts/rules/new/?camera={camera.pk}", page_form())
    rule = Rule.objects.get(name=NAME)
    client.post(f"/alerts/rules/{rule.pk}/", page_form(severity="warning"))

    response = client.get(f"/cameras/{camera.pk}/")

    page = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert [(r.object_type, r.action) for r in response.context["history"]] == [
        ("rule", "update"),
        ("rule", "create"),
    ]
    assert f"updated rule {REPR}" in page and f"created rule {REPR}" in page
    assert "<code>severity</code>: critical → warning" in page


def test_deleting_a_region_through_the_api_records_the_deletion_of_its_rules(
    admin, camera, region, make_rule
):
    # Given two rules on the region and one on the whole camera
    on_region = [make_rule(camera, region, name="A"), make_rule(camera, region, name="B")]
    whole = make_rule(camera, None, name="Whole camera")
    # When an admin deletes the region
    response = client_for(admin).delete(f"/api/regions/{region.pk}/")
    assert response.status_code == 204, response.content
    # Then its rules are gone and each has its deletion on record, by that admin
    records = list(ChangeRecord.objects.filter(object_type="rule", action="delete"))
    assert sorted(record.object_id for record in records) == sorted(r.pk for r in on_region)
    assert {record.user_id for record in records} == {admin.pk}
    assert [r.object_id for r in camera_history(camera) if r.object_type == "region"] == [region.pk]
    assert Rule.objects.filter(pk=whole.pk).exists()
