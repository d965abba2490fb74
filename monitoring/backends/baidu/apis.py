"""Baidu's online APIs (seed ``API文档``): paths, the parameters each takes, the
vendor's traits and the limits of areas and tracking cases."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import (
    PER_CALL,
    ApiSpec,
    VendorTraits,
)

VENDOR = "baidu"
TOKEN_PATH = "/oauth/2.0/token"  # noqa: S105 (a path, not a secret)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# ---------------------------------------------------------------- the APIs


@dataclass(frozen=True)
class BaiduApi:
    """One online API: its name in ``call``, its path, the seed's heading for it and
    the parameters it takes besides ``image``."""

    name: str
    path: str
    title: str
    params: frozenset[str] = frozenset()


def _api(name: str, title: str, *params: str) -> BaiduApi:
    return BaiduApi(name, f"/rest/2.0/image-classify/v1/{name}", title, frozenset(params))


# Paths from each API's `请求说明` ("请求URL"); parameters from its `请求参数` table.
BAIDU_APIS: dict[str, BaiduApi] = {
    api.name: api
    for api in (
        _api("body_analysis", "人体关键点识别"),
        _api("body_attr", "人体检测和属性识别", "type"),
        _api("body_num", "人流量统计", "area", "show"),
        _api(
            "body_tracking", "人流量统计-动态版", "dynamic", "case_id", "case_init", "area", "show"
        ),
        _api("gesture", "手势识别"),
        _api("body_seg", "人像分割", "type"),
        _api("driver_behavior", "驾驶行为分析", "type", "wheel_location"),
        _api("hand_analysis", "手部关键点识别"),
        _api("fingertip", "指尖检测（邀测）"),
    )
}

# What each API needs and gives (one image per request everywhere; `请求参数` image).
BAIDU_SPECS: dict[str, ApiSpec] = {
    spec.name: spec
    for spec in (
        ApiSpec("body_analysis", results=frozenset({"persons", "person_count"})),
        ApiSpec("body_attr", results=frozenset({"persons", "person_count"})),
        ApiSpec(
            "body_num", region=True, results=frozenset({"person_count", "area_counts", "images"})
        ),
        ApiSpec(
            "body_tracking",
            region=True,
            results=frozenset({"persons", "person_count", "flow_in", "flow_out"}),
        ),
        ApiSpec("gesture", results=frozenset({"objects"})),
        ApiSpec("body_seg", results=frozenset({"images"})),
        ApiSpec("driver_behavior", results=frozenset({"drivers"})),
        ApiSpec("hand_analysis", results=frozenset({"objects"})),
        ApiSpec("fingertip", results=frozenset({"objects"})),
    )
}
assert set(BAIDU_SPECS) == set(BAIDU_APIS)

# Paid per successful call in graduated tiers, after a free trial quota per API.
TRAITS = VendorTraits(
    name=VENDOR,
    billing=PER_CALL,
    free_quota="trial",
    sells_qps=True,
    default_base_url="https://aip.baidubce.com",
)

# `人体关键点识别` > `接口描述`: "头顶、左耳、右耳、左眼、右眼、鼻子、左嘴角、右嘴角、脖子、左肩、
# 右肩、左手肘、右手肘、左手腕、右手腕、左髋部、右髋部、左膝、右膝、左脚踝、右脚踝", with the
# field names of `返回参数` (body_parts). More may come ("正在持续扩展更多关键点"): parts
# not listed here are kept after these, by name.
BODY_KEYPOINTS: tuple[str, ...] = (
    "top_head",
    "left_ear",
    "right_ear",
    "left_eye",
    "right_eye",
    "nose",
    "left_mouth_corner",
    "right_mouth_corner",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# `人体检测和属性识别` > `请求参数` type: the values of its "可选值范围" column plus
# side_cut, which only its "可选值说明" names.
BODY_ATTR_TYPES: frozenset[str] = frozenset(
    {
        "gender",
        "age",
        "lower_wear",
        "upper_wear",
        "headwear",
        "face_mask",
        "glasses",
        "upper_color",
        "lower_color",
        "cellphone",
        "upper_wear_fg",
        "upper_wear_texture",
        "lower_wear_texture",
        "orientation",
        "umbrella",
        "bag",
        "smoke",
        "vehicle",
        "carrying_item",
        "upper_cut",
        "lower_cut",
        "side_cut",
        "occlusion",
        "is_human",
    }
)

# `人像分割` > `请求参数` type.
BODY_SEG_TYPES: tuple[str, ...] = ("labelmap", "scoremap", "foreground")

# `驾驶行为分析` > `请求参数` type.
DRIVER_BEHAVIOUR_TYPES: tuple[str, ...] = (
    "smoke",
    "cellphone",
    "not_buckling_up",
    "both_hands_leaving_wheel",
    "not_facing_front",
    "no_face_mask",
    "yawning",
    "eyes_closed",
    "head_lowered",
)

# `指尖检测（邀测）` > `返回参数` hand_parts: 0 食指指尖, 1 食指中间关节, 2 食指指根,
# 3 中指中间关节, 4 中指指根.
FINGERTIP_KEYPOINTS: tuple[str, ...] = (
    "index_tip",
    "index_middle_joint",
    "index_base",
    "middle_middle_joint",
    "middle_base",
)

# `body_num` > `请求参数` area: "最多支持10个区域".
MAX_AREAS = 10
# `人流量统计-动态版` > `请求参数` area: "大于3个顶点", "只支持单个多边形区域".
MIN_TRACKING_POINTS = 4
CASE_ID_MAX = 2**31 - 1  # case_id is an int32
