"""The rules and alerts API: scoped to the caller's sites, gated by roles, filters and
pagination, acknowledge and resolve with notes, and a clean OpenAPI schema."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from alerts import lifecycle
from alerts.models import Alert, AlertStatus, Rule
from cameras import roles

from .conftest import CALLS, at, decision, results

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def open_alert(rule, seconds=0, frame=None, score=0.9):
    return lifecycle.apply_decision(
        rule,
        rule.camera,
        rule.region,
        decision(score),
        frame=frame,
        results=results(score),
        vendor_calls=CALLS,
        now=at(seconds),
    )


@pytest.fixture
def alert_b(make_camera, make_rule, site_b):
    return open_alert(make_rule(make_camera(site_b, "Dock")))


def test_the_action_urls_are_named_as_agreed():
    assert reverse("alert-list") == "/api/alerts/"
    assert reverse("alert-detail", args=[7]) == "/api/alerts/7/"
    assert reverse("alert-acknowledge", args=[7]) == "/api/alerts/7/acknowledge/"
    assert reverse("alert-resolve", args=[7]) == "/api/alerts/7/resolve/"
    assert reverse("rule-list") == "/api/rules/"
    assert reverse("rule-detail", args=[3]) == "/api/rules/3/"


@pytest.mark.parametrize("url", ["/api/alerts/", "/api/rules/", "/api/alerts/1/"])
def test_an_anonymous_caller_gets_401(client, url):
    assert client.get(url).status_code == 401
    assert client.post("/api/alerts/1/acknowledge/").status_code == 401


def test_an_operator_sees_the_alerts_of_their_sites_only(make_user, site_a, rule, alert_b):
    mine = open_alert(rule)
    client = client_for(make_user(roles.OPERATOR, site_a))

    listed = client.get("/api/alerts/").json()

    assert listed["count"] == 1
    assert [item["id"] for item in listed["results"]] == [mine.pk]
    assert client.get(f"/api/alerts/{alert_b.pk}/").status_code == 404
    assert client.post(f"/api/alerts/{alert_b.pk}/acknowledge/").status_code == 404
    assert client.get(f"/api/alerts/?site={alert_b.site_id}").json()["count"] == 0


def test_a_finance_user_may_not_read_alerts(make_user, site_a, rule):
    open_alert(rule)
    client = client_for(make_user(roles.FINANCE, site_a))

    assert client.get("/api/alerts/").status_code == 403
    assert client.get("/api/rules/").status_code == 403


def test_the_alert_list_filters_by_status_severity_camera_site_kind_and_time(
    make_user, site_a, camera, make_camera, make_rule, rule
):
    other_camera = make_camera(site_a, "Store")
    crowd = make_rule(
        other_camera, None, kind="crowd", severity="info", params={"limit": 3}, name="Crowd"
    )
    fence_alert = open_alert(rule, 0)
    crowd_alert = open_alert(crowd, 3600)
    lifecycle.acknowledge(crowd_alert, make_user(roles.OPERATOR, site_a))
    client = client_for(make_user(roles.OPERATOR, site_a))

    def ids(query):
        response = client.get(f"/api/alerts/?{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids("") == [crowd_alert.pk, fence_alert.pk]
    assert ids("status=open") == [fence_alert.pk]
    assert ids("status=open&status=acknowledged") == [crowd_alert.pk, fence_alert.pk]
    assert ids("severity=info") == [crowd_alert.pk]
    assert ids(f"camera={camera.pk}") == [fence_alert.pk]
    assert ids(f"site={site_a.pk}") == [crowd_alert.pk, fence_alert.pk]
    assert ids("kind=crowd") == [crowd_alert.pk]
    assert ids(f"opened_after={at(1800).isoformat().replace('+', '%2B')}") == [crowd_alert.pk]
    assert ids(f"opened_before={at(1800).isoformat().replace('+', '%2B')}") == [fence_alert.pk]
    assert client.get("/api/alerts/?status=lost").status_code == 400


def test_the_alert_list_is_paginated(make_user, site_a, camera, make_rule):
    for n in range(3):
        open_alert(make_rule(camera, None, name=f"Rule {n}"), n)
    client = client_for(make_user(roles.OPERATOR, site_a))

    first = client.get("/api/alerts/?page=1").json()

    assert first["count"] == 3
    assert first["next"] is None
    assert len(first["results"]) == 3


def test_the_detail_has_the_history_the_evidence_and_the_vendor_calls(
    make_user, site_a, rule, make_frame
):
    alert = open_alert(rule, frame=make_frame(rule.camera))
    client = client_for(make_user(roles.OPERATOR, site_a))

    detail = client.get(f"/api/alerts/{alert.pk}/").json()

    assert detail["status"] == "open"
    assert detail["region_name"] == "Yard"
    assert [change["action"] for change in detail["history"]] == ["opened"]
    assert detail["vendor_calls"][0]["request_id"] == "req-1"
    assert detail["raw"] == [{"person_num": 2, "log_id": 1234}]
    assert detail["evidence_url"].endswith(f"/api/alerts/{alert.pk}/evidence/")
    picture = client.get(detail["evidence_url"])
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert b"".join(picture.streaming_content)[:2] == b"\xff\xd8"
    # and the frame the alert was seen on is served to the same user
    frame = client.get(detail["frame_url"])
    assert frame.status_code == 200
    assert frame["Content-Type"] == "image/jpeg"
    assert detail["frame_url"].endswith(f"?frame={alert.best_frame_id}")


def test_an_alert_without_evidence_says_so(make_user, site_a, rule):
    alert = open_alert(rule)
    client = client_for(make_user(roles.OPERATOR, site_a))

    assert client.get(f"/api/alerts/{alert.pk}/").json()["evidence_url"] is None
    assert client.get(f"/api/alerts/{alert.pk}/evidence/").status_code == 404


def test_an_operator_acknowledges_and_resolves_through_the_api_with_notes(make_user, site_a, rule):
    alert = open_alert(rule)
    operator = make_user(roles.OPERATOR, site_a)
    client = client_for(operator)

    acknowledged = client.post(
        f"/api/alerts/{alert.pk}/acknowledge/", {"note": "Checking the camera"}
    )
    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"
    assert acknowledged.json()["acknowledged_by"] == operator.username

    assert client.post(f"/api/alerts/{alert.pk}/resolve/", {}).status_code == 400
    assert client.post(f"/api/alerts/{alert.pk}/resolve/", {"note": " "}).status_code == 400
    resolved = client.post(
        f"/api/alerts/{alert.pk}/resolve/",
        {"note": "Contractor had a permit."},
        content_type="application/json",
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved"
    assert body["resolution_note"] == "Contractor had a permit."
    assert [(c["action"], c["user"], c["note"]) for c in body["history"]] == [
        ("opened", None, ""),
        ("acknowledged", operator.username, "Checking the camera"),
        ("resolved", operator.username, "Contractor had a permit."),
    ]


def test_acknowledging_a_resolved_alert_answers_409_with_the_reason(make_user, site_a, rule):
    alert = open_alert(rule)
    operator = make_user(roles.OPERATOR, site_a)
    lifecycle.resolve(alert, operator, "Done.")

    response = client_for(operator).post(f"/api/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 409
    assert response.json()["code"] == "already_resolved"
    assert "already resolved" in response.json()["detail"]
    assert (
        client_for(operator).post(f"/api/alerts/{alert.pk}/resolve/", {"note": "again"}).status_code
        == 409
    )


def test_a_watcher_without_the_acknowledge_role_may_read_but_not_act(make_user, site_a, rule):
    alert = open_alert(rule)
    watcher = make_user(None, site_a)
    app_label, codename = roles.WATCH.split(".")
    watcher.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    client = client_for(watcher)

    assert client.get(f"/api/alerts/{alert.pk}/").status_code == 200
    assert client.post(f"/api/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert client.post(f"/api/alerts/{alert.pk}/resolve/", {"note": "x"}).status_code == 403
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN


def test_a_note_can_be_added_to_the_history(make_user, site_a, rule):
    alert = open_alert(rule)
    client = client_for(make_user(roles.OPERATOR, site_a))

    response = client.post(f"/api/alerts/{alert.pk}/note/", {"note": "Called the foreman."})

    assert response.status_code == 200
    assert response.json()["history"][-1]["note"] == "Called the foreman."
    assert client.post(f"/api/alerts/{alert.pk}/note/", {}).status_code == 400


# ---------------------------------------------------------------- rules


def rule_body(camera, region=None, **fields):
    body = {
        "camera": camera.pk,
        "region": region.pk if region else None,
        "name": "Helmets at the gate",
        "kind": "no_helmet",
        "min_confidence": 0.6,
        "consecutive_frames": 3,
        "active_days": [4, 0, 1, 2, 3, 0],
        "active_start": "07:00:00",
        "active_end": "19:00:00",
        "severity": "warning",
        "cooldown_seconds": 120,
        "clear_after_seconds": 90,
        "params": {"head_fraction": 0.3},
    }
    body.update(fields)
    return body


def test_an_admin_creates_and_changes_a_rule(make_user, site_a, camera, region):
    client = client_for(make_user(roles.ADMIN, site_a))

    created = client.post("/api/rules/", rule_body(camera, region), content_type="application/json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["active_days"] == [0, 1, 2, 3, 4]
    rule = Rule.objects.get(pk=body["id"])
    assert rule.to_config().consecutive_frames == 3
    changed = client.patch(
        f"/api/rules/{rule.pk}/", {"enabled": False}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert Rule.objects.get(pk=rule.pk).enabled is False


def test_an_operator_reads_rules_but_may_not_write_them(make_user, site_a, rule, camera):
    client = client_for(make_user(roles.OPERATOR, site_a))

    assert [item["id"] for item in client.get("/api/rules/").json()["results"]] == [rule.pk]
    created = client.post("/api/rules/", rule_body(camera), content_type="application/json")
    assert created.status_code == 403
    assert client.delete(f"/api/rules/{rule.pk}/").status_code == 403


def test_a_rule_with_a_region_of_another_camera_is_refused(make_user, site_a, camera, make_camera):
    from cameras.models import Region

    other = make_camera(site_a, "Store")
    foreign_region = Region.objects.create(
        camera=other,
        name="Door",
        kind="zone",
        points=[[0, 0], [9, 0], [9, 9]],
        frame_width=640,
        frame_height=360,
    )
    client = client_for(make_user(roles.ADMIN, site_a))

    response = client.post(
        "/api/rules/", rule_body(camera, foreign_region), content_type="application/json"
    )

    assert response.status_code == 400
    assert "region" in response.json()


def test_rule_params_are_checked_for_their_kind(make_user, site_a, camera):
    client = client_for(make_user(roles.ADMIN, site_a))

    def errors(**fields):
        response = client.post(
            "/api/rules/", rule_body(camera, **fields), content_type="application/json"
        )
        assert response.status_code == 400, response.content
        return response.json()["params"]

    assert "limit" in errors(kind="crowd", params={})
    assert "limit" in errors(kind="crowd", params={"limit": "many"})
    assert "head_fracton" in errors(kind="no_helmet", params={"head_fracton": 0.3})
    assert "direction" in errors(
        kind="flow", params={"limit_per_window": 5, "window_seconds": 60, "direction": "up"}
    )
    assert "behaviours" in errors(kind="driver_behaviour", params={"behaviours": ["dancing"]})
    assert "timezone" in errors(params={"timezone": "Mars/Olympus"})
    ok = client.post(
        "/api/rules/",
        rule_body(camera, kind="crowd", params={"limit": 5}),
        content_type="application/json",
    )
    assert ok.status_code == 201


def test_a_rule_on_a_camera_of_another_site_is_refused_and_hidden(
    make_user, site_a, site_b, make_camera, make_rule
):
    foreign_camera = make_camera(site_b, "Dock")
    foreign_rule = make_rule(foreign_camera)
    client = client_for(make_user(roles.ADMIN, site_a))

    response = client.post(
        "/api/rules/", rule_body(foreign_camera), content_type="application/json"
    )

    assert response.status_code == 400
    assert "camera" in response.json()
    assert client.get(f"/api/rules/{foreign_rule.pk}/").status_code == 404
    assert client.delete(f"/api/rules/{foreign_rule.pk}/").status_code == 404


def test_a_rule_with_alerts_cannot_be_deleted_only_disabled(make_user, site_a, rule):
    open_alert(rule)
    client = client_for(make_user(roles.ADMIN, site_a))

    response = client.delete(f"/api/rules/{rule.pk}/")

    assert response.status_code == 409
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_a_rule_without_alerts_can_be_deleted(make_user, site_a, rule):
    client = client_for(make_user(roles.ADMIN, site_a))

    assert client.delete(f"/api/rules/{rule.pk}/").status_code == 204
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_the_schema_lists_rules_and_alerts_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    reported = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    ours = [
        line
        for line in reported
        if any(name in line for name in ("alerts/", "AlertViewSet", "RuleViewSet"))
    ]
    assert ours == []
    for path in (
        "/api/rules/",
        "/api/rules/{id}/",
        "/api/alerts/",
        "/api/alerts/{id}/",
        "/api/alerts/{id}/acknowledge/",
        "/api/alerts/{id}/resolve/",
        "/api/alerts/{id}/evidence/",
    ):
        assert path in paths, path
    parameters = {p["name"] for p in paths["/api/alerts/"]["get"]["parameters"]}
    assert {"status", "severity", "camera", "site", "kind", "opened_after", "opened_before"} <= (
        parameters
    )
