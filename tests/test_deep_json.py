"""A body of JSON nested thousands deep is a bad request, not a server error: the REST
API answers 400, the vendor sandbox answers as the vendor does to a body that is not
JSON, and a page field that takes JSON refuses it as text."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cameras import roles
from tests.factories import HttpCameraFactory
from tests.sandbox.conftest import ctyun_post

pytestmark = pytest.mark.django_db

DEEP = ("[" * 5000 + "]" * 5000).encode()
DEEP_OBJECT = ('{"a":' * 5000 + "1" + "}" * 5000).encode()


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def api(admin) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(admin)
    return client


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    "method, url",
    [
        ("post", "/api/rules/"),
        ("post", "/api/cameras/"),
        ("patch", "/api/cameras/{camera}/"),
        ("post", "/api/regions/"),
        ("post", "/api/budgets/"),
        ("post", "/api/vendor-accounts/"),
    ],
)
def test_the_rest_api_answers_400_to_deeply_nested_json(api, site_a, method, url, body):
    camera = HttpCameraFactory(site=site_a)
    response = getattr(api, method)(
        url.format(camera=camera.pk), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_the_answer_is_translated(api):
    response = api.post(
        "/api/rules/", DEEP, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    assert "嵌套" in response.json()["detail"]


def test_the_ctyun_sandbox_answers_a_deep_body_as_one_that_is_not_json(client: Client):
    response = ctyun_post(client, "helmet", DEEP)
    assert response.status_code == 200
    assert response.json()["code"] == 4006
