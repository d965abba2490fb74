"""``BaiduPrivateClient``: requests to the private services, answers read, crops."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from monitoring.backends.base import (
    MALFORMED,
    AnalysisResult,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    OpenedByRegistry,
    RateLimited,
    RequestRecorder,
    ServiceError,
    TransportError,
    Unsupported,
    call_with_retries,
    is_replay,
)
from monitoring.backends.images import PreparedImage, decode_image, prepare_image

from .services import (
    _DETECTION_216401,
    CROP_REFUSALS,
    MIN_ATTRIBUTE_SIDE,
    PRIVATE_LIMITS,
    PRIVATE_SERVICES,
    PRIVATE_SPECS,
    TRAITS,
    VENDOR,
    PrivateService,
    _area_in_sent_frame,
    _num,
    routes_by_path,
)

# ---------------------------------------------------------------- answers


def _decode_result(value: Any) -> Any:
    """``result`` comes as an object (关键点, 人像分割), as a JSON string (手势识别) or
    as base64 of JSON (人体检测, 属性, 人流量, 手部关键点, 驾驶行为)."""
    if value is None or value == "":
        return {}
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("{", "["):
        return json.loads(text)
    return json.loads(base64.b64decode(text, validate=True).decode("utf-8"))


def _vendor_code(answer: Mapping[str, Any]) -> tuple[int | str, str]:
    """The services name the code ``err_no``, ``error_code`` (返回格式) or
    ``err_code`` (some 错误码表), sometimes as a string."""
    code: Any = 0
    for key in ("err_no", "error_code", "err_code"):
        if key in answer and answer[key] not in (None, ""):
            code = answer[key]
            break
    message = str(answer.get("err_msg") or answer.get("error_msg") or "")
    if isinstance(code, str):
        code = int(code) if code.strip().lstrip("-").isdigit() else code.strip()
    return code, message


def _vendor_error(
    service: PrivateService, code: int | str, message: str, answer: Any
) -> BackendError:
    """A code the seed does not list is taken as a failure inside the service."""
    unknown: tuple[type[BackendError], str] = (ServiceError, "unknown error")
    cls, meaning = service.errors.get(code, unknown) if isinstance(code, int) else unknown
    if service.name == "body_detection" and code == 216401:
        lowered = message.lower()
        for needle, needle_cls, needle_meaning in _DETECTION_216401:
            if needle in lowered:
                cls, meaning = needle_cls, needle_meaning
                break
    text = f"{meaning}: {message}" if message else meaning
    return cls(text, vendor=VENDOR, api=service.name, code=code, raw=answer)


def _http_error(service: PrivateService, response: httpx.Response) -> BackendError:
    """The seed documents no HTTP statuses: they come from the service's web server
    or a proxy in front of it."""
    status = response.status_code
    kwargs: dict[str, Any] = {
        "vendor": VENDOR,
        "api": service.name,
        "code": f"http_{status}",
        "http_status": status,
        "raw": response.text[:2000],
    }
    message = f"HTTP {status} from {response.request.url}"
    if status in (401, 403):
        return AuthError(message, **kwargs)
    if status == 429:
        retry_after = _num(response.headers.get("retry-after"), 0.0) or None
        return RateLimited(message, retry_after=retry_after, **kwargs)
    if status >= 500 or status == 408:
        return ServiceError(message, **kwargs)
    return BadRequest(message, **kwargs)


# ---------------------------------------------------------------- the client


class BaiduPrivateClient(OpenedByRegistry):
    """Calls the privately deployed Body Analysis services on ``settings.base_url``'s
    host, one port per service (``PRIVATE_SERVICES``, overridden by
    ``settings.ports``)."""

    vendor = VENDOR
    traits = TRAITS
    api_specs = PRIVATE_SPECS

    def __init__(
        self,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        breaker: CircuitBreaker | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.hooks = hooks or CallHooks()
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.timeout = httpx.Timeout(
            settings.timeouts.read,
            connect=settings.timeouts.connect,
            pool=settings.timeouts.connect,
        )
        self._owns_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=self.timeout)
        self.sleep = sleep
        base = settings.base_url if "://" in settings.base_url else f"http://{settings.base_url}"
        self._base = httpx.URL(base)
        self._account = settings.account or self._base.host

    # -- lifecycle

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> BaiduPrivateClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public

    def analyze(
        self, api: str, images: list[bytes], params: dict[str, Any] | None = None
    ) -> AnalysisResult:
        """``call`` in the registry's shape: one image per request."""
        if len(images) != 1:
            raise BadRequest(f"{api} takes one image, got {len(images)}", vendor=VENDOR, api=api)
        return self.call(api, images[0], **(params or {}))

    def url_for(self, service_name: str) -> str:
        """Where ``service_name`` listens.

        A ``base_url`` with a path and no ``settings.ports`` (a proxy in front of the
        services, or the built-in sandbox at ``<server>/sandbox/baidu-private``) tells
        the services apart by path: ``<base_url>/<service>/GeneralClassifyService/classify``.
        Otherwise each service has its own port on ``base_url``'s host (seed: 接口调用,
        "端口默认为" under each service; ``settings.ports`` first)."""
        service = PRIVATE_SERVICES[service_name]
        if routes_by_path(self.settings):
            prefix = self._base.path.rstrip("/")
            return str(self._base.copy_with(path=f"{prefix}/{service_name}{service.path}"))
        port = self.settings.ports.get(service_name, service.port)
        return str(self._base.copy_with(port=port, path=service.path, query=None))

    def call(self, api: str, image: bytes, **params: Any) -> AnalysisResult:
        """Analyze one image with ``api`` (the online names, plus ``body_detection``).

        Boxes and keypoints are in pixels of the frame sent (``frame_width`` x
        ``frame_height``); an ``area`` for ``body_num`` is given in pixels of ``image``.
        """
        # body_tracking and fingertip have no private package (seed: 产品功能).
        if api not in PRIVATE_SERVICES:
            raise Unsupported(
                f"{api!r} is not offered by the private deployment", vendor=VENDOR, api=api
            )
        if api == "body_attr" and not params.pop("single_person", False):
            attribute_params = self._check_params(PRIVATE_SERVICES["body_attr"], params)
            prepared = prepare_image(image, PRIVATE_LIMITS)
            return self._detect_then_describe(prepared, attribute_params)
        service = PRIVATE_SERVICES[api]
        converted = self._check_params(service, params)
        prepared = prepare_image(image, PRIVATE_LIMITS)
        if "area" in converted:
            try:
                converted["area"] = _area_in_sent_frame(converted["area"], prepared)
            except ValueError as error:
                raise BadRequest(f"area: {error}", vendor=VENDOR, api=api) from error
        return self._call_service(
            service, prepared.data, converted, (prepared.width, prepared.height)
        )

    # -- composition

    def _detect_then_describe(
        self, prepared: PreparedImage, attribute_params: Mapping[str, Any]
    ) -> AnalysisResult:
        """Every person found by 人体检测, described by 人体属性识别（单人版） from its crop.

        A crop the attribute service refuses as bad input leaves that person without
        attributes; any other failure fails the call.
        """
        detector = PRIVATE_SERVICES["body_detection"]
        describer = PRIVATE_SERVICES["body_attr"]
        result = self._call_service(detector, prepared.data, {}, (prepared.width, prepared.height))
        frame = decode_image(prepared.data)
        answers: list[Any] = []
        replayed = result.replay
        for person in result.persons:
            crop = _crop(frame, person.box)
            if crop is None:
                answers.append(None)
                continue
            data, size = crop
            try:
                described = self._call_service(describer, data, attribute_params, size)
            except BadRequest as error:
                if error.code not in CROP_REFUSALS:
                    raise
                answers.append(error.raw)
                continue
            answers.append(described.raw)
            replayed = replayed or described.replay
            if described.persons:
                person.attributes = described.persons[0].attributes
        result.api = "body_attr"
        result.replay = replayed
        result.raw = {"detection": result.raw, "attributes": answers}
        return result

    # -- one service

    def _check_params(self, service: PrivateService, params: Mapping[str, Any]) -> dict[str, Any]:
        converted: dict[str, Any] = {}
        for name, value in params.items():
            if value is None:
                continue
            if name not in service.params:
                raise BadRequest(
                    f"parameter {name!r} is not understood by the private {service.name} service",
                    vendor=VENDOR,
                    api=service.name,
                )
            try:
                converted[name] = service.params[name](value)
            except (TypeError, ValueError) as error:
                raise BadRequest(
                    f"parameter {name!r}: {error}", vendor=VENDOR, api=service.name
                ) from error
        return converted

    def _call_service(
        self,
        service: PrivateService,
        image: bytes,
        params: Mapping[str, Any],
        size: tuple[int, int],
    ) -> AnalysisResult:
        url = self.url_for(service.name)
        body = _request_body(service, image, params)
        return call_with_retries(
            lambda number: self._attempt(service, url, body, size, number),
            self.settings.retry,
            sleep=self.sleep,
            breaker=self.breaker,
            account=self._account,
            api=service.name,
        )

    def _attempt(
        self,
        service: PrivateService,
        url: str,
        body: dict[str, str],
        size: tuple[int, int],
        number: int,
    ) -> AnalysisResult:
        """One request, reported to the hooks through one ``RequestRecorder``."""
        recorder = RequestRecorder(self.hooks, vendor=VENDOR, api=service.name, attempt=number)
        recorder.before()
        response = recorder.post(self.http, url, json=body, timeout=self.timeout)
        if response.status_code != 200:
            raise recorder.failed(_http_error(service, response))
        try:
            answer, result = _read_answer(service, response)
            normalized = dataclasses.replace(
                service.normalize(result),
                vendor=VENDOR,
                api=service.name,
                frame_width=size[0],
                frame_height=size[1],
                request_id=str(answer.get("log_id") or result.get("log_id") or recorder.request_id),
                replay=is_replay(response),
                raw=answer,
            )
        except BackendError as vendor_error:
            recorder.failed(vendor_error)
            raise
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as error:
            raise recorder.failed(
                TransportError(
                    f"malformed answer from {url}: {error}",
                    vendor=VENDOR,
                    api=service.name,
                    code=MALFORMED,
                    raw=response.text[:2000],
                )
            ) from error
        recorder.succeeded()
        return normalized


def _request_body(service: PrivateService, image: bytes, params: Mapping[str, Any]) -> dict:
    """The JSON body (seed: 请求参数构造及python代码示例 under each service)."""
    encoded_image = base64.b64encode(image).decode("ascii")
    if service.envelope == "image":
        return {"data": encoded_image}
    inner = json.dumps({"image": encoded_image, **params}, ensure_ascii=False)
    return {"data": base64.b64encode(inner.encode("utf-8")).decode("ascii")}


def _read_answer(
    service: PrivateService, response: httpx.Response
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer's JSON and its decoded ``result``, or the typed vendor error."""
    answer = response.json()
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    code, message = _vendor_code(answer)
    if code != 0:
        raise _vendor_error(service, code, message, answer)
    # The seed shows several answers only decoded, without the envelope: take them whole.
    result = _decode_result(answer["result"]) if "result" in answer else answer
    if not isinstance(result, dict):
        raise ValueError("result is not a JSON object")
    return answer, result


# ---------------------------------------------------------------- pixels


def _crop(frame: Any, box: Box) -> tuple[bytes, tuple[int, int]] | None:
    """The person's box cut out of the frame as JPEG with its size, or None when a side
    is below what the attribute service accepts."""
    left, top = max(0, round(box.left)), max(0, round(box.top))
    right, bottom = min(frame.width, round(box.right)), min(frame.height, round(box.bottom))
    if right - left < MIN_ATTRIBUTE_SIDE or bottom - top < MIN_ATTRIBUTE_SIDE:
        return None
    patch = frame.crop((left, top, right, bottom))
    if patch.mode != "RGB":
        patch = patch.convert("RGB")
    buffer = io.BytesIO()
    patch.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), patch.size
