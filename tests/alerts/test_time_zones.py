"""One time zone per site: pages show a site's times in its zone (whatever the server's),
say which zone, send it to the live wall's scripts, and events and webhooks carry times
with the site's offset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from alerts.events import alert_payload
from alerts.models import Alert
from cameras import roles
from cameras.models import Site

from .test_alert_pages import make_alert

pytestmark = pytest.mark.django_db

# 03:31 UTC: 11:31 in Shanghai, 22:31 the day before in New York (EST).
OPENED = datetime(2026, 12, 7, 3, 31, 5, tzinfo=UTC)


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def alert_on(rule) -> Alert:
    return make_alert(rule, status="open", opened_at=OPENED)


def test_a_new_site_keeps_its_times_in_shanghai():
    site = Site.objects.create(name="Zone default")
    assert site.time_zone == "Asia/Shanghai"
    assert str(site.zone) == "Asia/Shanghai"


def test_an_unknown_time_zone_is_refused():
    site = Site(name="Nowhere", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as error:
        site.full_clean()
    assert "time_zone" in error.value.message_dict


def test_the_alert_page_shows_the_sites_time_and_names_its_zone(make_user, site_a, rule):
    site_a.time_zone = "America/New_York"
    site_a.save()
    alert = alert_on(rule)
    page = client_for(make_user(roles.OPERATOR, site_a)).get(
        reverse("alerts:detail", args=[alert.pk])
    )
    text = page.content.decode()
    assert "2026-12-06 22:31:05" in text
    assert 'data-time-zone="America/New_York"' in text
    assert "Times: America/New_York" in text


def test_the_alert_list_uses_the_users_site_zone_not_the_servers(make_user, site_a, rule):
    alert_on(rule)
    page = client_for(make_user(roles.OPERATOR, site_a)).get(reverse("alerts:list"))
    text = page.content.decode()
    assert "2026-12-07 11:31" in text
    assert "a.m." not in text and "p.m." not in text
    site_a.time_zone = "Europe/London"
    site_a.save()
    text = client_for(make_user(roles.OPERATOR, site_a)).get(reverse("alerts:list")).content
    assert "2026-12-07 03:31" in text.decode()


def test_the_live_wall_is_sent_the_sites_zone(make_user, site_a, rule):
    site_a.time_zone = "Asia/Tokyo"
    site_a.save()
    page = client_for(make_user(roles.OPERATOR, site_a)).get(reverse("live"))
    assert 'data-time-zone="Asia/Tokyo"' in page.content.decode()


def test_events_and_webhooks_carry_the_sites_offset_and_zone(site_a, rule):
    payload = alert_payload(alert_on(rule))
    assert payload["opened_at"] == "2026-12-07T11:31:05+08:00"
    assert payload["time_zone"] == "Asia/Shanghai"
    site_a.time_zone = "Europe/Berlin"
    site_a.save()
    payload = alert_payload(Alert.objects.get())
    assert payload["opened_at"] == "2026-12-07T04:31:05+01:00"
    assert datetime.fromisoformat(payload["opened_at"]) == OPENED


def test_the_camera_page_ends_its_last_frame_sentence_with_one_period(make_user, site_a, camera):
    camera.last_frame_at = OPENED
    camera.save()
    page = client_for(make_user(roles.ADMIN, site_a)).get(reverse("cameras:edit", args=[camera.pk]))
    text = page.content.decode()
    assert "Last frame at 2026-12-07 11:31." in text
    assert ".." not in text.split("Last frame at", 1)[1][:40]
