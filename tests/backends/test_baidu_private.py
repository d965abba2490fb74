"""The privately deployed Baidu Body Analysis client against faked services.

Every answer format comes from the seed's ``接口调用`` examples (see
``data/baidu_private/README.md``); requests are read back through their envelope.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
import respx
from PIL import Image, ImageDraw

from monitoring.backends.baidu_private import PRIVATE_SERVICES, VENDOR, BaiduPrivateClient
from monitoring.backends.base import (
    AnalysisResult,
    AuthError,
    BadRequest,
    CallHooks,
    CircuitBreaker,
    CircuitOpen,
    ClientSettings,
    RefusedLocally,
    RetryPolicy,
    ServiceError,
    Timeouts,
    TransportError,
    Unsupported,
)

DATA = Path(__file__).parent / "data" / "baidu_private"
HOST = "http://10.0.0.5"
PATH = "/GeneralClassifyService/classify"

DEFAULT_PORTS = {
    "body_analysis": 8124,
    "body_detection": 8125,
    "body_attr": 8126,
    "body_num": 8122,
    "gesture": 8120,
    "hand_analysis": 8128,
    "body_seg": 8127,
    "driver_behavior": 8132,
}


def url(port: int) -> str:
    return f"{HOST}:{port}{PATH}"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def b64_json(value: dict) -> str:
    return base64.b64encode(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode()


def enveloped(result: dict, message: str = "succeed") -> dict:
    """The answer of a service that base64-encodes ``result`` (人体检测 and others)."""
    return {"err_no": 0, "err_msg": message, "format": "json", "result": b64_json(result)}


def vendor_error(code, message: str = "") -> dict:
    return {"err_no": code, "err_msg": message, "format": "json"}


def jpeg(width: int = 640, height: int = 480) -> bytes:
    image = Image.new("RGB", (width, height), (90, 120, 150))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 4, height // 4, width // 2, height // 2), fill=(250, 200, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def sent_data(request: httpx.Request) -> str:
    return json.loads(request.content)["data"]


def sent_payload(request: httpx.Request) -> dict:
    return json.loads(base64.b64decode(sent_data(request)))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class RecordingHooks(CallHooks):
    def __init__(self, refuse: bool = False):
        self.events: list[tuple] = []
        self.refuse = refuse

    def before(self, vendor: str, api: str, request_id: str) -> None:
        self.events.append(("before", vendor, api, request_id))
        if self.refuse:
            raise RefusedLocally("monthly budget spent", code="budget")

    def sending(self, attempt) -> None:
        self.events.append(("sending", attempt))

    def after(self, attempt) -> None:
        self.events.append(("after", attempt))

    @property
    def sent(self):
        return [event[1] for event in self.events if event[0] == "sending"]

    @property
    def attempts(self):
        return [event[1] for event in self.events if event[0] == "after"]


def on_arrival(hooks: RecordingHooks, arrivals: list[tuple[int, int, bool]], *responses):
    """A respx side effect answering ``responses`` in turn. As each request reaches the
    service it records (requests seen so far, ``sending`` calls so far, whether the last
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


def make_settings(**overrides) -> ClientSettings:
    values = {
        "base_url": HOST,
        "account": "plant-a",
        "retry": RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02),
        "timeouts": Timeouts(connect=2.0, read=7.0),
    }
    values.update(overrides)
    return ClientSettings(**values)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def hooks() -> RecordingHooks:
    return RecordingHooks()


@pytest.fixture
def client(sleeps, hooks):
    with BaiduPrivateClient(make_settings(), hooks=hooks, sleep=sleeps) as client:
        yield client


@pytest.fixture
def router():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture(scope="module")
def image() -> bytes:
    return jpeg()


# ---------------------------------------------------------------- requests

SINGLE_SERVICE_CALLS = [
    ("body_analysis", {}),
    ("body_detection", {}),
    ("body_attr", {"single_person": True}),
    ("body_num", {}),
    ("gesture", {}),
    ("hand_analysis", {}),
    ("body_seg", {}),
    ("driver_behavior", {}),
]


@pytest.mark.parametrize(("api", "params"), SINGLE_SERVICE_CALLS)
def test_each_service_is_posted_as_json_to_its_default_port_without_a_token(
    router, client, image, api, params
):
    # given the service answering on its documented port
    route = router.post(url(DEFAULT_PORTS[api])).respond(json=enveloped({}))
    # when the client calls it
    client.call(api, image, **params)
    # then one JSON POST went to that port and path, with no query string
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.url.path == PATH
    assert request.url.query == b""
    assert request.headers["content-type"] == "application/json"


def test_every_documented_service_has_its_documented_default_port():
    # given the seed's 接口调用说明, when reading the table, then each port matches
    assert {name: service.port for name, service in PRIVATE_SERVICES.items()} == DEFAULT_PORTS
    assert {service.path for service in PRIVATE_SERVICES.values()} == {PATH}


def test_the_data_field_decodes_to_json_holding_the_image_and_the_params(router, client, image):
    # given the driver behaviour service
    route = router.post(url(8132)).respond(json=enveloped({"person_num": 0, "person_info": []}))
    # when calling it with a type list and a right-hand-drive wheel location
    client.call("driver_behavior", image, type="smoke,cellphone", wheel_location=0)
    # then data is base64 of JSON holding the base64 image and the params
    payload = sent_payload(route.calls.last.request)
    assert base64.b64decode(payload["image"]) == image
    assert payload["type"] == "smoke,cellphone"
    assert payload["wheel_location"] == "0"


def test_the_segmentation_service_gets_the_base64_image_itself_as_data(router, client, image):
    # given the portrait segmentation service, whose envelope has no inner JSON
    route = router.post(url(8127)).respond(json=load("segmentation_answer.json"))
    # when segmenting
    client.call("body_seg", image)
    # then data is the image in base64
    assert base64.b64decode(sent_data(route.calls.last.request)) == image


def test_a_port_from_the_settings_replaces_the_default(router, sleeps, image):
    # given crowd counting moved to port 9122
    route = router.post(url(9122)).respond(json=enveloped({"person_num": 4}))
    settings = make_settings(ports={"body_num": 9122})
    # when counting
    with BaiduPrivateClient(settings, sleep=sleeps) as client:
        result = client.call("body_num", image)
    # then the request went to the configured port
    assert route.call_count == 1
    assert result.person_count == 4


def test_a_base_url_without_a_scheme_is_taken_as_plain_http(router, sleeps, image):
    # given a base URL written as a bare address
    route = router.post(url(8124)).respond(json=load("keypoints_answer.json"))
    # when calling the keypoint service
    with BaiduPrivateClient(make_settings(base_url="10.0.0.5"), sleep=sleeps) as client:
        client.call("body_analysis", image)
    # then the call went over http to the address
    assert route.call_count == 1


def test_an_online_area_string_is_sent_as_polygons_and_show_as_a_level(router, client, image):
    # given the crowd counting service
    route = router.post(url(8122)).respond(json=enveloped({"person_num": 3, "area_counts": [1]}))
    # when counting with the online API's area format and show=true
    client.call("body_num", image, area="10,10,300,10,300,200,10,200", show="true")
    # then area is a list of integer polygons and show the level 1
    payload = sent_payload(route.calls.last.request)
    assert payload["area"] == [[10, 10, 300, 10, 300, 200, 10, 200]]
    assert payload["show"] == 1


def test_an_area_is_scaled_into_the_frame_sent_when_the_image_was_downscaled(router, client):
    # given a frame wider than the services' 4096 px
    wide = jpeg(5000, 1000)
    route = router.post(url(8122)).respond(json=enveloped({"person_num": 0}))
    # when counting inside an area given in the frame's own pixels
    result = client.call("body_num", wide, area=[[1000, 100, 2000, 100, 2000, 500]])
    # then the area is in pixels of the frame sent, which is 4096 px wide
    payload = sent_payload(route.calls.last.request)
    assert result.frame_width == 4096
    assert payload["area"] == [[819, 82, 1638, 82, 1638, 410]]


def test_an_area_given_as_point_lists_is_sent_as_flat_polygons(router, client, image):
    # given the crowd counting service
    route = router.post(url(8122)).respond(json=enveloped({"person_num": 0}))
    # when counting inside one polygon given as (x, y) points
    client.call("body_num", image, area=[(10, 20), (300, 20), (300, 200)])
    # then it is sent as the service's flat coordinate list
    assert sent_payload(route.calls.last.request)["area"] == [[10, 20, 300, 20, 300, 200]]


@pytest.mark.parametrize(
    "area",
    [
        "0,10,300,10,300,200",  # coordinates start at 1
        "10,10,640,10,300,200",  # x must stay below the 640 px width
        ";".join(["10,10,50,10,50,50"] * 11),  # at most 10 areas
        "10,10,300",  # x and y in pairs
        [[10, 10, 50, 10]],  # at least 3 points
    ],
    ids=["zero", "at-width", "eleven-areas", "odd", "two-points"],
)
def test_an_area_the_service_would_silently_ignore_is_refused_before_any_request(
    router, client, image, area
):
    # given a crowd counting service that counts the whole image when an area is invalid
    route = router.post(url(8122)).respond(json=enveloped({"person_num": 0}))
    # when counting with such an area, then it is refused and nothing leaves
    with pytest.raises(BadRequest):
        client.call("body_num", image, area=area)
    assert route.call_count == 0


def test_a_parameter_the_service_does_not_know_is_refused_before_any_request(
    router, client, image, hooks
):
    # given a keypoint service
    route = router.post(url(8124)).respond(json=load("keypoints_answer.json"))
    # when calling it with a parameter it does not document
    with pytest.raises(BadRequest):
        client.call("body_analysis", image, type="gender")
    # then nothing left and nothing was recorded
    assert route.call_count == 0
    assert hooks.events == []


def test_single_person_is_understood_by_body_attr_only(router, client, image):
    # given a gesture service, when asked for a single person, then it is refused
    route = router.post(url(8120)).respond(json=load("gesture_answer.json"))
    with pytest.raises(BadRequest):
        client.call("gesture", image, single_person=True)
    assert route.call_count == 0


@pytest.mark.parametrize("api", ["body_tracking", "fingertip", "no_such_api"])
def test_a_capability_without_a_private_package_is_unsupported(router, client, image, api):
    # given no private service for this capability, when calling it, then it is refused
    with pytest.raises(Unsupported) as caught:
        client.call(api, image)
    assert caught.value.permanent
    assert len(router.calls) == 0


def test_each_request_carries_the_configured_connect_and_read_timeouts(router, sleeps, image):
    # given settings with a 2 s connect and a 7 s read timeout, and an injected HTTP
    # client with its own defaults
    route = router.post(url(8120)).respond(json=load("gesture_answer.json"))
    with httpx.Client(timeout=60) as http:
        client = BaiduPrivateClient(make_settings(), http=http, sleep=sleeps)
        # when calling
        client.call("gesture", image)
    # then the request carries them
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["connect"] == 2.0
    assert timeout["read"] == 7.0


# ---------------------------------------------------------------- answers


def test_the_keypoint_example_gives_one_person_with_21_keypoints(router, client, image):
    # given the seed's keypoint answer (err_no, result as an object)
    answer = load("keypoints_answer.json")
    router.post(url(8124)).respond(json=answer)
    # when analyzing
    result = client.call("body_analysis", image)
    # then one person with its box, score and 21 named keypoints
    assert isinstance(result, AnalysisResult)
    assert (result.vendor, result.api) == (VENDOR, "body_analysis")
    assert result.person_count == 1
    person = result.persons[0]
    assert person.box.left == pytest.approx(514.0347900390625)
    assert person.box.width == pytest.approx(226.6530609130859)
    assert person.score == pytest.approx(0.987429678440094)
    assert len(person.keypoints) == 21
    top_head = next(k for k in person.keypoints if k.name == "top_head")
    assert (top_head.x, top_head.y) == (627.0, 278.375)
    assert (result.frame_width, result.frame_height) == (640, 480)
    assert result.raw == answer


def test_the_detection_example_in_base64_gives_three_person_boxes(router, client, image):
    # given the seed's detection result, base64-encoded as the service sends it
    router.post(url(8125)).respond(json=enveloped(load("detection_result.json")))
    # when detecting
    result = client.call("body_detection", image)
    # then three persons with their boxes and probabilities
    assert result.person_count == 3
    first = result.persons[0]
    assert first.box.as_dict() == {"left": 1092, "top": 594, "width": 112, "height": 200}
    assert [p.score for p in result.persons] == [0.6849, 0.53, 0.4311]


def test_the_single_person_attribute_example_gives_named_attributes(router, client, image):
    # given the seed's attribute result, base64-encoded
    router.post(url(8126)).respond(json=enveloped(load("attributes_result.json")))
    # when describing an image that is one person
    result = client.call("body_attr", image, single_person=True, type="gender,lower_wear")
    # then the person carries the attributes with their scores
    person = result.persons[0]
    assert person.attributes["gender"].value == "男性"
    assert person.attributes["gender"].score == pytest.approx(0.937)
    assert person.attributes["upper_wear"].value == "短袖"
    assert person.box.as_dict() == {"left": 0, "top": 0, "width": 200, "height": 400}


def test_a_crowd_count_without_area_gives_the_total_only(router, client, image):
    # given the seed's answer for a count without show: {"person_num": 86}
    router.post(url(8122)).respond(json=enveloped({"person_num": 86}))
    # when counting
    result = client.call("body_num", image)
    # then the total, no area counts and no rendered image
    assert result.person_count == 86
    assert result.area_counts == []
    assert result.images == {}


def test_a_crowd_count_with_areas_and_show_gives_area_counts_and_the_rendered_image(
    router, client, image
):
    # given the seed's show=1 answer with counts for three areas
    answer = {"person_num": 86, "image": "/9j/4AAoFS2P/9k=", "area_counts": [5, 3, 8]}
    router.post(url(8122)).respond(json=enveloped(answer))
    # when counting
    result = client.call("body_num", image, show=1)
    # then each area's count and the rendered image are kept
    assert result.area_counts == [5, 3, 8]
    assert result.images == {"rendered": "/9j/4AAoFS2P/9k="}


def test_the_gesture_example_with_a_json_string_result_gives_a_thumb_up(router, client, image):
    # given the seed's gesture answer, whose result is a JSON string
    router.post(url(8120)).respond(json=load("gesture_answer.json"))
    # when recognizing gestures
    result = client.call("gesture", image)
    # then one Thumb_up box with its probability
    [gesture] = result.objects
    assert gesture.label == "Thumb_up"
    assert gesture.box.as_dict() == {"left": 453, "top": 563, "width": 106, "height": 145}
    assert gesture.score == pytest.approx(0.5996769666671753)


def test_the_hand_example_gives_a_hand_whose_score_is_brought_to_zero_one(router, client, image):
    # given the seed's hand answer, base64-encoded, whose box score runs to 21
    router.post(url(8128)).respond(json=enveloped(load("hand_result.json")))
    # when analyzing hands
    result = client.call("hand_analysis", image)
    # then one hand, its score divided by 21, its keypoints by number
    [hand] = result.objects
    assert hand.label == "hand"
    assert hand.score == pytest.approx(17.495880126953 / 21)
    assert [k.name for k in hand.keypoints] == ["0", "1", "20"]
    assert (hand.keypoints[0].x, hand.keypoints[0].y) == (829, 707)


def test_the_hand_service_string_error_number_zero_is_success(router, client, image):
    # given err_no sent as the string "0", as the hand service's table types it
    answer = {"err_no": "0", "err_msg": "Succeed!", "result": b64_json(load("hand_result.json"))}
    router.post(url(8128)).respond(json=answer)
    # when analyzing hands, then the hand is read
    assert len(client.call("hand_analysis", image).objects) == 1


def test_the_segmentation_example_parses_and_filled_maps_are_kept(router, client, image):
    # given the seed's segmentation answer (empty maps), then one with maps
    filled = load("segmentation_answer.json")
    filled["result"].update(labelmap="bGFiZWw=", foreground="Zmc=")
    router.post(url(8127)).mock(
        side_effect=[
            httpx.Response(200, json=load("segmentation_answer.json")),
            httpx.Response(200, json=filled),
        ]
    )
    # when segmenting twice
    empty, maps = client.call("body_seg", image), client.call("body_seg", image)
    # then empty maps are left out and filled ones kept by name
    assert empty.images == {}
    assert maps.images == {"labelmap": "bGFiZWw=", "foreground": "Zmc="}


def test_a_driver_split_over_two_entries_is_one_driver_with_its_behaviours(router, client, image):
    # given the driver answer whose attributes and location come as two entries
    router.post(url(8132)).respond(json=enveloped(load("driver_result.json")))
    # when analyzing the driver
    result = client.call("driver_behavior", image)
    # then one driver with the box and the behaviours at or above their thresholds present
    [driver] = result.drivers
    assert driver.box.as_dict() == {"left": 464, "top": 419, "width": 856, "height": 626}
    present = sorted(b.name for b in driver.behaviours if b.present)
    assert present == [
        "both_hands_leaving_wheel",
        "no_face_mask",
        "not_buckling_up",
        "not_facing_front",
    ]
    assert len(driver.behaviours) == 9


def test_attributes_without_thresholds_in_a_driver_answer_are_not_behaviours(router, client, image):
    # given the example the private driver page prints: the attribute service's shape
    router.post(url(8132)).respond(json=enveloped(load("attributes_result.json")))
    # when analyzing the driver
    result = client.call("driver_behavior", image)
    # then the driver's box is read but no behaviour is invented from {name, score}
    [driver] = result.drivers
    assert driver.box.as_dict() == {"left": 0, "top": 0, "width": 200, "height": 400}
    assert driver.behaviours == []


def test_the_generic_error_code_envelope_gives_the_log_id_as_request_id(router, client, image):
    # given the 返回格式 envelope: error_code 0, result an object, log_id
    answer = {
        "error_code": 0,
        "error_msg": "SUCCESS",
        "result": load("keypoints_answer.json")["result"],
        "log_id": 3535325235,
        "timestamp": 1512391548,
        "cached": 0,
    }
    router.post(url(8124)).respond(json=answer)
    # when analyzing
    result = client.call("body_analysis", image)
    # then the person is read and the log id names the request
    assert result.person_count == 1
    assert result.request_id == "3535325235"


# ---------------------------------------------------------------- errors and retries

ERRORS = [
    # (api, params, code, message, error class, attempts made)
    ("body_analysis", {}, 216202, "Invalid image ratio", BadRequest, 1),
    (
        "body_detection",
        {},
        216401,
        "pedestrian-detection-service [auth verify error]",
        AuthError,
        1,
    ),
    (
        "body_detection",
        {},
        216401,
        "GeneralClassify [status: bbox predict error!]",
        ServiceError,
        3,
    ),
    (
        "body_detection",
        {},
        216401,
        "pedestrian-detection-service [status:input parsing failed]",
        BadRequest,
        1,
    ),
    ("body_detection", {}, 216202, "image size not between 50 and 4096", BadRequest, 1),
    (
        "body_attr",
        {"single_person": True},
        6,
        "fg_human_attribute [status:image empty]",
        BadRequest,
        1,
    ),
    (
        "body_attr",
        {"single_person": True},
        3,
        "GeneralClassify [attrib predict error!]",
        ServiceError,
        3,
    ),
    ("body_attr", {"single_person": True}, 8, "attrib type parsing failed", BadRequest, 1),
    ("body_num", {}, 6, "fg-crowd-counting [auth verify error]", AuthError, 1),
    ("body_num", {}, 5, "fg-crowd-counting [status:heatmap prediction fail]", ServiceError, 3),
    ("body_num", {}, 4, "fg-crowd-counting [status:image size < 50]", BadRequest, 1),
    ("gesture", {}, 216204, "gestureservice [status:Not authenticated]", AuthError, 1),
    ("gesture", {}, 216203, "gestureservice [status:Image detection error]", BadRequest, 1),
    ("hand_analysis", {}, 216401, "Not authenticated", AuthError, 1),
    ("body_seg", {}, 216401, "", ServiceError, 3),
    ("body_seg", {}, 216201, "", BadRequest, 1),
    ("driver_behavior", {}, 7, "image size not between 50 and 4096", BadRequest, 1),
    ("driver_behavior", {}, 2, "bbox predict error", ServiceError, 3),
    ("gesture", {}, 999999, "something new", ServiceError, 3),
]


@pytest.mark.parametrize(("api", "params", "code", "message", "error_class", "attempts"), ERRORS)
def test_a_documented_error_code_is_mapped_per_service_and_retried_only_when_transient(
    router, client, image, sleeps, api, params, code, message, error_class, attempts
):
    # given the service answering the error every time
    route = router.post(url(DEFAULT_PORTS[api])).respond(json=vendor_error(code, message))
    # when calling it
    with pytest.raises(error_class) as caught:
        client.call(api, image, **params)
    # then the typed error names the code, and only transient ones were retried
    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert (caught.value.vendor, caught.value.api) == (VENDOR, api)
    assert route.call_count == attempts
    assert len(sleeps) == attempts - 1


def test_the_same_number_means_different_things_on_different_services(router, client, image):
    # given code 6 from the attribute service and from the crowd counting service
    router.post(url(8126)).respond(json=vendor_error(6, "image empty"))
    router.post(url(8122)).respond(json=vendor_error(6, "auth verify error"))
    # when calling both, then one is bad input and the other a licence problem
    with pytest.raises(BadRequest):
        client.call("body_attr", image, single_person=True)
    with pytest.raises(AuthError):
        client.call("body_num", image)


def test_an_error_named_err_code_as_in_the_keypoint_table_is_recognized(router, client, image):
    # given the keypoint service naming its code err_code
    router.post(url(8124)).respond(json={"err_code": 216200, "err_msg": "Image empty"})
    # when analyzing, then the code is read
    with pytest.raises(BadRequest) as caught:
        client.call("body_analysis", image)
    assert caught.value.code == 216200


def test_a_5xx_is_retried_and_a_later_success_is_returned(router, client, image, sleeps, hooks):
    # given a service that answers 503 once, then the keypoint example
    route = router.post(url(8124)).mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=load("keypoints_answer.json")),
        ]
    )
    # when analyzing
    result = client.call("body_analysis", image)
    # then the second attempt's result comes back after one pause
    assert result.person_count == 1
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert [a.outcome for a in hooks.attempts] == ["vendor_error", "success"]
    assert hooks.attempts[0].error_code == "http_503"


def test_a_timeout_every_time_ends_as_a_transport_error_after_the_policy_attempts(
    router, client, image, sleeps, hooks
):
    # given a service that never answers in time
    route = router.post(url(8125)).mock(side_effect=httpx.ReadTimeout("slow"))
    # when detecting
    with pytest.raises(TransportError) as caught:
        client.call("body_detection", image)
    # then three attempts, two pauses, each attempt recorded as a transport error
    assert caught.value.code == "timeout"
    assert caught.value.retryable
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert [a.outcome for a in hooks.attempts] == ["transport_error"] * 3


def test_a_refused_connection_is_a_retryable_transport_error(router, client, image):
    # given nothing listening on the port
    router.post(url(8122)).mock(side_effect=httpx.ConnectError("connection refused"))
    # when counting, then a retryable transport error
    with pytest.raises(TransportError) as caught:
        client.call("body_num", image)
    assert caught.value.code == "connect"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>proxy error</html>"),
        httpx.Response(200, json={"err_no": 0, "err_msg": "ok", "result": "not base64 at all!"}),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "result-not-base64", "json-array"],
)
def test_a_malformed_answer_is_a_retryable_transport_error(router, client, image, response):
    # given a 200 that is not a readable answer
    route = router.post(url(8125)).mock(return_value=response)
    # when detecting
    with pytest.raises(TransportError) as caught:
        client.call("body_detection", image)
    # then it was retried as a transport problem
    assert caught.value.code == "malformed"
    assert route.call_count == 3


def test_a_404_means_a_wrong_port_or_path_and_is_not_retried(router, client, image):
    # given a web server that does not know the path
    route = router.post(url(8124)).respond(404, text="not found")
    # when analyzing, then a permanent error after one attempt
    with pytest.raises(BadRequest) as caught:
        client.call("body_analysis", image)
    assert caught.value.http_status == 404
    assert route.call_count == 1


# ---------------------------------------------------------------- hooks and breaker


def test_hooks_run_once_before_and_once_after_every_attempt(router, client, image, hooks):
    # given a service failing internally once, then succeeding
    router.post(url(8126)).mock(
        side_effect=[
            httpx.Response(200, json=vendor_error(2, "bbox predict error")),
            httpx.Response(200, json=enveloped(load("attributes_result.json"))),
        ]
    )
    # when describing a person
    client.call("body_attr", image, single_person=True)
    # then before/sending/after follow each other, once each per attempt, with matching
    # request ids
    kinds = [event[0] for event in hooks.events]
    assert kinds == ["before", "sending", "after", "before", "sending", "after"]
    befores = [event for event in hooks.events if event[0] == "before"]
    assert [b[1:3] for b in befores] == [(VENDOR, "body_attr")] * 2
    assert [a.request_id for a in hooks.attempts] == [b[3] for b in befores]
    assert [(a.attempt, a.outcome, a.error_code) for a in hooks.attempts] == [
        (1, "vendor_error", "2"),
        (2, "success", ""),
    ]
    assert all(a.latency_ms >= 0 and a.images == 1 for a in hooks.attempts)


def test_a_call_refused_by_the_before_hook_never_leaves_and_is_recorded_as_refused(
    router, sleeps, image
):
    # given a quota gate that refuses
    hooks = RecordingHooks(refuse=True)
    route = router.post(url(8124)).respond(json=load("keypoints_answer.json"))
    # when analyzing
    client = BaiduPrivateClient(make_settings(), hooks=hooks, sleep=sleeps)
    with pytest.raises(RefusedLocally):
        client.call("body_analysis", image)
    client.close()
    # then no request left, no retry, and the attempt is recorded as refused
    assert route.call_count == 0
    assert sleeps == []
    [attempt] = hooks.attempts
    assert (attempt.outcome, attempt.error_code) == ("refused", "budget")


def test_every_request_is_announced_by_sending_before_it_reaches_the_service(
    router, client, image, hooks
):
    # given a keypoint service that is busy twice, then answers
    arrivals: list[tuple[int, int, bool]] = []
    route = router.post(url(8124)).mock(
        side_effect=on_arrival(
            hooks,
            arrivals,
            httpx.Response(503, text="busy"),
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=load("keypoints_answer.json")),
        )
    )
    # when analyzing
    client.call("body_analysis", image)
    # then when request n arrived, sending had been called exactly n times and the
    # request in flight had no after yet
    assert route.call_count == 3
    assert arrivals == [(1, 1, False), (2, 2, False), (3, 3, False)]
    assert len(hooks.sent) == len(hooks.attempts) == 3


def test_sending_pairs_one_to_one_with_after_on_a_retried_call(
    router, client, image, sleeps, hooks
):
    # given a service that answers 503 once, then the keypoint example
    router.post(url(8124)).mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=load("keypoints_answer.json")),
        ]
    )
    # when analyzing
    client.call("body_analysis", image)
    # then each attempt was announced pending, with no latency, under the request id,
    # attempt number, API and vendor its after carries
    befores = [event for event in hooks.events if event[0] == "before"]
    assert len(sleeps) == 1
    assert [announced(a) for a in hooks.sent] == [
        (befores[0][3], 1, "body_analysis", VENDOR),
        (befores[1][3], 2, "body_analysis", VENDOR),
    ]
    assert [announced(a) for a in hooks.sent] == [announced(a) for a in hooks.attempts]
    assert [(a.outcome, a.latency_ms) for a in hooks.sent] == [("pending", 0.0)] * 2
    assert [a.outcome for a in hooks.attempts] == ["vendor_error", "success"]


def test_a_call_refused_by_the_before_hook_is_never_announced_as_sending(router, sleeps, image):
    # given a quota gate that refuses
    hooks = RecordingHooks(refuse=True)
    route = router.post(url(8124)).respond(json=load("keypoints_answer.json"))
    # when analyzing
    with (
        BaiduPrivateClient(make_settings(), hooks=hooks, sleep=sleeps) as client,
        pytest.raises(RefusedLocally),
    ):
        client.call("body_analysis", image)
    # then the gate ran and the refusal was reported, but nothing was announced
    assert route.call_count == 0
    assert [event[0] for event in hooks.events] == ["before", "after"]
    assert hooks.attempts[0].outcome == "refused"
    assert hooks.sent == []


def test_the_breaker_opens_per_account_and_service_after_repeated_failures(router, sleeps, image):
    # given a breaker opening after three failures and a broken detection service
    breaker = CircuitBreaker(threshold=3, cooldown=60)
    detection = router.post(url(8125)).respond(503)
    keypoints = router.post(url(8124)).respond(json=load("keypoints_answer.json"))
    with BaiduPrivateClient(make_settings(), breaker=breaker, sleep=sleeps) as client:
        with pytest.raises(ServiceError):
            client.call("body_detection", image)
        # when calling the detection service again
        with pytest.raises(CircuitOpen):
            client.call("body_detection", image)
        # then no further request left for it, while another service still answers
        assert detection.call_count == 3
        assert client.call("body_analysis", image).person_count == 1
    assert keypoints.call_count == 1
    assert breaker.is_open("plant-a", "body_detection")
    assert not breaker.is_open("plant-b", "body_detection")


# ---------------------------------------------------------------- body_attr: detect, then describe


def test_body_attr_detects_persons_then_describes_each_crop(router, client, hooks):
    # given a frame with two persons large enough (the second one red) and one below 50 px
    canvas = Image.new("RGB", (1400, 900), (90, 120, 150))
    ImageDraw.Draw(canvas).rectangle((100, 100, 159, 239), fill=(255, 0, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=95)
    frame = buffer.getvalue()
    detection = {
        "person_num": 3,
        "det_res": [
            {"classname": "person", "left": 1092, "top": 594, "width": 112, "height": 200,
             "probability": 0.68, "label": 1},
            {"classname": "person", "left": 100, "top": 100, "width": 60, "height": 140,
             "probability": 0.53, "label": 1},
            {"classname": "person", "left": 969, "top": 192, "width": 40, "height": 75,
             "probability": 0.43, "label": 1},
        ],
    }  # fmt: skip
    detector = router.post(url(8125)).respond(json=enveloped(detection))
    describer = router.post(url(8126)).respond(json=enveloped(load("attributes_result.json")))
    # when asking for body attributes
    result = client.call("body_attr", frame, type="gender,headwear")
    # then the detector saw the frame and the describer one crop per large person
    assert base64.b64decode(sent_payload(detector.calls.last.request)["image"]) == frame
    assert describer.call_count == 2
    crops = [sent_payload(call.request) for call in describer.calls]
    patches = [Image.open(io.BytesIO(base64.b64decode(c["image"]))) for c in crops]
    assert [patch.size for patch in patches] == [(112, 200), (60, 140)]
    red, green, blue = patches[1].getpixel((30, 70))
    assert red > 200 and green < 60 and blue < 60
    assert {c["type"] for c in crops} == {"gender,headwear"}
    # and the persons keep the frame's boxes, the large ones with attributes
    assert result.api == "body_attr"
    assert result.person_count == 3
    assert result.persons[0].box.left == 1092
    assert result.persons[0].attributes["gender"].value == "男性"
    assert result.persons[1].attributes["lower_wear"].value == "长裤"
    assert result.persons[2].attributes == {}
    assert [a.api for a in hooks.attempts] == ["body_detection", "body_attr", "body_attr"]


def test_body_attr_keeps_a_person_whose_crop_the_service_refuses(router, client):
    # given one detected person whose crop the attribute service finds too small
    frame = jpeg(800, 600)
    detection = {"person_num": 1, "det_res": [
        {"left": 10, "top": 10, "width": 80, "height": 160, "probability": 0.9}]}  # fmt: skip
    router.post(url(8125)).respond(json=enveloped(detection))
    describer = router.post(url(8126)).respond(json=vendor_error(7, "image size"))
    # when asking for body attributes
    result = client.call("body_attr", frame)
    # then the person is there without attributes, and the refusal was not retried
    assert len(result.persons) == 1
    assert result.persons[0].attributes == {}
    assert describer.call_count == 1


def test_body_attr_fails_when_the_attribute_service_rejects_the_type_list(router, client):
    # given an attribute service that finds no known attribute in the type list
    frame = jpeg(800, 600)
    detection = {"person_num": 1, "det_res": [
        {"left": 10, "top": 10, "width": 80, "height": 160, "probability": 0.9}]}  # fmt: skip
    router.post(url(8125)).respond(json=enveloped(detection))
    router.post(url(8126)).respond(json=vendor_error(8, "attrib type parsing failed"))
    # when asking for body attributes with that list, then the caller's mistake is raised
    with pytest.raises(BadRequest) as caught:
        client.call("body_attr", frame, type="helmet")
    assert caught.value.code == 8


def test_body_attr_fails_when_the_attribute_service_fails_inside(router, client):
    # given an attribute service failing internally every time
    frame = jpeg(800, 600)
    detection = {"person_num": 1, "det_res": [
        {"left": 10, "top": 10, "width": 80, "height": 160, "probability": 0.9}]}  # fmt: skip
    router.post(url(8125)).respond(json=enveloped(detection))
    describer = router.post(url(8126)).respond(json=vendor_error(3, "attrib predict error"))
    # when asking for body attributes, then the failure is raised after the retries
    with pytest.raises(ServiceError):
        client.call("body_attr", frame)
    assert describer.call_count == 3


# ---------------------------------------------------------------- lifecycle


def test_the_client_closes_its_own_http_client_but_not_one_it_was_given():
    # given one client with its own HTTP client and one with an injected one
    given = httpx.Client()
    with BaiduPrivateClient(make_settings()) as own:
        own_http = own.http
    with BaiduPrivateClient(make_settings(), http=given) as injected:
        assert injected.http is given
    # then only the client's own HTTP client is closed
    assert own_http.is_closed
    assert not given.is_closed
    given.close()
