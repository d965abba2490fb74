"""What every analysis backend shares: normalized results, typed errors, the retry
policy, the circuit breaker and the per-attempt hooks the metered call path plugs into.

This room knows HTTP, images and vendor formats, nothing of Django: clients take plain
settings (``ClientSettings``) and pluggable stores (anything with the ``get``/``set``
shape of a cache, Django's included).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

# ---------------------------------------------------------------- normalized results


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels of the frame that was sent."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_corners(cls, left: float, top: float, right: float, bottom: float) -> Box:
        return cls(left=left, top=top, width=right - left, height=bottom - top)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre: where a standing person touches the ground."""
        return (self.left + self.width / 2, self.bottom)

    def as_dict(self) -> dict[str, float]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Attribute:
    """One labelled attribute, e.g. headwear = "安全帽" (safety helmet) with its score."""

    value: str
    score: float


@dataclass
class Person:
    box: Box
    score: float
    keypoints: list[Keypoint] = field(default_factory=list)
    # Vendor attribute name -> value (Baidu body_attr names: headwear, upper_color, smoke...)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    track_id: int | None = None


@dataclass
class DetectedObject:
    """A box that is not a whole person: helmet, clothes, gesture, hand, face..."""

    label: str
    box: Box
    score: float
    keypoints: list[Keypoint] = field(default_factory=list)


@dataclass(frozen=True)
class DriverBehaviour:
    name: str
    score: float
    threshold: float

    @property
    def present(self) -> bool:
        return self.score >= self.threshold


@dataclass
class Driver:
    box: Box
    score: float
    behaviours: list[DriverBehaviour] = field(default_factory=list)


@dataclass
class AnalysisResult:
    """The normalized answer of one vendor request, whatever the vendor.

    Only the fields the API fills are set; ``raw`` is the vendor's answer as received.
    For APIs that take several images, per-image findings are in ``per_image``.
    """

    vendor: str
    api: str
    frame_width: int | None = None
    frame_height: int | None = None
    persons: list[Person] = field(default_factory=list)
    objects: list[DetectedObject] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)
    person_count: int | None = None
    area_counts: list[int] = field(default_factory=list)
    flow_in: int | None = None
    flow_out: int | None = None
    sequence_score: float | None = None  # fall, fight
    face_quality: str | None = None
    liveness: bool | None = None
    per_image: list[AnalysisResult] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # body_seg maps, rendered images
    request_id: str = ""
    replay: bool = False  # the answer is a recorded example, not an analysis of this image
    raw: Any = None

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


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
