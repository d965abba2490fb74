"""The sandbox's Baidu private deployment (/sandbox/baidu-private/<service>/...) through
the real ``BaiduPrivateClient`` over HTTP on a live server, and its error tables read
back directly: analysed answers where the on-box analyzer can judge, the seed's examples
marked as replays elsewhere."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.exceptions import ValidationError

from monitoring.backends.baidu_private import PRIVATE_SERVICES, BaiduPrivateClient
from monitoring.backends.base import BadRequest, CallHooks, ClientSettings, RetryPolicy
from monitoring.backends.local import LocalAnalyzer
from monitoring.models import Vendor, VendorAccount
from monitoring.sandbox.baidu_private import SERVICES
from tests.sandbox.conftest import photo, picture

pytestmark = pytest.mark.django_db(transaction=True)

CROWD_PHOTO = "000294.jpg"  # people the on-box analyzer finds
CLASSIFY = "/sandbox/baidu-private/{}/GeneralClassifyService/classify"


class Recorder(CallHooks):
    def __init__(self):
        self.attempts = []

    def after(self, attempt):
        self.attempts.append(attempt)


@pytest.fixture
def hooks():
    return Recorder()


@pytest.fixture
def private(live_server, hooks):
    settings = ClientSettings(
        base_url=f"{live_server.url}/sandbox/baidu-private",
        account="sandbox-private",
        retry=RetryPolicy(max_attempts=1),
    )
    with BaiduPrivateClient(settings, hooks=hooks) as client:
        yield client


def test_the_sandbox_serves_every_service_the_client_knows():
    assert set(SERVICES) == set(PRIVATE_SERVICES)


def test_a_base_url_with_a_path_and_no_ports_tells_the_services_apart_by_path(private, live_server):
    assert private.url_for("body_num") == (
        f"{live_server.url}/sandbox/baidu-private/body_num/GeneralClassifyService/classify"
    )


def test_a_host_only_base_url_keeps_one_port_per_service():
    client = BaiduPrivateClient(ClientSettings(base_url="http://10.0.0.5", ports={"gesture": 9000}))
    try:
        assert client.url_for("body_num") == "http://10.0.0.5:8122/GeneralClassifyService/classify"
        assert client.url_for("gesture") == "http://10.0.0.5:9000/GeneralClassifyService/classify"
    finally:
        client.close()


def test_people_are_detected_by_the_on_box_analyzer_not_replayed(private, hooks):
    expected = LocalAnalyzer().analyze("persons", [photo(CROWD_PHOTO)]).person_count

    result = private.call("body_detection", photo(CROWD_PHOTO))

    assert result.replay is False
    assert expected > 0
    assert result.person_count == expected == len(result.persons)
    assert [(a.api, a.outcome) for a in hooks.attempts] == [("body_detection", "success")]


def test_nobody_is_found_on_a_blank_picture(private):
    result = private.call("body_detection", picture(320, 240))

    assert (result.replay, result.person_count, result.persons) == (False, 0, [])


def test_people_are_counted_per_area_by_the_on_box_analyzer(private):
    image = photo(CROWD_PHOTO)
    whole = [[1, 1, 959, 1, 959, 719, 1, 719]]
    left_strip = [[1, 1, 20, 1, 20, 20, 1, 20]]
    expected = LocalAnalyzer().analyze("body_num", [image]).person_count

    result = private.call("body_num", image, area=whole + left_strip)

    assert result.replay is False
    assert result.person_count == expected > 0
    assert result.area_counts == [expected, 0]


def test_attributes_come_from_the_seed_on_each_person_the_analyzer_found(private, hooks):
    result = private.call("body_attr", photo(CROWD_PHOTO))

    # detection analysed, then one attribute request per person big enough to describe
    assert result.replay is True
    assert result.persons
    described = [p for p in result.persons if p.attributes]
    assert described, "the seed's example attributes are given to each described person"
    apis = [a.api for a in hooks.attempts]
    assert apis[0] == "body_detection"
    assert apis.count("body_attr") == len(described)
    assert {a.outcome for a in hooks.attempts} == {"success"}


@pytest.mark.parametrize(
    ("service", "field"),
    [
        ("body_analysis", "persons"),
        ("gesture", "objects"),
        ("hand_analysis", "objects"),
        ("body_seg", "images"),
        ("driver_behavior", "drivers"),
    ],
)
def test_what_the_analyzer_cannot_judge_is_the_seeds_example_marked_as_replay(
    private, service, field
):
    result = private.call(service, photo(CROWD_PHOTO))

    assert result.replay is True
    assert result.api == service
    assert field in result.as_dict()
    if field != "images":
        assert getattr(result, field), f"the seed's {service} example has findings"


def test_an_attribute_type_the_service_does_not_know_is_its_error_8(private):
    with pytest.raises(BadRequest) as raised:
        private.call("body_attr", photo(CROWD_PHOTO), single_person=True, type="no_such_thing")

    assert raised.value.code == 8


def _post(client, service: str, data) -> dict:
    response = client.post(
        CLASSIFY.format(service), json.dumps({"data": data}), content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def _inner(**fields) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


@pytest.mark.parametrize(
    ("service", "key", "code"),
    [
        ("body_num", "err_no", 1),  # 人流量统计: 请求未包含image
        ("body_detection", "err_no", 216101),  # 人体检测: 输入数据中不存在"image"字段
        ("body_attr", "err_no", 4),  # 人体属性识别: 输入数据中不存在"image"字段
        ("body_analysis", "err_code", 216101),  # 人体关键点识别
        ("gesture", "err_no", 216101),
        ("driver_behavior", "err_no", 4),
    ],
)
def test_a_request_without_an_image_gets_the_services_own_code(client, service, key, code):
    answer = _post(client, service, _inner(show=0))

    assert answer[key] == code
    assert answer["err_msg"]


@pytest.mark.parametrize(
    ("service", "code"), [("body_num", 4), ("body_detection", 216202), ("body_attr", 7)]
)
def test_an_image_below_50_pixels_gets_the_services_size_code(client, service, code):
    small = base64.b64encode(picture(40, 40)).decode()

    assert _post(client, service, _inner(image=small))["err_no"] == code


def test_unreadable_image_bytes_get_the_services_parsing_code(client):
    junk = base64.b64encode(b"not an image at all").decode()

    assert _post(client, "body_attr", _inner(image=junk))["err_no"] == 5
    assert _post(client, "body_seg", junk)["err_no"] == 216201


def test_an_unknown_service_is_not_found(client):
    response = client.post(CLASSIFY.format("fingertip"), "{}", content_type="application/json")

    assert response.status_code == 404


def _account(**fields) -> VendorAccount:
    return VendorAccount(name="private", vendor=Vendor.BAIDU_PRIVATE, **fields)


def test_an_account_may_point_at_the_sandbox_by_path_without_ports():
    account = _account(base_url="http://127.0.0.1:8000/sandbox/baidu-private")

    account.full_clean()
    assert account.client_settings().base_url == "http://127.0.0.1:8000/sandbox/baidu-private"


def test_an_account_with_a_path_and_ports_is_refused():
    account = _account(
        base_url="http://127.0.0.1:8000/sandbox/baidu-private", ports={"body_num": 1}
    )

    with pytest.raises(ValidationError) as raised:
        account.full_clean()
    assert "base_url" in raised.value.message_dict


def test_an_account_with_a_port_and_no_path_is_still_refused():
    with pytest.raises(ValidationError) as raised:
        _account(base_url="http://10.0.0.5:8124").full_clean()
    assert "base_url" in raised.value.message_dict
