"""The emulated Baidu Body Analysis API, spoken to over Django's test client the way a
client written from the seed alone would: token flow, token errors, parameter checks
with the `错误码` codes, limits, and answers computed from the image sent or replayed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from PIL import Image

from monitoring.backends.baidu import BaiduClient
from monitoring.backends.base import ClientSettings
from monitoring.backends.local import LocalAnalyzer
from monitoring.sandbox import baidu as baidu_sandbox
from monitoring.sandbox import limits
from monitoring.sandbox.examples import example

from .conftest import (
    BAIDU_TOKEN_PATH,
    FORM,
    b64,
    baidu_api_path,
    baidu_post,
    baidu_token,
    photo,
    picture,
    sandbox,
)

pytestmark = pytest.mark.django_db

CREDENTIALS = {"client_id": "sandbox-ak", "client_secret": "sandbox-sk"}
CROWD_PHOTO = "000294.jpg"  # people the on-box analyzer finds
OTHER_PHOTO = "000401.jpg"


@pytest.fixture
def token(client) -> str:
    return baidu_token(client)


@pytest.fixture
def blank() -> str:
    return b64(picture(320, 240))


# ---------------------------------------------------------------- the access token


def test_given_the_key_pair_when_a_token_is_got_then_a_30_day_token_with_brain_all_scope(
    client,
):
    response = client.get(BAIDU_TOKEN_PATH, {"grant_type": "client_credentials", **CREDENTIALS})

    assert response.status_code == 200
    answer = response.json()
    assert answer["expires_in"] == 2592000
    assert "brain_all_scope" in answer["scope"].split(" ")
    for field in ("access_token", "refresh_token", "session_key", "session_secret"):
        assert answer[field]
    assert answer["access_token"].startswith("24.")


def test_given_the_key_pair_in_a_form_when_a_token_is_requested_by_post_then_it_is_issued(client):
    response = client.post(
        BAIDU_TOKEN_PATH,
        urlencode({"grant_type": "client_credentials", **CREDENTIALS}),
        content_type=FORM,
    )

    assert response.status_code == 200
    assert response.json()["access_token"]


def test_given_a_wrong_secret_key_when_a_token_is_requested_then_401_invalid_client(client):
    response = client.get(
        BAIDU_TOKEN_PATH,
        {"grant_type": "client_credentials", "client_id": "sandbox-ak", "client_secret": "x"},
    )

    assert response.status_code == 401
    answer = response.json()
    assert answer["error"] == "invalid_client"
    assert answer["error_description"]
    assert "access_token" not in answer


def test_given_an_unknown_api_key_when_a_token_is_requested_then_401_invalid_client(client):
    response = client.get(
        BAIDU_TOKEN_PATH,
        {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "sandbox-sk"},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_given_another_grant_type_when_a_token_is_requested_then_400_unsupported_grant_type(client):
    response = client.get(BAIDU_TOKEN_PATH, {"grant_type": "password", **CREDENTIALS})

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_given_no_grant_type_when_a_token_is_requested_then_400_invalid_request(client):
    response = client.get(BAIDU_TOKEN_PATH, CREDENTIALS)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_given_a_refresh_token_when_it_is_used_then_a_new_token_comes_and_it_cannot_be_used_twice(
    client,
):
    first = client.get(BAIDU_TOKEN_PATH, {"grant_type": "client_credentials", **CREDENTIALS}).json()
    grant = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **CREDENTIALS}

    renewed = client.get(BAIDU_TOKEN_PATH, grant)
    again = client.get(BAIDU_TOKEN_PATH, grant)

    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != first["access_token"]
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- token errors on calls


def test_given_no_access_token_when_an_api_is_called_then_error_100_invalid_parameter(
    client, blank
):
    answer = baidu_post(client, "body_num", None, image=blank).json()

    assert answer["error_code"] == 100
    assert answer["error_msg"] == "Invalid parameter"
    assert isinstance(answer["log_id"], int)


def test_given_an_unknown_token_when_an_api_is_called_then_error_110(client, blank):
    answer = baidu_post(client, "body_num", "24.nope.2592000.1.282335-1", image=blank).json()

    assert answer["error_code"] == 110
    assert answer["error_msg"] == "Access token invalid or no longer valid"


def test_given_a_token_older_than_30_days_when_an_api_is_called_then_error_111(
    client, token, blank, monkeypatch
):
    issued = baidu_sandbox.now()
    monkeypatch.setattr(baidu_sandbox, "now", lambda: issued + 2592000 + 1)

    answer = baidu_post(client, "gesture", token, image=blank).json()

    assert answer["error_code"] == 111
    assert answer["error_msg"] == "Access token expired"


def test_given_a_token_of_an_older_key_pair_when_an_api_is_called_then_error_110(
    client, token, blank
):
    with override_settings(SANDBOX=sandbox(BAIDU_SECRET_KEY="rotated")):
        answer = baidu_post(client, "gesture", token, image=blank).json()

    assert answer["error_code"] == 110


def test_given_a_valid_token_when_an_api_is_called_then_the_answer_carries_a_log_id_and_no_error(
    client, token, blank
):
    answer = baidu_post(client, "gesture", token, image=blank).json()

    assert "error_code" not in answer
    assert isinstance(answer["log_id"], int)


# ---------------------------------------------------------------- request checks (错误码)


def test_given_no_image_field_when_an_api_is_called_then_error_216101_not_enough_param(
    client, token
):
    answer = baidu_post(client, "body_analysis", token, type="x").json()

    assert (answer["error_code"], answer["error_msg"]) == (216101, "not enough param")


def test_given_an_empty_image_when_an_api_is_called_then_error_216200_empty_image(client, token):
    answer = baidu_post(client, "body_analysis", token, image="").json()

    assert (answer["error_code"], answer["error_msg"]) == (216200, "empty image")


def test_given_image_text_that_is_not_base64_when_an_api_is_called_then_error_216203(client, token):
    answer = baidu_post(client, "body_attr", token, image="data:image/jpeg;base64,/9j/4AAQ").json()

    assert answer["error_code"] == 216203


def test_given_base64_that_is_no_picture_when_an_api_is_called_then_error_216201_image_format_error(
    client, token
):
    answer = baidu_post(client, "gesture", token, image=b64(b"hello, this is text")).json()

    assert (answer["error_code"], answer["error_msg"]) == (216201, "image format error")


def test_given_a_gif_when_an_api_is_called_then_error_216201_as_only_png_jpg_bmp_are_taken(
    client, token
):
    answer = baidu_post(client, "gesture", token, image=b64(picture(200, 200, "GIF"))).json()

    assert answer["error_code"] == 216201


@pytest.mark.parametrize(("width", "height"), [(40, 200), (4100, 60)])
def test_given_a_side_outside_50_to_4096_px_when_an_api_is_called_then_error_216202(
    client, token, width, height
):
    answer = baidu_post(client, "gesture", token, image=b64(picture(width, height, "PNG"))).json()

    assert (answer["error_code"], answer["error_msg"]) == (216202, "image size error")


def test_given_an_image_over_4_mb_once_encoded_when_an_api_is_called_then_error_216202(
    client, token
):
    answer = baidu_post(client, "gesture", token, image=b64(os.urandom(3_000_000))).json()

    assert answer["error_code"] == 216202


def test_given_an_unknown_body_attr_type_when_called_then_error_216100_invalid_param(
    client, token, blank
):
    answer = baidu_post(client, "body_attr", token, image=blank, type="gender,wings").json()

    assert (answer["error_code"], answer["error_msg"]) == (216100, "invalid param")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, 216101),  # dynamic is required
        ({"dynamic": "maybe"}, 216100),
        ({"dynamic": "true", "case_id": "1", "case_init": "true"}, 216101),  # no area
        ({"dynamic": "true", "case_init": "true", "area": "1,1,9,1,9,9,1,9"}, 216101),
        (
            {"dynamic": "true", "case_id": "one", "case_init": "true", "area": "1,1,9,1,9,9,1,9"},
            216100,
        ),
        ({"dynamic": "true", "case_id": "1", "case_init": "x", "area": "1,1,9,1,9,9,1,9"}, 216100),
        ({"dynamic": "true", "case_id": "1", "case_init": "true", "area": "1,1,9,1,9,9"}, 216100),
        (
            {"dynamic": "true", "case_id": "1", "case_init": "true", "area": "1,1,400,1,400,9,1,9"},
            216100,
        ),
        ({"dynamic": "false", "area": "1,1,9,1,9,9,1,9;2,2,8,2,8,8,2,8"}, 216100),
    ],
)
def test_given_wrong_body_tracking_parameters_when_called_then_the_documented_error_code(
    client, token, blank, fields, code
):
    answer = baidu_post(client, "body_tracking", token, image=blank, **fields).json()

    assert answer["error_code"] == code


def test_given_a_path_that_is_no_api_when_called_then_error_3_unsupported_openapi_method(
    client, token, blank
):
    wrong_api = baidu_post(client, "body_count", token, image=blank).json()
    wrong_path = client.post(f"/sandbox/baidu/rest/2.0/face/v3/detect?access_token={token}").json()
    by_get = client.get(baidu_api_path("body_num", token)).json()

    assert wrong_api["error_code"] == wrong_path["error_code"] == by_get["error_code"] == 3
    assert wrong_api["error_msg"] == "Unsupported openapi method"


def test_given_the_sandbox_is_switched_off_when_anything_is_asked_then_404(client, token, blank):
    with override_settings(SANDBOX=sandbox(ENABLED=False)):
        token_answer = client.get(
            BAIDU_TOKEN_PATH, {"grant_type": "client_credentials", **CREDENTIALS}
        )
        api_answer = baidu_post(client, "body_num", token, image=blank)

    assert token_answer.status_code == api_answer.status_code == 404


# ---------------------------------------------------------------- limits


def test_given_a_qps_limit_of_one_when_two_calls_come_in_one_second_then_the_second_gets_error_18(
    client, token, blank, monkeypatch
):
    monkeypatch.setattr(limits, "now", lambda: 1_800_000_000.2)
    with override_settings(SANDBOX=sandbox(QPS_LIMIT=1)):
        first = baidu_post(client, "gesture", token, image=blank).json()
        second = baidu_post(client, "gesture", token, image=blank).json()
        other_api = baidu_post(client, "hand_analysis", token, image=blank).json()
        monkeypatch.setattr(limits, "now", lambda: 1_800_000_001.2)
        next_second = baidu_post(client, "gesture", token, image=blank).json()

    assert "error_code" not in first
    assert (second["error_code"], second["error_msg"]) == (18, "Open api qps request limit reached")
    assert "error_code" not in other_api
    assert "error_code" not in next_second


def test_given_a_daily_quota_of_two_when_a_third_call_comes_then_error_17_until_the_next_day(
    client, token, blank, monkeypatch
):
    today = datetime(2030, 5, 1, 10, 0, tzinfo=limits.BEIJING).timestamp()
    monkeypatch.setattr(limits, "now", lambda: today)
    with override_settings(SANDBOX=sandbox(DAILY_QUOTA=2)):
        answers = [baidu_post(client, "gesture", token, image=blank).json() for _ in range(3)]
        monkeypatch.setattr(limits, "now", lambda: today + 86_400)
        tomorrow = baidu_post(client, "gesture", token, image=blank).json()

    assert ["error_code" in answer for answer in answers] == [False, False, True]
    assert answers[2]["error_code"] == 17
    assert answers[2]["error_msg"] == "Open api daily request limit reached"
    assert "error_code" not in tomorrow


def test_given_a_total_quota_of_two_when_failed_calls_used_it_then_the_next_call_gets_error_19(
    client, token, blank
):
    with override_settings(SANDBOX=sandbox(TOTAL_QUOTA=2)):
        failed = baidu_post(client, "gesture", token, image="").json()
        succeeded = baidu_post(client, "gesture", token, image=blank).json()
        refused = baidu_post(client, "gesture", token, image=blank).json()
        other_api = baidu_post(client, "hand_analysis", token, image=blank).json()

    assert failed["error_code"] == 216200
    assert "error_code" not in succeeded
    assert (refused["error_code"], refused["error_msg"]) == (
        19,
        "Open api total request limit reached",
    )
    assert "error_code" not in other_api


# ---------------------------------------------------------------- answers


def test_given_a_blank_picture_when_people_are_counted_then_body_num_says_0_and_is_not_a_replay(
    client, token, blank
):
    response = baidu_post(client, "body_num", token, image=blank)

    answer = response.json()
    assert answer["person_num"] == 0
    assert "area_counts" not in answer
    assert response.headers.get("X-Sandbox-Replay") is None
    assert response.headers["X-Sandbox-Analyzer"] == "local"


def test_given_site_photos_when_people_are_counted_then_body_num_is_the_local_analyzers_count(
    client, token
):
    analyzer = LocalAnalyzer()
    counts = {}
    for name in (CROWD_PHOTO, OTHER_PHOTO):
        image = photo(name)
        answer = baidu_post(client, "body_num", token, image=b64(image)).json()
        expected = analyzer.analyze("body_num", [image], None).person_count
        assert answer["person_num"] == expected
        counts[name] = answer["person_num"]

    assert counts[CROWD_PHOTO] != counts[OTHER_PHOTO]
    assert counts[CROWD_PHOTO] > 0


def test_given_valid_areas_when_people_are_counted_then_area_counts_has_one_count_per_area(
    client, token
):
    image = photo(CROWD_PHOTO)
    area = "1,1,959,1,959,719,1,719;1,1,480,1,480,360,1,360"

    answer = baidu_post(client, "body_num", token, image=b64(image), area=area).json()

    expected = LocalAnalyzer().analyze("body_num", [image], {"area": area})
    assert answer["area_counts"] == expected.area_counts
    assert len(answer["area_counts"]) == 2
    assert answer["person_num"] == expected.person_count


def test_given_an_area_touching_0_when_counting_then_the_whole_image_counts_and_no_area_counts(
    client, token, blank
):
    # `人流量统计`: "(0, 0) 属于图片边界之外"; a wrong area means the whole image.
    answer = baidu_post(client, "body_num", token, image=blank, area="0,0,100,0,100,100").json()

    assert "error_code" not in answer
    assert "area_counts" not in answer
    assert answer["person_num"] == 0


def test_given_show_true_when_people_are_counted_then_a_rendered_jpeg_of_the_same_size_comes_back(
    client, token
):
    answer = baidu_post(client, "body_num", token, image=b64(picture(300, 200)), show="true").json()

    rendered = Image.open(io.BytesIO(base64.b64decode(answer["image"])))
    assert rendered.format == "JPEG"
    assert rendered.size == (300, 200)


def test_given_a_site_photo_when_body_attr_is_asked_then_boxes_come_from_it_without_attributes(
    client, token
):
    image = photo(CROWD_PHOTO)

    response = baidu_post(client, "body_attr", token, image=b64(image))

    answer = response.json()
    found = LocalAnalyzer().analyze("persons", [image], None)
    assert answer["person_num"] == len(found.persons) == len(answer["person_info"])
    first = answer["person_info"][0]["location"]
    assert first["left"] == round(found.persons[0].box.left)
    assert all("attributes" not in person for person in answer["person_info"])
    assert response.headers.get("X-Sandbox-Replay") is None


@pytest.mark.parametrize("api", ["body_analysis", "gesture", "hand_analysis", "fingertip"])
def test_given_an_api_the_analyzer_cannot_judge_then_the_seed_example_is_replayed_and_marked(
    client, token, blank, api
):
    response = baidu_post(client, api, token, image=blank)

    answer = response.json()
    assert response.headers["X-Sandbox-Replay"] == "true"
    recorded = example("baidu", api)
    recorded.pop("log_id", None)
    assert isinstance(answer.pop("log_id"), int)
    assert answer == recorded


def test_given_body_seg_type_labelmap_when_called_then_only_the_labelmap_is_replayed(
    client, token, blank
):
    answer = baidu_post(client, "body_seg", token, image=blank, type="labelmap").json()

    assert "labelmap" in answer
    assert "scoremap" not in answer
    assert "foreground" not in answer
    assert answer["person_num"] == 2


def test_given_driver_behavior_type_smoke_when_called_then_only_that_behaviour_is_replayed(
    client, token, blank
):
    response = baidu_post(client, "driver_behavior", token, image=blank, type="smoke,cellphone")

    attributes = response.json()["person_info"][0]["attributes"]
    assert set(attributes) == {"smoke", "cellphone"}
    assert response.headers["X-Sandbox-Replay"] == "true"


def test_given_static_body_tracking_on_a_blank_picture_then_nobody_and_no_flow(
    client, token, blank
):
    answer = baidu_post(client, "body_tracking", token, image=blank, dynamic="false").json()

    assert answer["person_num"] == 0
    assert answer["person_info"] == []
    assert answer["person_count"] == {"in": 0, "out": 0}


def test_given_one_case_when_the_same_frame_comes_twice_then_the_tracks_keep_their_ids(
    client, token
):
    image = b64(photo(CROWD_PHOTO))
    fields = {"dynamic": "true", "case_id": "7", "area": "1,1,959,1,959,719,1,719"}

    first = baidu_post(client, "body_tracking", token, image=image, case_init="true", **fields)
    second = baidu_post(client, "body_tracking", token, image=image, case_init="false", **fields)

    first_ids = [person["ID"] for person in first.json()["person_info"]]
    second_ids = [person["ID"] for person in second.json()["person_info"]]
    assert first_ids == list(range(1, len(first_ids) + 1))
    assert first_ids and second_ids == first_ids
    assert second.json()["person_count"] == {"in": 0, "out": 0}
    assert second.headers["X-Sandbox-Analyzer"] == "local"


def test_given_body_danger_with_a_video_when_called_then_an_answer_without_error_is_marked_replay(
    client, token
):
    response = client.post(
        baidu_api_path("body_danger", token, family="video-classify"),
        urlencode({"data": b64(b"\x00\x00\x00\x18ftypmp42")}),
        content_type=FORM,
    )

    assert "error_code" not in response.json()
    assert response.headers["X-Sandbox-Replay"] == "true"


# ---------------------------------------------------------------- 调用方式二


def _bce_authorization(path: str, query: dict, host: str, secret: str, when: datetime) -> dict:
    """Headers of a request signed as `调用方式二` describes (bce-auth-v1)."""
    timestamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    prefix = f"bce-auth-v1/sandbox-ak/{timestamp}/1800"
    signing_key = hmac.new(secret.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical_query = "&".join(sorted(urlencode([(k, v)]) for k, v in query.items()))
    headers = {"host": host, "x-bce-date": timestamp}
    canonical_headers = "\n".join(
        sorted(f"{quote(k, '').lower()}:{quote(v, '')}" for k, v in headers.items())
    )
    canonical = f"POST\n{quote(path)}\n{canonical_query}\n{canonical_headers}"
    signature = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {
        "HTTP_HOST": host,
        "HTTP_X_BCE_DATE": timestamp,
        "HTTP_AUTHORIZATION": f"{prefix}/host;x-bce-date/{signature}",
    }


@pytest.mark.parametrize(("secret", "accepted"), [("sandbox-sk", True), ("wrong-sk", False)])
def test_given_a_bce_auth_v1_signed_request_then_it_is_verified_with_the_secret_key(
    client, blank, secret, accepted
):
    path = baidu_api_path("gesture")
    query = {"aipSdk": "python"}
    headers = _bce_authorization(path, query, "testserver", secret, datetime.now(UTC))

    answer = client.post(
        f"{path}?aipSdk=python", urlencode({"image": blank}), content_type=FORM, **headers
    ).json()

    if accepted:
        assert "error_code" not in answer
    else:
        assert (answer["error_code"], answer["error_msg"]) == (14, "IAM Certification failed")


def test_given_replayed_examples_then_they_are_the_seed_examples_as_json():
    # One spot check per fault class mended in examples/NOTES.md.
    body = example("baidu", "body_analysis")
    assert body["person_info"][1]["body_parts"]["right_ear"]["y"] == 311.53125
    assert len(example("baidu", "hand_analysis")["hand_info"][0]["hand_parts"]) == 21
    assert json.loads(json.dumps(example("baidu", "body_tracking")))["person_count"]["out"] == 1


# ---------------------------------------------------------------- the product's own client


def test_given_the_products_baidu_client_when_it_counts_people_then_it_gets_the_sandbox_analysis():
    transport = httpx.WSGITransport(app=WSGIHandler())
    settings = ClientSettings(
        base_url="http://testserver/sandbox/baidu",
        api_key="sandbox-ak",
        secret_key="sandbox-sk",
        account="sandbox",
    )
    image = photo(CROWD_PHOTO)

    with httpx.Client(transport=transport) as http:
        result = BaiduClient(settings, http=http, sleep=lambda _: None).call("body_num", image)

    assert result.person_count == LocalAnalyzer().analyze("body_num", [image], None).person_count
