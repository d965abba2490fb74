"""The Baidu online client against a fake ``aip.baidubce.com`` (respx): request shape,
parameter checks, normalization of the seed's example answers, the error table,
retries, the token refresh on 110, hooks, breaker and body_tracking cases."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
import respx
from PIL import Image

from monitoring.backends.baidu import (
    BAIDU_APIS,
    BODY_KEYPOINTS,
    BaiduClient,
    error_from_answer,
    is_valid_body,
    normalize_answer,
    tracking_case_id,
)
from monitoring.backends.base import (
    AuthError,
    BackendError,
    BadRequest,
    CallHooks,
    CircuitBreaker,
    CircuitOpen,
    ClientSettings,
    InvalidImage,
    MemoryStore,
    QuotaExhausted,
    RateLimited,
    RefusedLocally,
    RetryPolicy,
    ServiceError,
    TransportError,
    Unsupported,
)

DATA = Path(__file__).parent / "data" / "baidu"
BASE = "https://aip.test"
TOKEN = "24.6c5e1ff107f0e8bcef8c46d3424a0e78.2592000.1485516651.282335-8574074"


def sample(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@cache
def jpeg(width: int = 640, height: int = 480) -> bytes:
    """A JPEG; small ones are noisy (their base64 text holds '+' and '/'), large ones
    plain so that fitting them into the vendor's limits stays quick."""
    if width * height <= 1_000_000:
        image = Image.effect_noise((width, height), 64).convert("RGB")
    else:
        image = Image.new("RGB", (width, height), (90, 120, 150))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


class RecordingHooks(CallHooks):
    def __init__(self, refuse: bool = False):
        self.before_calls: list[tuple[str, str, str]] = []
        self.sent = []  # the attempts announced by ``sending``, in order
        self.attempts = []
        self.refuse = refuse
        self._lock = threading.Lock()

    def before(self, vendor, api, request_id):
        with self._lock:
            self.before_calls.append((vendor, api, request_id))
        if self.refuse:
            raise RefusedLocally("monthly budget used up", vendor=vendor, api=api, code="budget")

    def sending(self, attempt):
        with self._lock:
            self.sent.append(attempt)

    def after(self, attempt):
        with self._lock:
            self.attempts.append(attempt)


def on_arrival(hooks: RecordingHooks, arrivals: list[tuple[int, int, bool]], *responses):
    """A respx side effect answering ``responses`` in turn. As each request reaches the
    vendor it records (requests seen so far, ``sending`` calls so far, whether the last
    announced request already has its ``after``); asserted by the test once the call ends."""
    answers = iter(responses)

    def arrive(request: httpx.Request) -> httpx.Response:
        finished = {attempt.request_id for attempt in hooks.attempts}
        in_flight_done = bool(hooks.sent) and hooks.sent[-1].request_id in finished
        arrivals.append((len(arrivals) + 1, len(hooks.sent), in_flight_done))
        return next(answers)

    return arrive


def announced(attempt) -> tuple:
    """What ``sending`` and the matching ``after`` must agree on."""
    return (attempt.request_id, attempt.attempt, attempt.api, attempt.vendor)


@pytest.fixture
def settings() -> ClientSettings:
    return ClientSettings(
        base_url=BASE,
        api_key="test-api-key",
        secret_key="test-secret-key",
        account="site-account",
        retry=RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=2.0),
    )


@pytest.fixture
def vendor():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/oauth/2.0/token", name="token").respond(
            json={
                "access_token": TOKEN,
                "expires_in": 2592000,
                "scope": "public brain_all_scope brain_body_analysis",
                "refresh_token": "25.refresh",
                "session_key": "9mzdDZXu",
                "session_secret": "dfac94a3489fe9fca7c3221cbf7525ff",
            }
        )
        yield mock


def api_route(mock, api: str, *responses):
    route = mock.post(f"/rest/2.0/image-classify/v1/{api}", name=api)
    if len(responses) == 1:
        route.mock(return_value=responses[0])
    else:
        route.mock(side_effect=list(responses))
    return route


def ok(body: dict) -> httpx.Response:
    return httpx.Response(200, json=body)


def vendor_error(code: int, message: str = "error") -> httpx.Response:
    # `错误码` > `错误返回格式`: HTTP 200 with error_code and error_msg.
    return httpx.Response(200, json={"error_code": code, "error_msg": message, "log_id": 1})


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hooks() -> RecordingHooks:
    return RecordingHooks()


@pytest.fixture
def client(settings, hooks, sleeps, vendor):
    with BaiduClient(settings, hooks=hooks, sleep=sleeps.append) as baidu:
        yield baidu


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=True)


# ---------------------------------------------------------------- request shape


@pytest.mark.parametrize("api", sorted(BAIDU_APIS))
def test_every_api_is_a_form_post_to_its_documented_path_with_the_token_in_the_query(
    client, vendor, api
):
    # given an answer for the API
    route = api_route(vendor, api, ok({"log_id": 7}))
    params = {"dynamic": False} if api == "body_tracking" else {}

    # when an image is sent
    client.call(api, jpeg(), **params)

    # then one POST went to /rest/2.0/image-classify/v1/<api>?access_token=TOKEN
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == f"/rest/2.0/image-classify/v1/{api}"
    assert dict(request.url.params) == {"access_token": TOKEN}
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = form(request)
    assert fields["image"] == [base64.b64encode(jpeg()).decode("ascii")]
    assert set(fields) == ({"image", "dynamic"} if api == "body_tracking" else {"image"})


def test_the_image_is_standard_base64_without_prefix_then_urlencoded_as_urlencode_would(
    client, vendor
):
    # given a JPEG whose base64 holds '+' and '/'
    text = base64.b64encode(jpeg()).decode("ascii")
    assert "+" in text and "/" in text
    route = api_route(vendor, "body_analysis", ok({"log_id": 1}))

    # when it is sent
    client.call("body_analysis", jpeg())

    # then the body is exactly urllib's form encoding of the standard alphabet
    body = route.calls.last.request.content
    expected = urlencode({"image": base64.b64encode(jpeg()).decode("ascii")}).encode("ascii")
    assert body == expected
    assert b"%2B" in body and b"%2F" in body
    assert b"data%3Aimage" not in body and b"-" not in body and b"_" not in body


def test_body_attr_type_is_sent_as_a_comma_list_of_the_documented_attributes(client, vendor):
    route = api_route(vendor, "body_attr", ok(sample("body_attr")))

    client.call("body_attr", jpeg(), type=["headwear", "upper_color", "headwear", "smoke"])

    assert form(route.calls.last.request)["type"] == ["headwear,upper_color,smoke"]


@pytest.mark.parametrize(
    ("api", "params", "sent"),
    [
        ("body_attr", {"type": "gender,side_cut,is_human"}, {"type": "gender,side_cut,is_human"}),
        ("body_seg", {"type": ("foreground", "labelmap")}, {"type": "foreground,labelmap"}),
        (
            "driver_behavior",
            {"type": "smoke,cellphone,eyes_closed", "wheel_location": 0},
            {"type": "smoke,cellphone,eyes_closed", "wheel_location": "0"},
        ),
        ("body_num", {"show": True}, {"show": "true"}),
        ("body_num", {"show": "FALSE"}, {"show": "false"}),
    ],
)
def test_documented_parameters_are_sent_in_the_vendors_spelling(client, vendor, api, params, sent):
    route = api_route(vendor, api, ok({"log_id": 1}))

    client.call(api, jpeg(), **params)

    fields = form(route.calls.last.request)
    assert {name: fields[name][0] for name in sent} == sent


@pytest.mark.parametrize(
    ("api", "params"),
    [
        ("body_attr", {"type": "helmet"}),
        ("body_attr", {"type": ""}),
        ("body_seg", {"type": "mask"}),
        ("driver_behavior", {"type": "texting"}),
        ("driver_behavior", {"wheel_location": 2}),
        ("driver_behavior", {"wheel_location": True}),
        ("body_num", {"show": "yes"}),
        ("body_analysis", {"type": "gender"}),
        ("gesture", {"area": "1,1,2,2,3,3"}),
        ("body_num", {"area": "1,1,100,1"}),
        ("body_num", {"area": "1,1,100,1,abc,5"}),
        ("body_num", {"area": "0,0,100,1,100,100"}),
        ("body_num", {"area": "1,1,640,1,600,400"}),
        ("body_num", {"area": "1,1,600,1,600,480"}),
        ("body_num", {"area": ";".join(["1,1,10,1,10,10"] * 11)}),
        ("body_num", {"area": [(1, 1), (10, 1), (float("nan"), 10)]}),
        ("body_tracking", {"dynamic": "maybe"}),
        ("body_tracking", {"dynamic": True, "case_id": 1, "case_init": True}),
        ("body_tracking", {"dynamic": True, "area": "1,1,9,1,9,9,1,9", "case_init": True}),
        ("body_tracking", {"dynamic": True, "area": "1,1,9,1,9,9,1,9", "case_id": 1}),
        (
            "body_tracking",
            {"dynamic": True, "case_id": 1, "case_init": True, "area": "1,1,9,1,9,9"},
        ),
        (
            "body_tracking",
            {
                "dynamic": True,
                "case_id": 1,
                "case_init": True,
                "area": "1,1,9,1,9,9,1,9;1,1,5,1,5,5",
            },
        ),
        (
            "body_tracking",
            {"dynamic": True, "case_id": -1, "case_init": True, "area": "1,1,9,1,9,9,1,9"},
        ),
        (
            "body_tracking",
            {"dynamic": True, "case_id": 2**31, "case_init": True, "area": "1,1,9,1,9,9,1,9"},
        ),
        (
            "body_tracking",
            {"dynamic": True, "case_id": "abc", "case_init": True, "area": "1,1,9,1,9,9,1,9"},
        ),
        (
            "body_tracking",
            {"dynamic": True, "case_id": 1, "case_init": "no", "area": "1,1,9,1,9,9,1,9"},
        ),
        (
            "body_tracking",
            {"dynamic": True, "case_id": 1, "case_init": True, "area": "1,1,640,1,9,9,1,9"},
        ),
    ],
)
def test_bad_parameters_are_refused_locally_before_any_request(client, vendor, hooks, api, params):
    # when a call carries a parameter the seed does not allow
    with pytest.raises(BadRequest) as raised:
        client.call(api, jpeg(640, 480), **params)

    # then nothing left: no token request, no API request, no attempt reported
    assert raised.value.permanent
    assert raised.value.api == api
    assert not vendor.calls
    assert hooks.attempts == []


def test_an_unknown_api_is_unsupported_and_nothing_is_sent(client, vendor):
    with pytest.raises(Unsupported):
        client.call("face_detect", jpeg())
    assert not vendor.calls


def test_bytes_that_are_not_an_image_are_refused_before_any_request(client, vendor):
    with pytest.raises(InvalidImage) as raised:
        client.call("body_analysis", b"not an image at all")
    assert (raised.value.vendor, raised.value.api) == ("baidu", "body_analysis")
    assert raised.value.permanent
    assert not vendor.calls


# ---------------------------------------------------------------- areas


def test_body_num_areas_given_in_original_pixels_are_scaled_into_the_frame_sent(client, vendor):
    # given a 5120x2560 frame, which is sent as 4096x2048 (scale 0.8)
    route = api_route(vendor, "body_num", ok(sample("body_num")))

    # when two areas are drawn in pixels of the original frame
    result = client.call(
        "body_num",
        jpeg(5120, 2560),
        area="100,100,5000,100,5000,2500,100,2500;1,1,50,1,50,50",
        show=True,
    )

    # then they are sent in pixels of the frame sent, kept at 1 or more
    assert (result.frame_width, result.frame_height) == (4096, 2048)
    fields = form(route.calls.last.request)
    assert fields["area"] == ["80,80,4000,80,4000,2000,80,2000;1,1,40,1,40,40"]
    assert fields["show"] == ["true"]


def test_an_area_given_as_point_lists_is_sent_as_the_vendors_text(client, vendor):
    route = api_route(vendor, "body_num", ok(sample("body_num")))

    client.call("body_num", jpeg(640, 480), area=[(10.4, 20), (600, 20), (600, 470.6)])

    assert form(route.calls.last.request)["area"] == ["10,20,600,20,600,471"]


def test_a_tracking_area_is_one_polygon_scaled_into_the_frame_sent(client, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_nobody")))

    client.call(
        "body_tracking",
        jpeg(5120, 2560),
        dynamic=True,
        case_id=12,
        case_init=False,
        area=[[(0, 0), (5119, 0), (5119, 2559), (0, 2559)]],
    )

    fields = form(route.calls.last.request)
    assert fields["area"] == ["1,1,4095,1,4095,2047,1,2047"]
    assert (fields["dynamic"], fields["case_id"], fields["case_init"]) == (
        ["true"],
        ["12"],
        ["false"],
    )


# ---------------------------------------------------------------- normalization


def test_body_analysis_sample_gives_persons_with_the_21_named_keypoints_and_box_score(
    client, vendor
):
    api_route(vendor, "body_analysis", ok(sample("body_analysis")))

    result = client.call("body_analysis", jpeg())

    assert result.vendor == "baidu" and result.api == "body_analysis"
    assert result.request_id == "6362401025381690607"
    assert result.person_count == 2 and len(result.persons) == 2
    first = result.persons[0]
    assert (first.box.left, first.box.top) == (294.03039550781, 221.92272949219)
    assert (first.box.width, first.box.height) == (652.61810302734, 703.20654296875)
    assert first.score == 0.99269664287567
    assert [point.name for point in first.keypoints] == list(BODY_KEYPOINTS)
    top_head = first.keypoints[0]
    assert (top_head.x, top_head.y, top_head.score) == (620, 242.53125, 0.87757384777069)
    assert result.persons[1].keypoints[BODY_KEYPOINTS.index("right_ear")].x == 1138.8125
    assert is_valid_body(first)
    assert result.raw == sample("body_analysis")


def test_a_person_with_too_few_confident_keypoints_is_not_a_valid_body():
    result = normalize_answer(
        "body_analysis",
        {
            "person_num": 1,
            "person_info": [
                {
                    "location": {"left": 1, "top": 1, "width": 5, "height": 9, "score": 0.9},
                    "body_parts": {
                        name: {"x": 1, "y": 1, "score": 0.9 if i < 3 else 0.1}
                        for i, name in enumerate(BODY_KEYPOINTS)
                    },
                }
            ],
        },
    )
    assert not is_valid_body(result.persons[0])


def test_body_attr_sample_gives_attributes_by_name_with_value_and_score(client, vendor):
    api_route(vendor, "body_attr", ok(sample("body_attr")))

    result = client.call("body_attr", jpeg())

    assert result.request_id == "1324248829299466129"
    assert result.person_count == 1
    person = result.persons[0]
    assert (person.box.left, person.box.top, person.box.width, person.box.height) == (
        754,
        176,
        219,
        826,
    )
    assert person.score == 0.9693506360054
    assert person.attributes["headwear"].value == "无帽"
    assert person.attributes["headwear"].score == 0.7862206697464
    assert person.attributes["upper_color"].value == "灰"
    assert person.attributes["lower_cut"].value == "无下方截断"
    assert person.attributes["vehicle"].value == "无交通工具"
    assert len(person.attributes) == 18


def test_body_num_sample_gives_the_count_and_the_rendered_image(client, vendor):
    api_route(vendor, "body_num", ok(sample("body_num")))

    result = client.call("body_num", jpeg(), show=True)

    assert result.person_count == 16
    assert result.images == {"rendered": "/9j/4AAoFS2P/9k="}
    assert result.request_id == "716033439"
    assert result.area_counts == []


def test_body_num_area_counts_are_kept_in_order(client, vendor):
    api_route(vendor, "body_num", ok({"log_id": 3, "person_num": 16, "area_counts": [5, 3, 8]}))

    result = client.call("body_num", jpeg(), area="1,1,9,1,9,9;1,1,5,1,5,5;2,2,8,2,8,8")

    assert result.area_counts == [5, 3, 8]
    assert result.images == {}


def test_body_tracking_sample_gives_tracked_persons_and_this_frames_flow(client, vendor):
    api_route(vendor, "body_tracking", ok(sample("body_tracking_one_out")))

    result = client.call(
        "body_tracking", jpeg(), dynamic=True, case_id=1, case_init=False, area="1,1,9,1,9,9,1,9"
    )

    assert result.person_count == 2
    assert [person.track_id for person in result.persons] == [3, 5]
    assert result.persons[1].box.as_dict() == {
        "left": 400,
        "top": 200,
        "width": 200,
        "height": 400,
    }
    assert (result.flow_in, result.flow_out) == (0, 1)
    assert result.request_id == ""


@pytest.mark.parametrize(
    ("name", "count"), [("body_tracking_nobody", 0), ("body_tracking_no_tracks", 2)]
)
def test_body_tracking_without_tracks_counts_people_with_no_flow(name, count):
    result = normalize_answer("body_tracking", sample(name))

    assert result.person_count == count
    assert result.persons == []
    assert (result.flow_in, result.flow_out) == (0, 0)


def test_gesture_sample_gives_objects_labelled_with_the_classname(client, vendor):
    api_route(vendor, "gesture", ok(sample("gesture")))

    result = client.call("gesture", jpeg())

    assert [obj.label for obj in result.objects] == ["Face", "Heart_2"]
    heart = result.objects[1]
    assert heart.box.as_dict() == {"left": 183, "top": 157, "width": 177, "height": 106}
    assert heart.score == 0.4679304957389832
    assert result.request_id == "4466502370458351471"


def test_body_seg_sample_gives_the_three_maps_and_the_person_boxes(client, vendor):
    api_route(vendor, "body_seg", ok(sample("body_seg")))

    result = client.call("body_seg", jpeg())

    assert result.images == {
        "labelmap": "iVBORwOKGg",
        "scoremap": "iVBORwOKGg",
        "foreground": "iVBORwOKGg",
    }
    assert result.person_count == 2
    assert result.persons[0].box.left == 229.32940673828125
    assert result.persons[0].score == 0.9801973104476929
    assert result.persons[1].box.height == 371.6713676452637


@pytest.mark.parametrize("name", ["driver_behavior", "driver_behavior_one_entry"])
def test_driver_behavior_sample_gives_one_driver_with_scores_and_thresholds(client, vendor, name):
    # given the online document's example (attributes and location in two entries) or
    # the SDK documents' (one entry)
    api_route(vendor, "driver_behavior", ok(sample(name)))

    result = client.call("driver_behavior", jpeg())

    assert result.person_count == 1
    assert len(result.drivers) == 1
    driver = result.drivers[0]
    assert driver.box.as_dict() == {"left": 464, "top": 419, "width": 856, "height": 626}
    assert driver.score == 0.90945136547089
    behaviours = {behaviour.name: behaviour for behaviour in driver.behaviours}
    assert len(behaviours) == 9
    assert behaviours["not_buckling_up"].threshold == 0.58
    assert behaviours["not_buckling_up"].present
    assert behaviours["both_hands_leaving_wheel"].present
    assert not behaviours["smoke"].present
    assert behaviours["cellphone"].score == 0.089325942099094
    assert result.request_id == "2320165720061799596"


def test_hand_analysis_sample_gives_a_hand_with_21_points_and_its_score_divided_by_21(
    client, vendor
):
    api_route(vendor, "hand_analysis", ok(sample("hand_analysis")))

    result = client.call("hand_analysis", jpeg())

    (hand,) = result.objects
    assert hand.label == "hand"
    assert hand.box.as_dict() == {"left": 567, "top": 151, "width": 426, "height": 556}
    assert hand.score == pytest.approx(17.495880126953 / 21)
    assert [point.name for point in hand.keypoints] == [str(i) for i in range(21)]
    assert (hand.keypoints[20].x, hand.keypoints[20].y) == (567, 325)
    assert result.request_id == "4653273132348525916"


def test_fingertip_sample_gives_a_hand_with_five_named_points_and_its_score_as_is(client, vendor):
    api_route(vendor, "fingertip", ok(sample("fingertip")))

    result = client.call("fingertip", jpeg())

    (hand,) = result.objects
    assert hand.label == "hand"
    assert hand.score == 0.795880126953
    assert hand.box.left == 567
    assert [point.name for point in hand.keypoints] == [
        "index_tip",
        "index_middle_joint",
        "index_base",
        "middle_middle_joint",
        "middle_base",
    ]
    assert (hand.keypoints[0].x, hand.keypoints[0].y) == (829, 707)


def test_boxes_stay_in_pixels_of_the_frame_sent_when_the_frame_was_downscaled(client, vendor):
    api_route(vendor, "body_attr", ok(sample("body_attr")))

    result = client.call("body_attr", jpeg(5120, 2560))

    assert (result.frame_width, result.frame_height) == (4096, 2048)
    assert result.persons[0].box.left == 754


# ---------------------------------------------------------------- errors

# `错误码`: what each documented code must become. Kept here, apart from the client,
# so that a change of the client's table shows up as a failing test.
EXPECTED = {
    1: ServiceError,
    2: ServiceError,
    3: Unsupported,
    4: RateLimited,
    6: AuthError,
    13: AuthError,
    14: AuthError,
    15: AuthError,
    17: QuotaExhausted,
    18: RateLimited,
    19: QuotaExhausted,
    100: AuthError,  # after one token refresh
    110: AuthError,
    111: AuthError,
    216100: BadRequest,
    216101: BadRequest,
    216102: Unsupported,
    216103: BadRequest,
    216110: AuthError,
    216200: BadRequest,
    216201: BadRequest,
    216202: BadRequest,
    216203: BadRequest,
    216630: ServiceError,
    216634: ServiceError,
    282000: ServiceError,
    282003: BadRequest,
    282004: BadRequest,
    282005: BadRequest,
    282006: BadRequest,
    282114: BadRequest,
    282808: BadRequest,
    282809: BadRequest,
    282810: ServiceError,
    283300: BadRequest,
}
TOKEN_CODES = {100, 110, 111}
ERROR_TABLE = sample("error_codes")


def test_the_expectations_cover_exactly_the_seeds_error_table():
    assert {entry["error_code"] for entry in ERROR_TABLE} == set(EXPECTED)


@pytest.mark.parametrize("entry", ERROR_TABLE, ids=lambda entry: str(entry["error_code"]))
def test_every_documented_error_code_becomes_its_typed_error_and_is_retried_only_if_it_may_pass(
    client, vendor, sleeps, hooks, settings, entry
):
    code, message = entry["error_code"], entry["error_msg"]
    expected = EXPECTED[code]
    route = api_route(vendor, "body_attr", vendor_error(code, message))

    with pytest.raises(BackendError) as raised:
        client.call("body_attr", jpeg())

    error = raised.value
    assert type(error) is expected
    assert error.code == code and error.vendor == "baidu" and error.api == "body_attr"
    assert str(code) in str(error) and message in str(error)
    if code in TOKEN_CODES:
        # refreshed once, tried once more, then permanent
        assert error.permanent
        assert (route.call_count, vendor["token"].call_count) == (2, 2)
        assert sleeps == []
    elif expected in (ServiceError, RateLimited):
        assert not error.permanent
        assert route.call_count == settings.retry.max_attempts
        assert len(sleeps) == settings.retry.max_attempts - 1
    else:
        assert error.permanent
        assert route.call_count == 1
        assert sleeps == []
    assert [attempt.error_code for attempt in hooks.attempts] == [str(code)] * route.call_count
    assert {attempt.outcome for attempt in hooks.attempts} == {"vendor_error"}


def test_an_undocumented_error_code_is_a_permanent_backend_error_tried_once(client, vendor):
    route = api_route(vendor, "gesture", vendor_error(999999, "something new"))

    with pytest.raises(BackendError) as raised:
        client.call("gesture", jpeg())

    assert type(raised.value) is BackendError
    assert raised.value.permanent
    assert "999999" in str(raised.value) and "something new" in str(raised.value)
    assert route.call_count == 1


def test_the_daily_limit_says_when_the_next_beijing_day_starts():
    # 2024-05-01 22:30 in Beijing is 14:30 UTC: 1.5 hours to midnight
    now = 1714573800.0
    error = error_from_answer(
        {"error_code": 17, "error_msg": "Open api daily request limit reached"}, now=now
    )
    assert isinstance(error, QuotaExhausted)
    assert error.retry_after == pytest.approx(5400)


def test_a_qps_limit_is_retried_and_the_next_attempt_succeeds(client, vendor, sleeps, hooks):
    route = api_route(
        vendor,
        "body_num",
        vendor_error(18, "Open api qps request limit reached"),
        ok(sample("body_num")),
    )

    result = client.call("body_num", jpeg())

    assert result.person_count == 16
    assert route.call_count == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5
    assert [(a.attempt, a.outcome, a.error_code) for a in hooks.attempts] == [
        (1, "vendor_error", "18"),
        (2, "success", ""),
    ]


def test_a_timeout_is_a_transport_error_retried_up_to_the_policy(client, vendor, hooks, sleeps):
    route = vendor.post("/rest/2.0/image-classify/v1/body_analysis").mock(
        side_effect=httpx.ReadTimeout("read timed out")
    )

    with pytest.raises(TransportError):
        client.call("body_analysis", jpeg())

    assert route.call_count == 3
    assert len(sleeps) == 2
    assert [attempt.outcome for attempt in hooks.attempts] == ["transport_error"] * 3


def test_a_refused_connection_is_a_transport_error(client, vendor):
    vendor.post("/rest/2.0/image-classify/v1/gesture").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    with pytest.raises(TransportError) as raised:
        client.call("gesture", jpeg())
    assert raised.value.retryable


@pytest.mark.parametrize(
    ("response", "expected", "outcome"),
    [
        (httpx.Response(502, text="<html>Bad Gateway</html>"), ServiceError, "vendor_error"),
        (
            httpx.Response(429, text="slow down", headers={"Retry-After": "3"}),
            RateLimited,
            "vendor_error",
        ),
        (httpx.Response(200, text="<html>proxy login</html>"), TransportError, "transport_error"),
        (httpx.Response(200, json=[1, 2]), TransportError, "transport_error"),
        (httpx.Response(404, text="not found"), BadRequest, "vendor_error"),
        (httpx.Response(403, text="forbidden"), AuthError, "vendor_error"),
    ],
)
def test_answers_that_are_not_the_vendors_json_become_typed_errors(
    client, vendor, hooks, response, expected, outcome
):
    api_route(vendor, "gesture", response)

    with pytest.raises(BackendError) as raised:
        client.call("gesture", jpeg())

    assert type(raised.value) is expected
    assert hooks.attempts[0].outcome == outcome
    if expected is RateLimited:
        assert raised.value.retry_after == 3.0


# ---------------------------------------------------------------- token


def test_two_calls_share_one_token_request(client, vendor):
    api_route(vendor, "gesture", ok(sample("gesture")))

    client.call("gesture", jpeg())
    client.call("gesture", jpeg())

    assert vendor["token"].call_count == 1
    assert vendor["gesture"].call_count == 2


def test_two_clients_with_one_store_share_one_token(settings, vendor):
    api_route(vendor, "gesture", ok(sample("gesture")))
    store = MemoryStore()

    with (
        BaiduClient(settings, token_store=store) as first,
        BaiduClient(settings, token_store=store) as second,
    ):
        first.call("gesture", jpeg())
        second.call("gesture", jpeg())

    assert vendor["token"].call_count == 1
    tokens = {call.request.url.params["access_token"] for call in vendor["gesture"].calls}
    assert tokens == {TOKEN}


def test_an_expired_token_is_refreshed_exactly_once_and_the_call_then_succeeds(
    client, vendor, hooks, sleeps
):
    # given a token the vendor no longer accepts, and a new one on the next request
    vendor["token"].mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "24.old", "expires_in": 2592000}),
            httpx.Response(200, json={"access_token": "24.new", "expires_in": 2592000}),
        ]
    )
    route = api_route(
        vendor,
        "body_analysis",
        vendor_error(110, "Access token invalid or no longer valid"),
        ok(sample("body_analysis")),
        ok(sample("body_analysis")),
    )

    # when a call is made
    result = client.call("body_analysis", jpeg())

    # then the token was fetched again once, the request repeated at once with it
    assert result.person_count == 2
    assert vendor["token"].call_count == 2
    assert [call.request.url.params["access_token"] for call in route.calls] == [
        "24.old",
        "24.new",
    ]
    assert sleeps == []
    assert [(a.outcome, a.error_code) for a in hooks.attempts] == [
        ("vendor_error", "110"),
        ("success", ""),
    ]
    # and later calls keep the new token
    client.call("body_analysis", jpeg())
    assert route.calls.last.request.url.params["access_token"] == "24.new"
    assert vendor["token"].call_count == 2


def test_the_token_refresh_announces_both_requests_before_each_leaves(client, vendor, hooks):
    # given a token the vendor refuses with 110, a new one on the next token request
    vendor["token"].mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "24.old", "expires_in": 2592000}),
            httpx.Response(200, json={"access_token": "24.new", "expires_in": 2592000}),
        ]
    )
    arrivals: list[tuple[int, int, bool]] = []
    route = vendor.post("/rest/2.0/image-classify/v1/body_analysis").mock(
        side_effect=on_arrival(
            hooks,
            arrivals,
            vendor_error(110, "Access token invalid or no longer valid"),
            ok(sample("body_analysis")),
        )
    )

    # when a call is made
    client.call("body_analysis", jpeg())

    # then each of the two analysis requests was announced once before it arrived,
    # the token requests not at all
    assert route.call_count == 2 and vendor["token"].call_count == 2
    assert arrivals == [(1, 1, False), (2, 2, False)]
    # and each announcement pairs with the outcome reported for the same request
    assert [announced(a) for a in hooks.sent] == [announced(a) for a in hooks.attempts]
    assert [(a.attempt, a.outcome, a.latency_ms) for a in hooks.sent] == [
        (1, "pending", 0.0),
        (2, "pending", 0.0),
    ]
    assert [(a.outcome, a.error_code) for a in hooks.attempts] == [
        ("vendor_error", "110"),
        ("success", ""),
    ]


def test_a_refused_key_pair_is_a_permanent_auth_error_and_no_analysis_is_attempted(
    client, vendor, hooks
):
    vendor["token"].respond(
        401, json={"error": "invalid_client", "error_description": "unknown client id"}
    )
    route = api_route(vendor, "gesture", ok(sample("gesture")))

    with pytest.raises(AuthError) as raised:
        client.call("gesture", jpeg())

    assert raised.value.permanent
    assert "invalid_client" in str(raised.value)
    assert vendor["token"].call_count == 1
    assert route.call_count == 0
    assert hooks.attempts == [] and hooks.before_calls == []


def test_token_requests_are_not_reported_as_attempts(client, vendor, hooks):
    api_route(vendor, "gesture", ok(sample("gesture")))

    client.call("gesture", jpeg())

    assert len(hooks.attempts) == 1
    assert hooks.attempts[0].api == "gesture"


# ---------------------------------------------------------------- hooks and breaker


def test_hooks_see_each_attempt_once_with_a_local_request_id(client, vendor, hooks):
    api_route(vendor, "body_seg", vendor_error(282000, "internal error"), ok(sample("body_seg")))

    result = client.call("body_seg", jpeg())

    assert len(hooks.before_calls) == 2 and len(hooks.attempts) == 2
    ids = [request_id for _, _, request_id in hooks.before_calls]
    assert [attempt.request_id for attempt in hooks.attempts] == ids
    assert len(set(ids)) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert {(a.vendor, a.api, a.images) for a in hooks.attempts} == {("baidu", "body_seg", 1)}
    assert all(a.latency_ms >= 0 and a.started_at > 0 for a in hooks.attempts)
    assert result.request_id == "2451426617428943180"


def test_a_call_refused_by_the_quota_gate_is_reported_once_and_not_sent(settings, vendor, sleeps):
    hooks = RecordingHooks(refuse=True)
    route = api_route(vendor, "gesture", ok(sample("gesture")))

    with (
        BaiduClient(settings, hooks=hooks, sleep=sleeps.append) as baidu,
        pytest.raises(RefusedLocally),
    ):
        baidu.call("gesture", jpeg())

    assert route.call_count == 0
    assert sleeps == []
    assert [(a.outcome, a.api, a.attempt) for a in hooks.attempts] == [("refused", "gesture", 1)]
    assert hooks.attempts[0].request_id == hooks.before_calls[0][2]


def test_every_request_is_announced_by_sending_before_it_reaches_the_vendor(client, vendor, hooks):
    # given a QPS refusal, a service error, then the answer
    arrivals: list[tuple[int, int, bool]] = []
    route = vendor.post("/rest/2.0/image-classify/v1/body_num").mock(
        side_effect=on_arrival(
            hooks,
            arrivals,
            vendor_error(18, "Open api qps request limit reached"),
            vendor_error(282000, "internal error"),
            ok(sample("body_num")),
        )
    )

    # when a call is made
    client.call("body_num", jpeg())

    # then when request n arrived, sending had been called exactly n times and the
    # request in flight had no after yet
    assert route.call_count == 3
    assert arrivals == [(1, 1, False), (2, 2, False), (3, 3, False)]
    assert len(hooks.sent) == len(hooks.attempts) == 3


def test_sending_pairs_one_to_one_with_after_on_a_retried_call(client, vendor, hooks, sleeps):
    # given a QPS refusal, then the answer
    api_route(
        vendor,
        "body_num",
        vendor_error(18, "Open api qps request limit reached"),
        ok(sample("body_num")),
    )

    # when a call is made
    client.call("body_num", jpeg())

    # then each attempt was announced pending, with no latency, under the request id,
    # attempt number, API and vendor its after carries
    assert len(sleeps) == 1
    assert [announced(a) for a in hooks.sent] == [
        (hooks.before_calls[0][2], 1, "body_num", "baidu"),
        (hooks.before_calls[1][2], 2, "body_num", "baidu"),
    ]
    assert [announced(a) for a in hooks.sent] == [announced(a) for a in hooks.attempts]
    assert [(a.outcome, a.latency_ms) for a in hooks.sent] == [("pending", 0.0)] * 2
    assert [a.outcome for a in hooks.attempts] == ["vendor_error", "success"]


def test_a_call_refused_by_the_quota_gate_is_never_announced_as_sending(settings, vendor, sleeps):
    # given a quota gate that refuses
    hooks = RecordingHooks(refuse=True)
    route = api_route(vendor, "gesture", ok(sample("gesture")))

    # when a call is made
    with (
        BaiduClient(settings, hooks=hooks, sleep=sleeps.append) as baidu,
        pytest.raises(RefusedLocally),
    ):
        baidu.call("gesture", jpeg())

    # then the gate ran and the refusal was reported, but nothing was announced
    assert route.call_count == 0
    assert len(hooks.before_calls) == 1
    assert [a.outcome for a in hooks.attempts] == ["refused"]
    assert hooks.sent == []


def test_the_breaker_opens_after_repeated_failures_and_stops_requests(settings, vendor):
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    one_try = ClientSettings(
        base_url=BASE,
        api_key="test-api-key",
        secret_key="test-secret-key",
        account="site-account",
        retry=RetryPolicy(max_attempts=1),
    )
    route = api_route(vendor, "body_num", vendor_error(18, "Open api qps request limit reached"))

    with BaiduClient(one_try, breaker=breaker, sleep=lambda _: None) as baidu:
        for _ in range(2):
            with pytest.raises(RateLimited):
                baidu.call("body_num", jpeg())
        with pytest.raises(CircuitOpen):
            baidu.call("body_num", jpeg())

    assert route.call_count == 2
    assert breaker.is_open("site-account", "body_num")
    assert not breaker.is_open("site-account", "gesture")


def test_a_success_closes_the_count_of_failures(settings, vendor):
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    one_try = ClientSettings(base_url=BASE, account="a", retry=RetryPolicy(max_attempts=1))
    api_route(
        vendor,
        "gesture",
        vendor_error(1, "Unknown error"),
        ok(sample("gesture")),
        vendor_error(1, "Unknown error"),
    )

    with BaiduClient(one_try, breaker=breaker) as baidu:
        with pytest.raises(ServiceError):
            baidu.call("gesture", jpeg())
        baidu.call("gesture", jpeg())
        with pytest.raises(ServiceError):
            baidu.call("gesture", jpeg())

    assert not breaker.is_open("a", "gesture")


# ---------------------------------------------------------------- body_tracking cases

AREA = "1,1,600,1,600,400,1,400"


def tracking_fields(route) -> list[tuple[str, str, str]]:
    return [
        (
            form(c.request)["case_id"][0],
            form(c.request)["case_init"][0],
            form(c.request)["dynamic"][0],
        )
        for c in route.calls
    ]


def test_tracking_a_camera_initialises_its_case_on_the_first_frame_only(client, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_one_out")))

    for _ in range(3):
        result = client.track(jpeg(), "camera-7", AREA)

    case_id = str(tracking_case_id("site-account", "camera-7"))
    assert tracking_fields(route) == [
        (case_id, "true", "true"),
        (case_id, "false", "true"),
        (case_id, "false", "true"),
    ]
    assert form(route.calls.last.request)["area"] == [AREA]
    assert result.flow_out == 1


def test_each_camera_has_its_own_case(client, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_nobody")))

    client.track(jpeg(), "camera-1", AREA)
    client.track(jpeg(), "camera-2", AREA)
    client.track(jpeg(), "camera-1", AREA)

    fields = tracking_fields(route)
    assert [init for _, init, _ in fields] == ["true", "true", "false"]
    assert fields[0][0] == fields[2][0] != fields[1][0]
    assert all(0 < int(case_id) < 2**31 for case_id, _, _ in fields)


def test_a_reset_starts_a_new_case_on_the_next_frame(client, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_nobody")))

    client.track(jpeg(), "gate", AREA)
    client.track(jpeg(), "gate", AREA)
    client.reset_tracking("gate")
    client.track(jpeg(), "gate", AREA)
    client.track(jpeg(), "gate", AREA, reset=True)

    assert [init for _, init, _ in tracking_fields(route)] == ["true", "false", "true", "true"]


def test_a_failed_first_frame_is_sent_again_as_a_first_frame(client, vendor):
    route = api_route(
        vendor,
        "body_tracking",
        vendor_error(216201, "image format error"),
        ok(sample("body_tracking_nobody")),
        ok(sample("body_tracking_nobody")),
    )

    with pytest.raises(BadRequest):
        client.track(jpeg(), "gate", AREA)
    client.track(jpeg(), "gate", AREA)
    client.track(jpeg(), "gate", AREA)

    assert [init for _, init, _ in tracking_fields(route)] == ["true", "true", "false"]


def test_a_camera_idle_for_longer_than_the_limit_starts_a_new_case(settings, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_nobody")))

    with BaiduClient(settings, tracking_idle=0.05) as baidu:
        baidu.track(jpeg(), "gate", AREA)
        baidu.track(jpeg(), "gate", AREA)
        time.sleep(0.1)
        baidu.track(jpeg(), "gate", AREA)

    assert [init for _, init, _ in tracking_fields(route)] == ["true", "false", "true"]


def test_workers_sharing_a_store_continue_the_same_case(settings, vendor):
    route = api_route(vendor, "body_tracking", ok(sample("body_tracking_nobody")))
    shared = MemoryStore()

    with (
        BaiduClient(settings, token_store=shared) as one,
        BaiduClient(settings, token_store=shared) as other,
    ):
        one.track(jpeg(), "gate", AREA)
        other.track(jpeg(), "gate", AREA)

    assert [init for _, init, _ in tracking_fields(route)] == ["true", "false"]


# ---------------------------------------------------------------- sharing


def test_one_client_serves_many_threads_with_one_token_request(client, vendor, hooks):
    route = api_route(vendor, "gesture", ok(sample("gesture")))
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(5):
                assert client.call("gesture", jpeg()).objects
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert route.call_count == 80
    assert vendor["token"].call_count == 1
    assert len(hooks.attempts) == 80


def test_closing_the_client_closes_its_own_connection_pool_only(settings, vendor):
    with BaiduClient(settings) as own:
        pass
    assert own.http.is_closed

    shared = httpx.Client()
    with BaiduClient(settings, http=shared):
        pass
    assert not shared.is_closed
    shared.close()


def test_the_connection_pool_uses_the_configured_timeouts(settings):
    with BaiduClient(settings) as baidu:
        timeout = baidu.http.timeout
    assert (timeout.connect, timeout.read) == (
        settings.timeouts.connect,
        settings.timeouts.read,
    )
