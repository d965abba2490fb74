"""The budget pages for admins: who may open them, the list per site with this month's
status, adding, changing and deleting a budget with the reasons a form is refused, and the
budget shown on the camera list and on a camera's page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Budget, UsageRecord
from billing.pricing.calendar import shanghai_month
from cameras import roles
from tests.billing.test_billing_pages import TableReader
from tests.factories import BaiduAccountFactory, HttpCameraFactory

pytestmark = pytest.mark.django_db

BUDGETS = "/billing/budgets/"
NEW = "/billing/budgets/new/"


def browser_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def admin(make_user, site_a):
    return make_user(roles.ADMIN, site_a)


@pytest.fixture
def browser(admin) -> Client:
    return browser_for(admin)


@pytest.fixture
def gate(site_a):
    return HttpCameraFactory(site=site_a, name="Gate A")


@pytest.fixture
def yard_b(site_b):
    return HttpCameraFactory(site=site_b, name="Yard B")


def budget_form(site, camera=None, **changes) -> dict:
    data = {
        "site": site.pk,
        "camera": camera.pk if camera is not None else "",
        "monthly_limit": "500.00",
        "action": "pause",
        "slow_factor": "",
    }
    data.update(changes)
    return data


def billable_calls(camera, count: int, *, at=None) -> None:
    """``count`` successful body_attr calls of ``camera`` on a Baidu account: 2.0 CNY per
    1,000 at the first pay-as-you-go tier."""
    account = BaiduAccountFactory()
    at = at or timezone.now() - timedelta(seconds=5)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            api="body_attr",
            camera_id=camera.pk,
            request_id=f"{camera.pk}-{at.timestamp()}-{n}",
            occurred_at=at,
            outcome="success",
        )
        for n in range(count)
    )


def budget_rows(response, site) -> list[list[str]]:
    reader = TableReader(f"budgets-site-{site.pk}")
    reader.feed(response.content.decode())
    return [cells for classes, cells in reader.rows if "budget-row" in classes]


def budget_ids(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-budget="(\d+)"', response.content.decode())}


# ------------------------------------------------------------------------- who may see


@pytest.mark.parametrize("role", [roles.OPERATOR, roles.FINANCE, None])
def test_users_without_the_admin_role_get_403_on_every_budget_page(make_user, site_a, role):
    # given a budget of a site the user is a member of, but no admin role
    budget = Budget.objects.create(site=site_a, monthly_limit=Decimal("10"), action="pause")
    client = browser_for(make_user(role, site_a))
    # when they open the list, the forms, or delete
    answers = [
        client.get(BUDGETS),
        client.get(NEW),
        client.post(NEW, budget_form(site_a)),
        client.get(f"{BUDGETS}{budget.pk}/"),
        client.post(f"{BUDGETS}{budget.pk}/delete/"),
    ]
    # then every answer is 403 and the budget is untouched
    assert [answer.status_code for answer in answers] == [403] * 5
    assert Budget.objects.count() == 1


def test_an_anonymous_visitor_is_sent_to_the_login_page():
    response = Client().get(BUDGETS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_admin_sees_only_the_budgets_of_their_own_sites(browser, site_a, site_b, gate, yard_b):
    # given budgets on site A (whole site and a camera) and on site B
    site_budget = Budget.objects.create(site=site_a, monthly_limit=Decimal("50"), action="slow")
    camera_budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("10"), action="pause"
    )
    Budget.objects.create(site=site_b, monthly_limit=Decimal("99"), action="pause")
    # when the admin of site A opens the list
    response = browser.get(BUDGETS)
    # then they see site A's two budgets, the whole site first, and nothing of site B
    assert response.status_code == 200
    assert budget_ids(response) == {site_budget.pk, camera_budget.pk}
    assert [row[0] for row in budget_rows(response, site_a)] == ["Whole site", "Camera “Gate A”"]
    assert "Site B" not in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_admin_gets_404_for_a_budget_of_another_site(browser, site_b, method):
    budget = Budget.objects.create(site=site_b, monthly_limit=Decimal("99"), action="pause")
    edit = getattr(browser, method)(f"{BUDGETS}{budget.pk}/", budget_form(site_b))
    delete = browser.post(f"{BUDGETS}{budget.pk}/delete/")
    assert (edit.status_code, delete.status_code) == (404, 404)
    assert Budget.objects.get(pk=budget.pk).monthly_limit == Decimal("99.00")


# ------------------------------------------------------------------------- status


def test_a_budget_whose_calls_this_month_cost_more_than_its_limit_shows_reached_and_paused(
    browser, site_a, gate
):
    # given a camera budget of 1.00 CNY that pauses, and 1,000 body_attr calls (2.00 CNY)
    Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("1.00"), action="pause"
    )
    billable_calls(gate, 1_000)
    # when the admin opens the list
    [row] = budget_rows(browser.get(BUDGETS), site_a)
    # then the row shows 2.00 spent of 1.00, 200 %, and that analysis is paused
    assert row[:6] == [
        "Camera “Gate A”",
        "2.00",
        "1.00",
        "200%",
        "pause analysis",
        "Reached: analysis paused.",
    ]


def test_a_reached_slow_budget_says_analysis_is_slowed_down_to_one_frame_in_its_factor(
    browser, site_a, gate
):
    Budget.objects.create(site=site_a, monthly_limit=Decimal("1.00"), action="slow", slow_factor=5)
    billable_calls(gate, 1_000)
    [row] = budget_rows(browser.get(BUDGETS), site_a)
    assert row[4:6] == [
        "slow analysis down to one frame in 5",
        "Reached: analysis slowed down to one frame in 5.",
    ]


def test_a_budget_within_its_limit_shows_the_share_spent_and_calls_of_last_month_do_not_count(
    browser, site_a, gate
):
    # given 100 calls this month (0.20 CNY) and 1,000 last month, against 1.00 CNY
    Budget.objects.create(site=site_a, monthly_limit=Decimal("1.00"), action="pause")
    billable_calls(gate, 100)
    month_start, _end = shanghai_month(timezone.now())
    billable_calls(gate, 1_000, at=month_start - timedelta(hours=1))
    # then the site budget has spent 0.20, a fifth, and is not reached
    [row] = budget_rows(browser.get(BUDGETS), site_a)
    assert row[1:4] == ["0.20", "1.00", "20%"]
    assert row[5] == "within budget"


# ------------------------------------------------------------------------- create, edit, delete


def test_an_admin_adds_a_whole_site_budget_through_the_form(browser, site_a):
    # when the admin submits a site budget that pauses at 500 CNY, leaving the factor empty
    response = browser.post(NEW, budget_form(site_a), follow=True)
    # then it is saved for the whole site, with the default factor, and listed
    budget = Budget.objects.get()
    assert (budget.site, budget.camera_id, budget.monthly_limit, budget.action) == (
        site_a,
        None,
        Decimal("500.00"),
        "pause",
    )
    assert budget.slow_factor == 4
    assert response.redirect_chain == [(BUDGETS, 302)]
    assert "Budget added: Site A, Whole site." in response.content.decode()


def test_an_admin_adds_a_camera_budget_that_slows_analysis_down(browser, site_a, gate):
    browser.post(
        NEW, budget_form(site_a, gate, monthly_limit="80.50", action="slow", slow_factor="3")
    )
    budget = Budget.objects.get()
    assert (budget.camera_id, budget.monthly_limit, budget.action, budget.slow_factor) == (
        gate.pk,
        Decimal("80.50"),
        "slow",
        3,
    )


def test_the_new_budget_form_starts_with_the_site_and_camera_it_was_opened_for(
    browser, site_a, gate
):
    page = browser.get(f"{NEW}?site={site_a.pk}&camera={gate.pk}").content.decode()
    assert re.search(rf'<option value="{site_a.pk}" selected>Site A</option>', page)
    assert re.search(rf'<option value="{gate.pk}" selected>Gate A</option>', page)


def test_an_admin_changes_a_budgets_limit_and_action(browser, site_a, gate):
    budget = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("10"), action="pause"
    )
    form_page = browser.get(f"{BUDGETS}{budget.pk}/")
    assert re.search(rf'<option value="{gate.pk}" selected>', form_page.content.decode())
    response = browser.post(
        f"{BUDGETS}{budget.pk}/",
        budget_form(site_a, gate, monthly_limit="25", action="slow", slow_factor="6"),
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.camera_id, budget.monthly_limit, budget.action, budget.slow_factor) == (
        gate.pk,
        Decimal("25.00"),
        "slow",
        6,
    )


def test_an_admin_deletes_a_budget_with_a_post_and_a_get_deletes_nothing(browser, site_a):
    budget = Budget.objects.create(site=site_a, monthly_limit=Decimal("10"), action="pause")
    assert browser.get(f"{BUDGETS}{budget.pk}/delete/").status_code == 405
    assert Budget.objects.filter(pk=budget.pk).exists()
    response = browser.post(f"{BUDGETS}{budget.pk}/delete/", follow=True)
    assert not Budget.objects.filter(pk=budget.pk).exists()
    assert "Budget deleted: Site A, Whole site." in response.content.decode()


# ------------------------------------------------------------------------- refused forms


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"monthly_limit": "-5"}, "monthly_limit", "Give a monthly limit above 0 CNY."),
        ({"monthly_limit": "0"}, "monthly_limit", "Give a monthly limit above 0 CNY."),
        ({"monthly_limit": "1.234"}, "monthly_limit", "no more than 2 decimal places"),
        (
            {"action": "slow", "slow_factor": "1"},
            "slow_factor",
            "The slow-down factor is at least 2",
        ),
        (
            {"action": "slow", "slow_factor": ""},
            "slow_factor",
            "Give how much to slow down: one frame in how many.",
        ),
        ({"action": "stop"}, "action", "Select a valid choice."),
    ],
)
def test_a_budget_form_with_a_wrong_value_is_refused_with_the_reason_next_to_the_field(
    browser, site_a, changes, field, reason
):
    response = browser.post(NEW, budget_form(site_a, **changes))
    assert response.status_code == 200
    errors = re.search(rf'id="id_{field}_errors">([^<]*)<', response.content.decode())
    assert errors is not None
    assert reason in errors.group(1)
    assert not Budget.objects.exists()


def test_a_camera_of_another_of_the_admins_sites_is_refused_with_both_sites_named(
    make_user, site_a, site_b, yard_b
):
    browser = browser_for(make_user(roles.ADMIN, site_a, site_b))
    response = browser.post(NEW, budget_form(site_a, yard_b))
    errors = re.search(r'id="id_camera_errors">([^<]*)<', response.content.decode())
    assert errors.group(1) == "“Yard B” is a camera of Site B, not of Site A."
    assert not Budget.objects.exists()


def test_a_camera_or_site_the_admin_is_not_a_member_of_cannot_be_chosen(
    browser, site_a, site_b, yard_b
):
    page = browser.get(NEW).content.decode()
    assert "Yard B" not in page
    assert "Site B" not in page
    foreign_camera = browser.post(NEW, budget_form(site_a, yard_b)).content.decode()
    foreign_site = browser.post(NEW, budget_form(site_b)).content.decode()
    assert 'id="id_camera_errors"' in foreign_camera
    assert 'id="id_site_errors"' in foreign_site
    assert not Budget.objects.exists()


@pytest.mark.parametrize(
    ("for_camera", "reason"),
    [
        (False, "Site A already has a whole-site budget: change that one instead."),
        (True, "Camera “Gate A” already has a budget: change that one instead."),
    ],
)
def test_a_second_budget_for_the_same_site_or_camera_is_refused_with_a_link_to_the_first(
    browser, site_a, gate, for_camera, reason
):
    camera = gate if for_camera else None
    first = Budget.objects.create(
        site=site_a, camera_id=getattr(camera, "pk", None), monthly_limit=10, action="pause"
    )
    response = browser.post(NEW, budget_form(site_a, camera))
    page = response.content.decode()
    assert response.status_code == 200
    assert reason in page
    assert f'href="{BUDGETS}{first.pk}/">Open that budget</a>' in page
    assert Budget.objects.count() == 1


# ------------------------------------------------------------------------- on the camera pages


def test_the_camera_list_shows_each_sites_budget_or_a_link_to_set_one(
    make_user, site_a, site_b, gate
):
    # given an admin of two sites, site A with a reached budget, site B without one
    browser = browser_for(make_user(roles.ADMIN, site_a, site_b))
    budget = Budget.objects.create(site=site_a, monthly_limit=Decimal("1.00"), action="pause")
    billable_calls(gate, 1_000)
    # when they open the camera list
    page = browser.get(reverse("cameras:list")).content.decode()
    section_a = page[
        page.index('id="site-' + str(site_a.pk)) : page.index('id="site-' + str(site_b.pk))
    ]
    section_b = page[page.index('id="site-' + str(site_b.pk)) :]
    # then site A shows its budget, reached and paused, with a link to change it
    assert "2.00 of 1.00 CNY this month (200%)" in section_a
    assert "Reached: analysis paused." in section_a
    assert f'href="{BUDGETS}{budget.pk}/">Edit budget</a>' in section_a
    # and site B offers to set one
    assert f'href="{NEW}?site={site_b.pk}">Set a site budget</a>' in section_b


def test_a_cameras_page_shows_its_own_budget_and_its_sites(browser, site_a, gate):
    own = Budget.objects.create(
        site=site_a, camera_id=gate.pk, monthly_limit=Decimal("5.00"), action="slow"
    )
    Budget.objects.create(site=site_a, monthly_limit=Decimal("1.00"), action="pause")
    billable_calls(gate, 1_000)
    page = browser.get(reverse("cameras:edit", args=[gate.pk])).content.decode()
    assert "Camera budget:" in page
    assert "2.00 of 5.00 CNY this month (40%)" in page
    assert f'href="{BUDGETS}{own.pk}/">Edit budget</a>' in page
    assert "Site budget:" in page
    assert "Reached: analysis paused." in page


def test_a_camera_without_a_budget_offers_to_set_one_and_a_new_camera_shows_none(
    browser, site_a, gate
):
    page = browser.get(reverse("cameras:edit", args=[gate.pk])).content.decode()
    assert (
        f'href="{NEW}?site={site_a.pk}&amp;camera={gate.pk}">Set a budget for this camera' in page
    )
    new_camera_page = browser.get(reverse("cameras:new"))
    assert new_camera_page.status_code == 200
    assert "budget-status" not in new_camera_page.content.decode()
