"""The access token of ``调用方式一`` (``TokenManager``): fetched, shared through a store,
refreshed before it runs out."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..base import (
    AuthError,
    BackendError,
    ClientSettings,
    MemoryStore,
    ServiceError,
    Store,
    TokenExpired,
    TransportError,
)
from .apis import TOKEN_PATH, VENDOR
from .errors import _error_from_http, error_from_answer

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- the access token


@dataclass(frozen=True)
class AccessToken:
    """A token and the wall-clock times (``time.time()``) that govern its use."""

    value: str
    expires_at: float
    refresh_at: float
    scope: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.value,
            "expires_at": self.expires_at,
            "refresh_at": self.refresh_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, value: Any) -> AccessToken | None:
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(
                value=str(value["access_token"]),
                expires_at=float(value["expires_at"]),
                refresh_at=float(value["refresh_at"]),
                scope=str(value.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _hashed(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


class TokenManager:
    """The access token for one API key (seed: `调用方式一`, "Access Token获取").

    ``GET {base_url}/oauth/2.0/token?grant_type=client_credentials&client_id=AK&
    client_secret=SK``, as the seed's example and the official SDK do. The token is kept
    in ``store`` under a key hashed from the token endpoint and the API key, so every
    process sharing the store (Django's cache) shares one token. It is refreshed when
    less than ``min(1 day, 10% of expires_in)`` of its life remains ("access_token的有效期为
    30天，切记需要每30天进行定期更换"); if the refresh fails for a reason that may pass,
    the old token is used while it lasts.

    Each process keeps a copy for ``local_ttl`` seconds so that the store is not read on
    every call; ``invalidate`` drops both. A refused key pair (HTTP 401
    ``invalid_client``, or any ``error`` in the answer) raises ``AuthError``.
    """

    REFRESH_MARGIN = 86_400.0  # at most one day before expiry
    REFRESH_FRACTION = 0.1  # or 10% of the lifetime, whichever is shorter
    DEFAULT_EXPIRES_IN = 2_592_000  # 30 days
    RETRY_PAUSE = 30.0  # after a failed refresh, while the old token still works

    def __init__(
        self,
        settings: ClientSettings,
        *,
        http: httpx.Client | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        local_ttl: float = 60.0,
    ):
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + TOKEN_PATH
        self.store: Store = store if store is not None else MemoryStore()
        self.clock = clock
        self.local_ttl = local_ttl
        self.key = f"baidu:token:{_hashed(self.url, settings.api_key)}"
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=_timeout(settings))
        self._timeout = _timeout(settings)
        self._lock = threading.Lock()
        self._local: tuple[str, float] | None = None  # (token, use it until)

    def token(self) -> str:
        """A token that is valid now: the process's copy, the store's, or a new one."""
        local = self._local
        if local is not None and self.clock() < local[1]:
            return local[0]
        with self._lock:
            local = self._local
            now = self.clock()
            if local is not None and now < local[1]:
                return local[0]
            cached = AccessToken.from_dict(self.store.get(self.key))
            if cached is not None and now < cached.refresh_at:
                return self._adopt(cached, now)
            try:
                fresh = self.fetch()
            except BackendError as error:
                if error.retryable and cached is not None and now < cached.expires_at:
                    logger.warning("Baidu token refresh failed, still using the old one: %s", error)
                    use_until = min(cached.expires_at, now + self.RETRY_PAUSE)
                    self._local = (cached.value, use_until)
                    return cached.value
                raise
            self.store.set(self.key, fresh.as_dict(), timeout=max(1.0, fresh.expires_at - now))
            return self._adopt(fresh, now)

    def _adopt(self, token: AccessToken, now: float) -> str:
        self._local = (token.value, min(token.refresh_at, now + self.local_ttl))
        return token.value

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token. With ``token``, drop it only if it is still the one
        cached, so that a token another process already renewed is kept."""
        with self._lock:
            self._local = None
            if token is not None:
                cached = AccessToken.from_dict(self.store.get(self.key))
                if cached is not None and cached.value != token:
                    return
            self.store.delete(self.key)

    def fetch(self) -> AccessToken:
        """Ask Baidu for a new token (not cached: ``token()`` does that)."""
        params = {
            "grant_type": "client_credentials",
            "client_id": self.settings.api_key,
            "client_secret": self.settings.secret_key,
        }
        started = self.clock()
        try:
            response = self._http.get(self.url, params=params, timeout=self._timeout)
        except httpx.TimeoutException as error:
            raise TransportError(
                f"token request timed out: {type(error).__name__}", vendor=VENDOR, api="token"
            ) from None
        except httpx.HTTPError as error:
            raise TransportError(
                f"token request failed: {type(error).__name__}: {error}", vendor=VENDOR, api="token"
            ) from None
        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        status = response.status_code
        if isinstance(answer, dict) and "error" in answer and status < 500:
            description = answer.get("error_description", "")
            raise AuthError(
                f"Baidu refused the API key and secret key: {answer['error']}"
                + (f" ({description})" if description else ""),
                vendor=VENDOR,
                api="token",
                code=str(answer["error"]),
                http_status=status,
                raw=answer,
            )
        if isinstance(answer, dict) and answer.get("error_code") not in (None, 0):
            error = error_from_answer(answer, api="token", http_status=status)
            if isinstance(error, TokenExpired):
                error = AuthError(error.message, vendor=VENDOR, api="token", code=error.code)
            raise error
        if status != 200 or not isinstance(answer, dict):
            raise _error_from_http(response, "token", answer)
        value = answer.get("access_token")
        if not value:
            raise ServiceError(
                "token answer without access_token", vendor=VENDOR, api="token", raw=answer
            )
        try:
            expires_in = float(answer.get("expires_in", self.DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            expires_in = self.DEFAULT_EXPIRES_IN
        if not math.isfinite(expires_in) or expires_in <= 0:
            expires_in = self.DEFAULT_EXPIRES_IN
        scope = str(answer.get("scope", ""))
        if "brain_all_scope" not in scope.split():
            # The official SDK then signs requests instead (`调用方式二`); the token may
            # still be refused with error 6 if the application lacks the API.
            logger.warning("Baidu token scope lacks brain_all_scope: %r", scope)
        margin = min(self.REFRESH_MARGIN, expires_in * self.REFRESH_FRACTION)
        return AccessToken(
            value=str(value),
            expires_at=started + expires_in,
            refresh_at=started + expires_in - margin,
            scope=scope,
        )

    def close(self) -> None:
        if self._own_http:
            self._http.close()


def _timeout(settings: ClientSettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.timeouts.connect,
        read=settings.timeouts.read,
        write=settings.timeouts.read,
        pool=settings.timeouts.read,
    )
