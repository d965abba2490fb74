"""The hand, gesture and posture rule kinds offered where rules are set (the rule form, the
REST API) and the danger region kind in the fence editor, in English and Chinese."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from alerts.models import Rule
from cameras import roles

from .test_alert_pages import rule_form
from .test_alerts_api import rule_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


def client_for(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("language", "help_text"),
    [
        ("en", "A hand or wrist inside the danger zone"),
        ("zh-hans", "手或手腕进入危险区域"),
    ],
)
def test_the_rule_form_offers_the_new_kinds_with_their_help(admin, camera, language, help_text):
    client = client_for(admin, language)

    response = client.get(f"/alerts/rules/new/?camera={camera.pk}")
    page = response.content.decode()

    for kind in ("hand_in_danger", "help_gesture", "person_down"):
        assert f'value="{kind}"' in page
    assert 'value="Palm_up"' in page  # the gesture classes of the seed
    assert ("求助手势" in page) == (language == "zh-hans")
    assert help_text in response.context["kind_help"]["hand_in_danger"]


def test_an_admin_saves_a_help_gesture_rule_with_its_gestures(admin, camera):
    response = client_for(admin).post(
        f"/alerts/rules/new/?camera={camera.pk}",
        rule_form(kind="help_gesture", name="Call for help", param_gestures=["Five", "Palm_up"]),
    )

    assert response.status_code == 302
    assert Rule.objects.get(name="Call for help").params == {"gestures": ["Five", "Palm_up"]}


def test_the_api_creates_the_new_kinds_and_refuses_an_unknown_gesture(admin, camera, region):
    client = client_for(admin)

    hand = client.post(
        "/api/rules/",
        rule_body(camera, region, kind="hand_in_danger", params={}),
        content_type="application/json",
    )
    wave = client.post(
        "/api/rules/",
        rule_body(camera, name="Wave", kind="help_gesture", params={"gestures": ["wave"]}),
        content_type="application/json",
    )

    assert hand.status_code == 201, hand.content
    assert Rule.objects.get(pk=hand.json()["id"]).kind == "hand_in_danger"
    assert wave.status_code == 400
    assert "wave" in json.dumps(wave.json())


@pytest.mark.parametrize(("language", "label"), [("en", "danger zone"), ("zh-hans", "危险区域")])
def test_the_fence_editor_offers_danger_zones_in_their_colour(admin, camera, language, label):
    response = client_for(admin, language).get(f"/cameras/{camera.pk}/regions/")

    kinds = {kind["value"]: kind for kind in response.context["kinds"]}
    assert kinds["danger"]["colour"] == "#ef6c00"
    assert label in kinds["danger"]["label"]
