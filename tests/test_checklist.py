"""The first-run checklist on an admin's home page: each step ticks itself off from the
data (demo rows do not count), and the list is gone once every step is done."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cameras import roles
from cameras.models import CameraAnalysis, Region, SourceKind
from monitoring.checklist import steps_for
from tests.factories import CameraFactory, LocalAccountFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def done(user) -> dict[str, bool]:
    return {step.key: step.done for step in steps_for(user)}


def test_after_the_demo_nothing_is_ticked_and_the_admin_sees_the_checklist():
    call_command("demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    assert not any(done(admin).values())
    page = client_for(admin).get(reverse("home"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-role="checklist"' in text
    for title in ("Add a real camera", "Draw a region", "Add a vendor account", "Invite users"):
        assert title in text


def test_steps_tick_themselves_off_and_the_list_hides_when_all_are_done(make_user, site_a):
    admin = make_user(roles.ADMIN, site_a)
    assert done(admin) == dict.fromkeys(("camera", "region", "analysis", "account", "users"), False)

    camera = CameraFactory(
        site=site_a, name="Gate", source_kind=SourceKind.HTTP, source_url="http://192.0.2.1/a.jpg"
    )
    assert done(admin)["camera"] and not done(admin)["region"]
    Region.objects.create(
        camera=camera,
        name="Pit",
        kind="fence",
        points=[[0, 0], [10, 0], [10, 10]],
        frame_width=100,
        frame_height=100,
    )
    account = LocalAccountFactory(name="Our Baidu")
    CameraAnalysis.objects.create(camera=camera, api="persons", account=account, interval=10)
    state = done(admin)
    assert state["region"] and state["analysis"] and state["account"] and not state["users"]
    assert client_for(admin).get(reverse("home")).status_code == 200

    make_user(roles.OPERATOR, site_a, username="new-operator")

    assert all(done(admin).values())
    response = client_for(admin).get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("live")


def test_an_operator_never_sees_the_checklist(make_user, site_a):
    operator = make_user(roles.OPERATOR, site_a)
    response = client_for(operator).get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("live")
