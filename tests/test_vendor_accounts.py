"""Vendor accounts: what each vendor needs, who may manage accounts, and that credentials
go in through the API, the pages and the Django admin but never come back out."""

from __future__ import annotations

import json

import factory
import pytest
from django.test import Client
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework import routers
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Site
from monitoring.accounts_api import VendorAccountViewSet
from monitoring.backends.base import ClientSettings
from monitoring.models import VendorAccount
from tests.factories import BaiduPrivateAccountFactory

BAIDU_AK = "AK-baidu-7Gq2LkP9xW4mR8tB"
BAIDU_SK = "SK-baidu-Zc5Vn3Hj1Qa6Ye0U"
CTYUN_AK = "AK-ctyun-Lr8Px2Nf6Dw1Ks4J"
CTYUN_SK = "SK-ctyun-Tb9Mh5Wq3Gz7Ev2C"
CTYUN_APPKEY = "APPKEY-ctyun-562b89493b1a40e1"
NEW_SK = "SK-replacement-Uy6Oi8Pa0Sd2Ff4"
ALL_SECRETS = [BAIDU_AK, BAIDU_SK, CTYUN_AK, CTYUN_SK, CTYUN_APPKEY, NEW_SK]

LIST_URL = "/api/vendor-accounts/"


def home_site() -> Site:
    """The site the Admins of these tests manage, and the factories' accounts belong to."""
    return Site.objects.get_or_create(name="Home site")[0]


class BaiduAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    site = factory.LazyFunction(home_site)
    vendor = "baidu"
    name = factory.Sequence(lambda n: f"Baidu account {n}")
    api_key = BAIDU_AK
    secret_key = BAIDU_SK


class CtyunAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAccount

    site = factory.LazyFunction(home_site)
    vendor = "ctyun"
    name = factory.Sequence(lambda n: f"CTYun account {n}")
    api_key = CTYUN_AK
    secret_key = CTYUN_SK
    app_key = CTYUN_APPKEY


def detail_url(account: VendorAccount) -> str:
    return f"{LIST_URL}{account.pk}/"


def assert_no_secret_in(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text


@pytest.fixture
def admin_api(make_user) -> APIClient:
    client = APIClient()
    client.force_login(make_user(roles.ADMIN, home_site()))
    return client


@pytest.fixture
def admin_browser(make_user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(roles.ADMIN, home_site()))
    return client


def page_form(**fields) -> dict[str, str]:
    """What the browser posts for an account, with every field the page shows."""
    data = {
        "site": str(home_site().pk),
        "name": "Baidu plant 2",
        "vendor": "baidu",
        "base_url": "",
        "api_key": "",
        "secret_key": "",
        "app_key": "",
        "ports": "",
        "certification": "personal",
        "free_quota_claimed_at": "",
        "enabled": "on",
        "connect_timeout": "5",
        "read_timeout": "30",
        "notes": "",
    }
    data.update(fields)
    return data


# ---------------------------------------------------------------- the model


@pytest.mark.django_db
def test_a_baidu_account_without_a_base_url_gets_baidus_public_address():
    account = BaiduAccountFactory(base_url="")

    assert account.base_url == "https://aip.baidubce.com"


@pytest.mark.django_db
def test_a_ctyun_account_without_a_base_url_gets_ctyuns_public_address():
    account = CtyunAccountFactory(base_url="")

    assert account.base_url == "https://ai-global.ctapi.ctyun.cn"


@pytest.mark.django_db
def test_client_settings_carry_the_credentials_timeouts_and_a_stable_account_name():
    account = CtyunAccountFactory(
        base_url="http://127.0.0.1:8000/sandbox/ctyun/", connect_timeout=2.5, read_timeout=12
    )

    settings = VendorAccount.objects.get(pk=account.pk).client_settings()

    assert isinstance(settings, ClientSettings)
    assert settings.base_url == "http://127.0.0.1:8000/sandbox/ctyun"
    assert (settings.api_key, settings.secret_key, settings.app_key) == (
        CTYUN_AK,
        CTYUN_SK,
        CTYUN_APPKEY,
    )
    assert settings.account == f"ctyun:{account.pk}"
    assert (settings.timeouts.connect, settings.timeouts.read) == (2.5, 12)


@pytest.mark.django_db
def test_client_settings_of_a_private_deployment_carry_its_ports():
    account = BaiduPrivateAccountFactory(
        name="LAN", base_url="http://192.168.0.10", ports={"body_num": 9122}
    )

    settings = account.client_settings()

    assert settings.base_url == "http://192.168.0.10"
    assert settings.ports == {"body_num": 9122}
    assert settings.api_key == ""


@pytest.mark.django_db
def test_neither_str_nor_repr_of_an_account_shows_a_credential():
    account = CtyunAccountFactory(name="CTYun plant 1")

    assert_no_secret_in(str(account) + repr(account))
    assert "CTYun plant 1" in repr(account)


# ---------------------------------------------------------------- the API never answers secrets


@pytest.mark.django_db
def test_the_account_list_answers_no_credential_only_whether_each_is_set(admin_api):
    BaiduAccountFactory()
    CtyunAccountFactory()

    response = admin_api.get(LIST_URL)

    assert response.status_code == 200
    assert_no_secret_in(response.content.decode())
    accounts = {account["vendor"]: account for account in response.json()["results"]}
    assert accounts["ctyun"]["api_key_set"] is True
    assert accounts["ctyun"]["app_key_set"] is True
    assert accounts["baidu"]["app_key_set"] is False
    assert "api_key" not in accounts["baidu"]


@pytest.mark.django_db
def test_an_account_in_detail_answers_no_credential(admin_api):
    account = CtyunAccountFactory()

    response = admin_api.get(detail_url(account))

    assert response.status_code == 200
    assert_no_secret_in(response.content.decode())
    assert response.json()["secret_key_set"] is True


@pytest.mark.django_db
def test_creating_an_account_stores_the_credentials_and_answers_none_of_them(admin_api):
    response = admin_api.post(
        LIST_URL,
        {"vendor": "baidu", "name": "Baidu plant 2", "api_key": BAIDU_AK, "secret_key": BAIDU_SK},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert_no_secret_in(response.content.decode())
    assert response.json()["api_key_set"] is True
    assert response.json()["base_url"] == "https://aip.baidubce.com"
    stored = VendorAccount.objects.get(pk=response.json()["id"])
    assert (stored.api_key, stored.secret_key) == (BAIDU_AK, BAIDU_SK)


@pytest.mark.django_db
def test_replacing_a_credential_stores_it_and_answers_neither_old_nor_new(admin_api):
    account = BaiduAccountFactory()

    response = admin_api.patch(detail_url(account), {"secret_key": NEW_SK}, format="json")

    assert response.status_code == 200, response.content
    assert_no_secret_in(response.content.decode())
    account.refresh_from_db()
    assert (account.api_key, account.secret_key) == (BAIDU_AK, NEW_SK)


@pytest.mark.django_db
def test_a_full_update_without_credentials_keeps_the_stored_ones(admin_api):
    account = CtyunAccountFactory(name="CTYun old name")

    response = admin_api.put(
        detail_url(account),
        {"vendor": "ctyun", "name": "CTYun new name", "api_key": "", "enabled": False},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert_no_secret_in(response.content.decode())
    account.refresh_from_db()
    assert account.name == "CTYun new name"
    assert account.enabled is False
    assert (account.api_key, account.secret_key, account.app_key) == (
        CTYUN_AK,
        CTYUN_SK,
        CTYUN_APPKEY,
    )


@pytest.mark.django_db
def test_the_browsable_api_page_shows_no_credential(admin_api):
    account = CtyunAccountFactory()

    response = admin_api.get(detail_url(account), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert_no_secret_in(response.content.decode())


@pytest.mark.django_db
def test_an_admin_can_delete_an_account(admin_api):
    account = BaiduAccountFactory()

    response = admin_api.delete(detail_url(account))

    assert response.status_code == 204
    assert not VendorAccount.objects.filter(pk=account.pk).exists()


# ---------------------------------------------------------------- validation per vendor

BAIDU = {"vendor": "baidu", "api_key": BAIDU_AK, "secret_key": BAIDU_SK}
CTYUN = {"vendor": "ctyun", "api_key": CTYUN_AK, "secret_key": CTYUN_SK, "app_key": CTYUN_APPKEY}
PRIVATE = {"vendor": "baidu_private", "base_url": "http://192.168.0.10"}

INVALID_ACCOUNTS = {
    "baidu without its secret key": ({**BAIDU, "secret_key": ""}, "secret_key"),
    "baidu without its api key": ({**BAIDU, "api_key": ""}, "api_key"),
    "baidu with a ctyun appkey": ({**BAIDU, "app_key": CTYUN_APPKEY}, "app_key"),
    "ctyun without its appkey": ({**CTYUN, "app_key": ""}, "app_key"),
    "ctyun without its sk": ({**CTYUN, "secret_key": ""}, "secret_key"),
    "private deployment without its host": ({**PRIVATE, "base_url": ""}, "base_url"),
    "private deployment with a credential": ({**PRIVATE, "api_key": BAIDU_AK}, "api_key"),
    "private deployment with a port in its address": (
        {**PRIVATE, "base_url": "http://192.168.0.10:8124"},
        "base_url",
    ),
    "private deployment with an unknown service": (
        {**PRIVATE, "ports": {"body_analyss": 8124}},
        "ports",
    ),
    "private deployment with a port out of range": (
        {**PRIVATE, "ports": {"body_analysis": 70000}},
        "ports",
    ),
    "ports on an online account": ({**BAIDU, "ports": {"body_analysis": 8124}}, "ports"),
    "an ftp address": ({**BAIDU, "base_url": "ftp://aip.baidubce.com"}, "base_url"),
    "an address without a host": ({**BAIDU, "base_url": "https://"}, "base_url"),
    "an address with spaces": ({**BAIDU, "base_url": "https://aip baidubce.com"}, "base_url"),
    "an address with a password": (
        {**BAIDU, "base_url": "https://user:pw@aip.baidubce.com"},
        "base_url",
    ),
    "a local analyzer with an address": (
        {"vendor": "local", "base_url": "http://127.0.0.1"},
        "base_url",
    ),
    "an unknown vendor": ({**BAIDU, "vendor": "aliyun"}, "vendor"),
    "a zero read timeout": ({**BAIDU, "read_timeout": 0}, "read_timeout"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"), list(INVALID_ACCOUNTS.values()), ids=list(INVALID_ACCOUNTS)
)
def test_an_invalid_account_is_refused_with_400_naming_the_field(admin_api, data, field):
    response = admin_api.post(LIST_URL, {"name": "Invalid", **data}, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert_no_secret_in(response.content.decode())
    assert not VendorAccount.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        BAIDU,
        CTYUN,
        PRIVATE,
        {**PRIVATE, "ports": {"body_analysis": 18124, "driver_behavior": 18132}},
        {**BAIDU, "base_url": "http://127.0.0.1:8000/sandbox/baidu"},
        {**CTYUN, "base_url": "http://127.0.0.1:8000/sandbox/ctyun"},
        {"vendor": "local"},
    ],
    ids=[
        "baidu",
        "ctyun",
        "private",
        "private with ports",
        "baidu sandbox",
        "ctyun sandbox",
        "local",
    ],
)
def test_a_complete_account_of_each_vendor_is_accepted(admin_api, data):
    response = admin_api.post(LIST_URL, {"name": "Valid", **data}, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_the_missing_credential_message_says_where_to_find_it(admin_api):
    response = admin_api.post(
        LIST_URL,
        {"name": "CTYun", **CTYUN, "app_key": ""},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "AppKey" in response.json()["app_key"][0]
    assert "My applications" in response.json()["app_key"][0]


@pytest.mark.django_db
def test_the_vendor_of_an_existing_account_cannot_change(admin_api):
    account = BaiduAccountFactory()

    response = admin_api.patch(detail_url(account), {"vendor": "local"}, format="json")

    assert response.status_code == 400
    assert "vendor" in response.json()
    account.refresh_from_db()
    assert account.vendor == "baidu"


@pytest.mark.django_db
def test_a_second_account_with_the_same_name_is_refused(admin_api):
    BaiduAccountFactory(name="Baidu plant 2")

    response = admin_api.post(LIST_URL, {"name": "Baidu plant 2", **BAIDU}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


# ---------------------------------------------------------------- who may use the API


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.OPERATOR, roles.FINANCE])
def test_operators_and_finance_are_refused_the_api_with_403(make_user, role):
    account = BaiduAccountFactory()
    client = APIClient()
    client.force_login(make_user(role))

    answers = [
        client.get(LIST_URL),
        client.get(detail_url(account)),
        client.post(LIST_URL, {"name": "x", **BAIDU}, format="json"),
        client.patch(detail_url(account), {"enabled": False}, format="json"),
        client.delete(detail_url(account)),
    ]

    assert [answer.status_code for answer in answers] == [403] * 5
    assert VendorAccount.objects.get(pk=account.pk).enabled is True


@pytest.mark.django_db
def test_an_operator_really_has_the_operator_permissions_only(make_user):
    operator = make_user(roles.OPERATOR)

    assert operator.has_perm(roles.WATCH)
    assert operator.has_perm(roles.ACKNOWLEDGE)
    assert not operator.has_perm(roles.CONFIGURE)


@pytest.mark.django_db
def test_an_anonymous_caller_is_refused_the_api_with_401():
    account = BaiduAccountFactory()
    client = APIClient()

    assert client.get(LIST_URL).status_code == 401
    assert client.get(detail_url(account)).status_code == 401
    assert client.post(LIST_URL, {"name": "x", **BAIDU}, format="json").status_code == 401


# ---------------------------------------------------------------- the OpenAPI schema


@pytest.mark.django_db
def test_the_schema_documents_the_api_without_warnings_and_credentials_as_write_only():
    router = routers.SimpleRouter()
    router.register("vendor-accounts", VendorAccountViewSet, basename="vendor-account")
    GENERATOR_STATS.reset()

    schema = SchemaGenerator(patterns=[path("api/", include(router.urls))]).get_schema(
        request=None, public=True
    )

    assert not GENERATOR_STATS, "drf-spectacular warned about the vendor account API"
    validate_schema(schema)
    properties = schema["components"]["schemas"]["VendorAccount"]["properties"]
    assert properties["api_key"]["writeOnly"] is True
    assert properties["secret_key"]["writeOnly"] is True
    assert properties["app_key"]["writeOnly"] is True
    assert properties["api_key_set"]["readOnly"] is True


@pytest.mark.django_db
def test_the_served_schema_lists_the_vendor_account_endpoints(admin_api):
    response = admin_api.get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/vendor-accounts/" in paths
    assert "/api/vendor-accounts/{id}/" in paths


# ---------------------------------------------------------------- the pages


@pytest.mark.django_db
def test_the_list_page_shows_the_accounts_but_no_credential(admin_browser):
    BaiduAccountFactory(name="Baidu plant 2")
    CtyunAccountFactory(name="CTYun plant 3")

    response = admin_browser.get("/vendor-accounts/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Baidu plant 2" in page
    assert "CTYun plant 3" in page
    assert_no_secret_in(page)


@pytest.mark.django_db
def test_the_edit_page_says_a_credential_is_set_without_showing_it(admin_browser):
    account = CtyunAccountFactory()

    response = admin_browser.get(f"/vendor-accounts/{account.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "•••• set" in page
    assert 'type="password"' in page
    assert_no_secret_in(page)


@pytest.mark.django_db
def test_saving_the_edit_page_with_credentials_left_blank_keeps_them(admin_browser):
    account = BaiduAccountFactory(name="Baidu plant 2")

    response = admin_browser.post(
        f"/vendor-accounts/{account.pk}/", page_form(name="Baidu plant 2, renamed")
    )

    assert response.status_code == 302
    assert response["Location"] == "/vendor-accounts/"
    account.refresh_from_db()
    assert account.name == "Baidu plant 2, renamed"
    assert (account.api_key, account.secret_key) == (BAIDU_AK, BAIDU_SK)


@pytest.mark.django_db
def test_typing_a_credential_on_the_edit_page_replaces_it(admin_browser):
    account = BaiduAccountFactory(name="Baidu plant 2")

    admin_browser.post(f"/vendor-accounts/{account.pk}/", page_form(secret_key=NEW_SK))

    account.refresh_from_db()
    assert (account.api_key, account.secret_key) == (BAIDU_AK, NEW_SK)


@pytest.mark.django_db
def test_the_new_account_page_adds_an_account_with_encrypted_credentials(admin_browser):
    response = admin_browser.post(
        "/vendor-accounts/new/", page_form(api_key=BAIDU_AK, secret_key=BAIDU_SK)
    )

    assert response.status_code == 302
    account = VendorAccount.objects.get(name="Baidu plant 2")
    assert account.base_url == "https://aip.baidubce.com"
    assert (account.api_key, account.secret_key) == (BAIDU_AK, BAIDU_SK)


@pytest.mark.django_db
def test_a_refused_form_names_the_field_and_does_not_echo_the_typed_credential(admin_browser):
    response = admin_browser.post("/vendor-accounts/new/", page_form(api_key=BAIDU_AK))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_secret_key_errors"' in page
    assert "Secret Key of its application" in page
    assert_no_secret_in(page)
    assert not VendorAccount.objects.exists()


@pytest.mark.django_db
def test_the_page_form_sets_up_a_private_deployment_with_its_ports(admin_browser):
    response = admin_browser.post(
        "/vendor-accounts/new/",
        page_form(
            name="LAN",
            vendor="baidu_private",
            base_url="http://10.0.0.5/",
            ports='{"body_analysis": 18124}',
        ),
    )

    assert response.status_code == 302
    account = VendorAccount.objects.get(name="LAN")
    assert account.base_url == "http://10.0.0.5"
    assert account.ports == {"body_analysis": 18124}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.OPERATOR, roles.FINANCE])
def test_operators_and_finance_are_refused_the_pages_with_403(make_user, role):
    account = BaiduAccountFactory()
    client = Client()
    client.force_login(make_user(role))

    answers = [
        client.get("/vendor-accounts/"),
        client.get("/vendor-accounts/new/"),
        client.get(f"/vendor-accounts/{account.pk}/"),
        client.post(f"/vendor-accounts/{account.pk}/", page_form(name="taken over")),
    ]

    assert [answer.status_code for answer in answers] == [403] * 4
    assert VendorAccount.objects.get(pk=account.pk).name != "taken over"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/vendor-accounts/", "/vendor-accounts/new/", "/vendor-accounts/1/"]
)
def test_an_anonymous_visitor_of_the_pages_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


# ---------------------------------------------------------------- the Django admin


@pytest.mark.django_db
def test_the_django_admin_change_page_shows_no_credential(admin_client):
    account = CtyunAccountFactory()

    response = admin_client.get(f"/admin/monitoring/vendoraccount/{account.pk}/change/")

    assert response.status_code == 200
    assert_no_secret_in(response.content.decode())


@pytest.mark.django_db
def test_saving_in_the_django_admin_with_credentials_left_blank_keeps_them(admin_client):
    account = CtyunAccountFactory(name="CTYun plant 3")
    form = page_form(name="CTYun plant 3, renamed", vendor="ctyun")
    form.pop("vendor")

    response = admin_client.post(f"/admin/monitoring/vendoraccount/{account.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.name == "CTYun plant 3, renamed"
    assert (account.api_key, account.secret_key, account.app_key) == (
        CTYUN_AK,
        CTYUN_SK,
        CTYUN_APPKEY,
    )


@pytest.mark.django_db
def test_a_staff_admin_reaches_vendor_accounts_in_the_django_admin_and_an_operator_does_not(
    make_user,
):
    admin_staff = Client()
    admin_staff.force_login(make_user(roles.ADMIN, is_staff=True))
    operator_staff = Client()
    operator_staff.force_login(make_user(roles.OPERATOR, is_staff=True))

    assert admin_staff.get("/admin/monitoring/vendoraccount/").status_code == 200
    assert operator_staff.get("/admin/monitoring/vendoraccount/").status_code == 403
