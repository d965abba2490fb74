"""Vendor accounts are owned by a site or shared: an Admin changes their sites' accounts
only, reads the shared ones, never sees another site's; a camera analyses only with its
site's accounts or shared ones; and credentials go only to the address they were entered
for (a new base URL or new ports need them typed again)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Camera, CameraAnalysis
from monitoring.models import VendorAccount
from tests.factories import BaiduAccountFactory, CameraFactory

AK, SK = "AK-owned-9f8e7d6c5b4a", "SK-owned-1a2b3c4d5e6f"
LIST_URL = "/api/vendor-accounts/"


def baidu(site=None, name="Baidu", **extra) -> VendorAccount:
    return BaiduAccountFactory(name=name, site=site, api_key=AK, secret_key=SK, **extra)


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def admin_b(make_user, site_b):
    return make_user(roles.ADMIN, site_b, is_staff=True)


@pytest.fixture
def site_b(make_site):
    return make_site("Site B")


# ---------------------------------------------------------------- REST API


@pytest.mark.django_db
def test_an_admin_cannot_patch_another_sites_account_it_is_not_found(site_a, admin_b):
    account = baidu(site_a)

    response = api_as(admin_b).patch(
        f"{LIST_URL}{account.pk}/", {"base_url": "https://attacker.example"}, format="json"
    )

    assert response.status_code == 404
    account.refresh_from_db()
    assert account.base_url == "https://aip.baidubce.com"


@pytest.mark.django_db
def test_an_admin_does_not_list_another_sites_account_but_lists_shared_and_own(
    site_a, site_b, admin_b
):
    baidu(site_a, name="A's")
    baidu(site_b, name="B's")
    baidu(None, name="Shared")

    response = api_as(admin_b).get(LIST_URL)

    assert response.status_code == 200
    names = {row["name"]: row["site"] for row in response.json()["results"]}
    assert names == {"B's": site_b.pk, "Shared": None}


@pytest.mark.django_db
def test_an_admin_cannot_patch_or_delete_a_shared_account(admin_b):
    account = baidu(None)
    client = api_as(admin_b)

    patched = client.patch(f"{LIST_URL}{account.pk}/", {"notes": "mine now"}, format="json")
    deleted = client.delete(f"{LIST_URL}{account.pk}/")

    assert patched.status_code == 403
    assert "superusers" in patched.json()["detail"]
    assert deleted.status_code == 403
    account.refresh_from_db()
    assert account.notes == ""


@pytest.mark.django_db
def test_a_superuser_changes_a_shared_account(make_user):
    account = baidu(None)
    root = make_user(None, is_superuser=True)

    response = api_as(root).patch(f"{LIST_URL}{account.pk}/", {"notes": "ok"}, format="json")

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_an_admin_changes_an_account_of_their_site(site_b, admin_b):
    account = baidu(site_b)

    response = api_as(admin_b).patch(f"{LIST_URL}{account.pk}/", {"notes": "ok"}, format="json")

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_an_admin_cannot_add_a_shared_account_or_one_for_another_site(
    site_a, site_b, make_site, make_user
):
    client = api_as(make_user(roles.ADMIN, site_b, make_site("Site C")))
    data = {"vendor": "baidu", "name": "New", "api_key": AK, "secret_key": SK}

    shared = client.post(LIST_URL, {**data, "site": None}, format="json")
    other = client.post(LIST_URL, {**data, "site": site_a.pk}, format="json")

    assert shared.status_code == 400
    assert "site" in shared.json()
    assert other.status_code == 400
    assert "site" in other.json()
    assert not VendorAccount.objects.filter(name="New").exists()


@pytest.mark.django_db
def test_a_base_url_change_without_the_secrets_is_refused_with_400(site_b, admin_b):
    account = baidu(site_b)

    response = api_as(admin_b).patch(
        f"{LIST_URL}{account.pk}/", {"base_url": "https://other.example"}, format="json"
    )

    assert response.status_code == 400
    assert "enter its credentials again" in response.json()["base_url"][0]
    account.refresh_from_db()
    assert account.base_url == "https://aip.baidubce.com"


@pytest.mark.django_db
def test_the_refusal_is_in_chinese_for_a_chinese_browser(site_b, admin_b):
    account = baidu(site_b)

    response = api_as(admin_b).patch(
        f"{LIST_URL}{account.pk}/",
        {"base_url": "https://other.example"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert response.status_code == 400
    assert "重新输入" in response.json()["base_url"][0]


@pytest.mark.django_db
def test_a_base_url_change_with_only_one_secret_is_refused(site_b, admin_b):
    account = baidu(site_b)

    response = api_as(admin_b).patch(
        f"{LIST_URL}{account.pk}/",
        {"base_url": "https://other.example", "api_key": "AK-new"},
        format="json",
    )

    assert response.status_code == 400
    account.refresh_from_db()
    assert account.api_key == AK


@pytest.mark.django_db
def test_a_base_url_change_with_the_secrets_entered_again_is_saved(site_b, admin_b):
    account = baidu(site_b)

    response = api_as(admin_b).patch(
        f"{LIST_URL}{account.pk}/",
        {"base_url": "https://other.example", "api_key": "AK-new", "secret_key": "SK-new"},
        format="json",
    )

    assert response.status_code == 200, response.content
    account.refresh_from_db()
    assert (account.base_url, account.api_key, account.secret_key) == (
        "https://other.example",
        "AK-new",
        "SK-new",
    )


# ---------------------------------------------------------------- pages and Django admin


@pytest.mark.django_db
def test_the_edit_page_of_another_sites_account_is_not_found(site_a, admin_b):
    account = baidu(site_a)
    browser = Client()
    browser.force_login(admin_b)

    assert browser.get(f"/vendor-accounts/{account.pk}/").status_code == 404


@pytest.mark.django_db
def test_a_shared_account_opens_read_only_for_an_admin_and_refuses_a_post(admin_b):
    account = baidu(None)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(admin_b)

    page = browser.get(f"/vendor-accounts/{account.pk}/")
    post = browser.post(f"/vendor-accounts/{account.pk}/", {"name": "taken"})

    assert page.status_code == 200
    assert "only superusers can change it" in page.content.decode()
    assert ">Save</button>" not in page.content.decode()
    assert post.status_code == 403
    account.refresh_from_db()
    assert account.name == "Baidu"


@pytest.mark.django_db
def test_the_edit_page_refuses_a_new_base_url_without_the_secrets(site_b, admin_b):
    account = baidu(site_b)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(admin_b)
    form = {
        "site": site_b.pk,
        "name": "Baidu",
        "base_url": "https://other.example",
        "certification": "personal",
        "enabled": "on",
        "connect_timeout": "5",
        "read_timeout": "30",
    }

    response = browser.post(f"/vendor-accounts/{account.pk}/", form)

    assert response.status_code == 200
    assert "enter its credentials again" in response.content.decode()
    account.refresh_from_db()
    assert account.base_url == "https://aip.baidubce.com"


@pytest.mark.django_db
def test_the_django_admin_hides_other_sites_accounts_and_keeps_shared_read_only(site_a, admin_b):
    theirs, shared = baidu(site_a, name="Theirs"), baidu(None, name="Shared")
    browser = Client()
    browser.force_login(admin_b)

    listing = browser.get("/admin/monitoring/vendoraccount/").content.decode()
    other = browser.get(f"/admin/monitoring/vendoraccount/{theirs.pk}/change/")
    post = browser.post(f"/admin/monitoring/vendoraccount/{shared.pk}/change/", {"name": "x"})

    assert "Shared" in listing and "Theirs" not in listing
    assert other.status_code == 302  # the admin's "does not exist" redirect
    assert post.status_code == 403
    shared.refresh_from_db()
    assert shared.name == "Shared"


# ---------------------------------------------------------------- analyses


@pytest.fixture
def camera_b(site_b) -> Camera:
    return CameraFactory(
        site=site_b, name="Gate", source_kind="demo", source_url="demo://site-gate"
    )


@pytest.mark.django_db
def test_an_analysis_cannot_use_another_sites_account_in_the_api(site_a, camera_b, make_user):
    account = baidu(site_a)
    root = make_user(None, is_superuser=True)

    response = api_as(root).post(
        "/api/camera-analyses/",
        {"camera": camera_b.pk, "api": "body_num", "account": account.pk, "interval": 10},
        format="json",
    )

    assert response.status_code == 400
    assert "another site" in response.json()["account"][0]
    assert not CameraAnalysis.objects.exists()


@pytest.mark.django_db
def test_an_analysis_may_use_a_shared_or_its_own_sites_account(site_b, camera_b, admin_b):
    shared, own = baidu(None, name="Shared"), baidu(site_b, name="Own")
    client = api_as(admin_b)

    for account in (shared, own):
        response = client.post(
            "/api/camera-analyses/",
            {"camera": camera_b.pk, "api": "body_num", "account": account.pk, "interval": 10},
            format="json",
        )
        assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_the_analysis_page_offers_only_the_sites_and_shared_accounts(site_a, camera_b):
    from cameras.forms import CameraAnalysisForm

    baidu(site_a, name="Theirs")
    baidu(None, name="Shared")
    baidu(camera_b.site, name="Own")

    form = CameraAnalysisForm(camera=camera_b)

    assert sorted(form.fields["account"].queryset.values_list("name", flat=True)) == [
        "Own",
        "Shared",
    ]


@pytest.mark.django_db
def test_a_shared_account_other_sites_use_cannot_be_given_to_one_site(site_a, camera_b, make_user):
    account = baidu(None)
    CameraAnalysis.objects.create(camera=camera_b, api="body_num", account=account, interval=10)
    root = make_user(None, is_superuser=True)

    response = api_as(root).patch(f"{LIST_URL}{account.pk}/", {"site": site_a.pk}, format="json")

    assert response.status_code == 400
    assert "other sites" in response.json()["site"][0]
    account.refresh_from_db()
    assert account.site_id is None
