"""Client for Baidu Body Analysis deployed privately on the customer's LAN.

Each capability is its own service on its own port of one host, all answering
``POST /GeneralClassifyService/classify`` with a JSON body (seed: ``私有化部署``,
``接口调用``). The client speaks the same language as the online client: ``call(api,
image, **params)`` with the online API names, a normalized ``AnalysisResult`` back or a
typed ``BackendError``. There is no access token: the services check their licence
with the local authorization service themselves (seed: ``部署说明``, ``鉴权服务部署``).

What differs per service, and lives in ``PRIVATE_SERVICES``: the default port, how the
request is enveloped, which parameters are understood, the answer's envelope and the
error table (the same number means different things on different services: 6 is "image
empty" on the attribute service and "auth verify error" on crowd counting).

``body_attr`` online detects every person and describes each one; the private
attribute service describes one person filling the whole image. The seed asks to
detect and crop first (``人体属性识别（单人版）``), so ``call("body_attr", ...)`` runs
the detection service, crops each person and asks the attribute service about each
crop; ``single_person=True`` sends the image to the attribute service as it is.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from monitoring.backends.baidu import normalize_answer as normalize_online_answer
from monitoring.backends.base import (
    LICENCE,
    MALFORMED,
    AnalysisResult,
    ApiSpec,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    OpenedByRegistry,
    Person,
    RateLimited,
    RequestRecorder,
    ServiceError,
    TransportError,
    Unsupported,
    VendorTraits,
    call_with_retries,
    is_replay,
)
from monitoring.backends.geometry import read_area
from monitoring.backends.images import ImageLimits, PreparedImage, decode_image, prepare_image

VENDOR = "baidu_private"
CLASSIFY_PATH = "/GeneralClassifyService/classify"

# What the services accept (seed: 接口调用说明): sides between 50 and 4096 px (人体检测 and
# 人体属性识别 error 216202/7 "image size not between 50 and 4096"), aspect ratio within
# 0.1-10 (人体关键点识别, 请求参数 image), JPG/PNG/BMP (驾驶行为分析). The seed names no
# size limit for the private services: the online API's 4 MB is kept.
PRIVATE_LIMITS = ImageLimits(
    name="baidu_private",
    max_encoded_bytes=4_000_000,
    min_side=50,
    max_side=4096,
    max_aspect=10.0,
    formats=("JPEG", "PNG", "BMP"),
)

# The attribute service refuses images whose width or height is below 50 px
# (seed: 人体属性识别（单人版）, 请求参数 image): smaller persons are not sent to it.
MIN_ATTRIBUTE_SIDE = 50

# 人流量统计, 请求参数 area: "最多支持10个区域".
MAX_AREAS = 10

# Attribute service codes that refuse one crop's pixels (base64 unreadable, image
# empty, size out of range): that person keeps no attributes, the call goes on.
CROP_REFUSALS = frozenset({5, 6, 7})

# ---------------------------------------------------------------- error tables
#
# Per service, vendor code -> (error class, meaning). Input problems are permanent,
# failures inside the service are retried (bounded), licence problems go to an admin.

_IMAGE_ERRORS_216: dict[int, tuple[type[BackendError], str]] = {
    216100: (BadRequest, "input json could not be parsed"),
    216101: (BadRequest, "no image in the input"),
    216200: (BadRequest, "image empty"),
    216201: (BadRequest, "image could not be loaded"),
    216202: (BadRequest, "image size or ratio out of range"),
    216203: (BadRequest, "image could not be processed"),
}

# 人体关键点识别, 错误码表
_KEYPOINT_ERRORS = dict(_IMAGE_ERRORS_216)

# 人体检测, 错误码表: 216401 is shared by configuration, prediction, encoding, input
# parsing and authorization failures; the message tells them apart (see
# ``_DETECTION_216401``).
_DETECTION_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    216101: (BadRequest, "no image in the input"),
    216200: (BadRequest, "image empty"),
    216202: (BadRequest, "image size not between 50 and 4096"),
    216401: (ServiceError, "detection failed inside the service"),
}
_DETECTION_216401: tuple[tuple[str, type[BackendError], str], ...] = (
    ("auth verify", AuthError, "licence check failed"),
    ("input parsing", BadRequest, "base64 image could not be read"),
)

# 人体属性识别（单人版）, 错误码表; 驾驶行为分析 documents the same table.
_ATTRIBUTE_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    1: (ServiceError, "service configuration could not be read"),
    2: (ServiceError, "box prediction failed"),
    3: (ServiceError, "attribute prediction failed"),
    4: (BadRequest, "no image in the input"),
    5: (BadRequest, "base64 image could not be read"),
    6: (BadRequest, "image empty"),
    7: (BadRequest, "image size not between 50 and 4096"),
    8: (BadRequest, "type parameter holds no known attribute"),
}

# 人流量统计, 错误码表
_CROWD_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    1: (BadRequest, "no image in the input"),
    2: (BadRequest, "input could not be parsed"),
    3: (BadRequest, "image empty"),
    4: (BadRequest, "image smaller than 50 px"),
    5: (ServiceError, "heatmap prediction failed"),
    6: (AuthError, "licence check failed"),
    7: (ServiceError, "detection prediction failed"),
}

# 手势识别, 错误码表
_GESTURE_ERRORS = {**_IMAGE_ERRORS_216, 216204: (AuthError, "not authenticated")}

# 手部关键点识别, 错误码表
_HAND_ERRORS = {**_IMAGE_ERRORS_216, 216401: (AuthError, "not authenticated")}

# 人像分割, 错误码表
_SEGMENTATION_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    216100: (BadRequest, "parameter invalid"),
    216200: (BadRequest, "image invalid"),
    216201: (BadRequest, "image format wrong"),
    216401: (ServiceError, "prediction failed"),
}


# ---------------------------------------------------------------- normalizers
#
# Where a private service answers in the online API's shape (once ``result`` is
# decoded), the online normalization is reused; the client then stamps vendor, api,
# frame size, request id and the raw answer.

Normalizer = Callable[[Mapping[str, Any]], AnalysisResult]


def _online(api: str) -> Normalizer:
    def normalize(result: Mapping[str, Any]) -> AnalysisResult:
        return normalize_online_answer(api, result)

    return normalize


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def normalize_detection(result: Mapping[str, Any]) -> AnalysisResult:
    """人体检测 (no online twin): det_res[] with left/top/width/height and probability."""
    out = AnalysisResult(vendor=VENDOR, api="body_detection")
    for det in result.get("det_res") or []:
        if isinstance(det, Mapping):
            box = Box(
                left=_num(det.get("left")),
                top=_num(det.get("top")),
                width=_num(det.get("width")),
                height=_num(det.get("height")),
            )
            out.persons.append(Person(box=box, score=_num(det.get("probability"))))
    try:
        out.person_count = int(result.get("person_num", len(out.persons)))
    except (TypeError, ValueError):
        out.person_count = len(out.persons)
    return out


def normalize_gesture(result: Mapping[str, Any]) -> AnalysisResult:
    """手势识别: the boxes are under ``object`` where the online API has ``result``."""
    return normalize_online_answer("gesture", {"result": result.get("object") or []})


def normalize_driver(result: Mapping[str, Any]) -> AnalysisResult:
    """驾驶行为分析: the online shape, {behaviour: {score, threshold}}.

    The private page's table repeats the attribute service's {name, score}; such an
    entry has no threshold, is not a behaviour and stays in ``raw`` only.
    """
    entries = []
    for info in result.get("person_info") or []:
        if isinstance(info, Mapping) and isinstance(info.get("attributes"), Mapping):
            behaviours = {
                name: item
                for name, item in info["attributes"].items()
                if isinstance(item, Mapping) and "threshold" in item
            }
            info = {**info, "attributes": behaviours}
        entries.append(info)
    return normalize_online_answer("driver_behavior", {**result, "person_info": entries})


# ---------------------------------------------------------------- parameters


def _area_in_sent_frame(
    polygons: list[list[tuple[float, float]]], prepared: PreparedImage
) -> list[list[int]]:
    """Seed 人流量统计, 请求参数 area: at most 10 polygons; coordinates below the image's
    size, from 1 ("area取值范围为1~1079、1~719" for 1080 x 720); one bad coordinate and
    the service silently counts the whole image. Such an area is refused here; a good
    one is written in pixels of the frame sent."""
    if not polygons:
        raise ValueError("area holds no polygon")
    if len(polygons) > MAX_AREAS:
        raise ValueError(f"area holds {len(polygons)} polygons; at most {MAX_AREAS}")
    width, height = prepared.original_width, prepared.original_height
    flat = []
    for index, polygon in enumerate(polygons, start=1):
        numbers: list[int] = []
        for x, y in polygon:
            if not (1 <= x < width and 1 <= y < height):
                raise ValueError(
                    f"area polygon {index}: point ({x:g}, {y:g}) is outside "
                    f"1..{width - 1} x 1..{height - 1} of the {width}x{height} image"
                )
            sent_x, sent_y = prepared.to_sent(x, y)
            numbers.append(min(max(round(sent_x), 1), prepared.width - 1))
            numbers.append(min(max(round(sent_y), 1), prepared.height - 1))
        flat.append(numbers)
    return flat


def _show_level(value: Any) -> int:
    """``show`` is 0..3 on the private service (0 = no rendered image); the online
    ``true``/``false`` reads as 1/0 (seed: 人流量统计, 请求参数 show)."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return 1 if value.lower() == "true" else 0
    return max(0, min(3, int(value)))


def _flag(value: Any) -> int:
    if isinstance(value, str):
        return 1 if value.lower() in ("1", "true") else 0
    return 1 if value else 0


# ---------------------------------------------------------------- services


@dataclass(frozen=True)
class PrivateService:
    """One privately deployed service: where it listens and how it speaks."""

    name: str
    port: int
    normalize: Normalizer
    errors: Mapping[int, tuple[type[BackendError], str]]
    # parameter name -> converter to the value the service expects
    params: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    path: str = CLASSIFY_PATH
    # "json": data = base64(json({"image": base64(img), ...params}));
    # "image": data = base64(img) (人像分割 documents no inner JSON)
    envelope: str = "json"


PRIVATE_SERVICES: dict[str, PrivateService] = {
    # 人体关键点识别: port 8124; the answer carries result as an object.
    "body_analysis": PrivateService(
        name="body_analysis", port=8124, normalize=_online("body_analysis"), errors=_KEYPOINT_ERRORS
    ),
    # 人体检测: port 8125; result is base64-encoded JSON.
    "body_detection": PrivateService(
        name="body_detection",
        port=8125,
        normalize=normalize_detection,
        errors=_DETECTION_ERRORS,
        params={"return_crop": _flag},
    ),
    # 人体属性识别（单人版）: port 8126; result is base64-encoded JSON.
    "body_attr": PrivateService(
        name="body_attr",
        port=8126,
        normalize=_online("body_attr"),
        errors=_ATTRIBUTE_ERRORS,
        params={"type": str},
    ),
    # 人流量统计: port 8122; result is base64-encoded JSON.
    "body_num": PrivateService(
        name="body_num",
        port=8122,
        normalize=_online("body_num"),
        errors=_CROWD_ERRORS,
        params={"area": read_area, "show": _show_level},
    ),
    # 手势识别: port 8120; result is a JSON string.
    "gesture": PrivateService(
        name="gesture", port=8120, normalize=normalize_gesture, errors=_GESTURE_ERRORS
    ),
    # 手部关键点识别: port 8128; result is base64-encoded JSON.
    "hand_analysis": PrivateService(
        name="hand_analysis", port=8128, normalize=_online("hand_analysis"), errors=_HAND_ERRORS
    ),
    # 人像分割: port 8127; the request's data is the base64 image itself, result an object.
    "body_seg": PrivateService(
        name="body_seg",
        port=8127,
        normalize=_online("body_seg"),
        errors=_SEGMENTATION_ERRORS,
        envelope="image",
    ),
    # 驾驶行为分析: port 8132; result is base64-encoded JSON.
    "driver_behavior": PrivateService(
        name="driver_behavior",
        port=8132,
        normalize=normalize_driver,
        errors=_ATTRIBUTE_ERRORS,
        params={"type": str, "wheel_location": lambda v: str(int(v))},
    ),
}


# What each service needs and gives: one image per request (the attribute service's
# detect-then-describe makes one request per person, each recorded on its own).
_SERVICE_RESULTS = {
    "body_analysis": frozenset({"persons", "person_count"}),
    "body_detection": frozenset({"persons", "person_count"}),
    "body_attr": frozenset({"persons", "person_count"}),
    "body_num": frozenset({"person_count", "area_counts", "images"}),
    "gesture": frozenset({"objects"}),
    "hand_analysis": frozenset({"objects"}),
    "body_seg": frozenset({"images"}),
    "driver_behavior": frozenset({"drivers"}),
}
PRIVATE_SPECS: dict[str, ApiSpec] = {
    name: ApiSpec(
        name,
        region="area" in service.params,
        # Licensed per server (seed: 私有化部署, 申请私有化部署包): no request is counted.
        metered=False,
        results=_SERVICE_RESULTS[name],
    )
    for name, service in PRIVATE_SERVICES.items()
}

# Runs on the customer's own servers under a licence; the address of its host is needed
# and each service listens on its own port (seed: 接口调用).
TRAITS = VendorTraits(name=VENDOR, billing=LICENCE, base_url="required", service_ports=True)


def routes_by_path(settings: ClientSettings) -> bool:
    """Whether the services are told apart by path under ``base_url`` (see
    ``BaiduPrivateClient.url_for``) rather than by port."""
    if settings.ports:
        return False
    base = settings.base_url if "://" in settings.base_url else f"http://{settings.base_url}"
    return httpx.URL(base).path.rstrip("/") != ""


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
