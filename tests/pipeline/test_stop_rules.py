"""The vendors' stop rules, end to end: a frame goes through the real pipeline and the
real client to the live sandbox, which answers with the stop code; then no further call
leaves (ledger rows counted) until the stated time or action, the analysis' health says
``paused`` or ``refused`` with its reason in English and Chinese, and resuming lets calls
go again. Codes the sandbox cannot be made to answer are faked with respx at the client
boundary."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.gate import get_gate
from billing.metered import close_backends, metered_call
from billing.models import Package, UsageRecord
from cameras import roles
from monitoring import vendor_stops
from monitoring.analysis_models import AnalysisState, VendorStop
from monitoring.backends.base import RefusedLocally, RetryPolicy
from monitoring.models import VendorAccount
from monitoring.sandbox import limits
from tests.factories import BaiduAccountFactory, CtyunAccountFactory
from tests.pipeline import T0, add_analysis, at, jpeg, make_camera, store
from tests.sandbox.conftest import sandbox

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# T0 is 16:00 in Shanghai: its next midnight is eight hours later.
SHANGHAI_MIDNIGHT = 8 * 3600


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """One clock for the stops, the gate and the sandbox's day counters."""
    moment = Clock()
    monkeypatch.setattr(vendor_stops, "clock", moment)
    monkeypatch.setattr(get_gate(), "clock", moment)
    monkeypatch.setattr(limits, "now", lambda: moment.now.timestamp())
    return moment


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    close_backends()
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, rng=None: 0.0)
    yield
    close_backends()


@pytest.fixture
def camera():
    return make_camera(interval=2.0)


BAIDU = "https://aip.baidubce.com"
BODY_ATTR = "/rest/2.0/image-classify/v1/body_attr"
CTYUN = "https://ai-global.ctapi.ctyun.cn"
HELMET = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"


@pytest.fixture
def fake_baidu():
    """A Baidu account faked at the client boundary: tokens granted, ``body_attr`` as
    each test sets it."""
    account = BaiduAccountFactory(name="Baidu")
    with respx.mock(base_url=BAIDU) as vendor:
        tokens = vendor.get("/oauth/2.0/token").respond(
            json={"access_token": "24.t", "expires_in": 2592000, "scope": "brain_all_scope"}
        )
        yield account, tokens, vendor.post(BODY_ATTR)


@pytest.fixture
def fake_ctyun():
    """A CTYun account with its free quota claimed, faked at the client boundary."""
    account = CtyunAccountFactory(name="CTYun", free_quota_claimed_at=T0 - timedelta(days=1))
    with respx.mock(base_url=CTYUN) as vendor:
        yield account, vendor.post(HELMET)


def baidu_account(live_server, **changes) -> VendorAccount:
    values = {
        "name": "Baidu sandbox",
        "base_url": f"{live_server.url}/sandbox/baidu",
        "api_key": "sandbox-ak",
        "secret_key": "sandbox-sk",
        **changes,
    }
    return BaiduAccountFactory(**values)


def ctyun_account(live_server, **changes) -> VendorAccount:
    values = {
        "name": "CTYun sandbox",
        "base_url": f"{live_server.url}/sandbox/ctyun",
        "api_key": "sandbox-ak",
        "secret_key": "sandbox-sk",
        "app_key": "sandbox-appkey",
        "free_quota_claimed_at": T0 - timedelta(days=30),
        **changes,
    }
    return CtyunAccountFactory(**values)


def run(clock, camera, seconds: float):
    """A frame taken ``seconds`` after T0, analysed at once, with the clock there."""
    from monitoring import pipeline

    clock.now = at(seconds)
    frame = store(camera, seconds)
    return pipeline.analyze_frame(frame.pk, now=frame.captured_at + timedelta(seconds=0.1))


def sent(account) -> int:
    """Ledger rows of requests that left for the vendor."""
    return UsageRecord.objects.filter(account=account).exclude(outcome="refused").count()


def admin_client(camera, make_user, language: str = "en") -> APIClient:
    user = make_user(roles.ADMIN, camera.site)
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def health(client, analysis) -> dict:
    response = client.get(f"/api/camera-analyses/{analysis.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["health"]


# ---------------------------------------------------------------- Baidu 17: paused until 00:00


def test_given_baidu_17_then_that_api_pauses_until_midnight_in_shanghai_then_calls_again(
    live_server, settings, clock, camera, make_user
):
    # Given a Baidu gesture analysis on an account whose daily limit is one call
    settings.SANDBOX = sandbox(DAILY_QUOTA=1)
    account = baidu_account(live_server)
    analysis = add_analysis(camera, "gesture", account)
    other = add_analysis(make_camera(camera.site), "body_num", account)

    # When the first frame is analysed and the second gets error 17
    assert run(clock, camera, 0).analyses[0].status == "done"
    second = run(clock, camera, 2)
    assert second.analyses[0].error_code == "17"
    assert sent(account) == 2

    # Then no call of that API leaves for the rest of the day, on any frame
    for seconds in (4, 6, 3600, SHANGHAI_MIDNIGHT - 2):
        assert run(clock, camera, seconds).analyses == []
    assert sent(account) == 2
    # and the gate refuses it for any caller, before anything is sent
    with pytest.raises(RefusedLocally) as refused:
        metered_call(account, "gesture", [jpeg()], {})
    assert refused.value.code == "paused"
    assert sent(account) == 2
    # The other API of the account is not held
    assert not VendorStop.objects.filter(api="body_num").exists()
    assert get_gate().check(account, "body_num", acquire=False) is None
    del other

    # The health says paused until 00:00 Shanghai (16:00 UTC), in both languages
    english = health(admin_client(camera, make_user), analysis)
    assert english["state"] == "paused"
    assert english["until"] == "2026-05-04T16:00:00+00:00"
    assert english["last_error_code"] == "17"
    assert english["stop"] == "api"
    assert "daily limit" in english["reason"] and "2026-05-05 00:00" in english["reason"]
    chinese = health(admin_client(camera, make_user, "zh-hans"), analysis)
    assert chinese["state"] == "paused"
    assert "每日" in chinese["reason"] or "每天" in chinese["reason"]

    # When the day turns in Shanghai, the next frame is called again by itself
    after = run(clock, camera, SHANGHAI_MIDNIGHT + 2)
    assert after.analyses[0].status == "done"
    assert sent(account) == 3
    assert health(admin_client(camera, make_user), analysis)["state"] == "ok"


def test_given_a_paused_analysis_when_an_admin_resumes_it_then_the_next_frame_calls(
    live_server, settings, clock, camera, make_user
):
    settings.SANDBOX = sandbox(DAILY_QUOTA=1)
    account = baidu_account(live_server)
    analysis = add_analysis(camera, "gesture", account)
    run(clock, camera, 0)
    run(clock, camera, 2)
    assert AnalysisState.objects.get(analysis=analysis).health == "paused"

    # When an admin resumes it through the API
    client = admin_client(camera, make_user)
    response = client.post(f"/api/camera-analyses/{analysis.pk}/resume/")

    # Then it waits for its next frame, which is sent
    assert response.status_code == 200
    assert response.json()["health"]["state"] == "waiting"
    assert "Resumed" in response.json()["health"]["reason"]
    settings.SANDBOX = sandbox(DAILY_QUOTA=0)
    assert run(clock, camera, 4).analyses[0].status == "done"
    assert sent(account) == 3


# ---------------------------------------------------------------- Baidu 19: refused until resumed


def test_given_baidu_19_then_that_api_is_refused_until_an_admin_resumes_it(
    live_server, settings, clock, camera, make_user
):
    settings.SANDBOX = sandbox(TOTAL_QUOTA=1)
    account = baidu_account(live_server)
    analysis = add_analysis(camera, "gesture", account)
    run(clock, camera, 0)
    assert run(clock, camera, 2).analyses[0].error_code == "19"

    # No call, not even after the day turns
    for seconds in (4, SHANGHAI_MIDNIGHT + 2, 2 * SHANGHAI_MIDNIGHT):
        assert run(clock, camera, seconds).analyses == []
    assert sent(account) == 2
    client = admin_client(camera, make_user)
    english = health(client, analysis)
    assert english["state"] == "refused" and english["until"] is None
    assert "total limit" in english["reason"]
    assert "总量" in health(admin_client(camera, make_user, "zh-hans"), analysis)["reason"]

    # When the limit is raised and an admin resumes, calls go again
    settings.SANDBOX = sandbox(TOTAL_QUOTA=0)
    assert client.post(f"/api/camera-analyses/{analysis.pk}/resume/").status_code == 200
    assert run(clock, camera, 2 * SHANGHAI_MIDNIGHT + 2).analyses[0].status == "done"
    assert sent(account) == 3
    assert health(client, analysis)["state"] == "ok"


def test_an_operator_cannot_resume_and_another_sites_admin_gets_404(
    live_server, settings, clock, camera, make_user, make_site
):
    settings.SANDBOX = sandbox(TOTAL_QUOTA=1)
    account = baidu_account(live_server)
    analysis = add_analysis(camera, "gesture", account)
    run(clock, camera, 0)
    run(clock, camera, 2)

    operator = APIClient()
    operator.force_authenticate(make_user(roles.OPERATOR, camera.site))
    stranger = APIClient()
    stranger.force_authenticate(make_user(roles.ADMIN, make_site()))

    assert operator.post(f"/api/camera-analyses/{analysis.pk}/resume/").status_code == 403
    assert stranger.post(f"/api/camera-analyses/{analysis.pk}/resume/").status_code == 404
    assert VendorStop.objects.filter(lifted_at__isnull=True).count() == 1


# ---------------------------------------------------------------- account stops


def test_given_baidu_refusing_the_key_pair_then_the_whole_account_stops_until_resumed(
    live_server, clock, camera, make_user, caplog
):
    # Given an account with a wrong secret key and two analyses on it
    account = baidu_account(live_server, secret_key="wrong")
    account.site = camera.site  # the site's own account: its admins are told and resume it
    account.save(update_fields=["site"])
    gesture = add_analysis(camera, "gesture", account)
    counting = add_analysis(make_camera(camera.site), "body_num", account)

    # When a frame is analysed: the token endpoint refuses the key pair
    first = run(clock, camera, 0)
    assert first.analyses[0].status == "failed"

    # Then every API of the account is refused, the admins are told (log line, banner)
    stop = VendorStop.objects.get(lifted_at__isnull=True)
    assert stop.api == "" and stop.state == "refused"
    assert any(
        record.levelname == "ERROR" and "stopped" in record.getMessage()
        for record in caplog.records
    )
    admin = make_user(roles.ADMIN, camera.site)
    assert [s.pk for s in vendor_stops.account_stops_for(admin)] == [stop.pk]
    client = admin_client(camera, make_user)
    for analysis in (gesture, counting):
        state = health(client, analysis)
        assert state["state"] == "refused" and state["stop"] == "account"
        assert "credentials" in state["reason"]
    assert "凭据" in health(admin_client(camera, make_user, "zh-hans"), gesture)["reason"]
    assert run(clock, camera, 2).analyses == []
    # The analysis' own resume does not lift the account's stop
    response = client.post(f"/api/camera-analyses/{gesture.pk}/resume/")
    assert response.status_code == 409

    # When the keys are fixed and the account resumed, calls go again
    account.secret_key = "sandbox-sk"
    account.save()
    response = client.post(f"/api/vendor-accounts/{account.pk}/resume/")
    assert response.status_code == 200 and response.json()["stops"] == []
    assert run(clock, camera, 4).analyses[0].status == "done"
    assert health(client, gesture)["state"] == "ok"


@pytest.mark.parametrize("code", [6, 14, 15])
def test_given_baidu_credential_codes_then_the_account_stops(clock, camera, fake_baidu, code):
    account, _tokens, route = fake_baidu
    analysis = add_analysis(camera, "body_attr", account)
    route.respond(json={"error_code": code, "error_msg": "refused"})
    run(clock, camera, 0)
    run(clock, camera, 2)
    assert route.call_count == 1
    stop = VendorStop.objects.get()
    assert (stop.api, stop.state, stop.code) == ("", "refused", str(code))
    assert AnalysisState.objects.get(analysis=analysis).health == "refused"


@pytest.mark.parametrize("code", [100, 110, 111])
def test_given_baidu_token_errors_after_a_refresh_then_the_account_stops(
    clock, camera, fake_baidu, code
):
    account, tokens, route = fake_baidu
    add_analysis(camera, "body_attr", account)
    route.respond(json={"error_code": code, "error_msg": "token refused"})
    run(clock, camera, 0)
    run(clock, camera, 2)
    # One refresh, then no more
    assert tokens.call_count == 2 and route.call_count == 2
    stop = VendorStop.objects.get()
    assert (stop.api, stop.code) == ("", str(code))


@pytest.mark.parametrize("code", [4, 18])
def test_given_baidu_rate_limits_then_calls_slow_down_and_never_stop(
    clock, camera, fake_baidu, code
):
    account, _tokens, route = fake_baidu
    analysis = add_analysis(camera, "body_attr", account)
    route.respond(json={"error_code": code, "error_msg": "limit reached"})
    outcome = run(clock, camera, 0)
    assert outcome.analyses[0].status == "unavailable"
    assert route.call_count == RetryPolicy().max_attempts  # retried, with backoff
    assert not VendorStop.objects.exists()
    assert AnalysisState.objects.get(analysis=analysis).health == "failing"


def test_given_a_vendor_asking_to_retry_after_then_the_analysis_waits_that_long(
    clock, camera, fake_baidu
):
    account, _tokens, route = fake_baidu
    analysis = add_analysis(camera, "body_attr", account)
    route.respond(429, headers={"Retry-After": "7"}, text="slow down")
    run(clock, camera, 0)
    calls = route.call_count
    state = AnalysisState.objects.get(analysis=analysis)
    assert state.health == "failing" and state.health_reason == "rate_limited"
    assert state.retry_at == at(0.1) + timedelta(seconds=7)  # analysed 0.1 s after
    assert run(clock, camera, 2).analyses == []
    assert run(clock, camera, 6).analyses == []
    assert run(clock, camera, 8).analyses != []
    assert route.call_count > calls
    assert not VendorStop.objects.exists()


# ---------------------------------------------------------------- CTYun


def test_given_ctyun_51003_then_that_api_is_refused_until_a_package_is_recorded(
    live_server, settings, clock, camera, make_user
):
    settings.SANDBOX = sandbox(TOTAL_QUOTA=1)
    account = ctyun_account(live_server)
    analysis = add_analysis(camera, "helmet", account)
    assert run(clock, camera, 0).analyses[0].status == "done"
    assert run(clock, camera, 2).analyses[0].error_code == "51003"

    for seconds in (4, 6, SHANGHAI_MIDNIGHT + 2):
        assert run(clock, camera, seconds).analyses == []
    assert sent(account) == 2
    client = admin_client(camera, make_user)
    state = health(client, analysis)
    assert state["state"] == "refused" and "No calls left" in state["reason"]
    assert "51003" in state["reason"]
    assert "购买" in health(admin_client(camera, make_user, "zh-hans"), analysis)["reason"]

    # When a package for that API is recorded, the stop lifts by itself
    settings.SANDBOX = sandbox(TOTAL_QUOTA=0)
    Package.objects.create(
        account=account,
        api="helmet",
        calls=100_000,
        price=0,
        purchased_at=at(SHANGHAI_MIDNIGHT),
        expires_at=at(SHANGHAI_MIDNIGHT) + timedelta(days=365),
    )
    assert health(client, analysis)["state"] == "waiting"
    assert run(clock, camera, SHANGHAI_MIDNIGHT + 4).analyses[0].status == "done"
    assert sent(account) == 3


@pytest.mark.parametrize("code", [51001, 51002])
def test_given_ctyun_service_not_bought_or_expired_then_that_api_is_refused(
    clock, camera, fake_ctyun, code
):
    account, route = fake_ctyun
    add_analysis(camera, "helmet", account)
    route.respond(json={"code": code, "message": "error", "details": "no"})
    run(clock, camera, 0)
    run(clock, camera, 2)
    assert route.call_count == 1
    stop = VendorStop.objects.get()
    assert (stop.api, stop.state, stop.lift) == ("helmet", "refused", "quota")


@pytest.mark.parametrize(("code", "status"), [(10002, 401), (10020, 401), (40002, 401)])
def test_given_ctyun_gateway_credential_codes_then_the_account_stops(
    clock, camera, fake_ctyun, code, status
):
    account, route = fake_ctyun
    other = add_analysis(make_camera(camera.site), "workwear", account)
    add_analysis(camera, "helmet", account)
    route.respond(status, json={"code": code, "message": "error", "details": "refused"})
    run(clock, camera, 0)
    run(clock, camera, 2)
    assert route.call_count == 1
    stop = VendorStop.objects.get()
    assert (stop.api, stop.code) == ("", str(code))
    assert AnalysisState.objects.get(analysis=other).health == "refused"


def test_given_ctyun_51003_when_a_free_quota_is_claimed_then_the_stop_lifts_by_itself(
    clock, camera, fake_ctyun
):
    account, route = fake_ctyun
    analysis = add_analysis(camera, "helmet", account)
    route.respond(403, json={"code": 51003, "message": "error", "details": "used up"})
    run(clock, camera, 0)
    assert AnalysisState.objects.get(analysis=analysis).health == "refused"

    # Saving the account without a new claim lifts nothing
    account.notes = "edited"
    account.save()
    assert VendorStop.objects.filter(lifted_at__isnull=True).count() == 1

    account.free_quota_claimed_at = at(60)
    account.save()
    stop = VendorStop.objects.get()
    assert (stop.lifted_how, stop.lifted_at is not None) == ("quota", True)
    assert AnalysisState.objects.get(analysis=analysis).health == "waiting"


def test_given_a_wrong_ctyun_appkey_then_the_account_stops(live_server, clock, camera):
    account = ctyun_account(live_server, app_key="not-the-appkey")
    add_analysis(camera, "helmet", account)
    run(clock, camera, 0)
    stop = VendorStop.objects.get()
    assert (stop.api, stop.code) == ("", "40006")
    assert run(clock, camera, 2).analyses == []
    assert sent(account) == 1


def test_given_ctyun_concurrency_answers_then_calls_back_off_and_never_stop(
    clock, camera, fake_ctyun
):
    account, route = fake_ctyun
    analysis = add_analysis(camera, "helmet", account)
    route.mock(return_value=httpx.Response(429, text="busy"))
    run(clock, camera, 0)
    assert route.call_count > 1  # retried after a pause, not given up at once
    assert not VendorStop.objects.exists()
    state = AnalysisState.objects.get(analysis=analysis)
    assert state.health == "failing" and state.retry_at is not None
