"""The operator pages, through Django's test client: the live wall, the alert list with its
filters and pages, an alert's page with acknowledge, resolve and note forms, and the rules
page. Each role sees what it may, on its own sites only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from alerts.lifecycle import acknowledge, apply_decision, resolve
from alerts.models import Alert, AlertChange, AlertStatus, LiveEvent, Rule
from cameras import roles
from cameras.models import Region

from .conftest import CALLS, at, decision, results

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def fire(rule, frame=None, seconds=0, **options):
    return apply_decision(
        rule,
        rule.camera,
        rule.region,
        decision(**options),
        frame=frame,
        results=results() if frame is not None else [],
        vendor_calls=CALLS if frame is not None else [],
        now=at(seconds),
    )


def make_alert(rule, *, status="resolved", severity="warning", opened_at=None, title=None):
    """An alert row as the lifecycle leaves it, without going through a frame."""
    opened_at = opened_at or at(0)
    return Alert.objects.create(
        rule=rule,
        camera=rule.camera,
        region=rule.region,
        site_id=rule.camera.site_id,
        kind=rule.kind,
        status=status,
        severity=severity,
        title=title or rule.name,
        opened_at=opened_at,
        last_seen_at=opened_at,
        resolved_at=opened_at + timedelta(minutes=5) if status == "resolved" else None,
    )


def live_data(response) -> dict:
    return response.context["live_data"]


@pytest.fixture
def operator(make_user, site_a):
    return make_user(roles.OPERATOR, site_a, username="olga")


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a, username="adam")


@pytest.fixture
def watcher(make_user, site_a):
    """Watches site A but may not acknowledge or resolve."""
    user = make_user(None, site_a, username="wanda")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="cameras", codename="watch_site")
    )
    return user


@pytest.fixture
def other_site_alert(make_camera, make_rule, site_b):
    camera = make_camera(site_b, "Dock")
    return fire(make_rule(camera, None, name="Dock crowd"))


# --------------------------------------------------------------------------- who sees what


@pytest.mark.parametrize(
    "path",
    ["/live/", "/alerts/", "/alerts/{id}/", "/alerts/{id}/frame/", "/alerts/rules/"],
)
def test_finance_is_refused_every_operator_page(make_user, site_a, rule, path):
    alert = fire(rule)
    finance = client_for(make_user(roles.FINANCE, site_a))

    assert finance.get(path.format(id=alert.pk)).status_code == 403


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "note"])
def test_finance_cannot_post_to_an_alert(make_user, site_a, rule, action):
    alert = fire(rule)
    finance = client_for(make_user(roles.FINANCE, site_a))

    response = finance.post(f"/alerts/{alert.pk}/{action}/", {"note": "done"})

    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert list(alert.changes.values_list("action", flat=True)) == ["opened"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/alerts/{id}/"),
        ("get", "/alerts/{id}/frame/"),
        ("post", "/alerts/{id}/acknowledge/"),
        ("post", "/alerts/{id}/resolve/"),
        ("post", "/alerts/{id}/note/"),
    ],
)
def test_an_alert_of_another_site_answers_404(operator, other_site_alert, method, path):
    client = client_for(operator)

    response = getattr(client, method)(path.format(id=other_site_alert.pk), {"note": "x"})

    assert response.status_code == 404
    other_site_alert.refresh_from_db()
    assert other_site_alert.status == AlertStatus.OPEN


def test_the_live_wall_shows_the_cameras_and_alerts_of_the_user_s_sites_only(
    operator, rule, other_site_alert
):
    alert = fire(rule)

    response = client_for(operator).get("/live/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Yard gate" in page and "Dock" not in page
    data = live_data(response)
    assert [camera["name"] for camera in data["cameras"]] == ["Yard gate"]
    assert [item["id"] for item in data["alerts"]] == [alert.pk]
    assert data["alerts"][0]["status"] == "open"
    assert data["can_acknowledge"] is True
    assert data["last_event_id"] == LiveEvent.objects.latest("id").pk
    assert data["socket_path"] == "/ws/live/"
    assert data["region_colours"]["fence"]
    assert 'id="connection"' in page
    assert "js/live.js" in page and "/jsi18n/" in page


def test_the_live_wall_starts_with_each_camera_s_latest_overlay(
    operator, camera, region, make_frame
):
    from alerts import events

    first, latest = make_frame(camera, 0), make_frame(camera, 5)
    events.publish_frame_analyzed(camera, first, results())
    events.publish_frame_analyzed(camera, latest, results())

    data = live_data(client_for(operator).get("/live/"))

    overlay = data["overlays"][camera.pk]
    assert overlay["type"] == "frame.analyzed"
    assert overlay["frame"] == latest.pk
    assert [r["name"] for r in overlay["regions"]] == ["Yard"]
    assert len(overlay["persons"]) == 2


def test_a_watcher_without_the_acknowledge_role_sees_no_buttons_and_gets_403(watcher, rule):
    alert = fire(rule)
    client = client_for(watcher)

    assert live_data(client.get("/live/"))["can_acknowledge"] is False
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert 'id="acknowledge-form"' not in page
    assert 'id="resolve-form"' not in page
    for action in ("acknowledge", "resolve", "note"):
        assert client.post(f"/alerts/{alert.pk}/{action}/", {"note": "x"}).status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


# --------------------------------------------------------------------------- the list


def test_the_list_shows_the_alerts_of_the_user_s_sites_newest_first(
    operator, rule, make_rule, camera, other_site_alert
):
    older = make_alert(rule, opened_at=at(-3600), title="Older")
    newer = make_alert(make_rule(camera, None, name="Helmets"), opened_at=at(60), title="Newer")

    response = client_for(operator).get("/alerts/")

    assert response.status_code == 200
    assert [alert.pk for alert in response.context["alerts"]] == [newer.pk, older.pk]
    assert "Dock crowd" not in response.content.decode()


@pytest.fixture
def varied_alerts(rule, make_rule, camera, make_camera, site_a, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # the date filters are days of this zone
    gate2 = make_camera(site_a, "North gate")
    helmets = make_rule(camera, None, name="Helmets", kind="no_helmet")
    crowd = make_rule(gate2, None, name="Crowd", kind="crowd", params={"limit": 3})
    day = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    return {
        "open_critical": make_alert(rule, status="open", severity="critical", opened_at=day),
        "acked_warning": make_alert(
            helmets, status="acknowledged", severity="warning", opened_at=day - timedelta(days=1)
        ),
        "resolved_info": make_alert(
            crowd, status="resolved", severity="info", opened_at=day - timedelta(days=3)
        ),
        "gate2": gate2,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=open", ["open_critical"]),
        ("status=open&status=acknowledged", ["open_critical", "acked_warning"]),
        ("severity=info", ["resolved_info"]),
        ("severity=critical&severity=warning", ["open_critical", "acked_warning"]),
        ("kind=no_helmet", ["acked_warning"]),
        ("camera={gate2}", ["resolved_info"]),
        ("opened_from=2026-05-03", ["open_critical", "acked_warning"]),
        ("opened_to=2026-05-03", ["acked_warning", "resolved_info"]),
        ("opened_from=2026-05-03&opened_to=2026-05-03", ["acked_warning"]),
        ("status=resolved&kind=fence_intrusion", []),
    ],
)
def test_the_filters_narrow_the_list(operator, varied_alerts, query, expected):
    query = query.format(gate2=varied_alerts["gate2"].pk)

    response = client_for(operator).get(f"/alerts/?{query}")

    assert response.status_code == 200
    shown = [alert.pk for alert in response.context["alerts"]]
    assert shown == [varied_alerts[name].pk for name in expected]


def test_a_camera_of_another_site_is_not_a_filter_choice(operator, varied_alerts, other_site_alert):
    response = client_for(operator).get(f"/alerts/?camera={other_site_alert.camera_id}")

    assert "camera" in response.context["form"].errors
    assert "Dock" not in response.content.decode()


def test_a_reversed_date_range_is_explained(operator, varied_alerts):
    response = client_for(operator).get("/alerts/?opened_from=2026-05-04&opened_to=2026-05-01")

    assert "The end of the date range is before its start." in response.content.decode()


def test_the_list_pages_by_25_and_keeps_the_filters_in_the_page_links(operator, rule):
    for minute in range(30):
        make_alert(rule, opened_at=at(minute * 60), severity="critical")
    make_alert(rule, opened_at=at(-60), severity="info")
    client = client_for(operator)

    first = client.get("/alerts/?severity=critical")
    second = client.get("/alerts/?severity=critical&page=2")

    assert len(first.context["alerts"]) == 25
    assert len(second.context["alerts"]) == 5
    assert first.context["page"].paginator.count == 30
    assert 'href="?severity=critical&amp;page=2"' in first.content.decode()
    assert {alert.severity for alert in second.context["alerts"]} == {"critical"}
    assert client.get("/alerts/?page=99").status_code == 200


# --------------------------------------------------------------------------- one alert


def test_the_alert_page_shows_evidence_answers_calls_and_history(operator, rule, make_frame):
    alert = fire(rule, make_frame(rule.camera))

    response = client_for(operator).get(f"/alerts/{alert.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="/api/alerts/{alert.pk}/evidence/"' in page
    assert f'src="/alerts/{alert.pk}/frame/"' in page
    assert "&quot;log_id&quot;: 1234" in page  # raw vendor answer, pretty JSON
    assert "&quot;api&quot;: &quot;body_attr&quot;" in page  # normalized results
    assert "req-1" in page and "0.0040" in page
    assert 'id="acknowledge-form"' in page and 'id="resolve-form"' in page
    overlay = response.context["overlay_data"]["overlay"]
    assert overlay["frame_size"] == [640, 360]
    assert len(overlay["persons"]) == 2
    assert overlay["problems"][0]["findings"][0]["label"] == "person inside fence"
    # The region was drawn on a 1280x720 frame: it is scaled onto the 640x360 frame.
    assert overlay["regions"][0]["points"][0] == [
        pytest.approx(99.92, abs=0.1),
        pytest.approx(99.86, abs=0.1),
    ]


def test_the_evidence_frame_is_served_as_jpeg(operator, rule, make_frame):
    alert = fire(rule, make_frame(rule.camera))

    response = client_for(operator).get(f"/alerts/{alert.pk}/frame/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"


def test_an_alert_without_a_frame_has_no_frame_to_serve(operator, rule):
    alert = fire(rule)

    assert client_for(operator).get(f"/alerts/{alert.pk}/frame/").status_code == 404
    assert (
        "No picture was kept for this alert."
        in client_for(operator).get(f"/alerts/{alert.pk}/").content.decode()
    )


def test_an_operator_acknowledges_with_a_note_and_the_history_says_who(operator, rule):
    alert = fire(rule)
    client = client_for(operator)

    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "On my way"}, follow=True)

    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == operator
    change = alert.changes.get(action="acknowledged")
    assert (change.user, change.note) == (operator, "On my way")
    page = response.content.decode()
    assert "Alert acknowledged." in page
    assert "On my way" in page and "by olga" in page
    assert 'id="acknowledge-form"' not in page and 'id="resolve-form"' in page


def test_an_operator_resolves_with_a_note(operator, rule):
    alert = fire(rule)

    response = client_for(operator).post(
        f"/alerts/{alert.pk}/resolve/", {"note": "Visitor escorted out"}, follow=True
    )

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert (alert.resolved_by, alert.resolution_note) == (operator, "Visitor escorted out")
    assert alert.changes.filter(action="resolved", note="Visitor escorted out").exists()
    page = response.content.decode()
    assert "Alert resolved." in page
    assert 'id="resolve-form"' not in page


def test_resolving_without_a_note_is_refused_and_says_why(operator, rule):
    alert = fire(rule)

    response = client_for(operator).post(f"/alerts/{alert.pk}/resolve/", {"note": "   "})

    assert response.status_code == 200
    assert "a note is required" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert not alert.changes.filter(action="resolved").exists()


def test_acknowledging_an_alert_someone_resolved_meanwhile_says_so(operator, admin, rule):
    alert = fire(rule)
    resolve(alert, admin, "False alarm: a shadow")

    response = client_for(operator).post(f"/alerts/{alert.pk}/acknowledge/", {}, follow=True)

    assert "This alert is already resolved." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_by == admin


def test_an_admin_adds_a_note_to_a_resolved_alert(admin, rule):
    alert = fire(rule)
    acknowledge(alert, admin)
    resolve(alert, admin, "Gate closed")

    client_for(admin).post(f"/alerts/{alert.pk}/note/", {"note": "Camera angle adjusted"})

    assert list(alert.changes.order_by("at", "id").values_list("action", "note")) == [
        ("opened", ""),
        ("acknowledged", ""),
        ("resolved", "Gate closed"),
        ("note", "Camera angle adjusted"),
    ]
    assert AlertChange.objects.get(note="Camera angle adjusted").user == admin


# --------------------------------------------------------------------------- rules


def rule_form(**overrides) -> dict:
    data = {
        "name": "Keep out of the yard",
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


def test_a_watcher_reads_the_rules_without_changing_them(operator, rule, other_site_alert):
    client = client_for(operator)

    response = client.get("/alerts/rules/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "No entry to the yard" in page and "Dock crowd" not in page
    assert "/alerts/rules/new/" not in page and f"/alerts/rules/{rule.pk}/" not in page
    assert client.get(f"/alerts/rules/new/?camera={rule.camera_id}").status_code == 403
    assert client.get(f"/alerts/rules/{rule.pk}/").status_code == 403
    assert client.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 403
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_an_admin_creates_a_fence_rule_on_a_region_of_the_camera(admin, camera, region):
    client = client_for(admin)

    response = client.post(
        f"/alerts/rules/new/?camera={camera.pk}", rule_form(region=str(region.pk))
    )

    assert response.status_code == 302
    created = Rule.objects.get(name="Keep out of the yard")
    assert (created.camera, created.region, created.kind) == (camera, region, "fence_intrusion")
    assert created.active_days == [0, 1, 2, 3, 4]
    assert (str(created.active_start), str(created.active_end)) == ("07:00:00", "19:00:00")
    assert (created.min_confidence, created.consecutive_frames) == (0.6, 2)
    assert (created.cooldown_seconds, created.clear_after_seconds) == (120, 30)
    assert created.params == {}
    assert "Keep out of the yard" in client.get("/alerts/rules/").content.decode()


def test_the_region_choice_is_limited_to_the_camera_s_regions(admin, camera, make_camera, site_a):
    other = make_camera(site_a, "Other")
    foreign = Region.objects.create(
        camera=other,
        name="Elsewhere",
        kind="fence",
        points=[[0, 0], [100, 0], [100, 100]],
        frame_width=640,
        frame_height=360,
    )
    client = client_for(admin)

    form_page = client.get(f"/alerts/rules/new/?camera={camera.pk}").content.decode()
    response = client.post(
        f"/alerts/rules/new/?camera={camera.pk}", rule_form(region=str(foreign.pk))
    )

    assert "Elsewhere" not in form_page
    assert response.status_code == 200
    assert "region" in response.context["form"].errors
    assert not Rule.objects.filter(name="Keep out of the yard").exists()


def test_a_crowd_rule_needs_its_limit_and_reads_only_its_own_parameters(admin, camera):
    client = client_for(admin)
    url = f"/alerts/rules/new/?camera={camera.pk}"

    refused = client.post(url, rule_form(kind="crowd", name="Crowd at the gate"))
    refused_field = refused.context["form"].errors["param_limit"]
    saved = client.post(
        url,
        rule_form(
            kind="crowd",
            name="Crowd at the gate",
            param_limit="5",
            param_capacity="40",  # an occupancy parameter: not read for a crowd rule
            param_timezone="Asia/Urumqi",
        ),
    )

    assert refused.status_code == 200
    assert refused_field == ["Is required for this kind of rule."]
    assert saved.status_code == 302
    assert Rule.objects.get(name="Crowd at the gate").params == {
        "limit": 5,
        "timezone": "Asia/Urumqi",
    }


def test_parameter_values_are_checked_as_the_api_checks_them(admin, camera):
    response = client_for(admin).post(
        f"/alerts/rules/new/?camera={camera.pk}",
        rule_form(kind="smoking", name="No smoking", param_threshold="1.5"),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["param_threshold"] == ["Must be at most 1."]


def test_names_are_typed_as_a_comma_separated_list(admin, camera):
    client_for(admin).post(
        f"/alerts/rules/new/?camera={camera.pk}",
        rule_form(
            kind="workwear_colour", name="Orange vests", param_allowed_colours=" orange, yellow ,"
        ),
    )

    assert Rule.objects.get(name="Orange vests").params == {"allowed_colours": ["orange", "yellow"]}


def test_an_admin_edits_a_rule_and_its_parameters(admin, make_rule, camera):
    crowd = make_rule(camera, None, name="Crowd", kind="crowd", params={"limit": 3})
    client = client_for(admin)

    page = client.get(f"/alerts/rules/{crowd.pk}/").content.decode()
    response = client.post(
        f"/alerts/rules/{crowd.pk}/", rule_form(kind="crowd", name="Crowd", param_limit="8")
    )

    assert 'name="param_limit" value="3"' in page
    assert response.status_code == 302
    crowd.refresh_from_db()
    assert crowd.params == {"limit": 8}
    assert crowd.consecutive_frames == 2


def test_two_rules_of_a_camera_cannot_share_a_name(admin, rule):
    response = client_for(admin).post(
        f"/alerts/rules/new/?camera={rule.camera_id}", rule_form(name=rule.name)
    )

    assert response.status_code == 200
    assert Rule.objects.filter(name=rule.name).count() == 1


def test_a_rule_without_alerts_is_deleted_and_one_with_alerts_is_kept(admin, make_rule, camera):
    unused = make_rule(camera, None, name="Unused")
    used = make_rule(camera, None, name="Used")
    fire(used)
    client = client_for(admin)

    client.post(f"/alerts/rules/{unused.pk}/delete/")
    response = client.post(f"/alerts/rules/{used.pk}/delete/", follow=True)

    assert not Rule.objects.filter(pk=unused.pk).exists()
    assert Rule.objects.filter(pk=used.pk).exists()
    assert "disable it instead" in response.content.decode()


def test_a_rule_of_another_site_answers_404(admin, other_site_alert):
    client = client_for(admin)

    assert client.get(f"/alerts/rules/{other_site_alert.rule_id}/").status_code == 404
    assert client.get(f"/alerts/rules/new/?camera={other_site_alert.camera_id}").status_code == 404


def test_the_live_data_is_plain_json(operator, rule):
    fire(rule)

    data = live_data(client_for(operator).get("/live/"))

    assert json.loads(json.dumps(data))["alerts"][0]["camera_name"] == "Yard gate"
