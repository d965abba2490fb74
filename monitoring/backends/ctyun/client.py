"""``CtyunClient``: requests checked, signed and sent, answers normalized."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..base import (
    AnalysisResult,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    DetectedObject,
    OpenedByRegistry,
    Person,
    RateLimited,
    RequestRecorder,
    ServiceError,
    TransportError,
    Unsupported,
    call_with_retries,
    is_replay,
)
from ..images import PreparedImage, prepare_image
from .answers import (
    _as_bool,
    _as_list,
    _box_from_top_left_bottom_right,
    _is_concurrency_status,
    _MalformedAnswer,
    _number,
    _parse_points,
    describe_code,
    error_class_for_code,
    parse_code,
)
from .apis import CTYUN_APIS, CTYUN_SPECS, TRAITS, CtyunApi
from .signing import (
    BEIJING,
    CONCURRENCY_PAUSE,
    DEFAULT_BASE_URL,
    MEGABYTE,
    VENDOR,
    encode_body,
    signed_headers,
)

# ---------------------------------------------------------------- the client


@dataclass
class _Request:
    api: CtyunApi
    body: bytes
    prepared: list[PreparedImage]


class CtyunClient(OpenedByRegistry):
    """Calls one CTYun account's Safety Production APIs.

    One ``httpx.Client`` (connection reuse, explicit connect/read timeouts) per instance.
    Every attempt gets a fresh request id and signature, is announced to ``hooks.before``
    and reported once to ``hooks.after``; retries follow ``settings.retry`` and, when given,
    the breaker keyed by (``settings.account``, api).
    """

    vendor = VENDOR
    traits = TRAITS
    api_specs = CTYUN_SPECS

    def __init__(
        self,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        breaker: CircuitBreaker | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.settings = settings
        self.hooks = hooks or CallHooks()
        self.breaker = breaker
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (retry jitter, not a secret)
        self._base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeouts.read, connect=settings.timeouts.connect),
            follow_redirects=False,
        )

    # -- lifecycle

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CtyunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calling

    def analyze(
        self, api: str, images: list[bytes], params: dict[str, Any] | None = None
    ) -> AnalysisResult:
        """``call`` in the registry's shape."""
        return self.call(api, list(images), **(params or {}))

    def call(self, api: str, images: list[bytes], **params: Any) -> AnalysisResult:
        """Send ``images`` to ``api`` (a key of ``CTYUN_APIS``) and return the normalized
        answer. ``fence`` takes ``area``: 3 to 9 points in pixels of the original image, as
        "x1,y1,x2,y2,..." or a sequence of (x, y) pairs. Bad input raises ``BadRequest``
        before anything is sent."""
        request = self._build(api, images, params)
        return call_with_retries(
            lambda number: self._attempt(request, number),
            self.settings.retry,
            sleep=self._sleep,
            breaker=self.breaker,
            account=self.settings.account,
            api=api,
        )

    def _bad(self, api: str, message: str) -> BadRequest:
        return BadRequest(message, vendor=VENDOR, api=api)

    def _build(self, name: str, images: list[bytes], params: dict[str, Any]) -> _Request:
        api = CTYUN_APIS.get(name)
        if api is None:
            raise Unsupported(f"CTYun offers no API named {name!r}", vendor=VENDOR, api=name)
        allowed = {"area"} if api.shape == "fence" else set()
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise self._bad(name, f"unexpected parameters for {name}: {', '.join(unknown)}")
        if not isinstance(images, list | tuple) or not (
            api.min_images <= len(images) <= api.max_images
        ):
            count = len(images) if isinstance(images, list | tuple) else "no list of"
            span = (
                f"exactly {api.min_images}"
                if api.min_images == api.max_images
                else f"{api.min_images} to {api.max_images}"
            )
            raise self._bad(name, f"{name} takes {span} images, got {count}")

        prepared = []
        for image in images:
            try:
                prepared.append(prepare_image(image, api.limits))
            except BackendError as error:
                error.vendor = error.vendor or VENDOR
                error.api = error.api or name
                raise
        # 4.3 API, 11、base64 编码规则: "使用常规的 safe base64 编码方式", urlsafe_b64encode.
        encoded = [image.b64_urlsafe() for image in prepared]

        payload: dict[str, Any]
        if api.shape == "image":
            payload = {"image": encoded[0]}
        elif api.shape == "image_content":
            payload = {"imageContent": encoded[0]}
        elif api.shape == "numbered":
            # 4.3.4.2 动作活体检测: image1Content..imageNContent, numbered without gaps (4209).
            payload = {f"image{n}Content": data for n, data in enumerate(encoded, start=1)}
        elif api.shape == "images":
            payload = {"images": encoded}
        else:  # fence
            if "area" not in params:
                raise self._bad(name, "fence needs an area")
            payload = {"image": encoded, "area": self._fence_area(name, params["area"], prepared)}

        body = encode_body(payload)
        if api.max_body_bytes is not None and len(body) > api.max_body_bytes:
            raise self._bad(
                name,
                f"request of {len(body)} bytes is over {name}'s limit of "
                f"{api.max_body_bytes // MEGABYTE} MB",
            )
        return _Request(api=api, body=body, prepared=prepared)

    def _fence_area(self, name: str, area: Any, prepared: list[PreparedImage]) -> str:
        """The area string 4.3.3 电子围栏 asks for: "x1,y1,...,xn,yn" (a string: 4011), more than
        2 and fewer than 10 points (4012), inside the image (4013), in pixels of the image
        sent. ``area`` is in pixels of the original image."""
        points = _parse_points(area)
        if points is None:
            raise self._bad(name, f"area is not a list of x,y points: {area!r}")
        if not 3 <= len(points) <= 9:
            raise self._bad(name, f"area needs 3 to 9 points, got {len(points)}")
        first = prepared[0]
        for image in prepared[1:]:
            # One area string serves every image: they must share one size.
            if (image.original_width, image.original_height, image.width, image.height) != (
                first.original_width,
                first.original_height,
                first.width,
                first.height,
            ):
                raise self._bad(name, "fence images must all have the same size")
        for x, y in points:
            if not (0 <= x <= first.original_width and 0 <= y <= first.original_height):
                raise self._bad(
                    name,
                    f"area point ({x:g}, {y:g}) is outside the "
                    f"{first.original_width}x{first.original_height} image",
                )
        coordinates: list[str] = []
        for x, y in points:
            sent_x, sent_y = first.to_sent(x, y)
            coordinates.append(str(min(max(round(sent_x), 0), first.width)))
            coordinates.append(str(min(max(round(sent_y), 0), first.height)))
        return ",".join(coordinates)

    def _attempt(self, request: _Request, number: int) -> AnalysisResult:
        api = request.api
        recorder = RequestRecorder(
            self.hooks,
            vendor=VENDOR,
            api=api.name,
            attempt=number,
            images=len(request.prepared),
            request_id=str(uuid.uuid4()),
            clock=self._clock,
            timer=self._clock,
        )
        recorder.before()
        headers = signed_headers(
            self.settings.api_key,
            self.settings.secret_key,
            self.settings.app_key,
            request.body,
            request_id=recorder.request_id,
            now=datetime.fromtimestamp(self._clock(), tz=BEIJING),
            host=self._host,
        )
        response = recorder.post(
            self._http, self._base_url + api.path, content=request.body, headers=headers
        )
        try:
            result = self._interpret(api, response, request, recorder.request_id)
        except BackendError as error:
            if error.code is None and error.http_status is None:
                error.http_status = response.status_code
            recorder.failed(error)
            raise
        recorder.succeeded()
        result.replay = is_replay(response)
        return result

    def _concurrency_pause(self) -> float:
        return self._rng.uniform(*CONCURRENCY_PAUSE)

    def _interpret(
        self, api: CtyunApi, response: httpx.Response, request: _Request, request_id: str
    ) -> AnalysisResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            snippet = response.text[:200]
            self._raise_for_status(api, status, f"answer is not a JSON object: {snippet!r}")
            raise TransportError(
                f"HTTP {status}, answer is not a JSON object: {snippet!r}",
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                raw=response.text,
            )

        code = parse_code(answer.get("code"))
        if code is None:
            for key in ("errorCode", "error_code", "statusCode"):
                code = parse_code(answer.get(key))
                if code is not None:
                    break
        if code == 0:
            try:
                return self._normalize(api, answer, request, request_id)
            except (_MalformedAnswer, KeyError, TypeError, ValueError, AttributeError) as error:
                raise ServiceError(
                    f"malformed answer: {error}",
                    vendor=VENDOR,
                    api=api.name,
                    code="malformed_answer",
                    http_status=status,
                    raw=answer,
                ) from error
        if code is None:
            self._raise_for_status(api, status, f"answer without a code: {answer!r}"[:300], answer)
            raise ServiceError(
                f"answer without a code: {answer!r}"[:300],
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                raw=answer,
            )

        error_class = error_class_for_code(code)
        message = answer.get("message")
        details = answer.get("details") or answer.get("error") or describe_code(code, api)
        parts = [str(code)]
        if isinstance(message, str) and message:
            parts.append(message)
        text = " ".join(parts) + (f": {details}" if details else "")
        retry_after = None
        if error_class.permanent is False and _is_concurrency_status(status):
            retry_after = self._concurrency_pause()
        raise error_class(
            text,
            vendor=VENDOR,
            api=api.name,
            code=code,
            http_status=status,
            retry_after=retry_after,
            raw=answer,
        )

    def _raise_for_status(self, api: CtyunApi, status: int, text: str, raw: Any = None) -> None:
        """Errors told by the HTTP status alone (4.1.3 状态码, 请求状态码)."""
        if _is_concurrency_status(status):
            raise RateLimited(
                f"HTTP {status} (concurrency limit): {text}",
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                retry_after=self._concurrency_pause(),
                raw=raw,
            )
        if status in (401, 403):
            raise AuthError(
                f"HTTP {status}: {text}", vendor=VENDOR, api=api.name, http_status=status, raw=raw
            )
        if 400 <= status < 500:
            raise BadRequest(
                f"HTTP {status}: {text}", vendor=VENDOR, api=api.name, http_status=status, raw=raw
            )

    def _normalize(
        self, api: CtyunApi, answer: dict[str, Any], request: _Request, request_id: str
    ) -> AnalysisResult:
        sent = request.prepared[0]
        result = AnalysisResult(
            vendor=VENDOR,
            api=api.name,
            frame_width=sent.width,
            frame_height=sent.height,
            request_id=request_id,
            raw=answer,
        )
        found = answer.get("result")
        if api.answer == "objects":
            # Helmet classnames: blue_hat/white_hat/yellow_hat/red_hat/other...; workwear:
            # colours. Neither answer carries person boxes.
            result.objects = [
                DetectedObject(
                    label=str(item["classname"]),
                    box=_box_from_top_left_bottom_right(item["box"]),
                    score=_number(item["score"]),
                )
                for item in _as_list(found)
            ]
        elif api.answer == "fence":
            for index, item in enumerate(_as_list(found)):
                sent_image = request.prepared[min(index, len(request.prepared) - 1)]
                persons = [
                    # The fence answer gives no score: a reported target is taken as certain.
                    Person(
                        box=Box(
                            left=_number(spot["left"]),
                            top=_number(spot["top"]),
                            width=_number(spot["width"]),
                            height=_number(spot["height"]),
                        ),
                        score=1.0,
                    )
                    for spot in _as_list(item.get("location"))
                ]
                count = item.get("target_num")  # optional in 表 result
                result.per_image.append(
                    AnalysisResult(
                        vendor=VENDOR,
                        api=api.name,
                        frame_width=sent_image.width,
                        frame_height=sent_image.height,
                        persons=persons,
                        person_count=len(persons) if count is None else int(count),
                        request_id=request_id,
                    )
                )
            result.person_count = sum(item.person_count or 0 for item in result.per_image)
            if len(result.per_image) == 1:
                result.persons = list(result.per_image[0].persons)
        elif api.answer == "face_quality":
            result.face_quality = str(found["face_quality"])
        elif api.answer == "liveness":
            result.liveness = _as_bool(found["action_detected"])
        else:  # sequence_score
            result.sequence_score = _number(found["score"])
        return result
