"""The emulated CTYun Safety Production API over Django's test client: the gateway's
appkey and signature checks (`4.1.3 状态码`, `4.1.3 认证鉴权`), limits, each API's own
checks (`10、错误码说明`), the fence computed from the images sent and the replays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import urlparse

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings

from monitoring.backends.base import ClientSettings, RateLimited, RetryPolicy
from monitoring.backends.ctyun import CTYUN_APIS, CtyunClient, encode_body, signed_headers
from monitoring.backends.local import LocalAnalyzer
from monitoring.sandbox import ctyun as ctyun_sandbox
from monitoring.sandbox import limits
from monitoring.sandbox.examples import example

from .conftest import b64, ctyun_path, ctyun_post, photo, picture, sandbox

pytestmark = pytest.mark.django_db

CROWD_PHOTO = "000294.jpg"  # 960x720, people the on-box analyzer finds


def urlsafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


# ---------------------------------------------------------------- 4.1.4 Python 调用示例


def _seed_sample_signature(ak, sk, app_key, params, request_url):
    """`4.1.4 Python 调用示例`'s ``get_signature``, as printed (``request_url`` passed in
    instead of read from the module's globals)."""

    def sha256(content):
        x = hashlib.sha256()
        x.update(content.encode())
        return x.hexdigest().upper()

    def hmac_sha256(key, content):
        sign = hmac.new(key, content, digestmod="sha256").digest()
        return base64.b64encode(sign)

    request_id = str(uuid.uuid1())
    now_time = time.localtime()
    eop_date = time.strftime("%Y%m%dT%H%M%SZ", now_time)
    eop_date_simple = time.strftime("%Y%m%d", now_time)
    camp_header = f"appkey:{app_key}\nctyun-eop-request-id:{request_id}\neop-date:{eop_date}\n"
    query = urlparse(request_url).query
    after_query = ""
    for query_param in sorted(query.split("&")):
        if len(after_query) < 1:
            after_query += query_param
        else:
            after_query += "&" + query_param
    content_hash = sha256(json.dumps(params)).lower()
    pre_signature = camp_header + "\n" + after_query + "\n" + content_hash
    k_time = hmac_sha256(sk.encode("utf-8"), eop_date.encode("utf-8"))
    k_ak = hmac_sha256(base64.b64decode(k_time), ak.encode("utf-8"))
    k_date = hmac_sha256(base64.b64decode(k_ak), eop_date_simple.encode("utf-8"))
    signature = hmac_sha256(base64.b64decode(k_date), pre_signature.encode("utf-8"))
    sign_header = (
        f"{ak} Headers=appkey;ctyun-eop-request-id;eop-date Signature={signature.decode()}"
    )
    return request_id, eop_date, sign_header


def test_given_the_seeds_own_python_sample_when_it_calls_the_helmet_api_then_the_sandbox_accepts_it(
    client,
):
    path = ctyun_path("helmet")
    params = {"image": urlsafe(photo(CROWD_PHOTO))}
    request_id, eop_date, sign_header = _seed_sample_signature(
        "sandbox-ak",
        "sandbox-sk",
        "sandbox-appkey",
        params,
        "https://ai-global.ctapi.ctyun.cn" + path,
    )

    response = client.post(
        path,
        json.dumps(params),
        content_type="application/json;charset=UTF-8",
        HTTP_CTYUN_EOP_REQUEST_ID=request_id,
        HTTP_APPKEY="sandbox-appkey",
        HTTP_EOP_AUTHORIZATION=sign_header,
        HTTP_EOP_DATE=eop_date,
    )

    assert response.status_code == 200
    assert response.json() == example("ctyun", "helmet")
    assert response.headers["X-Sandbox-Replay"] == "true"


# ---------------------------------------------------------------- gateway (4.1.3 状态码)


@pytest.fixture
def blank_image() -> dict:
    return {"image": urlsafe(picture(320, 240))}


def test_given_no_appkey_header_when_called_then_gateway_code_40002(client, blank_image):
    response = ctyun_post(client, "helmet", blank_image, appkey=None)

    assert response.status_code == 401
    assert response.json()["code"] == 40002


def test_given_an_unknown_appkey_when_called_then_gateway_code_40006(client, blank_image):
    response = ctyun_post(client, "helmet", blank_image, appkey="someone-else")

    assert response.json()["code"] == 40006


def test_given_no_signature_when_called_then_gateway_code_10020(client, blank_image):
    response = ctyun_post(client, "helmet", blank_image, **{"Eop-Authorization": None})

    assert response.status_code == 401
    assert response.json()["code"] == 10020


def _post_signed_for(client, api, sent: bytes, signed_for: bytes, ak: str = "sandbox-ak"):
    """POST ``sent`` with the headers of a request signed over ``signed_for`` by ``ak``."""
    headers = signed_headers(ak, "sandbox-sk", "sandbox-appkey", signed_for, host="h")
    names = ("Eop-Authorization", "eop-date", "ctyun-eop-request-id")
    return ctyun_post(client, api, body=sent, **{name: headers[name] for name in names})


def test_given_a_signature_made_with_another_ak_when_called_then_gateway_code_10002(
    client, blank_image
):
    body = encode_body(blank_image)

    response = _post_signed_for(client, "helmet", body, body, ak="another-ak")

    assert response.json()["code"] == 10002


def test_given_a_body_changed_after_signing_when_called_then_gateway_code_10020(client):
    signed_for = encode_body({"image": urlsafe(picture(320, 240))})
    sent = encode_body({"image": urlsafe(picture(320, 241))})

    response = _post_signed_for(client, "helmet", sent, signed_for)

    assert response.json()["code"] == 10020


def test_given_the_same_json_spaced_otherwise_than_signed_then_10020_as_raw_bytes_are_signed(
    client, blank_image
):
    signed_for = json.dumps(blank_image).encode()
    sent = json.dumps(blank_image, separators=(",", ":")).encode()

    response = _post_signed_for(client, "helmet", sent, signed_for)

    assert response.json()["code"] == 10020


def test_given_a_compact_body_signed_as_sent_when_called_then_it_is_accepted(client, blank_image):
    body = json.dumps(blank_image, separators=(",", ":")).encode()

    response = _post_signed_for(client, "helmet", body, body)

    assert response.json()["code"] == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"eop-date": "2030-01-01T10:00:00Z"},  # not yyyymmddTHHMMSSZ
        {"eop-date": "20301301T100000Z"},  # month 13
        {"eop-date": None},
        {"ctyun-eop-request-id": None},
        {"ctyun-eop-request-id": "another-id"},  # signed with a different one
    ],
)
def test_given_a_missing_or_malformed_signed_header_when_called_then_gateway_code_10020(
    client, blank_image, changes
):
    response = ctyun_post(client, "helmet", blank_image, **changes)

    assert response.json()["code"] == 10020


def test_given_a_get_when_called_then_gateway_code_40008(client):
    response = client.get(ctyun_path("helmet"))

    assert response.json()["code"] == 40008


def test_given_a_path_no_api_lives_at_when_called_then_gateway_code_50003(client):
    response = client.post("/sandbox/ctyun/v1/aiop/api/nothing/here", b"{}", "application/json")

    assert response.status_code == 404
    assert response.json()["code"] == 50003


def test_given_the_sandbox_is_switched_off_when_an_api_is_called_then_404(client, blank_image):
    with override_settings(SANDBOX=sandbox(ENABLED=False)):
        response = ctyun_post(client, "helmet", blank_image)

    assert response.status_code == 404


def test_given_every_api_of_the_seed_when_a_valid_body_is_posted_then_each_path_answers_code_0(
    client,
):
    small = urlsafe(picture(200, 150))
    bodies = {
        "image": {"image": small},
        "fence": {"image": [small], "area": "0,0,200,0,200,150,0,150"},
        "image_content": {"imageContent": small},
        "numbered": {f"image{n}Content": small for n in range(1, 4)},
        "images": {"images": [small, small]},
    }
    for name, api in CTYUN_APIS.items():
        response = ctyun_post(client, name, bodies[api.shape])
        assert response.status_code == 200, name
        assert response.json()["code"] == 0, name


# ---------------------------------------------------------------- limits


def test_given_a_qps_limit_of_one_when_two_calls_come_in_one_second_then_the_second_gets_http_429(
    client, blank_image, monkeypatch
):
    monkeypatch.setattr(limits, "now", lambda: 1_800_000_000.5)
    with override_settings(SANDBOX=sandbox(QPS_LIMIT=1)):
        first = ctyun_post(client, "helmet", blank_image)
        second = ctyun_post(client, "helmet", blank_image)

    assert first.status_code == 200
    assert second.status_code == 429
    assert "code" not in second.json()


def test_given_a_total_quota_of_one_when_used_then_51003_and_failed_calls_do_not_count(
    client, blank_image
):
    with override_settings(SANDBOX=sandbox(TOTAL_QUOTA=1)):
        failed = ctyun_post(client, "helmet", {"picture": "x"})
        succeeded = ctyun_post(client, "helmet", blank_image)
        refused = ctyun_post(client, "helmet", blank_image)
        other_api = ctyun_post(client, "workwear", blank_image)

    assert failed.json()["code"] == 4001
    assert succeeded.json()["code"] == 0
    assert refused.status_code == 403
    assert refused.json()["code"] == 51003
    assert other_api.json()["code"] == 0


# ---------------------------------------------------------------- helmet / workwear


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"img": "x"}, 4001),
        ({"image": ""}, 4001),
        ({"image": "@@not base64@@"}, 4003),
        ({"image": base64.b64encode(b"plain text, no picture").decode()}, 4003),
        (["a", "list"], 4006),
        (b"not json", 4006),
    ],
)
def test_given_a_wrong_helmet_body_when_called_then_its_documented_code(client, body, code):
    response = ctyun_post(client, "helmet", body)

    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == code
    assert answer["message"] == "error"
    assert answer["details"]


def test_given_an_image_over_5_mb_of_base64_when_workwear_is_called_then_4002(client):
    response = ctyun_post(client, "workwear", {"image": "A" * 5_000_004})

    assert response.json()["code"] == 4002


@pytest.mark.parametrize("encode", [b64, urlsafe])
def test_given_either_base64_alphabet_when_helmet_is_called_then_it_is_accepted_and_replayed(
    client, encode
):
    response = ctyun_post(client, "helmet", {"image": encode(photo(CROWD_PHOTO))})

    assert response.json() == example("ctyun", "helmet")
    assert response.headers["X-Sandbox-Replay"] == "true"


# ---------------------------------------------------------------- fence (4.3.3 电子围栏)


def _fence(images, area="0,0,320,0,320,240,0,240"):
    return {"image": images, "area": area}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 4004),
        ({"image": [], "area": "0,0,1,0,1,1", "extra": 1}, 4005),
        ({"image": []}, 4005),
        ({"image": "one", "area": "0,0,1,0,1,1"}, 4006),
        ({"image": [], "area": "0,0,1,0,1,1"}, 4007),
        (_fence(["x"] * 33), 4007),
        (_fence(["x"], ["0,0,320,0,320,240"]), 4011),
        (_fence(["x"], "0,0,320,0"), 4012),  # 2 points
        (_fence(["x"], ",".join(["1,1"] * 10)), 4012),  # 10 points
        (_fence(["x"], "0,0,a,0,320,240"), 4012),
        (_fence(["@@"]), 4009),
    ],
)
def test_given_a_wrong_fence_body_when_called_then_its_documented_code(client, body, code):
    assert ctyun_post(client, "fence", body).json()["code"] == code


def test_given_an_area_beyond_the_image_when_the_fence_is_called_then_4013(client):
    body = _fence([urlsafe(picture(320, 240))], "0,0,321,0,321,240,0,240")

    assert ctyun_post(client, "fence", body).json()["code"] == 4013


def test_given_a_gif_when_the_fence_is_called_then_4013_unsupported_format(client):
    body = _fence([urlsafe(picture(320, 240, "GIF"))])

    assert ctyun_post(client, "fence", body).json()["code"] == 4013


def test_given_a_blank_and_a_site_photo_when_fenced_then_each_gets_the_local_analyzers_count(
    client,
):
    crowd = photo(CROWD_PHOTO)
    blank = picture(960, 720)
    area = "0,0,960,0,960,720,0,720"

    response = ctyun_post(
        client, "fence", {"image": [urlsafe(blank), urlsafe(crowd)], "area": area}
    )

    answer = response.json()
    expected = LocalAnalyzer().analyze("fence", [crowd], {"area": area}).per_image[0]
    assert answer["code"] == 0
    assert answer["message"] == {"success": 2, "fail": 0}
    assert answer["result"][0] == {"target_num": 0, "location": []}
    assert answer["result"][1]["target_num"] == expected.person_count > 0
    assert answer["result"][1]["location"][0]["left"] == round(expected.persons[0].box.left)
    assert set(answer["result"][1]["location"][0]) == {"left", "top", "width", "height"}
    assert response.headers.get("X-Sandbox-Replay") is None


# ---------------------------------------------------------------- face quality and liveness


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "4201"),
        ({"image": "x"}, "4201"),
        ({"imageContent": 5}, "4202"),
        (b"[1, 2]", "4202"),
        ({"imageContent": "@@"}, "4203"),
        ({"imageContent": urlsafe(picture(961, 600))}, "4205"),
        ({"imageContent": urlsafe(picture(600, 1281))}, "4205"),
    ],
)
def test_given_a_wrong_face_quality_body_when_called_then_its_code_as_a_string(client, body, code):
    answer = ctyun_post(client, "face_quality", body).json()

    assert answer["code"] == code
    assert answer["message"] == "error"


def _frames(*numbers: int) -> dict:
    face = urlsafe(picture(200, 150))
    return {f"image{n}Content": face for n in numbers}


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        (_frames(1, 2), "4207", None),
        (_frames(*range(1, 37)), "4208", None),
        (_frames(1, 2, 4), "4209", "请传输第3张图片"),
        ({**_frames(1, 2), "image3Content": "@@"}, "4210", None),
        ({**_frames(1, 2, 3), "photo": "x"}, "4201", None),
    ],
)
def test_given_a_wrong_liveness_sequence_when_called_then_its_documented_code(
    client, body, code, details
):
    answer = ctyun_post(client, "liveness_blink", body).json()

    assert answer["code"] == code
    if details:
        assert answer["details"] == details


def test_given_35_numbered_frames_when_liveness_is_called_then_the_seed_example_is_replayed(
    client,
):
    response = ctyun_post(client, "liveness_mouth", _frames(*range(1, 36)))

    assert response.json() == example("ctyun", "liveness")
    assert response.json()["result"]["action_detected"] is True
    assert response.headers["X-Sandbox-Replay"] == "true"


# ---------------------------------------------------------------- fall / fight


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"nope", 4003),
        ({"frames": []}, 4010),
        ({"images": "x"}, 4012),
        ({"images": []}, 4013),
        ({"images": ["x"] * 65}, 4013),
        ({"images": ["@@"]}, 4015),
    ],
)
def test_given_a_wrong_fall_body_when_called_then_its_documented_code(client, body, code):
    assert ctyun_post(client, "fall", body).json()["code"] == code


def test_given_frames_when_fight_is_called_then_the_seed_example_score_is_replayed(client):
    response = ctyun_post(client, "fight", {"images": [urlsafe(picture(200, 150))] * 16})

    assert response.json() == {"code": 0, "message": "success", "result": {"score": 0.001}}
    assert response.headers["X-Sandbox-Replay"] == "true"


# ---------------------------------------------------------------- the product's own client


def _client_through_django(attempts: int = 4) -> CtyunClient:
    """The product's client, its HTTP going straight into this Django app."""
    transport = httpx.WSGITransport(app=WSGIHandler())
    settings = ClientSettings(
        base_url="http://testserver/sandbox/ctyun",
        api_key="sandbox-ak",
        secret_key="sandbox-sk",
        app_key="sandbox-appkey",
        account="sandbox",
        retry=RetryPolicy(max_attempts=attempts),
    )
    return CtyunClient(settings, http=httpx.Client(transport=transport), sleep=lambda _: None)


def test_given_the_products_ctyun_client_when_it_calls_the_fence_then_it_gets_the_analysis():
    crowd = photo(CROWD_PHOTO)
    area = "0,0,960,0,960,720,0,720"

    with _client_through_django() as ctyun:
        result = ctyun.call("fence", [crowd], area=area)

    expected = LocalAnalyzer().analyze("fence", [crowd], {"area": area})
    assert result.person_count == expected.person_count
    assert result.raw["code"] == 0


def test_given_the_products_ctyun_client_when_429_comes_then_it_reads_a_concurrency_limit(
    monkeypatch,
):
    monkeypatch.setattr(limits, "now", lambda: 1_800_000_000.5)
    with override_settings(SANDBOX=sandbox(QPS_LIMIT=1)), _client_through_django(1) as ctyun:
        ctyun.call("helmet", [picture(320, 240)])
        with pytest.raises(RateLimited):
            ctyun.call("helmet", [picture(320, 240)])


def test_given_the_clients_api_table_then_the_sandbox_serves_every_path_in_it():
    assert set(ctyun_sandbox.APIS_BY_PATH) == {api.path for api in CTYUN_APIS.values()}
