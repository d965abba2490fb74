"""The official ``baidu-aip`` SDK (``from aip import AipBodyAnalysis``), unchanged but for
its URLs, against the sandbox served by a real local HTTP server (``live_server``):
every body-analysis method answers without an error code."""

from __future__ import annotations

import inspect

import pytest
from aip import AipBodyAnalysis
from aip.base import AipBase
from django.core.cache import cache

from monitoring.backends.local import LocalAnalyzer

from .conftest import photo, picture

VENDOR_HOST = "https://aip.baidubce.com"
CROWD_PHOTO = "000294.jpg"
SECRET_KEY = "sandbox-sk"  # the sandbox default (settings.SANDBOX)

# Every body-analysis method of the installed SDK, with the arguments a caller passes.
CALLS = {
    "bodyAnalysis": lambda image: ((image,), {}),
    "bodyAttr": lambda image: ((image, {"type": "gender,headwear"}), {}),
    "bodyNum": lambda image: ((image, {"area": "1,1,300,1,300,200,1,200", "show": "true"}), {}),
    "gesture": lambda image: ((image,), {}),
    "bodySeg": lambda image: ((image, {"type": "labelmap"}), {}),
    "driverBehavior": lambda image: ((image, {"type": "smoke,cellphone"}), {}),
    "bodyTracking": lambda image: (
        (image, "true", {"case_id": 1, "case_init": "true", "area": "1,1,300,1,300,200,1,200"}),
        {},
    ),
    "handAnalysis": lambda image: ((image,), {}),
    "bodyDangerV1": lambda image: ((b"\x00\x00\x00\x18ftypmp42 a short video",), {}),
    "fingertipV1": lambda image: ((image,), {}),
}


def pointed_at(base_url: str, api_key: str = "sandbox-ak", secret_key: str = SECRET_KEY):
    """An SDK client whose vendor URLs point at ``base_url`` (docs/sandbox.md): the token
    URL of ``AipBase`` and every ``...Url`` of ``AipBodyAnalysis``, set on the instance."""
    client = AipBodyAnalysis("sandbox-app", api_key, secret_key)
    client._AipBase__accessTokenUrl = base_url + "/oauth/2.0/token"
    for name, value in vars(AipBodyAnalysis).items():
        if name.startswith("_AipBodyAnalysis__") and name.endswith("Url"):
            setattr(client, name, value.replace(VENDOR_HOST, base_url))
    return client


@pytest.fixture
def sdk(live_server):
    return pointed_at(live_server.url + "/sandbox/baidu")


def test_given_the_installed_sdk_then_the_calls_tested_here_are_all_its_body_analysis_methods():
    methods = {
        name
        for name, member in vars(AipBodyAnalysis).items()
        if inspect.isfunction(member) and not name.startswith("_") and not hasattr(AipBase, name)
    }

    assert methods == set(CALLS)


def test_given_urls_pointed_at_the_sandbox_then_no_vendor_url_is_left(sdk):
    urls = [value for name, value in vars(sdk).items() if name.endswith("Url")]

    assert len(urls) == 1 + sum(
        name.startswith("_AipBodyAnalysis__") and name.endswith("Url")
        for name in vars(AipBodyAnalysis)
    )
    assert not any(VENDOR_HOST in url for url in urls)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_given_the_official_sdk_when_each_method_is_called_then_a_real_answer_comes_back(
    sdk, method
):
    args, kwargs = CALLS[method](picture(320, 240))

    answer = getattr(sdk, method)(*args, **kwargs)

    assert "error_code" not in answer, answer
    assert answer["log_id"]


def test_given_the_official_sdk_when_it_fetches_its_token_then_it_stays_on_access_tokens(sdk):
    sdk.bodyNum(picture(320, 240))

    assert sdk._isCloudUser is False  # it found brain_all_scope
    assert "brain_all_scope" in sdk._authObj["scope"].split(" ")
    assert sdk._authObj["expires_in"] == 2592000


def test_given_a_site_photo_when_the_sdk_counts_people_then_the_count_is_the_local_analyzers(sdk):
    image = photo(CROWD_PHOTO)

    answer = sdk.bodyNum(image)

    assert answer["person_num"] == LocalAnalyzer().analyze("body_num", [image], None).person_count
    assert answer["person_num"] > 0
    assert sdk.bodyNum(picture(320, 240))["person_num"] == 0


def test_given_the_sandbox_forgot_the_token_when_the_sdk_calls_then_it_refreshes_on_110(
    sdk,
):
    sdk.gesture(picture(320, 240))
    old_token = sdk._authObj["access_token"]
    cache.clear()  # as after a restart with an empty cache: the token is unknown (110)

    answer = sdk.gesture(picture(320, 240))

    assert "error_code" not in answer
    assert sdk._authObj["access_token"] != old_token


def test_given_the_sdk_in_request_signing_mode_when_it_calls_then_bce_auth_v1_is_verified(
    live_server,
):
    # Without brain_all_scope the SDK signs requests (`调用方式二`); force that mode.
    sdk = pointed_at(live_server.url + "/sandbox/baidu")
    sdk._isCloudUser = True

    answer = sdk.bodyNum(picture(320, 240))

    assert "error_code" not in answer
    assert answer["person_num"] == 0


def test_given_a_wrong_secret_key_then_the_sdk_gets_no_token_and_its_signature_is_refused(
    live_server,
):
    sdk = pointed_at(live_server.url + "/sandbox/baidu", secret_key="wrong")

    answer = sdk.bodyNum(picture(320, 240))

    assert sdk._authObj["error"] == "invalid_client"
    assert answer["error_code"] == 14
