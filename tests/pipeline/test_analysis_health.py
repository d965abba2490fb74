"""Analysis health through the API for each state, on the camera page, in
``camera.status``, and as the ``analysis.health`` live event a browser receives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts.consumers import LiveConsumer
from alerts.models import EventType, LiveEvent
from billing.metered import close_backends
from cameras import roles
from monitoring import analysis_health, pipeline, vendor_stops
from monitoring.analysis_models import AnalysisState
from monitoring.backends.base import ServiceError
from monitoring.backends.stops import LIFT_NEXT_DAY, PAUSED, SCOPE_API, StopRule
from tests.pipeline import (
    T0,
    RecordedAnalyzer,
    add_analysis,
    at,
    install_analyzer,
    make_camera,
    store,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    yield
    close_backends()


@pytest.fixture
def camera():
    return make_camera(interval=2.0)


class Failing(RecordedAnalyzer):
    def analyze(self, api, images, params=None):
        raise ServiceError("busy", vendor="local", api=api)


def pause_daily(analysis) -> None:
    """Baidu 17 on the analysis' API, at T0."""
    vendor_stops.record(
        analysis.account,
        analysis.api,
        StopRule(SCOPE_API, PAUSED, LIFT_NEXT_DAY, "daily_limit"),
        code="17",
        now=T0,
    )


def analyze(camera, seconds: float):
    frame = store(camera, seconds)
    return pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))


def client_for(user, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def health(client, analysis) -> dict:
    return client.get(f"/api/camera-analyses/{analysis.pk}/").json()["health"]


def test_a_new_analysis_is_waiting(camera, make_user):
    analysis = add_analysis(camera, "persons")
    client = client_for(make_user(roles.OPERATOR, camera.site))
    data = health(client, analysis)
    assert data == {
        "state": "waiting",
        "reason": "No frame analysed yet: it runs on the camera's next frame.",
        "since": None,
        "last_success_at": None,
        "last_error_code": None,
        "until": None,
        "stop": None,
    }
    assert health(client_for(make_user(roles.OPERATOR, camera.site), "zh-hans"), analysis)[
        "reason"
    ].startswith("尚未分析")


def test_an_analysis_whose_last_call_succeeded_is_ok(camera, make_user, monkeypatch):
    install_analyzer(monkeypatch, RecordedAnalyzer())
    analysis = add_analysis(camera, "persons")
    analyze(camera, 0)
    client = client_for(make_user(roles.OPERATOR, camera.site))
    data = health(client, analysis)
    assert data["state"] == "ok" and data["reason"] == ""
    assert data["last_success_at"] == at(0.1).isoformat()
    assert data["since"] == at(0.1).isoformat()
    # The list carries it too
    listed = client.get(f"/api/camera-analyses/?camera={camera.pk}").json()["results"]
    assert [item["health"]["state"] for item in listed] == ["ok"]


def test_an_analysis_whose_calls_fail_is_failing_and_keeps_its_last_success(
    camera, make_user, monkeypatch
):
    install_analyzer(monkeypatch, RecordedAnalyzer())
    analysis = add_analysis(camera, "persons")
    analyze(camera, 0)
    install_analyzer(monkeypatch, Failing())
    analyze(camera, 2)
    data = health(client_for(make_user(roles.OPERATOR, camera.site)), analysis)
    assert data["state"] == "failing"
    assert data["last_success_at"] == at(0.1).isoformat()
    assert data["last_error_code"] == "service"
    assert "The next frames try again" in data["reason"]
    # camera.status derives from the same health
    status = pipeline.analysis_status(camera)
    assert status["analysis"] == "unavailable"
    assert status["analyses"][0]["health"]["state"] == "failing"


def test_a_fence_analysis_without_a_region_is_refused_with_what_to_do(camera, make_user):
    analysis = add_analysis(camera, "fence")
    analyze(camera, 0)
    english = health(client_for(make_user(roles.OPERATOR, camera.site)), analysis)
    assert english["state"] == "refused"
    assert english["reason"] == "This analysis needs a fence region: draw one on the camera."
    chinese = health(client_for(make_user(roles.OPERATOR, camera.site), "zh-hans"), analysis)
    assert chinese["reason"] == "该分析需要电子围栏区域：请在摄像头画面上绘制一个。"


def test_a_paused_analysis_says_until_when_and_is_waiting_once_that_time_passed(
    camera, make_user, monkeypatch
):
    install_analyzer(monkeypatch, RecordedAnalyzer())
    analysis = add_analysis(camera, "persons")
    monkeypatch.setattr(vendor_stops, "clock", lambda: T0)
    pause_daily(analysis)
    client = client_for(make_user(roles.OPERATOR, camera.site))
    data = health(client, analysis)
    assert (data["state"], data["until"], data["stop"]) == (
        "paused",
        "2026-05-04T16:00:00+00:00",
        "api",
    )
    monkeypatch.setattr(vendor_stops, "clock", lambda: T0 + timedelta(hours=9))
    data = health(client, analysis)
    assert data["state"] == "waiting" and "pause is over" in data["reason"]


def test_the_camera_page_shows_each_analysis_health_and_a_resume_button_when_stopped(
    camera, make_user, client, monkeypatch
):
    install_analyzer(monkeypatch, RecordedAnalyzer())
    running = add_analysis(camera, "persons")
    analyze(camera, 0)
    stopped = add_analysis(camera, "fence")
    monkeypatch.setattr(vendor_stops, "clock", lambda: T0)
    pause_daily(stopped)
    client.force_login(make_user(roles.ADMIN, camera.site))
    page = client.get(f"/cameras/{camera.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-analysis="{running.pk}" data-state="ok"' in page
    assert f'data-analysis="{stopped.pk}" data-state="paused"' in page
    assert "daily limit" in page
    assert f"/cameras/analyses/{stopped.pk}/resume/" in page
    assert f"/cameras/analyses/{running.pk}/resume/" not in page
    assert ">runs<" not in page

    response = client.post(f"/cameras/analyses/{stopped.pk}/resume/")
    assert response.status_code == 302
    assert AnalysisState.objects.get(analysis=stopped).health == "waiting"


def test_a_health_change_is_one_analysis_health_event_with_both_languages(camera, monkeypatch):
    install_analyzer(monkeypatch, RecordedAnalyzer())
    analysis = add_analysis(camera, "persons")
    analyze(camera, 0)
    analyze(camera, 2)  # still ok: no new event
    install_analyzer(monkeypatch, Failing())
    analyze(camera, 4)
    payloads = [
        event.payload
        for event in LiveEvent.objects.filter(type=EventType.ANALYSIS_HEALTH).order_by("id")
    ]
    assert [p["health"]["state"] for p in payloads] == ["ok", "failing"]
    last = payloads[-1]
    assert (last["camera"], last["analysis"], last["api"]) == (camera.pk, analysis.pk, "persons")
    assert set(last["health"]["reasons"]) == {"en", "zh-hans"}
    assert last["health"]["reasons"]["zh-hans"].startswith("厂商无应答")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_browser_of_the_site_receives_the_analysis_health_event_live(
    make_user, monkeypatch
):
    camera = await database_sync_to_async(make_camera)()
    user = await database_sync_to_async(make_user)(roles.OPERATOR, camera.site)
    analysis = await database_sync_to_async(add_analysis)(camera, "persons")
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"

    await database_sync_to_async(analysis_health.set_health)(
        analysis, "failing", "unavailable", detail="timeout", now=at(0)
    )

    message = await communicator.receive_json_from(timeout=3)
    assert message["type"] == "analysis.health"
    assert message["analysis"] == analysis.pk
    assert message["health"]["state"] == "failing"
    assert "timeout" in message["health"]["reasons"]["en"]
    await communicator.disconnect()


def test_an_account_wide_stop_is_told_to_admins_on_every_page_and_resumed_there(
    camera, make_user, make_site, client
):
    from monitoring.backends.stops import LIFT_RESUME, REFUSED, SCOPE_ACCOUNT

    analysis = add_analysis(camera, "persons")
    account = analysis.account
    account.site = camera.site  # the site's own account: its admins may resume it
    account.save(update_fields=["site"])
    vendor_stops.record(
        account,
        "persons",
        StopRule(SCOPE_ACCOUNT, REFUSED, LIFT_RESUME, "credentials"),
        code="14",
        now=at(0),
    )
    # An operator is not told (nothing to do about it); an admin is, on any page
    client.force_login(make_user(roles.OPERATOR, camera.site))
    assert "is stopped: no call leaves" not in client.get("/live/").content.decode()
    client.force_login(make_user(roles.ADMIN, make_site("Elsewhere")))
    assert "is stopped: no call leaves" not in client.get("/alerts/").content.decode()
    client.force_login(make_user(roles.ADMIN, camera.site))
    page = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Vendor account “{account.name}” is stopped: no call leaves." in page
    accounts = client.get("/vendor-accounts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "every API" in accounts and "code 14" in accounts

    response = client.post(f"/vendor-accounts/{account.pk}/resume/", {"next": "/alerts/"})
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    assert vendor_stops.active_stops(account.pk) == []
    assert AnalysisState.objects.get(analysis=analysis).health == "waiting"
    page = client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "is stopped: no call leaves" not in page


def test_resume_does_not_redirect_off_the_site(camera, make_user, client):
    analysis = add_analysis(camera, "persons")
    analysis.account.site = camera.site
    analysis.account.save(update_fields=["site"])
    client.force_login(make_user(roles.ADMIN, camera.site))
    response = client.post(
        f"/vendor-accounts/{analysis.account_id}/resume/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/vendor-accounts/"
