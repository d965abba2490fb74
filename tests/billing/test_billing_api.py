"""The billing REST API: Finance only, purchases refused with reasons, bills as JSON, and
an OpenAPI schema without warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework import routers
from rest_framework.test import APIClient

from billing import api as billing_api
from billing import purchases
from billing.models import HourlyRollup, Package, TopUp, UsageRecord
from billing.pricing import SHANGHAI
from cameras import roles
from tests.factories import BaiduPrivateAccountFactory

# The billing routes alone, for the schema check below.
_router = routers.DefaultRouter()
_router.register("billing-accounts", billing_api.BillingAccountViewSet, basename="billing-account")
_router.register("top-ups", billing_api.TopUpViewSet, basename="top-up")
_router.register("packages", billing_api.PackageViewSet, basename="package")
_router.register(
    "free-quota-claims", billing_api.FreeQuotaClaimViewSet, basename="free-quota-claim"
)
_router.register("qps-orders", billing_api.QpsOrderViewSet, basename="qps-order")
_router.register("usage-imports", billing_api.UsageImportViewSet, basename="usage-import")
_router.register("bills", billing_api.BillViewSet, basename="bill")
urlpatterns = [path("api/", include(_router.urls))]

D = Decimal
HEADER = "timestamp,api,success,request_id\n"


def sh(year, month, day, hour=0):
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def account(db):
    return purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")


@pytest.fixture
def finance(make_user):
    client = APIClient()
    client.force_authenticate(make_user(roles.FINANCE))
    return client


def read_urls(account):
    return [
        "/api/billing-accounts/",
        f"/api/billing-accounts/{account.pk}/",
        f"/api/billing-accounts/{account.pk}/usage/?month=2024-03",
        "/api/top-ups/",
        "/api/packages/",
        "/api/free-quota-claims/",
        "/api/qps-orders/",
        f"/api/bills/?account={account.pk}&month=2024-03",
    ]


WRITE_URLS = [
    "/api/top-ups/",
    "/api/free-quota-claims/",
    "/api/packages/",
    "/api/qps-orders/",
    "/api/usage-imports/",
    "/api/bills/finalize/",
    "/api/bills/adjust/",
]


# --- who may call it --------------------------------------------------------------------------


def test_anonymous_callers_get_401_everywhere(account):
    client = APIClient()
    for url in read_urls(account):
        assert client.get(url).status_code == 401, url
    for url in WRITE_URLS:
        assert client.post(url, {}).status_code == 401, url


@pytest.mark.parametrize("role", [roles.OPERATOR, roles.ADMIN, None])
def test_users_without_the_finance_role_get_403(account, make_user, role):
    client = APIClient()
    client.force_authenticate(make_user(role))
    for url in read_urls(account):
        assert client.get(url).status_code == 403, url
    for url in WRITE_URLS:
        assert client.post(url, {}).status_code == 403, url
    assert not TopUp.objects.exists()


def test_finance_reads_every_billing_endpoint(account, finance):
    for url in read_urls(account):
        assert finance.get(url).status_code == 200, url


# --- accounts, top-ups and purchases -----------------------------------------------------------


def test_finance_records_a_top_up_and_sees_it_listed(account, finance):
    response = finance.post(
        "/api/top-ups/",
        {"account": account.pk, "amount": "1000.00", "at": "2024-03-01T08:00:00+08:00"},
    )
    assert response.status_code == 201, response.data
    assert response.data["amount"] == "1000.00"
    assert response.data["created_by"].startswith("finance")
    listed = finance.get(f"/api/top-ups/?account={account.pk}").data
    assert [row["id"] for row in listed["results"]] == [response.data["id"]]


def test_a_package_is_priced_by_the_plan_and_a_wrong_one_is_refused_with_the_reason(
    account, finance
):
    bought = finance.post(
        "/api/packages/",
        {
            "account": account.pk,
            "api": "driver_behavior",
            "calls": 300_000,
            "purchased_at": "2024-03-01T00:00:00+08:00",
        },
    )
    assert bought.status_code == 201, bought.data
    assert (bought.data["price"], bought.data["expires_at"][:10]) == ("500.00", "2025-03-01")
    refused = finance.post(
        "/api/packages/",
        {
            "account": account.pk,
            "api": "body_attr",
            "calls": 300_000,
            "purchased_at": "2024-03-01T00:00:00+08:00",
        },
    )
    assert refused.status_code == 400
    assert refused.data["detail"] == "No count packages are sold for body_attr."
    assert Package.objects.count() == 1


def test_qps_orders_are_priced_and_capped_at_50_a_day(account, finance):
    order = {"account": account.pk, "api": "body_attr", "purchased_at": "2024-03-05T10:00+08:00"}
    first = finance.post("/api/qps-orders/", {**order, "qps": 15, "months": 1})
    assert (first.status_code, first.data["price"]) == (201, "7000.00")
    second = finance.post("/api/qps-orders/", {**order, "qps": 36, "days": 3})
    assert second.status_code == 400
    assert "15 QPS were bought today, so 36 more would make 51" in second.data["detail"]


def test_an_account_shows_its_settlement_status(account, finance):
    from billing import settlement

    purchases.top_up(account, D("50.00"), sh(2024, 3, 1))
    settlement.settle(account, sh(2024, 3, 2))
    data = finance.get(f"/api/billing-accounts/{account.pk}/").data
    assert data["status"]["balance"] == "50.00"
    assert data["status"]["in_arrears"] is False


def test_a_private_deployment_is_not_a_billed_account(db, finance):

    private = BaiduPrivateAccountFactory(name="LAN", base_url="http://192.168.0.10")
    assert finance.get(f"/api/billing-accounts/{private.pk}/").status_code == 404
    refused = finance.post(
        "/api/top-ups/", {"account": private.pk, "amount": "1", "at": "2024-03-01T00:00Z"}
    )
    assert refused.status_code == 400


# --- usage import ----------------------------------------------------------------------------


def test_a_usage_csv_is_uploaded_and_imported_once(account, finance):
    content = (
        HEADER
        + "2024-03-01T10:00:00+08:00,body_attr,true,u1\n"
        + "2024-03-01T10:00:01+08:00,body_attr,false,u2\n"
    ).encode()

    def upload():
        return finance.post(
            "/api/usage-imports/",
            {"account": account.pk, "file": SimpleUploadedFile("usage.csv", content)},
            format="multipart",
        )

    first = upload()
    assert first.status_code == 201, first.data
    assert (first.data["rows"], first.data["imported"], first.data["skipped"]) == (2, 2, 0)
    again = upload()
    assert (again.data["imported"], again.data["skipped"]) == (0, 2)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+08:00", "0001-01-01T10:00:00Z", "1999-12-31T23:59:59Z"]
)
def test_a_usage_row_dated_before_2000_is_refused_and_the_billing_pages_still_work(
    account, finance, make_user, stamp
):
    # given a usage export with a row dated in year 0001 (or just before 2000)
    content = (HEADER + f"{stamp},body_attr,true,u1\n").encode()
    # when it is uploaded
    response = finance.post(
        "/api/usage-imports/",
        {"account": account.pk, "file": SimpleUploadedFile("usage.csv", content)},
        format="multipart",
    )
    # then it is refused with the line and the reason, and nothing is imported
    assert response.status_code == 400
    assert response.data["detail"].startswith(f"line 2: timestamp '{stamp}' is before 2000-01-01")
    assert not UsageRecord.objects.exists()
    # and the billing pages still answer
    browser = Client()
    browser.force_login(make_user(roles.FINANCE))
    assert browser.get("/billing/").status_code == 200
    assert browser.get(f"/billing/{account.pk}/").status_code == 200


def test_a_bad_upload_is_refused_with_the_line_and_imports_nothing(account, finance):
    content = (
        HEADER
        + "2024-03-01T10:00:00+08:00,body_attr,true,u1\n"
        + "2024-03-01T10:00:01+08:00,body_attr,maybe,u2\n"
    ).encode()
    response = finance.post(
        "/api/usage-imports/",
        {"account": account.pk, "file": SimpleUploadedFile("usage.csv", content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.data["detail"].startswith("line 3: success must be true or false")
    assert not UsageRecord.objects.exists()


# --- bills -----------------------------------------------------------------------------------


def test_a_bill_is_read_by_account_and_month(account, finance):
    HourlyRollup.objects.create(
        account=account, api="body_attr", hour=datetime(2024, 3, 2, 1, tzinfo=UTC), success=70_000
    )
    bill = finance.get(f"/api/bills/?account={account.pk}&month=2024-03").data
    assert (bill["month"], bill["status"], bill["total"]) == ("2024-03", "draft", "136.00")
    payg = bill["lines"][0]
    assert (payg["kind"], payg["amount"]) == ("payg", "136.00")
    assert [tier["amount"] for tier in payg["tiers"]] == ["100.00", "36.00"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("month=2024-03", 400),
        ("account=1&month=2024-3", 400),
        ("account=999999&month=2024-03", 404),
    ],
)
def test_a_bill_needs_a_known_account_and_a_well_formed_month(account, finance, query, status):
    assert finance.get(f"/api/bills/?{query}").status_code == status


def test_finance_finalizes_a_past_month_once_and_adjusts_it(account, finance):
    HourlyRollup.objects.create(
        account=account, api="body_attr", hour=datetime(2024, 3, 2, 1, tzinfo=UTC), success=10_000
    )
    month = {"account": account.pk, "month": "2024-03"}
    draft_adjust = finance.post(
        "/api/bills/adjust/", {**month, "amount": "-1.00", "note": "too early"}
    )
    assert draft_adjust.status_code == 400
    final = finance.post("/api/bills/finalize/", month)
    assert final.status_code == 200, final.data
    assert (final.data["status"], final.data["total"]) == ("final", "20.00")
    assert final.data["finalized_by"].startswith("finance")
    again = finance.post("/api/bills/finalize/", month)
    assert again.status_code == 400
    assert "already final" in again.data["detail"]
    adjusted = finance.post(
        "/api/bills/adjust/",
        {**month, "api": "body_attr", "amount": "-2.50", "note": "credit for an outage"},
    )
    assert adjusted.status_code == 200, adjusted.data
    assert (adjusted.data["lines_total"], adjusted.data["total"]) == ("20.00", "17.50")
    assert adjusted.data["adjustments"][0]["note"] == "credit for an outage"


def test_an_open_month_cannot_be_finalized(account, finance):
    response = finance.post("/api/bills/finalize/", {"account": account.pk, "month": "2999-01"})
    assert response.status_code == 400
    assert "has not ended" in response.data["detail"]


def test_the_usage_of_a_month_comes_per_day_with_its_projection(account, finance):
    UsageRecord.objects.create(
        account=account,
        api="body_num",
        request_id="d1",
        occurred_at=sh(2024, 3, 2, 23),
        outcome="success",
    )
    data = finance.get(f"/api/billing-accounts/{account.pk}/usage/?month=2024-03").data
    assert data["days"] == [
        {"day": "2024-03-02", "api": "body_num", "success": 1, "failed": 0, "calls": 1}
    ]
    assert data["projection"]["projected_total"] == "0.00"
    assert finance.get(f"/api/billing-accounts/{account.pk}/usage/").status_code == 400


# --- the schema ------------------------------------------------------------------------------


def test_the_billing_endpoints_are_in_the_openapi_schema_without_warnings(tmp_path):
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        __name__,
        "--file",
        str(target),
    )
    schema = target.read_text()
    for route in (
        "/api/billing-accounts/{id}/usage/",
        "/api/top-ups/",
        "/api/packages/",
        "/api/qps-orders/",
        "/api/usage-imports/",
        "/api/bills/",
        "/api/bills/finalize/",
        "/api/bills/adjust/",
    ):
        assert f"{route}:" in schema


# --- the Django admin ----------------------------------------------------------------------------


def test_finance_reads_the_ledger_in_the_admin_but_cannot_change_it(account, make_user, client):
    # given a staff user with the Finance role and a call in the ledger
    user = make_user(roles.FINANCE, is_staff=True)
    record = UsageRecord.objects.create(
        account=account,
        api="body_attr",
        request_id="a1",
        occurred_at=sh(2024, 3, 1),
        outcome="success",
    )
    client.force_login(user)
    # then every billing page lists, and the ledger cannot be added to or changed
    for model in (
        "usagerecord",
        "hourlyrollup",
        "priceplan",
        "package",
        "qpsorder",
        "topup",
        "accountstatus",
        "hourlycharge",
        "bill",
        "budget",
    ):
        assert client.get(f"/admin/billing/{model}/").status_code == 200, model
    assert client.get("/admin/billing/usagerecord/add/").status_code == 403
    page = client.get(f"/admin/billing/usagerecord/{record.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get("/admin/billing/priceplan/add/").status_code == 200


def test_finance_adds_a_price_plan_version_in_the_admin(db, make_user, client):
    import json

    from billing import plans, pricing
    from billing.models import PricePlan

    client.force_login(make_user(roles.FINANCE, is_staff=True))
    dearer = pricing.DEFAULT_PLANS["ctyun"].replace_api(
        "helmet", package_specs=(pricing.PackageSpec(100_000, D("99")),)
    )
    response = client.post(
        "/admin/billing/priceplan/add/",
        {
            "vendor": "ctyun",
            "effective_from_0": "2025-01-01",
            "effective_from_1": "00:00:00",
            "data": json.dumps(pricing.plan_to_dict(dearer)),
            "note": "helmet packages priced",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    version = PricePlan.objects.get(note="helmet packages priced")
    assert version.created_by is not None
    assert plans.plan_at("ctyun", sh(2025, 1, 1)) == dearer


def test_finance_records_a_free_quota_claim_per_api_and_a_second_one_is_refused(account, finance):
    # given a Baidu API claimed on its own date
    answer = finance.post(
        "/api/free-quota-claims/",
        {"account": account.pk, "api": "body_attr", "claimed_at": "2026-03-01T10:00:00+08:00"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert [claim["api"] for claim in answer.json()] == ["body_attr"]
    listed = finance.get(f"/api/free-quota-claims/?account={account.pk}").json()
    assert [item["api"] for item in listed["results"]] == ["body_attr"]
    # when it is claimed again, a year later
    again = finance.post(
        "/api/free-quota-claims/",
        {"account": account.pk, "api": "body_attr", "claimed_at": "2027-03-01T10:00:00+08:00"},
        format="json",
    )
    # then the vendor's rule refuses it: Baidu's free quota is one-off
    assert again.status_code == 400
    assert "one-off" in again.json()["detail"]


def test_without_an_api_a_claim_covers_every_api_of_the_plan(db, finance):
    ctyun = purchases.add_account("Plant 1 CTYun", "ctyun", "enterprise")
    answer = finance.post(
        "/api/free-quota-claims/",
        {"account": ctyun.pk, "claimed_at": "2026-01-02T09:00:00+08:00"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert sorted(claim["api"] for claim in answer.json()) == ["fence", "helmet", "workwear"]


def test_an_account_lists_the_free_quotas_its_claims_grant_per_api(account, finance):
    purchases.claim_free_quota(account, ["gesture"], sh(2026, 5, 1, 9))
    body = finance.get(f"/api/billing-accounts/{account.pk}/").json()
    assert body["free_quotas"] == [
        {
            "api": "gesture",
            "calls": 50_000,
            "claimed_at": "2026-05-01T09:00:00+08:00",
            "expires_at": "2027-05-01T09:00:00+08:00",
        }
    ]
