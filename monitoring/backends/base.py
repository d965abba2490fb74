"""What every analysis backend shares: normalized results (``results``), typed errors, the retry
policy, the circuit breaker, the per-attempt hooks the metered call path plugs into,
the one per-request recorder every HTTP client reports through (``RequestRecorder``),
and the shape of what a backend declares about itself (``VendorTraits``, ``ApiSpec``).

This room knows HTTP, images and vendor formats, nothing of Django: clients take plain
settings (``ClientSettings``) and pluggable stores (anything with the ``get``/``set``
shape of a cache, Django's included).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

# Re-exported: clients and callers import the normalized results from here.
from .results import (  # noqa: F401
    AnalysisResult,
    Attribute,
    Box,
    DetectedObject,
    Driver,
    DriverBehaviour,
    Keypoint,
    Person,
)

# ---------------------------------------------------------------- errors


class BackendError(Exception):
    """A vendor call that did not give a result. ``permanent`` says retrying cannot help."""

    permanent = True
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        vendor: str = "",
        api: str = "",
        code: int | str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        raw: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.api = api
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after
        self.raw = raw

    @property
    def retryable(self) -> bool:
        return not self.permanent

    def __str__(self) -> str:
        where = "/".join(part for part in (self.vendor, self.api) if part)
        code = f" code {self.code}" if self.code is not None else ""
        return f"{where}{code}: {self.message}" if where or code else self.message


class InvalidImage(BackendError):
    """What was given is not an image, or cannot be made to fit the vendor's rules."""

    kind = "invalid_image"


class BadRequest(BackendError):
    """The vendor says the request is wrong (parameters, image, area): never retried."""

    kind = "bad_request"


class AuthError(BackendError):
    """Credentials, signature, token or permission refused: an admin must act."""

    kind = "auth"


class QuotaExhausted(BackendError):
    """Daily or total limit, count used up, service not bought or expired."""

    kind = "quota"


class Unsupported(BackendError):
    """The backend does not offer this capability."""

    kind = "unsupported"


class TokenExpired(BackendError):
    """Baidu 100/110/111: the client refreshes its token once and tries again."""

    permanent = False
    kind = "token"


class RateLimited(BackendError):
    """QPS or concurrency limit: retry after a pause."""

    permanent = False
    kind = "rate_limited"


class ServiceError(BackendError):
    """The vendor failed internally: retry, bounded."""

    permanent = False
    kind = "service"


class TransportError(BackendError):
    """Connect or read timeout, connection refused, malformed answer from a proxy..."""

    permanent = False
    kind = "transport"


class CircuitOpen(BackendError):
    """Too many recent failures for this account and API: not calling for a while."""

    permanent = False
    kind = "circuit_open"


class RefusedLocally(BackendError):
    """The quota gate refused the call before it left (budget, arrears, package empty)."""

    kind = "refused"


# ---------------------------------------------------------------- settings and hooks


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, error: BackendError, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        rng = rng or random
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = rng.uniform(0, ceiling)
        if error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


@dataclass(frozen=True)
class ClientSettings:
    """Everything a vendor client needs, as plain values."""

    base_url: str
    # Credentials stay out of repr() so that they never reach a log or a traceback.
    api_key: str = field(default="", repr=False)  # Baidu API key / CTYun ak
    secret_key: str = field(default="", repr=False)  # Baidu secret key / CTYun sk
    app_key: str = field(default="", repr=False)  # CTYun appkey
    account: str = ""  # a stable name for breaker and token cache keys
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Baidu private deployment: service name -> port on ``base_url``'s host.
    ports: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One request that left (or was refused before leaving) for the vendor."""

    vendor: str
    api: str
    request_id: str
    started_at: float  # time.time()
    latency_ms: float
    outcome: str  # "success", "vendor_error", "transport_error", "refused"; "pending" in flight
    error_code: str = ""
    attempt: int = 1
    images: int = 1


class CallHooks:
    """Called around every attempt. Billing's metered path subclasses this: ``before``
    is the quota gate (raise ``RefusedLocally`` to stop), ``sending`` writes the ledger
    row of a request about to leave, ``after`` its outcome."""

    def before(self, vendor: str, api: str, request_id: str) -> None:
        return None

    def sending(self, attempt: Attempt) -> None:
        """The request of ``attempt`` (outcome ``"pending"``) passed ``before`` and leaves
        now; ``after`` follows with the same request id unless the process dies first."""
        return None

    def after(self, attempt: Attempt) -> None:
        return None


class OpenedByRegistry:
    """How the registry opens an HTTP client by default: its settings, hooks and
    breaker (a client that keeps tokens or cases in a store overrides ``open``)."""

    @classmethod
    def open(
        cls,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        store: Any = None,
        breaker: CircuitBreaker | None = None,
    ) -> Any:
        return cls(settings, hooks=hooks, breaker=breaker)


class Store(Protocol):
    """The subset of a cache that clients use (Django's cache fits)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = None) -> None: ...

    def delete(self, key: str) -> Any: ...


class MemoryStore:
    """A process-local ``Store`` with expiry, for tests and single processes."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float | None, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return default
            expires, value = item
            if expires is not None and expires <= time.monotonic():
                del self._data[key]
                return default
            return value

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            expires = None if timeout is None else time.monotonic() + timeout
            self._data[key] = (expires, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


# ---------------------------------------------------------------- circuit breaker


class CircuitBreaker:
    """Opens after ``threshold`` consecutive retryable failures of one account and API,
    stays open for ``cooldown`` seconds, then lets one trial call through (half-open).

    State lives in a ``Store`` so that processes sharing a cache share the breaker.
    """

    def __init__(
        self,
        store: Store | None = None,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store or MemoryStore()
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock

    def _key(self, account: str, api: str) -> str:
        return f"breaker:{account}:{api}"

    def check(self, account: str, api: str) -> None:
        state = self.store.get(self._key(account, api)) or {"failures": 0, "opened_at": None}
        opened_at = state.get("opened_at")
        if opened_at is not None and self.clock() - opened_at < self.cooldown:
            wait = self.cooldown - (self.clock() - opened_at)
            raise CircuitOpen(
                f"circuit open after {state['failures']} failures; next try in {wait:.0f} s",
                api=api,
                retry_after=wait,
            )

    def record_success(self, account: str, api: str) -> None:
        self.store.delete(self._key(account, api))

    def record_failure(self, account: str, api: str) -> None:
        key = self._key(account, api)
        state = self.store.get(key) or {"failures": 0, "opened_at": None}
        state["failures"] += 1
        if state["failures"] >= self.threshold:
            state["opened_at"] = self.clock()
        self.store.set(key, state, timeout=max(self.cooldown * 10, 600))

    def is_open(self, account: str, api: str) -> bool:
        try:
            self.check(account, api)
        except CircuitOpen:
            return True
        return False


T = TypeVar("T")


def call_with_retries(
    attempt_once: Callable[[int], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    breaker: CircuitBreaker | None = None,
    account: str = "",
    api: str = "",
) -> T:
    """Run ``attempt_once(n)`` until it returns, a permanent error, or the policy's
    attempts are used up. Only retryable ``BackendError``s are retried. The breaker (if
    given) is consulted before each attempt and told how each one ended."""
    attempt = 1
    while True:
        if breaker is not None:
            breaker.check(account, api)
        try:
            result = attempt_once(attempt)
        except BackendError as error:
            if breaker is not None and error.retryable and not isinstance(error, TokenExpired):
                breaker.record_failure(account, api)
            if error.permanent or attempt >= policy.max_attempts:
                raise
            sleep(policy.delay(attempt, error))
            attempt += 1
            continue
        if breaker is not None:
            breaker.record_success(account, api)
        return result


# ---------------------------------------------------------------- what a backend declares

# ``AnalysisResult`` fields an API fills: the normalized result kinds of ``ApiSpec``.
RESULT_KINDS = frozenset(
    {
        "persons",
        "objects",
        "drivers",
        "person_count",
        "area_counts",
        "flow_in",
        "flow_out",
        "sequence_score",
        "face_quality",
        "liveness",
        "images",
        "per_image",
    }
)


@dataclass(frozen=True)
class ApiSpec:
    """What one API of one backend needs and gives.

    ``min_frames``/``max_frames``: images one request carries (``max_frames`` None: no
    limit); ``advised_frames``: how many the vendor advises where it advises a number;
    ``split``: more frames than ``max_frames`` may go as several requests (not for one
    person's liveness action); ``region``: it takes an area (``region_max_points``: of
    at most that many points, where the product enforces it); ``metered``: each request
    is counted by the vendor; ``results``: the ``RESULT_KINDS`` it fills."""

    name: str
    min_frames: int = 1
    max_frames: int | None = 1
    advised_frames: int | None = None
    split: bool = True
    region: bool = False
    region_max_points: int | None = None
    metered: bool = True
    results: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.results) - RESULT_KINDS
        if unknown:
            raise ValueError(f"{self.name}: unknown result kinds {sorted(unknown)}")

    @property
    def multi_frame(self) -> bool:
        """One request may carry several frames."""
        return self.max_frames is None or self.max_frames > 1


# How a vendor is paid: per successful call (graduated tiers), by packages of calls,
# by a licence of its own deployment, or not at all (this server's CPU).
PER_CALL = "per_call"
PACKAGES = "packages"
LICENCE = "licence"
ON_BOX = "on_box"


@dataclass(frozen=True)
class VendorTraits:
    """What the product needs to know of a vendor besides its APIs.

    ``name`` is the ``VendorAccount.vendor`` value; ``billing`` one of ``PER_CALL``,
    ``PACKAGES``, ``LICENCE``, ``ON_BOX``; ``in_process``: runs inside this server (no
    HTTP, nothing in flight to announce); ``request_counts_whatever_frames``: a request
    is counted once however many frames it carries; ``count_used_up_codes``: vendor
    codes saying the bought count is used up; ``free_quota``: "yearly", "trial" or "";
    ``base_url``: "required", "optional" (``default_base_url``, the public one) or
    "none";
    ``service_ports``: each service listens on its own port of the host;
    ``sells_qps``: QPS is bought in orders of its own (and limited per account)."""

    name: str
    billing: str
    in_process: bool = False
    request_counts_whatever_frames: bool = False
    count_used_up_codes: frozenset[str] = frozenset()
    free_quota: str = ""
    base_url: str = "optional"
    default_base_url: str = ""
    service_ports: bool = False
    sells_qps: bool = False

    @property
    def billed_per_call(self) -> bool:
        return self.billing == PER_CALL

    @property
    def paid_by_packages(self) -> bool:
        return self.billing == PACKAGES

    @property
    def metered(self) -> bool:
        """Paid per call or per package: quotas, arrears, plans and QPS apply."""
        return self.billing in (PER_CALL, PACKAGES)

    @property
    def runs_on_customer_machines(self) -> bool:
        """Nothing is paid per call: this server or the customer's own deployment."""
        return self.billing in (LICENCE, ON_BOX)


# ---------------------------------------------------------------- one request, recorded

# ``Attempt.outcome`` values, the same for every backend.
SUCCESS = "success"
VENDOR_ERROR = "vendor_error"
TRANSPORT_ERROR = "transport_error"
REFUSED = "refused"
PENDING = "pending"
# ``Attempt.error_code`` of a transport error the client could tell apart.
TIMEOUT = "timeout"
CONNECT = "connect"
MALFORMED = "malformed"

# The built-in sandbox marks answers it replays from the seed instead of analysing.
REPLAY_HEADER = "X-Sandbox-Replay"


def is_replay(response: httpx.Response) -> bool:
    return response.headers.get(REPLAY_HEADER, "").lower() == "true"


class RequestRecorder:
    """One HTTP request of a client, told to its hooks: ``before`` (the gate may refuse:
    recorded as refused, nothing leaves), ``sending`` as it leaves, ``after`` exactly
    once with its outcome. httpx failures become ``TransportError`` (codes ``timeout``,
    ``connect``); a vendor's typed error is recorded with its code (or ``http_<status>``).

    ``clock`` gives ``started_at``; ``timer`` measures latency from the moment the
    request leaves."""

    def __init__(
        self,
        hooks: CallHooks,
        *,
        vendor: str,
        api: str,
        attempt: int = 1,
        images: int = 1,
        request_id: str | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.hooks = hooks
        self.vendor = vendor
        self.api = api
        self.number = attempt
        self.images = images
        self.request_id = request_id or uuid.uuid4().hex
        self.started_at = clock()
        self._timer = timer
        self._sent_at: float | None = None
        self._reported = False

    def attempt(self, outcome: str, error_code: Any = "") -> Attempt:
        latency = 0.0 if self._sent_at is None else (self._timer() - self._sent_at) * 1000.0
        return Attempt(
            vendor=self.vendor,
            api=self.api,
            request_id=self.request_id,
            started_at=self.started_at,
            latency_ms=max(0.0, latency) if outcome != PENDING else 0.0,
            outcome=outcome,
            error_code="" if error_code in (None, "") else str(error_code),
            attempt=self.number,
            images=self.images,
        )

    def _report(self, outcome: str, error_code: Any = "") -> None:
        if self._reported:
            return
        self._reported = True
        self.hooks.after(self.attempt(outcome, error_code))

    def before(self) -> None:
        """Ask ``hooks.before``; a local refusal is recorded and raised."""
        try:
            self.hooks.before(self.vendor, self.api, self.request_id)
        except RefusedLocally as refusal:
            self._report(REFUSED, refusal.code)
            raise

    def post(self, http: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
        """Announce the request (``hooks.sending``) and send it."""
        self.hooks.sending(self.attempt(PENDING))
        self.start()
        try:
            return http.post(url, **kwargs)
        except httpx.TimeoutException as error:
            raise self.failed(
                TransportError(
                    f"timed out calling {url}: {type(error).__name__}",
                    vendor=self.vendor,
                    api=self.api,
                    code=TIMEOUT,
                )
            ) from error
        except httpx.HTTPError as error:
            raise self.failed(
                TransportError(
                    f"could not reach {url}: {type(error).__name__}: {error}",
                    vendor=self.vendor,
                    api=self.api,
                    code=CONNECT,
                )
            ) from error

    def start(self) -> None:
        """The work starts now (latency counts from here). An in-process analyzer calls
        this instead of ``post``: nothing is in flight outside the process to announce."""
        self._sent_at = self._timer()

    def failed(self, error: BackendError, *, code: Any = None) -> BackendError:
        """Record ``error`` as this request's outcome (with ``code``, else the error's
        code, else ``http_<status>``); returns it to be raised."""
        outcome = TRANSPORT_ERROR if isinstance(error, TransportError) else VENDOR_ERROR
        code = error.code if code is None else code
        if code is None and error.http_status is not None:
            code = f"http_{error.http_status}"
        self._report(outcome, code)
        return error

    def succeeded(self) -> None:
        self._report(SUCCESS)
