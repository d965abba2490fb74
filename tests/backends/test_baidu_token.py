"""The Baidu access token (seed: `调用方式一`, "Access Token获取"): fetched once, shared
through a store, refreshed before it runs out, dropped on demand, refused key pairs."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import respx
from django.core.cache import cache as django_cache

from monitoring.backends.baidu import TokenManager
from monitoring.backends.base import (
    AuthError,
    ClientSettings,
    MemoryStore,
    ServiceError,
    TransportError,
)

BASE = "https://aip.test"
DAY = 86_400.0
THIRTY_DAYS = 2_592_000


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore(MemoryStore):
    """A MemoryStore that counts reads (expiry is the store's own business)."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)


def token_answer(value: str, expires_in: int = THIRTY_DAYS, **extra) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": value,
            "expires_in": expires_in,
            "scope": "public brain_all_scope wise_adapt",
            "refresh_token": "25.r",
            "session_key": "9mzd",
            "session_secret": "dfac",
            **extra,
        },
    )


@pytest.fixture
def settings() -> ClientSettings:
    return ClientSettings(base_url=BASE + "/", api_key="the-api-key", secret_key="the-secret")


@pytest.fixture
def vendor():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def tokens_from(vendor, *values: str, expires_in: int = THIRTY_DAYS):
    return vendor.get("/oauth/2.0/token").mock(
        side_effect=[token_answer(value, expires_in) for value in values]
    )


def test_the_token_is_asked_for_with_the_client_credentials_grant(settings, vendor, http):
    route = tokens_from(vendor, "24.a")

    token = TokenManager(settings, http=http).token()

    assert token == "24.a"
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.url.path == "/oauth/2.0/token"
    assert dict(request.url.params) == {
        "grant_type": "client_credentials",
        "client_id": "the-api-key",
        "client_secret": "the-secret",
    }


def test_a_second_call_reuses_the_token_without_asking_again(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b")
    manager = TokenManager(settings, http=http)

    assert [manager.token(), manager.token(), manager.token()] == ["24.a"] * 3
    assert route.call_count == 1


def test_managers_sharing_a_store_share_one_token(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b")
    store = MemoryStore()

    first = TokenManager(settings, http=http, store=store).token()
    second = TokenManager(settings, http=http, store=store).token()

    assert first == second == "24.a"
    assert route.call_count == 1


def test_djangos_cache_serves_as_the_shared_store(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b")

    TokenManager(settings, http=http, store=django_cache).token()
    token = TokenManager(settings, http=http, store=django_cache).token()

    assert token == "24.a"
    assert route.call_count == 1


def test_different_api_keys_get_their_own_tokens(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b")
    store = MemoryStore()
    other = ClientSettings(base_url=BASE, api_key="another-key", secret_key="another-secret")

    assert TokenManager(settings, http=http, store=store).token() == "24.a"
    assert TokenManager(other, http=http, store=store).token() == "24.b"
    assert route.call_count == 2


def test_the_cache_key_is_a_hash_that_reveals_neither_key(settings, http):
    manager = TokenManager(settings, http=http)
    other_endpoint = TokenManager(
        ClientSettings(base_url="https://sandbox.test", api_key="the-api-key"), http=http
    )

    assert manager.key.startswith("baidu:token:")
    assert "the-api-key" not in manager.key and "the-secret" not in manager.key
    assert manager.key != other_endpoint.key


def test_the_token_is_kept_until_one_day_before_its_30_days_run_out(settings, vendor, http, clock):
    route = tokens_from(vendor, "24.a", "24.b")
    manager = TokenManager(settings, http=http, clock=clock)
    assert manager.token() == "24.a"

    clock.advance(THIRTY_DAYS - DAY - 1)
    assert manager.token() == "24.a"
    assert route.call_count == 1

    clock.advance(2)
    assert manager.token() == "24.b"
    assert route.call_count == 2


def test_a_short_lived_token_is_refreshed_when_a_tenth_of_its_life_remains(
    settings, vendor, http, clock
):
    route = tokens_from(vendor, "24.a", "24.b", expires_in=100)
    manager = TokenManager(settings, http=http, clock=clock, local_ttl=1000)
    manager.token()

    clock.advance(89)
    assert manager.token() == "24.a"
    clock.advance(2)
    assert manager.token() == "24.b"
    assert route.call_count == 2


def test_a_fresh_copy_in_the_process_spares_reading_the_store(settings, vendor, http, clock):
    tokens_from(vendor, "24.a")
    store = CountingStore()
    manager = TokenManager(settings, http=http, store=store, clock=clock, local_ttl=60)
    manager.token()
    reads = store.reads

    for _ in range(100):
        manager.token()
    assert store.reads == reads

    clock.advance(61)
    manager.token()
    assert store.reads == reads + 1


def test_a_token_renewed_by_another_process_is_picked_up_within_the_local_lifetime(
    settings, vendor, http, clock
):
    route = tokens_from(vendor, "24.a", "24.b")
    store = MemoryStore()
    here = TokenManager(settings, http=http, store=store, clock=clock, local_ttl=60)
    there = TokenManager(settings, http=http, store=store, clock=clock, local_ttl=60)
    assert here.token() == "24.a"

    # when another process finds the token refused and renews it
    there.invalidate("24.a")
    assert there.token() == "24.b"

    # then this process moves to it once its own copy is due a check, asking no one
    clock.advance(61)
    assert here.token() == "24.b"
    assert route.call_count == 2


def test_invalidating_drops_the_token_and_the_next_call_fetches_a_new_one(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b")
    store = MemoryStore()
    manager = TokenManager(settings, http=http, store=store)
    manager.token()

    manager.invalidate()

    assert store.get(manager.key) is None
    assert manager.token() == "24.b"
    assert route.call_count == 2


def test_invalidating_a_token_already_replaced_keeps_the_replacement(settings, vendor, http):
    route = tokens_from(vendor, "24.a", "24.b", "24.c")
    store = MemoryStore()
    slow = TokenManager(settings, http=http, store=store)
    quick = TokenManager(settings, http=http, store=store)
    assert slow.token() == "24.a"
    quick.invalidate("24.a")
    assert quick.token() == "24.b"

    # when the slower process reports the old token as refused
    slow.invalidate("24.a")

    # then it takes the replacement instead of asking for a third token
    assert slow.token() == "24.b"
    assert route.call_count == 2


def test_a_refused_key_pair_is_a_permanent_auth_error(settings, vendor, http):
    vendor.get("/oauth/2.0/token").respond(
        401, json={"error": "invalid_client", "error_description": "unknown client id"}
    )

    with pytest.raises(AuthError) as raised:
        TokenManager(settings, http=http).token()

    assert raised.value.permanent
    assert raised.value.http_status == 401
    assert raised.value.code == "invalid_client"
    assert "unknown client id" in str(raised.value)
    assert "the-secret" not in str(raised.value)


def test_an_error_in_a_200_answer_is_an_auth_error_too(settings, vendor, http):
    vendor.get("/oauth/2.0/token").respond(
        200, json={"error": "invalid_client", "error_description": "Client authentication failed"}
    )

    with pytest.raises(AuthError):
        TokenManager(settings, http=http).token()


def test_a_failing_token_endpoint_is_a_retryable_service_error(settings, vendor, http):
    vendor.get("/oauth/2.0/token").respond(503, text="busy")

    with pytest.raises(ServiceError) as raised:
        TokenManager(settings, http=http).token()

    assert raised.value.retryable


def test_an_unreachable_token_endpoint_is_a_transport_error(settings, vendor, http):
    vendor.get("/oauth/2.0/token").mock(side_effect=httpx.ConnectTimeout("timed out"))

    with pytest.raises(TransportError) as raised:
        TokenManager(settings, http=http).token()

    assert raised.value.retryable


def test_a_failed_refresh_keeps_using_the_old_token_while_it_is_still_valid(
    settings, vendor, http, clock
):
    route = vendor.get("/oauth/2.0/token").mock(
        side_effect=[token_answer("24.a"), httpx.Response(503, text="busy"), token_answer("24.b")]
    )
    manager = TokenManager(settings, http=http, clock=clock)
    manager.token()

    # when the refresh is due and the endpoint is down
    clock.advance(THIRTY_DAYS - DAY / 2)
    assert manager.token() == "24.a"
    # then it is not asked again on every call, but after a pause
    assert manager.token() == "24.a"
    assert route.call_count == 2
    clock.advance(TokenManager.RETRY_PAUSE + 1)
    assert manager.token() == "24.b"
    assert route.call_count == 3


def test_a_failed_refresh_after_expiry_raises(settings, vendor, http, clock):
    vendor.get("/oauth/2.0/token").mock(
        side_effect=[token_answer("24.a"), httpx.Response(503, text="busy")]
    )
    manager = TokenManager(settings, http=http, clock=clock)
    manager.token()

    clock.advance(THIRTY_DAYS + 1)
    with pytest.raises(ServiceError):
        manager.token()


def test_concurrent_callers_in_one_process_cause_one_token_request(settings, vendor, http):
    def slow_answer(request):
        time.sleep(0.05)
        return token_answer("24.a")

    route = vendor.get("/oauth/2.0/token").mock(side_effect=slow_answer)
    manager = TokenManager(settings, http=http)
    tokens: list[str] = []
    start = threading.Barrier(16)

    def work():
        start.wait()
        tokens.append(manager.token())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tokens == ["24.a"] * 16
    assert route.call_count == 1


def test_an_answer_without_expires_in_is_taken_as_30_days(settings, vendor, http, clock):
    route = vendor.get("/oauth/2.0/token").respond(200, json={"access_token": "24.a"})
    manager = TokenManager(settings, http=http, clock=clock)
    manager.token()

    clock.advance(THIRTY_DAYS - DAY - 1)
    manager.token()

    assert route.call_count == 1


def test_an_answer_without_a_token_is_a_service_error(settings, vendor, http):
    vendor.get("/oauth/2.0/token").respond(200, json={"expires_in": THIRTY_DAYS})

    with pytest.raises(ServiceError):
        TokenManager(settings, http=http).token()


def test_a_token_without_brain_all_scope_is_used_with_a_warning(settings, vendor, http, caplog):
    vendor.get("/oauth/2.0/token").respond(
        200, json={"access_token": "24.a", "expires_in": THIRTY_DAYS, "scope": "public"}
    )

    with caplog.at_level(logging.WARNING, logger="monitoring.backends.baidu"):
        token = TokenManager(settings, http=http).token()

    assert token == "24.a"
    assert "brain_all_scope" in caplog.text


def test_the_store_forgets_the_token_when_it_expires(settings, vendor, http):
    tokens_from(vendor, "24.a")

    class RecordingStore(MemoryStore):
        timeouts: list[float | None] = []

        def set(self, key, value, timeout=None):
            self.timeouts.append(timeout)
            super().set(key, value, timeout)

    store = RecordingStore()
    TokenManager(settings, http=http, store=store).token()

    assert store.timeouts == [pytest.approx(THIRTY_DAYS, abs=5)]
