"""CTYun's APIs (``4.3 API``): paths, answer shapes, error codes, frame limits, traits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..base import (
    PACKAGES,
    ApiSpec,
    AuthError,
    BackendError,
    BadRequest,
    QuotaExhausted,
    ServiceError,
    VendorTraits,
)
from ..images import CTYUN, CTYUN_FACE, ImageLimits
from .signing import DEFAULT_BASE_URL, MEGABYTE, VENDOR

# ---------------------------------------------------------------- the APIs (4.3 API)

# Per-API answer codes, with the seed's messages (used when an answer carries no details).
_HAT_AND_CLOTHES_CODES = {  # 4.3.1 安全帽正确佩戴识别, 4.3.2 工作服识别: 10、错误码说明
    4001: "请求未包含图片",
    4002: "图片文件大小不符合要求",
    4003: "base64 数据处理异常",
    4006: "请求数据格式错误",
}
_FENCE_CODES = {  # 4.3.3 电子围栏: 10、错误码说明
    4002: "请求体数据量超限，最大支持 35M",
    4004: "请求体格式错误，json 内容不能为空",
    4005: "请求参数中缺少关键字，仅支持 image 和 area",
    4006: "请求参数类型错误，image 仅支持 list",
    4007: "请求参数内容错误，list 不能为空或大于 32",
    4009: "请求参数内容错误，图像解析失败",
    4011: "请求参数类型错误，area 仅支持 string",
    4012: "请求参数内容错误，area 字符串不符合要求",
    4013: "请求参数错误，area 范围超出图像区域",
    5000: "服务错误",
    5001: "推理服务异常，请联系管理员",
    5002: "数据库服务异常，请联系管理员",
}
_FACE_QUALITY_CODES = {  # 4.3.4.1 人脸质量检测: 10、错误码说明
    4201: "请求内容错误",
    4202: "请求参数格式错误",
    4203: "图片解码失败",
    4204: "人脸探测异常，请确保为真实人脸！",
    4205: "所上传图片尺寸过大",
    4210: "有图片解码失败",
    4212: "请正对摄像头，请避免逆光环境！（或未检测到人脸）",
    4213: "有图片包含多张人脸",
    5000: "服务内部错误，请联系管理员",
}
_LIVENESS_CODES = {  # 4.3.4.2 动作活体检测: 10、错误码说明
    4201: "请求内容错误",
    4202: "请求参数格式错误",
    4203: "图片解码失败",
    4204: "人脸探测异常，请确保为真实人脸！",
    4205: "所上传图片尺寸过大",
    4207: "请上传至少 3 张图片",
    4208: "上传图片多于 35 张，请减少上传图片数量",
    4209: "请传输第“i”张图片",
    4210: "有图片解码失败",
    4212: "请正对摄像头，请避免逆光环境！",
    4213: "有图片包含多张人脸",
    5000: "服务内部错误，请联系管理员",
}
_ACTION_CODES = {  # 4.3.5 摔倒识别, 4.3.6 打架识别: 10、错误码说明
    4003: "请求体 json 解析错误，请求必须为 json 字典",
    4010: "请求参数缺少 images",
    4012: "请求类型错误，仅支持 list",
    4013: "图片数量不合法，应大于 0 且小于等于 64",
    4015: "图像解析失败",
    5000: "请求异常，请联系管理员",
    5001: "推理接口异常，请联系管理员",
}

# 4.1.3 状态码, 全局请求返回错误码: gateway codes, the same for every API.
GATEWAY_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    10002: (AuthError, "生成签名时官网 ak 信息错误"),
    10020: (AuthError, "签名错误"),
    40002: (AuthError, "缺少 appkey 头"),
    40006: (AuthError, "无效的 appkey"),
    40008: (BadRequest, "不支持的请求类型"),
    40009: (AuthError, "IP 未被 APP 授权"),
    40010: (AuthError, "IP 未被 API 授权"),
    50000: (ServiceError, "服务内部错误"),
    50001: (BadRequest, "服务未注册"),
    50002: (AuthError, "应用未开通"),
    50003: (BadRequest, "API 中无效的 URL 请求"),
    51001: (QuotaExhausted, "购买服务已过期"),
    51002: (QuotaExhausted, "收费 API 未购买"),
    51003: (QuotaExhausted, "API 可用次数已不足"),
}


@dataclass(frozen=True)
class CtyunApi:
    """One API: where it lives, how its body is shaped and what it accepts.

    ``shape`` is one of ``image`` (``{"image": b64}``), ``fence`` (``{"image": [b64...],
    "area": "x1,y1,..."}``), ``image_content`` (``{"imageContent": b64}``), ``numbered``
    (``{"image1Content": b64, ...}``) and ``images`` (``{"images": [b64...]}``).
    """

    name: str
    path: str
    shape: str
    answer: str  # objects, fence, face_quality, liveness, sequence_score
    limits: ImageLimits
    min_images: int = 1
    max_images: int = 1
    max_body_bytes: int | None = None
    codes: Mapping[int, str] = field(default_factory=dict)


def _liveness(name: str, path: str) -> CtyunApi:
    # 4.3.4.2 动作活体检测, 3、接口要求: 3 to 35 images, each at most 960x1280.
    return CtyunApi(name, path, "numbered", "liveness", CTYUN_FACE, 3, 35, codes=_LIVENESS_CODES)


_FACE = "/v1/aiop/api/{}/face-fas-action/person/{}"

CTYUN_APIS: dict[str, CtyunApi] = {
    api.name: api
    for api in (
        # 4.3.1 安全帽正确佩戴识别 / 4.3.2 工作服识别: one image per request
        # ("一次请求仅支持一条数据").
        CtyunApi(
            "helmet",
            "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect",
            "image",
            "objects",
            CTYUN,
            codes=_HAT_AND_CLOTHES_CODES,
        ),
        CtyunApi(
            "workwear",
            "/v1/aiop/api/2f3uj46hbd34/UniformIdentity/base/clothes_detect",
            "image",
            "objects",
            CTYUN,
            codes=_HAT_AND_CLOTHES_CODES,
        ),
        # 4.3.3 电子围栏: at most 32 images (4007), the whole request under 35M (4002).
        CtyunApi(
            "fence",
            "/v1/aiop/api/2grpyvxc23uo/ef-http/electron/fence",
            "fence",
            "fence",
            CTYUN,
            1,
            32,
            35 * MEGABYTE,
            codes=_FENCE_CODES,
        ),
        # 4.3.4.1 人脸质量检测: one image, at most 960x1280.
        CtyunApi(
            "face_quality",
            _FACE.format("2gkds6yod62o", "quality_detect_from_base64"),
            "image_content",
            "face_quality",
            CTYUN_FACE,
            codes=_FACE_QUALITY_CODES,
        ),
        _liveness("liveness_shake", _FACE.format("2glatwsypczk", "fas_shake_from_base64")),
        _liveness("liveness_up", _FACE.format("2glajezvpdc", "fas_up_from_base64")),
        _liveness("liveness_down", _FACE.format("2ghyetqcv20w", "fas_down_from_base64")),
        _liveness("liveness_left", _FACE.format("2glbm7cv6br4", "fas_left_from_base64")),
        _liveness("liveness_right", _FACE.format("2glbdqm0vtog", "fas_right_from_base64")),
        # "mouse" is the vendor's own spelling of the open-mouth path.
        _liveness("liveness_mouth", _FACE.format("2glbjq9sjhmo", "fas_mouse_from_base64")),
        _liveness("liveness_blink", _FACE.format("2glbhkc1yuiio", "fas_eye_from_base64")),
        # 4.3.5 摔倒识别 / 4.3.6 打架识别: 1 to 64 images (4013); "请求数据总大小不超过 250M"
        # in 3、接口要求 (the body table says 500M: the smaller limit is kept).
        CtyunApi(
            "fall",
            "/v1/aiop/api/2gm0y369n30g/action/falldown/images",
            "images",
            "sequence_score",
            CTYUN,
            1,
            64,
            250 * MEGABYTE,
            codes=_ACTION_CODES,
        ),
        CtyunApi(
            "fight",
            "/v1/aiop/api/2gm1xzigc2kg/action/fight/images",
            "images",
            "sequence_score",
            CTYUN,
            1,
            64,
            250 * MEGABYTE,
            codes=_ACTION_CODES,
        ),
    )
}


# What each API's answer fills (``CtyunApi.answer``), as ``ApiSpec`` result kinds.
_ANSWER_RESULTS = {
    "objects": frozenset({"objects"}),
    "fence": frozenset({"persons", "person_count", "per_image"}),
    "face_quality": frozenset({"face_quality"}),
    "liveness": frozenset({"liveness"}),
    "sequence_score": frozenset({"sequence_score"}),
}
# 4.3.5 摔倒识别, 3、接口要求: "图片数量不超过 64，建议 16 张以上连续图片"; 4.3.6 打架识别
# likewise ("支持 16 张图像的 base64 编码字符串构成的 list").
_ADVISED_FRAMES = {"fall": 16, "fight": 16}

CTYUN_SPECS: dict[str, ApiSpec] = {
    api.name: ApiSpec(
        api.name,
        min_frames=api.min_images,
        max_frames=api.max_images,
        advised_frames=_ADVISED_FRAMES.get(api.name),
        # Liveness images are one person's action: they cannot be split.
        split=api.shape != "numbered",
        region=api.shape == "fence",
        # 4.3.3 电子围栏, 5、请求参数 area: "大于 2 小于 10" points (4012).
        region_max_points=9 if api.shape == "fence" else None,
        results=_ANSWER_RESULTS[api.answer],
    )
    for api in CTYUN_APIS.values()
}

# 4.1.3 状态码: 51003 "API 可用次数已不足": the bought count is used up.
COUNT_USED_UP = "51003"

# Paid by packages of calls (and a yearly free quota); a request is counted once
# whatever its images (4.3.3 电子围栏, 4.3.5, 4.3.6 take up to 32 or 64).
TRAITS = VendorTraits(
    name=VENDOR,
    billing=PACKAGES,
    request_counts_whatever_frames=True,
    count_used_up_codes=frozenset({COUNT_USED_UP}),
    free_quota="yearly",
    default_base_url=DEFAULT_BASE_URL,
)
