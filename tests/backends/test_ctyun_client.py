"""The CTYun client against a faked vendor (respx): request shapes, the seed's example
answers, every documented code, retries, input checks, hooks and the breaker.

Paths, codes and example answers below are copied from the seed's ``4.3 API`` and
``4.1.3 状态码`` on purpose, independently of the module's own tables.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json

import httpx
import pytest
import respx
from PIL import Image

from monitoring.backends.base import (
    AuthError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    CircuitOpen,
    ClientSettings,
    InvalidImage,
    QuotaExhausted,
    RateLimited,
    RefusedLocally,
    RetryPolicy,
    ServiceError,
    Timeouts,
    TransportError,
    Unsupported,
)
from monitoring.backends.ctyun import CTYUN_APIS, CtyunClient, eop_authorization
from monitoring.backends.ctyun import client as ctyun_client
from monitoring.backends.images import PreparedImage

BASE = "https://ai-global.ctapi.ctyun.cn"
AK, SK, APP_KEY = "ak-test", "sk-test", "562b89493b1a40e1b97ea05e50dd8170"
MAX_ATTEMPTS = 3


def make_jpeg(width: int = 320, height: int = 240) -> bytes:
    image = Image.new("RGB", (width, height))
    pixels = [
        ((x * 7) % 256, (y * 5) % 256, (x + y) % 256) for y in range(height) for x in range(width)
    ]
    image.putdata(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


JPEG = make_jpeg()  # 320x240, sent unchanged: plain RGB JPEG well within every limit
JPEG_URLSAFE = base64.urlsafe_b64encode(JPEG).decode()

# 4.3 API, 4、请求 URL
SEED_PATHS = {
    "helmet": "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect",
    "workwear": "/v1/aiop/api/2f3uj46hbd34/UniformIdentity/base/clothes_detect",
    "fence": "/v1/aiop/api/2grpyvxc23uo/ef-http/electron/fence",
    "face_quality": "/v1/aiop/api/2gkds6yod62o/face-fas-action/person/quality_detect_from_base64",
    "liveness_shake": "/v1/aiop/api/2glatwsypczk/face-fas-action/person/fas_shake_from_base64",
    "liveness_up": "/v1/aiop/api/2glajezvpdc/face-fas-action/person/fas_up_from_base64",
    "liveness_down": "/v1/aiop/api/2ghyetqcv20w/face-fas-action/person/fas_down_from_base64",
    "liveness_left": "/v1/aiop/api/2glbm7cv6br4/face-fas-action/person/fas_left_from_base64",
    "liveness_right": "/v1/aiop/api/2glbdqm0vtog/face-fas-action/person/fas_right_from_base64",
    "liveness_mouth": "/v1/aiop/api/2glbjq9sjhmo/face-fas-action/person/fas_mouse_from_base64",
    "liveness_blink": "/v1/aiop/api/2glbhkc1yuiio/face-fas-action/person/fas_eye_from_base64",
    "fall": "/v1/aiop/api/2gm0y369n30g/action/falldown/images",
    "fight": "/v1/aiop/api/2gm1xzigc2kg/action/fight/images",
}
LIVENESS = [name for name in SEED_PATHS if name.startswith("liveness_")]

# ---------------------------------------------------------------- the seed's example answers

HELMET_ANSWER = {  # 4.3.1, 8、返回值示例
    "code": 0,
    "message": "success",
    "result": [
        {"box": [15, 72, 84, 129], "classname": "blue_hat", "score": 0.9998},
        {"box": [44, 107, 104, 200], "classname": "blue_hat", "score": 0.9984},
    ],
}
WORKWEAR_ANSWER = {  # 4.3.2, 8、返回值示例
    "code": 0,
    "message": "success",
    "result": [
        {"box": [15, 72, 84, 129], "classname": "blue", "score": 0.9998},
        {"box": [44, 107, 104, 200], "classname": "blue", "score": 0.9984},
    ],
}
# 4.3.3, 8、返回值示例. The seed's text is broken JSON (the second target's fields spill out
# of the location list); repaired here as the two targets that target_num 2 announces.
FENCE_ANSWER = {
    "code": 0,
    "message": {"success": 1, "fail": 0},
    "result": [
        {
            "target_num": 2,
            "location": [
                {"left": 209, "top": 229, "width": 341, "height": 1202},
                {"left": 971, "top": 409, "width": 387, "height": 1149},
            ],
        }
    ],
}
FACE_QUALITY_ANSWER = {"code": 0, "message": "success", "result": {"face_quality": "good"}}
LIVENESS_DETECTED = {"code": 0, "message": "success", "result": {"action_detected": True}}
LIVENESS_NOT_DETECTED = {"code": 0, "message": "success", "result": {"action_detected": False}}
FALL_ANSWER = {"code": 0, "message": "success", "result": {"score": 0.001}}  # 4.3.5
FIGHT_ANSWER = {"code": 0, "message": "success", "result": {"score": 0.001}}  # 4.3.6

SUCCESS = {
    "helmet": HELMET_ANSWER,
    "workwear": WORKWEAR_ANSWER,
    "fence": FENCE_ANSWER,
    "face_quality": FACE_QUALITY_ANSWER,
    **dict.fromkeys(LIVENESS, LIVENESS_DETECTED),
    "fall": FALL_ANSWER,
    "fight": FIGHT_ANSWER,
}
FULL_AREA = "0,0,320,0,320,240,0,240"
PARAMS = {"fence": {"area": FULL_AREA}}
IMAGE_COUNTS = {"fence": 2, **dict.fromkeys(LIVENESS, 6), "fall": 16, "fight": 16}

# 4.3 API, 10、错误码说明, per API
HAT_CODES = [4001, 4002, 4003, 4006]
FENCE_CODES = [4002, 4004, 4005, 4006, 4007, 4009, 4011, 4012, 4013, 5000, 5001, 5002]
FACE_QUALITY_CODES = [4201, 4202, 4203, 4204, 4205, 4210, 4212, 4213, 5000]
LIVENESS_CODES = [4201, 4202, 4203, 4204, 4205, 4207, 4208, 4209, 4210, 4212, 4213, 5000]
ACTION_CODES = [4003, 4010, 4012, 4013, 4015, 5000, 5001]
DOCUMENTED_CODES = (
    [("helmet", code) for code in HAT_CODES]
    + [("workwear", code) for code in HAT_CODES]
    + [("fence", code) for code in FENCE_CODES]
    + [("face_quality", code) for code in FACE_QUALITY_CODES]
    + [(api, code) for api in LIVENESS for code in LIVENESS_CODES]
    + [("fall", code) for code in ACTION_CODES]
    + [("fight", code) for code in ACTION_CODES]
)

# 4.1.3 状态码, 全局请求返回错误码 -> what a client must do
GATEWAY_CODES = [
    (10002, AuthError),
    (10020, AuthError),
    (40002, AuthError),
    (40006, AuthError),
    (40008, BadRequest),
    (40009, AuthError),
    (40010, AuthError),
    (50000, ServiceError),
    (50001, BadRequest),
    (50002, AuthError),
    (50003, BadRequest),
    (51001, QuotaExhausted),
    (51002, QuotaExhausted),
    (51003, QuotaExhausted),
]


# ---------------------------------------------------------------- fixtures


class RecordingHooks(CallHooks):
    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.before_calls: list[tuple[str, str, str]] = []
        self.sent = []  # the attempts announced by ``sending``, in order
        self.attempts = []

    def before(self, vendor, api, request_id):
        self.before_calls.append((vendor, api, request_id))
        if self.refuse:
            raise RefusedLocally("monthly budget used up", code="budget")

    def sending(self, attempt):
        self.sent.append(attempt)

    def after(self, attempt):
        self.attempts.append(attempt)


def on_arrival(hooks, arrivals, *responses):
    """A respx side effect answering ``responses`` in turn. As each request reaches the
    vendor it records (requests seen so far, ``sending`` calls so far, whether the last
    announced request already has its ``after``, whether it is the request arriving by
    its ctyun-eop-request-id); asserted by the test once the call ends."""
    answers = iter(responses)

    def arrive(request):
        finished = {attempt.request_id for attempt in hooks.attempts}
        last = hooks.sent[-1] if hooks.sent else None
        arrivals.append(
            (
                len(arrivals) + 1,
                len(hooks.sent),
                last is not None and last.request_id in finished,
                last is not None and last.request_id == request.headers["ctyun-eop-request-id"],
            )
        )
        return next(answers)

    return arrive


def announced(attempt):
    """What ``sending`` and the matching ``after`` must agree on."""
    return (attempt.request_id, attempt.attempt, attempt.api, attempt.vendor, attempt.images)


def make_client(hooks=None, breaker=None, sleeps=None, max_attempts=MAX_ATTEMPTS, **kwargs):
    settings = ClientSettings(
        base_url=BASE,
        api_key=AK,
        secret_key=SK,
        app_key=APP_KEY,
        account="site-a",
        timeouts=Timeouts(connect=2.5, read=12.0),
        retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.01),
    )
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return CtyunClient(settings, hooks=hooks, breaker=breaker, sleep=sleep, **kwargs)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def hooks():
    return RecordingHooks()


@pytest.fixture
def client(hooks, sleeps):
    with make_client(hooks, sleeps=sleeps) as client:
        yield client


@pytest.fixture
def vendor():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def error_answer(code, details="出错了"):
    return {"code": code, "message": "error", "details": details}


def sent_json(route):
    return json.loads(route.calls.last.request.content)


def call(client, api, count=None):
    count = count or IMAGE_COUNTS.get(api, 1)
    return client.call(api, [JPEG] * count, **PARAMS.get(api, {}))


def fake_prepared(width, height, original_width, original_height, data=JPEG):
    def prepare(image, limits):
        return PreparedImage(
            data=data,
            format="JPEG",
            width=width,
            height=height,
            original_width=original_width,
            original_height=original_height,
            scale=width / original_width,
        )

    return prepare


# ---------------------------------------------------------------- request shape


def test_the_module_knows_every_api_of_the_seed_at_its_exact_path():
    assert {name: api.path for name, api in CTYUN_APIS.items()} == SEED_PATHS


@pytest.mark.parametrize("api", list(SEED_PATHS))
def test_every_api_posts_json_signed_over_the_exact_bytes_sent(client, vendor, api):
    # Given the vendor answering the seed's example
    route = vendor.post(SEED_PATHS[api]).respond(json=SUCCESS[api])

    # When the API is called
    call(client, api)

    # Then one POST went to the seed's path with every header of 4.1.2 构造请求
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == SEED_PATHS[api]
    headers = request.headers
    assert headers["content-type"] == "application/json;charset=UTF-8"
    assert headers["appkey"] == APP_KEY
    assert headers["host"] == "ai-global.ctapi.ctyun.cn"
    assert headers["eop-date"].endswith("Z") and len(headers["eop-date"]) == 16
    # And the signature verifies over the body as received
    assert headers["eop-authorization"] == eop_authorization(
        AK,
        SK,
        headers["appkey"],
        headers["ctyun-eop-request-id"],
        headers["eop-date"],
        request.url.query.decode(),
        request.content,
    )


def test_helmet_and_workwear_send_one_url_safe_image_under_image(client, vendor):
    for api in ("helmet", "workwear"):
        # Given the vendor, When one frame is sent
        route = vendor.post(SEED_PATHS[api]).respond(json=SUCCESS[api])
        client.call(api, [JPEG])

        # Then the body is {"image": urlsafe base64} (4.3 API, 11、base64 编码规则)
        body = sent_json(route)
        assert body == {"image": JPEG_URLSAFE}
        assert body["image"].startswith("_9j_")  # "/9j/" of a JPEG in the URL-safe alphabet
        assert "+" not in body["image"] and "/" not in body["image"]


def test_fence_sends_a_list_of_images_and_the_area_as_a_string(client, vendor):
    # Given the vendor
    route = vendor.post(SEED_PATHS["fence"]).respond(json=FENCE_ANSWER)

    # When three frames are checked against a fence given as (x, y) pairs
    client.call("fence", [JPEG] * 3, area=[(10, 20), (300, 20), (300, 200), (10, 200)])

    # Then "image" is the list and "area" the string "x1,y1,...", not a list (4011)
    assert sent_json(route) == {"image": [JPEG_URLSAFE] * 3, "area": "10,20,300,20,300,200,10,200"}


def test_face_quality_sends_the_image_as_image_content(client, vendor):
    route = vendor.post(SEED_PATHS["face_quality"]).respond(json=FACE_QUALITY_ANSWER)
    client.call("face_quality", [JPEG])
    assert sent_json(route) == {"imageContent": JPEG_URLSAFE}


@pytest.mark.parametrize("api", LIVENESS)
def test_liveness_numbers_the_images_from_one_without_gaps(client, vendor, api):
    # Given six frames of different content
    frames = [make_jpeg(160 + n, 120) for n in range(6)]
    route = vendor.post(SEED_PATHS[api]).respond(json=LIVENESS_DETECTED)

    # When sent
    client.call(api, frames)

    # Then they are image1Content..image6Content, in order
    body = sent_json(route)
    assert list(body) == [f"image{n}Content" for n in range(1, 7)]
    assert [base64.urlsafe_b64decode(body[f"image{n}Content"]) for n in range(1, 7)] == frames


@pytest.mark.parametrize("api", ["fall", "fight"])
def test_fall_and_fight_send_the_frames_as_an_images_list(client, vendor, api):
    route = vendor.post(SEED_PATHS[api]).respond(json=SUCCESS[api])
    client.call(api, [JPEG] * 16)
    assert sent_json(route) == {"images": [JPEG_URLSAFE] * 16}


def test_a_face_frame_larger_than_960x1280_is_shrunk_before_sending(client, vendor):
    # Given a 1000x1400 portrait frame
    route = vendor.post(SEED_PATHS["face_quality"]).respond(json=FACE_QUALITY_ANSWER)

    # When its face quality is asked
    result = client.call("face_quality", [make_jpeg(1000, 1400)])

    # Then the image sent fits 4.3.4 动作活体识别's size limit, and the result says its size
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(sent_json(route)["imageContent"])))
    assert sent.width <= 960 and sent.height <= 1280
    assert (result.frame_width, result.frame_height) == sent.size


def test_the_http_client_uses_the_configured_connect_and_read_timeouts(client, vendor):
    route = vendor.post(SEED_PATHS["helmet"]).respond(json=HELMET_ANSWER)
    client.call("helmet", [JPEG])
    timeout = route.calls.last.request.extensions["timeout"]
    assert (timeout["connect"], timeout["read"]) == (2.5, 12.0)


def test_an_http_client_passed_in_is_left_open_for_its_owner(vendor):
    vendor.post(SEED_PATHS["helmet"]).respond(json=HELMET_ANSWER)
    shared = httpx.Client()
    with make_client(http=shared) as client:
        client.call("helmet", [JPEG])
    assert not shared.is_closed
    shared.close()


# ---------------------------------------------------------------- normalized answers


def test_helmet_boxes_are_read_as_top_left_bottom_right(client, vendor):
    # Given the seed's helmet answer (box = [top, left, bottom, right], 4.3.1 表 result)
    route = vendor.post(SEED_PATHS["helmet"]).respond(json=HELMET_ANSWER)

    # When parsed
    result = client.call("helmet", [JPEG])

    # Then each helmet is an object with its colour class and a left/top/width/height box
    assert [(item.label, item.box, item.score) for item in result.objects] == [
        ("blue_hat", Box(left=72, top=15, width=57, height=69), 0.9998),
        ("blue_hat", Box(left=107, top=44, width=93, height=60), 0.9984),
    ]
    # And nothing is invented: the answer has no person boxes
    assert result.persons == []
    assert (result.vendor, result.api) == ("ctyun", "helmet")
    assert (result.frame_width, result.frame_height) == (320, 240)
    assert result.raw == HELMET_ANSWER
    assert result.request_id == route.calls.last.request.headers["ctyun-eop-request-id"]


def test_workwear_answers_become_objects_labelled_with_the_colour(client, vendor):
    vendor.post(SEED_PATHS["workwear"]).respond(json=WORKWEAR_ANSWER)
    result = client.call("workwear", [JPEG])
    assert [(item.label, item.box) for item in result.objects] == [
        ("blue", Box(left=72, top=15, width=57, height=69)),
        ("blue", Box(left=107, top=44, width=93, height=60)),
    ]


def test_fence_targets_become_persons_counted_per_image(client, vendor):
    # Given the seed's fence answer for one image
    vendor.post(SEED_PATHS["fence"]).respond(json=FENCE_ANSWER)

    # When parsed
    result = client.call("fence", [JPEG], area=FULL_AREA)

    # Then the image has two persons with the target boxes, counted by target_num
    (only,) = result.per_image
    assert only.person_count == 2
    assert [person.box for person in only.persons] == [
        Box(left=209, top=229, width=341, height=1202),
        Box(left=971, top=409, width=387, height=1149),
    ]
    # And with a single image the totals are on the result itself
    assert result.person_count == 2
    assert [person.box for person in result.persons] == [person.box for person in only.persons]
    assert result.raw == FENCE_ANSWER


def test_fence_results_for_several_images_stay_apart(client, vendor):
    # Given an answer for two images, the first empty
    answer = {
        "code": 0,
        "message": {"success": 2, "fail": 0},
        "result": [
            {"target_num": 0, "location": []},
            {"target_num": 1, "location": [{"left": 1, "top": 2, "width": 3, "height": 4}]},
        ],
    }
    vendor.post(SEED_PATHS["fence"]).respond(json=answer)

    # When parsed
    result = client.call("fence", [JPEG, JPEG], area=FULL_AREA)

    # Then each image keeps its own count and boxes, and the total is their sum
    assert [item.person_count for item in result.per_image] == [0, 1]
    assert result.per_image[1].persons[0].box == Box(left=1, top=2, width=3, height=4)
    assert result.person_count == 1
    assert result.persons == []


def test_a_fence_target_list_without_target_num_is_counted(client, vendor):
    answer = {
        "code": 0,
        "message": {"success": 1, "fail": 0},
        "result": [{"location": [{"left": 1, "top": 2, "width": 3, "height": 4}]}],
    }
    vendor.post(SEED_PATHS["fence"]).respond(json=answer)
    result = client.call("fence", [JPEG], area=FULL_AREA)
    assert result.person_count == 1


@pytest.mark.parametrize("code", [0, "0"])
def test_face_quality_reads_the_grade_whether_the_code_is_a_number_or_text(client, vendor, code):
    vendor.post(SEED_PATHS["face_quality"]).respond(json={**FACE_QUALITY_ANSWER, "code": code})
    result = client.call("face_quality", [JPEG])
    assert result.face_quality == "good"


@pytest.mark.parametrize(
    ("answer", "verdict"), [(LIVENESS_DETECTED, True), (LIVENESS_NOT_DETECTED, False)]
)
def test_liveness_answers_become_a_verdict(client, vendor, answer, verdict):
    vendor.post(SEED_PATHS["liveness_blink"]).respond(json=answer)
    result = client.call("liveness_blink", [JPEG] * 3)
    assert result.liveness is verdict


@pytest.mark.parametrize("api", ["fall", "fight"])
@pytest.mark.parametrize("score", [0.001, "1e-3", "1.0E-3"])
def test_fall_and_fight_scores_become_a_sequence_score(client, vendor, api, score):
    # Given a score, possibly in scientific notation as the seed warns (科学计数法表示)
    answer = {"code": 0, "message": "success", "result": {"score": score}}
    vendor.post(SEED_PATHS[api]).respond(json=answer)

    # Then it is a float
    assert call(client, api).sequence_score == pytest.approx(0.001)


def test_a_success_answer_of_the_wrong_shape_is_a_bounded_service_error(client, vendor, hooks):
    # Given an answer whose boxes are not four numbers
    broken = {"code": 0, "message": "success", "result": [{"box": [1, 2], "classname": "x"}]}
    route = vendor.post(SEED_PATHS["helmet"]).respond(json=broken)

    # Then it is a retryable service error, tried a bounded number of times
    with pytest.raises(ServiceError):
        client.call("helmet", [JPEG])
    assert route.call_count == MAX_ATTEMPTS
    assert {attempt.error_code for attempt in hooks.attempts} == {"malformed_answer"}


# ---------------------------------------------------------------- vendor errors


@pytest.mark.parametrize("as_text", [False, True], ids=["int code", "string code"])
@pytest.mark.parametrize(("api", "code"), DOCUMENTED_CODES)
def test_every_documented_api_code_maps_to_its_error_and_permanence(
    client, vendor, sleeps, api, code, as_text
):
    # Given the vendor answering a per-API code (4.3 API, 10、错误码说明)
    route = vendor.post(SEED_PATHS[api]).respond(
        json=error_answer(str(code) if as_text else code, "细节说明")
    )

    # When called
    with pytest.raises((BadRequest, ServiceError)) as raised:
        call(client, api)
    error = raised.value

    # Then 4xxx is a bad request sent once, 5xxx a service error retried up to the policy
    if code < 5000:
        assert type(error) is BadRequest and error.permanent
        assert route.call_count == 1
        assert sleeps == []
    else:
        assert type(error) is ServiceError and error.retryable
        assert route.call_count == MAX_ATTEMPTS
        assert len(sleeps) == MAX_ATTEMPTS - 1
    # And the error carries the vendor's code and words
    assert error.code == code
    assert str(code) in error.message and "细节说明" in error.message
    assert (error.vendor, error.api) == ("ctyun", api)


@pytest.mark.parametrize("as_text", [False, True], ids=["int code", "string code"])
@pytest.mark.parametrize(("code", "error_class"), GATEWAY_CODES)
def test_every_gateway_code_maps_to_its_error_and_permanence(
    client, vendor, code, error_class, as_text
):
    # Given the gateway answering a five-digit code (4.1.3 状态码)
    route = vendor.post(SEED_PATHS["helmet"]).respond(
        json={"code": str(code) if as_text else code, "message": "gateway refused"}
    )

    # When called
    with pytest.raises(error_class) as raised:
        client.call("helmet", [JPEG])

    # Then only the internal error (50000) is retried
    assert type(raised.value) is error_class
    assert route.call_count == (MAX_ATTEMPTS if code == 50000 else 1)
    assert raised.value.permanent is (code != 50000)
    assert str(code) in raised.value.message and "gateway refused" in raised.value.message


def test_a_signature_refusal_with_http_401_is_an_auth_error_sent_once(client, vendor):
    route = vendor.post(SEED_PATHS["helmet"]).respond(
        401, json={"code": "10020", "message": "签名错误"}
    )
    with pytest.raises(AuthError) as raised:
        client.call("helmet", [JPEG])
    assert route.call_count == 1
    assert raised.value.http_status == 401


def test_an_error_without_details_is_described_in_the_seed_own_words(client, vendor):
    vendor.post(SEED_PATHS["helmet"]).respond(json={"code": 4003, "message": "error"})
    with pytest.raises(BadRequest) as raised:
        client.call("helmet", [JPEG])
    assert "4003" in raised.value.message and "base64 数据处理异常" in raised.value.message


def test_the_seed_error_example_of_face_quality_reads_as_a_bad_request(client, vendor):
    # 4.3.4.1, 8、返回值示例: the code comes as a string there
    answer = {"code": "4204", "message": "error", "details": "人脸探测异常，请确保为真实人脸！"}
    vendor.post(SEED_PATHS["face_quality"]).respond(json=answer)
    with pytest.raises(BadRequest) as raised:
        client.call("face_quality", [JPEG])
    assert raised.value.code == 4204
    assert raised.value.raw == answer


# ---------------------------------------------------------------- rate limits and transport


def test_http_429_is_a_rate_limit_waiting_two_to_five_seconds_between_tries(
    client, vendor, sleeps, hooks
):
    # Given the vendor refusing for concurrency (5.3 操作类: wait 2-5 s and retry)
    route = vendor.post(SEED_PATHS["helmet"]).respond(429, text="Too Many Requests")

    # When called
    with pytest.raises(RateLimited) as raised:
        client.call("helmet", [JPEG])

    # Then every try waited at least 2 s, and the policy bounded the tries
    assert route.call_count == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1
    assert all(2.0 <= seconds <= 5.0 for seconds in sleeps)
    assert 2.0 <= raised.value.retry_after <= 5.0
    assert [attempt.outcome for attempt in hooks.attempts] == ["vendor_error"] * MAX_ATTEMPTS
    assert hooks.attempts[0].error_code == "http_429"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_http_5xx_without_a_code_is_treated_as_the_concurrency_limit(
    client, vendor, sleeps, status
):
    route = vendor.post(SEED_PATHS["fall"]).respond(status, text="<html>busy</html>")
    with pytest.raises(RateLimited):
        call(client, "fall")
    assert route.call_count == MAX_ATTEMPTS
    assert all(seconds >= 2.0 for seconds in sleeps)


def test_an_internal_error_code_on_http_500_also_waits_before_retrying(client, vendor, sleeps):
    route = vendor.post(SEED_PATHS["helmet"]).respond(500, json={"code": 50000, "message": "x"})
    with pytest.raises(ServiceError) as raised:
        client.call("helmet", [JPEG])
    assert route.call_count == MAX_ATTEMPTS
    assert 2.0 <= raised.value.retry_after <= 5.0
    assert all(seconds >= 2.0 for seconds in sleeps)


def test_an_answer_that_is_not_json_is_a_transport_error(client, vendor, hooks):
    # Given a proxy answering HTML with status 200
    route = vendor.post(SEED_PATHS["helmet"]).respond(200, text="<html>login</html>")

    # Then it is retried as a transport failure
    with pytest.raises(TransportError):
        client.call("helmet", [JPEG])
    assert route.call_count == MAX_ATTEMPTS
    assert {attempt.outcome for attempt in hooks.attempts} == {"transport_error"}


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow")],
)
def test_connection_failures_and_timeouts_are_transport_errors_retried(
    client, vendor, hooks, failure
):
    route = vendor.post(SEED_PATHS["helmet"]).mock(side_effect=failure)
    with pytest.raises(TransportError):
        client.call("helmet", [JPEG])
    assert route.call_count == MAX_ATTEMPTS
    assert [attempt.outcome for attempt in hooks.attempts] == ["transport_error"] * MAX_ATTEMPTS


def test_a_retry_that_succeeds_returns_the_result_with_its_own_request_id(client, vendor, hooks):
    # Given a service error, then the answer
    route = vendor.post(SEED_PATHS["helmet"]).mock(
        side_effect=[
            httpx.Response(200, json=error_answer(5000)),
            httpx.Response(200, json=HELMET_ANSWER),
        ]
    )

    # When called
    result = client.call("helmet", [JPEG])

    # Then two attempts were made, each with a fresh id and a fresh signature
    first, second = (call.request.headers for call in route.calls)
    assert first["ctyun-eop-request-id"] != second["ctyun-eop-request-id"]
    assert first["eop-authorization"] != second["eop-authorization"]
    assert result.request_id == second["ctyun-eop-request-id"]
    # And the hooks heard both, in order
    assert [(a.attempt, a.outcome, a.error_code) for a in hooks.attempts] == [
        (1, "vendor_error", "5000"),
        (2, "success", ""),
    ]


# ---------------------------------------------------------------- input checks


@pytest.fixture
def anything(vendor):
    """A route catching every request, to prove that none left."""
    return vendor.route()


@pytest.mark.parametrize(
    "area",
    [
        "0,0,320,0",  # 2 points
        [(0, 0), (10, 0)],
        ",".join(["10,10"] * 10),  # 10 points
        "0,0,320,0,320",  # odd number of coordinates
        "0,0,a,b,3,3",
        "",
    ],
    ids=["2 points", "2 pairs", "10 points", "odd", "not numbers", "empty"],
)
def test_a_fence_area_with_the_wrong_number_of_points_is_refused_locally(
    client, anything, hooks, area
):
    with pytest.raises(BadRequest):
        client.call("fence", [JPEG], area=area)
    assert anything.call_count == 0
    assert hooks.before_calls == []


@pytest.mark.parametrize("area", ["0,0,321,0,321,240", "0,0,320,0,320,241", "-1,0,320,0,320,240"])
def test_a_fence_point_outside_the_image_is_refused_locally(client, anything, area):
    with pytest.raises(BadRequest, match="outside"):
        client.call("fence", [JPEG], area=area)
    assert anything.call_count == 0


@pytest.mark.parametrize("points", [3, 9])
def test_fence_areas_of_three_and_nine_points_on_the_image_edge_are_sent(client, vendor, points):
    route = vendor.post(SEED_PATHS["fence"]).respond(json=FENCE_ANSWER)
    area = ",".join(["0,0", "320,0", "320,240"] + ["0,240"] * (points - 3))
    client.call("fence", [JPEG], area=area)
    assert sent_json(route)["area"] == area


def test_a_fence_area_in_original_pixels_is_scaled_to_the_image_sent(client, vendor, monkeypatch):
    # Given frames of 1920x1080 sent at half size
    monkeypatch.setattr(ctyun_client, "prepare_image", fake_prepared(960, 540, 1920, 1080))
    route = vendor.post(SEED_PATHS["fence"]).respond(json=FENCE_ANSWER)

    # When a fence drawn on the original is used
    client.call("fence", [JPEG], area=[(0, 0), (1920, 0), (1920, 1080), (100, 200), (302, 404)])

    # Then the area sent is in pixels of the image sent
    assert sent_json(route)["area"] == "0,0,960,0,960,540,50,100,151,202"


def test_fence_frames_of_different_sizes_are_refused_as_they_share_one_area(client, anything):
    with pytest.raises(BadRequest, match="same size"):
        client.call("fence", [JPEG, make_jpeg(640, 480)], area="0,0,100,0,100,100")
    assert anything.call_count == 0


def test_a_fence_without_an_area_is_refused_locally(client, anything):
    with pytest.raises(BadRequest, match="area"):
        client.call("fence", [JPEG])
    assert anything.call_count == 0


@pytest.mark.parametrize(
    ("api", "count"),
    [
        ("helmet", 0),
        ("helmet", 2),
        ("workwear", 2),
        ("face_quality", 2),
        ("fence", 0),
        ("fence", 33),
        ("liveness_shake", 2),
        ("liveness_shake", 36),
        ("fall", 0),
        ("fall", 65),
        ("fight", 65),
    ],
)
def test_a_wrong_number_of_images_is_refused_locally(client, anything, api, count):
    with pytest.raises(BadRequest, match="images"):
        client.call(api, [JPEG] * count, **PARAMS.get(api, {}))
    assert anything.call_count == 0


@pytest.mark.parametrize(
    ("api", "count"), [("fence", 32), ("liveness_up", 35), ("liveness_up", 3), ("fight", 64)]
)
def test_the_largest_and_smallest_allowed_image_counts_are_sent(client, vendor, api, count):
    route = vendor.post(SEED_PATHS[api]).respond(json=SUCCESS[api])
    client.call(api, [JPEG] * count, **PARAMS.get(api, {}))
    assert route.call_count == 1


def test_a_fence_request_over_35_mb_is_refused_locally(client, anything, monkeypatch):
    # Given frames whose base64 is 5.3 MB each: seven make more than 4.3.3's 35M
    big = b"\xff" * 4_000_000
    monkeypatch.setattr(ctyun_client, "prepare_image", fake_prepared(320, 240, 320, 240, data=big))
    with pytest.raises(BadRequest, match="35 MB"):
        client.call("fence", [JPEG] * 7, area=FULL_AREA)
    assert anything.call_count == 0


def test_whole_request_limits_are_the_seed_ones():
    assert CTYUN_APIS["fence"].max_body_bytes == 35_000_000
    assert CTYUN_APIS["fall"].max_body_bytes == 250_000_000
    assert CTYUN_APIS["fight"].max_body_bytes == 250_000_000


def test_a_fall_request_over_its_limit_is_refused_locally(client, anything, monkeypatch):
    smaller = dataclasses.replace(CTYUN_APIS["fall"], max_body_bytes=1000)
    monkeypatch.setitem(CTYUN_APIS, "fall", smaller)
    with pytest.raises(BadRequest):
        client.call("fall", [JPEG] * 16)
    assert anything.call_count == 0


def test_bytes_that_are_not_an_image_are_refused_locally(client, anything):
    with pytest.raises(InvalidImage) as raised:
        client.call("helmet", [b"not an image"])
    assert raised.value.permanent
    assert (raised.value.vendor, raised.value.api) == ("ctyun", "helmet")
    assert anything.call_count == 0


def test_unknown_parameters_and_apis_are_refused_locally(client, anything):
    with pytest.raises(BadRequest, match="threshold"):
        client.call("helmet", [JPEG], threshold=0.5)
    with pytest.raises(Unsupported):
        client.call("smoking", [JPEG])
    assert anything.call_count == 0


# ---------------------------------------------------------------- hooks and breaker


def test_hooks_hear_every_attempt_once_with_its_own_request_id(client, vendor, hooks):
    # Given a vendor failing with a retryable code every time
    route = vendor.post(SEED_PATHS["fence"]).respond(json=error_answer(5001))

    # When two frames are checked
    with pytest.raises(ServiceError):
        client.call("fence", [JPEG, JPEG], area=FULL_AREA)

    # Then before and after ran once per attempt, with the id each request carried
    sent_ids = [call.request.headers["ctyun-eop-request-id"] for call in route.calls]
    assert len(set(sent_ids)) == MAX_ATTEMPTS
    assert hooks.before_calls == [("ctyun", "fence", rid) for rid in sent_ids]
    assert [attempt.request_id for attempt in hooks.attempts] == sent_ids
    assert [attempt.attempt for attempt in hooks.attempts] == [1, 2, 3]
    assert {(a.vendor, a.api, a.outcome, a.error_code, a.images) for a in hooks.attempts} == {
        ("ctyun", "fence", "vendor_error", "5001", 2)
    }
    assert all(attempt.latency_ms >= 0 for attempt in hooks.attempts)


def test_a_successful_call_is_reported_once_as_success(client, vendor, hooks):
    vendor.post(SEED_PATHS["liveness_left"]).respond(json=LIVENESS_DETECTED)
    client.call("liveness_left", [JPEG] * 4)
    (attempt,) = hooks.attempts
    assert (attempt.outcome, attempt.error_code, attempt.attempt, attempt.images) == (
        "success",
        "",
        1,
        4,
    )


def test_a_call_refused_by_the_quota_gate_is_not_sent_nor_retried_but_reported(anything, sleeps):
    # Given hooks whose gate refuses
    hooks = RecordingHooks(refuse=True)
    client = make_client(hooks, sleeps=sleeps)

    # When called
    with pytest.raises(RefusedLocally):
        client.call("helmet", [JPEG])

    # Then nothing left, nothing was retried, and the refusal was reported once
    assert anything.call_count == 0
    assert len(hooks.before_calls) == 1
    assert sleeps == []
    (attempt,) = hooks.attempts
    assert (attempt.outcome, attempt.error_code) == ("refused", "budget")
    assert attempt.request_id == hooks.before_calls[0][2]


def test_every_request_is_announced_by_sending_before_it_reaches_the_vendor(client, vendor, hooks):
    # Given the concurrency limit, a service error, then the answer
    arrivals = []
    route = vendor.post(SEED_PATHS["helmet"]).mock(
        side_effect=on_arrival(
            hooks,
            arrivals,
            httpx.Response(429, text="Too Many Requests"),
            httpx.Response(200, json=error_answer(5000)),
            httpx.Response(200, json=HELMET_ANSWER),
        )
    )

    # When called
    client.call("helmet", [JPEG])

    # Then when request n arrived, sending had been called exactly n times, for that very
    # request, which had no after yet
    assert route.call_count == 3
    assert arrivals == [(1, 1, False, True), (2, 2, False, True), (3, 3, False, True)]
    assert len(hooks.sent) == len(hooks.attempts) == 3


def test_sending_pairs_one_to_one_with_after_on_a_retried_call(client, vendor, hooks, sleeps):
    # Given the concurrency limit, then the answer, for a fence of two frames
    route = vendor.post(SEED_PATHS["fence"]).mock(
        side_effect=[
            httpx.Response(429, text="Too Many Requests"),
            httpx.Response(200, json=FENCE_ANSWER),
        ]
    )

    # When called
    client.call("fence", [JPEG, JPEG], area=FULL_AREA)

    # Then each attempt was announced pending, with no latency, under the request id,
    # attempt number, API, vendor and image count its after carries
    sent_ids = [call.request.headers["ctyun-eop-request-id"] for call in route.calls]
    assert len(sleeps) == 1
    assert [announced(a) for a in hooks.sent] == [
        (sent_ids[0], 1, "fence", "ctyun", 2),
        (sent_ids[1], 2, "fence", "ctyun", 2),
    ]
    assert [announced(a) for a in hooks.sent] == [announced(a) for a in hooks.attempts]
    assert [(a.outcome, a.latency_ms) for a in hooks.sent] == [("pending", 0.0)] * 2
    assert [a.outcome for a in hooks.attempts] == ["vendor_error", "success"]


def test_a_call_refused_by_the_quota_gate_is_never_announced_as_sending(anything, sleeps):
    # Given hooks whose gate refuses
    hooks = RecordingHooks(refuse=True)

    # When called
    with make_client(hooks, sleeps=sleeps) as client, pytest.raises(RefusedLocally):
        client.call("helmet", [JPEG])

    # Then the gate ran and the refusal was reported, but nothing was announced
    assert anything.call_count == 0
    assert len(hooks.before_calls) == 1
    assert [a.outcome for a in hooks.attempts] == ["refused"]
    assert hooks.sent == []


def test_the_breaker_opens_after_repeated_failures_of_one_account_and_api(vendor):
    # Given a breaker opening after three retryable failures, and a client trying once per call
    breaker = CircuitBreaker(threshold=3, cooldown=60, clock=lambda: 1000.0)
    client = make_client(breaker=breaker, max_attempts=1)
    helmet = vendor.post(SEED_PATHS["helmet"]).respond(json=error_answer(5000))
    workwear = vendor.post(SEED_PATHS["workwear"]).respond(json=WORKWEAR_ANSWER)

    # When helmet fails three times
    for _ in range(3):
        with pytest.raises(ServiceError):
            client.call("helmet", [JPEG])

    # Then the next helmet call is stopped before leaving
    with pytest.raises(CircuitOpen):
        client.call("helmet", [JPEG])
    assert helmet.call_count == 3
    assert breaker.is_open("site-a", "helmet")
    # And another API of the same account still goes through
    client.call("workwear", [JPEG])
    assert workwear.call_count == 1


def test_permanent_errors_do_not_open_the_breaker(vendor):
    breaker = CircuitBreaker(threshold=2, cooldown=60, clock=lambda: 1000.0)
    client = make_client(breaker=breaker)
    route = vendor.post(SEED_PATHS["helmet"]).respond(json=error_answer(4003))
    for _ in range(3):
        with pytest.raises(BadRequest):
            client.call("helmet", [JPEG])
    assert route.call_count == 3
    assert not breaker.is_open("site-a", "helmet")
