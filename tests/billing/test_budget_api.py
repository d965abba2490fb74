"""The budgets REST API: who may read and change the budgets of which site, the fields a
budget carries with this month's status, and the reasons a budget is refused."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Budget
from cameras import roles
from tests.billing.test_budget_pages import billable_calls
from tests.factories import HttpCameraFactory

pytestmark = pytest.mark.django_db

BUDGETS = "/api/budgets/"


def api_for(user) -> APIClient:
    """A client signed in with the user's API token."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def admin_a(make_user, site_a):
    return api_for(make_user(roles.ADMIN, site_a))


@pytest.fixture
def operator_a(make_user, site_a):
    return api_for(make_user(roles.OPERATOR, site_a))


@pytest.fixture
def gate(site_a):
    return HttpCameraFactory(site=site_a, name="Gate A")


@pytest.fixture
def yard_b(site_b):
    return HttpCameraFactory(site=site_b, name="Yard B")


@pytest.fixture
def site_budget(site_a):
    return Budget.objects.create(site=site_a, monthly_limit=Decimal("100.00"), action="pause")


@pytest.fixture
def budget_b(site_b):
    return Budget.objects.create(site=site_b, monthly_limit=Decimal("99.00"), action="pause")


def payload(site, camera=None, **changes) -> dict:
    data = {
        "site": site.pk,
        "camera": camera.pk if camera is not None else None,
        "monthly_limit": "500.00",
        "action": "pause",
    }
    data.update(changes)
    return data


# ------------------------------------------------------------------------- access


def test_an_anonymous_caller_gets_401():
    assert APIClient().get(BUDGETS).status_code == 401


def test_a_watcher_reads_the_budgets_of_their_sites_only_with_this_months_status(
    operator_a, site_a, gate, site_budget, budget_b
):
    # given a camera budget on site A as well, and 250 calls of its camera (0.50 CNY)
    camera_budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("2.00"), action="slow", slow_factor=3
    )
    billable_calls(gate, 250)
    # when an operator of site A lists the budgets
    response = operator_a.get(BUDGETS)
    # then they get site A's two, the whole site first, each with its status
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": site_budget.pk,
            "site": site_a.pk,
            "camera": None,
            "monthly_limit": "100.00",
            "action": "pause",
            "slow_factor": 4,
            "status": {"spent": "0.50", "limit": "100.00", "action": "pause", "reached": False},
        },
        {
            "id": camera_budget.pk,
            "site": site_a.pk,
            "camera": gate.pk,
            "monthly_limit": "2.00",
            "action": "slow",
            "slow_factor": 3,
            "status": {"spent": "0.50", "limit": "2.00", "action": "slow", "reached": False},
        },
    ]


def test_a_watcher_gets_403_on_every_write(operator_a, site_a, site_budget):
    answers = [
        operator_a.post(BUDGETS, payload(site_a), format="json"),
        operator_a.patch(f"{BUDGETS}{site_budget.pk}/", {"monthly_limit": "1"}, format="json"),
        operator_a.put(f"{BUDGETS}{site_budget.pk}/", payload(site_a), format="json"),
        operator_a.delete(f"{BUDGETS}{site_budget.pk}/"),
    ]
    assert [answer.status_code for answer in answers] == [403] * 4
    assert Budget.objects.get().monthly_limit == Decimal("100.00")


def test_finance_without_a_watching_role_gets_403(make_user, site_a, site_budget):
    finance = api_for(make_user(roles.FINANCE, site_a))
    assert finance.get(BUDGETS).status_code == 403
    assert finance.get(f"{BUDGETS}{site_budget.pk}/").status_code == 403


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_an_admin_of_site_a_gets_404_for_a_site_b_budget(admin_a, site_b, budget_b, method):
    body = None if method in ("get", "delete") else payload(site_b)
    response = getattr(admin_a, method)(f"{BUDGETS}{budget_b.pk}/", body, format="json")
    assert response.status_code == 404
    assert Budget.objects.get(pk=budget_b.pk).monthly_limit == Decimal("99.00")


# ------------------------------------------------------------------------- create, change, delete


def test_an_admin_sets_a_whole_site_budget(admin_a, site_a):
    response = admin_a.post(BUDGETS, payload(site_a), format="json")
    assert response.status_code == 201
    budget = Budget.objects.get()
    assert response.json() == {
        "id": budget.pk,
        "site": site_a.pk,
        "camera": None,
        "monthly_limit": "500.00",
        "action": "pause",
        "slow_factor": 4,
        "status": {"spent": "0.00", "limit": "500.00", "action": "pause", "reached": False},
    }


def test_an_admin_sets_a_camera_budget_that_slows_analysis_down(admin_a, site_a, gate):
    response = admin_a.post(
        BUDGETS,
        payload(site_a, gate, monthly_limit="80.5", action="slow", slow_factor=3),
        format="json",
    )
    assert response.status_code == 201
    budget = Budget.objects.get()
    assert (budget.camera_id, budget.monthly_limit, budget.action, budget.slow_factor) == (
        gate.pk,
        Decimal("80.50"),
        "slow",
        3,
    )
    assert response.json()["camera"] == gate.pk


def test_an_admin_changes_a_budget_in_part_or_whole(admin_a, site_a, gate, site_budget):
    patched = admin_a.patch(
        f"{BUDGETS}{site_budget.pk}/", {"action": "slow", "slow_factor": 8}, format="json"
    )
    assert patched.status_code == 200
    assert (patched.json()["action"], patched.json()["slow_factor"]) == ("slow", 8)
    replaced = admin_a.put(
        f"{BUDGETS}{site_budget.pk}/", payload(site_a, gate, monthly_limit="7"), format="json"
    )
    assert replaced.status_code == 200
    site_budget.refresh_from_db()
    assert (site_budget.camera_id, site_budget.monthly_limit, site_budget.action) == (
        gate.pk,
        Decimal("7.00"),
        "pause",
    )


def test_an_admin_removes_a_budget(admin_a, site_budget):
    assert admin_a.delete(f"{BUDGETS}{site_budget.pk}/").status_code == 204
    assert not Budget.objects.exists()


def test_lists_are_filtered_by_site_and_by_camera(make_user, site_a, site_b, gate, budget_b):
    both = api_for(make_user(roles.ADMIN, site_a, site_b))
    camera_budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("5"), action="pause"
    )
    by_site = both.get(BUDGETS, {"site": site_b.pk}).json()["results"]
    by_camera = both.get(BUDGETS, {"camera": gate.pk}).json()["results"]
    assert [budget["id"] for budget in by_site] == [budget_b.pk]
    assert [budget["id"] for budget in by_camera] == [camera_budget.pk]
    assert list(both.get(BUDGETS, {"site": "x"}).json()) == ["site"]


# ------------------------------------------------------------------------- status


def test_the_status_says_reached_once_this_months_calls_cost_the_limit(admin_a, site_a, gate):
    # given a camera budget of 1.00 CNY that pauses, and 1,000 body_attr calls (2.00 CNY)
    budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("1.00"), action="pause"
    )
    billable_calls(gate, 1_000)
    # then its status is reached
    status = admin_a.get(f"{BUDGETS}{budget.pk}/").json()["status"]
    assert status == {"spent": "2.00", "limit": "1.00", "action": "pause", "reached": True}


# ------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"monthly_limit": "-5.00"}, "monthly_limit", "Give a monthly limit above 0 CNY."),
        ({"monthly_limit": "0"}, "monthly_limit", "Give a monthly limit above 0 CNY."),
        (
            {"action": "slow", "slow_factor": 1},
            "slow_factor",
            "The slow-down factor is at least 2 (one frame in 2): 1 would not slow anything down.",
        ),
        ({"action": "stop"}, "action", '"stop" is not a valid choice.'),
        ({"camera": 999_999}, "camera", "No camera with id 999999 on your sites."),
    ],
)
def test_a_wrong_value_is_refused_with_one_reason_for_its_field(
    admin_a, site_a, changes, field, reason
):
    response = admin_a.post(BUDGETS, {**payload(site_a), **changes}, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [reason]}
    assert not Budget.objects.exists()


def test_a_camera_of_another_of_the_callers_sites_is_refused(make_user, site_a, site_b, yard_b):
    both = api_for(make_user(roles.ADMIN, site_a, site_b))
    response = both.post(BUDGETS, payload(site_a, yard_b), format="json")
    assert response.status_code == 400
    assert response.json() == {"camera": ["“Yard B” is a camera of Site B, not of Site A."]}
    assert not Budget.objects.exists()


def test_a_camera_budget_cannot_be_moved_to_a_site_its_camera_is_not_on(
    make_user, site_a, site_b, gate
):
    both = api_for(make_user(roles.ADMIN, site_a, site_b))
    budget = Budget.objects.create(site=site_a, camera_id=gate.pk, monthly_limit=5, action="pause")
    response = both.patch(f"{BUDGETS}{budget.pk}/", {"site": site_b.pk}, format="json")
    assert list(response.json()) == ["camera"]
    budget.refresh_from_db()
    assert budget.site_id == site_a.pk


def test_a_site_or_camera_of_a_site_the_caller_is_not_on_is_refused(
    admin_a, site_a, site_b, yard_b
):
    foreign_site = admin_a.post(BUDGETS, payload(site_b), format="json")
    foreign_camera = admin_a.post(BUDGETS, payload(site_a, yard_b), format="json")
    assert (foreign_site.status_code, list(foreign_site.json())) == (400, ["site"])
    assert (foreign_camera.status_code, list(foreign_camera.json())) == (400, ["camera"])
    assert not Budget.objects.exists()


@pytest.mark.parametrize(
    ("for_camera", "reason"),
    [
        (False, "Site A already has a whole-site budget: change that one instead."),
        (True, "Camera “Gate A” already has a budget: change that one instead."),
    ],
)
def test_a_second_budget_for_the_same_site_or_camera_is_refused(
    admin_a, site_a, gate, for_camera, reason
):
    camera = gate if for_camera else None
    Budget.objects.create(
        site=site_a, camera_id=getattr(camera, "pk", None), monthly_limit=10, action="pause"
    )
    response = admin_a.post(BUDGETS, payload(site_a, camera), format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [reason]}
    assert Budget.objects.count() == 1


def test_changing_a_budget_to_the_scope_of_another_is_refused(admin_a, site_a, gate, site_budget):
    camera_budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=5, action="pause"
    )
    response = admin_a.patch(f"{BUDGETS}{camera_budget.pk}/", {"camera": None}, format="json")
    assert list(response.json()) == ["non_field_errors"]
    camera_budget.refresh_from_db()
    assert camera_budget.camera_id == gate.pk


# ------------------------------------------------------------------------- schema


def test_the_budgets_are_in_the_schema_generated_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/api/budgets/{id}/:" in out.getvalue()
