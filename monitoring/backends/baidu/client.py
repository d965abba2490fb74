"""``BaiduClient``: one request per attempt, retries, breaker, hooks, and the per-camera
case state of ``body_tracking``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ..base import (
    AnalysisResult,
    AuthError,
    BackendError,
    BadRequest,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    InvalidImage,
    RequestRecorder,
    Store,
    TokenExpired,
    Unsupported,
    call_with_retries,
    is_replay,
)
from ..images import BAIDU, prepare_image
from .apis import BAIDU_APIS, BAIDU_SPECS, CASE_ID_MAX, FORM_CONTENT_TYPE, TRAITS, VENDOR
from .errors import _error_from_http, error_from_answer
from .normalize import normalize_answer
from .params import _form_body, _form_fields
from .token import TokenManager, _hashed, _timeout

# ---------------------------------------------------------------- the client


def tracking_case_id(account: str, camera_key: str) -> int:
    """A stable int32 case_id for one camera's stream, the same in every process."""
    return int(_hashed(account, camera_key)[:12], 16) % CASE_ID_MAX + 1


@dataclass
class _CallState:
    attempts: int = 0
    token_renewed: bool = False
    replay: bool = False


class BaiduClient:
    """Calls the online Body Analysis APIs; thread-safe, one connection pool.

    ``call(api, image, **params)`` prepares the image (``images.BAIDU``), checks the
    parameters (``BadRequest`` before anything is sent), and returns the normalized
    result or raises a typed error. Areas (``body_num``, ``body_tracking``) are given in
    pixels of the original image, as text ``"x1,y1,...;x1,y1,..."`` or point lists.

    ``track(image, camera_key, area)`` is ``body_tracking`` for one camera's stream:
    see there. ``tracking_store`` (default: the token store) holds each camera's case
    state, so workers sharing a cache continue one case.
    """

    vendor = VENDOR
    traits = TRAITS
    api_specs = BAIDU_SPECS

    def __init__(
        self,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        token_store: Store | None = None,
        breaker: CircuitBreaker | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tracking_store: Store | None = None,
        tracking_idle: float = 30.0,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.hooks = hooks or CallHooks()
        self.breaker = breaker
        self.sleep = sleep
        self._timeout = _timeout(settings)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.tokens = TokenManager(settings, http=self.http, store=token_store, clock=clock)
        self.tracking_store: Store = (
            tracking_store if tracking_store is not None else self.tokens.store
        )
        self.tracking_idle = tracking_idle
        self._urls = {name: self.base_url + api.path for name, api in BAIDU_APIS.items()}
        self._headers = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"}

    @classmethod
    def open(
        cls,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        store: Store | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> BaiduClient:
        """The registry's way to open a client (``store`` keeps tokens and cases)."""
        return cls(settings, hooks=hooks, token_store=store, breaker=breaker)

    # -- public

    def analyze(
        self, api: str, images: list[bytes], params: dict[str, Any] | None = None
    ) -> AnalysisResult:
        """``call`` in the registry's shape: one image per request."""
        return self.call(api, _only_image(api, images), **(params or {}))

    def call(self, api: str, image: bytes, **params: Any) -> AnalysisResult:
        """Analyse ``image`` with ``api`` (a key of ``BAIDU_APIS``) and its ``params``.

        Raises ``Unsupported`` for an unknown API, ``InvalidImage``/``BadRequest`` for
        input that cannot be sent (nothing leaves), or the typed error of the answer."""
        spec = BAIDU_APIS.get(api)
        if spec is None:
            raise Unsupported(
                f"unknown Baidu API {api!r}; known: {', '.join(BAIDU_APIS)}", vendor=VENDOR, api=api
            )
        try:
            prepared = prepare_image(image, BAIDU)
        except InvalidImage as error:
            error.vendor, error.api = VENDOR, api
            raise
        body = _form_body(_form_fields(spec, prepared, params), prepared.data)
        state = _CallState()
        answer = call_with_retries(
            lambda _number: self._attempt(api, body, state),
            self.settings.retry,
            sleep=self.sleep,
            breaker=self.breaker,
            account=self.settings.account,
            api=api,
        )
        result = normalize_answer(
            api, answer, frame_width=prepared.width, frame_height=prepared.height
        )
        result.replay = state.replay
        return result

    def track(
        self,
        image: bytes,
        camera_key: str,
        area: Any,
        *,
        show: bool = False,
        reset: bool = False,
    ) -> AnalysisResult:
        """One frame of camera ``camera_key`` to ``body_tracking`` with dynamic=true.

        ``case_id`` is ``tracking_case_id(account, camera_key)``. ``case_init`` is true on
        the first frame of a case, after ``reset=True`` or ``reset_tracking``, and after
        ``tracking_idle`` seconds without a successful frame (the seed asks for more than
        2 frames per second, so an old case would only mislead); a failed first frame is
        retried as a first frame. Track ids restart from 1 with every new case; in/out
        counts are per frame (sum them for totals)."""
        key = self._tracking_key(camera_key)
        if reset:
            self.tracking_store.delete(key)
        case_id = tracking_case_id(self.settings.account, camera_key)
        first_frame = self.tracking_store.get(key) is None
        result = self.call(
            "body_tracking",
            image,
            dynamic=True,
            case_id=case_id,
            case_init=first_frame,
            area=area,
            show=show,
        )
        self.tracking_store.set(key, {"case_id": case_id}, timeout=self.tracking_idle)
        return result

    def reset_tracking(self, camera_key: str) -> None:
        """Start a new case with the next frame of ``camera_key``."""
        self.tracking_store.delete(self._tracking_key(camera_key))

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BaiduClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one attempt

    def _tracking_key(self, camera_key: str) -> str:
        return f"baidu:tracking:{_hashed(self.base_url, self.settings.account, camera_key)}"

    def _attempt(self, api: str, body: bytes, state: _CallState) -> dict[str, Any]:
        """One attempt of ``call_with_retries``: a request, and on a token error (100,
        110, 111) a new token and one more request; a second token error is permanent."""
        token = self.tokens.token()
        try:
            return self._send(api, body, token, state)
        except TokenExpired as error:
            if state.token_renewed:
                raise _token_refused(error) from None
            state.token_renewed = True
            self.tokens.invalidate(token)
        token = self.tokens.token()
        try:
            return self._send(api, body, token, state)
        except TokenExpired as error:
            raise _token_refused(error) from None

    def _send(self, api: str, body: bytes, token: str, state: _CallState) -> dict[str, Any]:
        """One HTTP request, reported to the hooks through one ``RequestRecorder``."""
        state.attempts += 1
        request = RequestRecorder(self.hooks, vendor=VENDOR, api=api, attempt=state.attempts)
        request.before()
        url = f"{self._urls[api]}?access_token={quote(token, safe='')}"
        response = request.post(
            self.http, url, content=body, headers=self._headers, timeout=self._timeout
        )
        answer, error = _read_answer(response, api)
        state.replay = is_replay(response)
        if error is not None:
            raise request.failed(error)
        request.succeeded()
        return answer


def _only_image(api: str, images: list[bytes]) -> bytes:
    if len(images) != 1:
        raise BadRequest(f"{api} takes one image, got {len(images)}", vendor=VENDOR, api=api)
    return images[0]


def _read_answer(response: httpx.Response, api: str) -> tuple[Any, BackendError | None]:
    """Errors come as HTTP 200 with error_code/error_msg (`错误码` > `错误返回格式`)."""
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("error_code") not in (None, 0, "0"):
        return None, error_from_answer(answer, api=api, http_status=response.status_code)
    if response.status_code == 200 and isinstance(answer, dict):
        return answer, None
    return None, _error_from_http(response, api, answer)


def _token_refused(error: TokenExpired) -> AuthError:
    return AuthError(
        f"{error.message}, again with a new token",
        vendor=VENDOR,
        api=error.api,
        code=error.code,
        http_status=error.http_status,
        raw=error.raw,
    )
