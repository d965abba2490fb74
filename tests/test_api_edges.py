"""Edge cases the schema fuzzer found: ids too large for the database or written in
non-ASCII digits are a 400 (or 404), and deleting an account in use is a 409."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras import roles
from cameras.models import Site
from monitoring.lib.apiutils import parse_id
from monitoring.models import VendorAccount


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("0", None), ("-3", None), ("²", None), ("9" * 30, None), ("", None)],
)
def test_an_id_is_a_positive_ascii_number_the_database_can_hold(text, expected):
    assert parse_id(text) == expected


@pytest.fixture
def admin_api(db, make_user):
    call_command("demo", password="x-long-demo-password")
    user = make_user(roles.ADMIN, *Site.objects.all())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/cameras/?site=99999999999999999999",
        "/api/regions/?camera=-749759183590875594752",
        "/api/camera-analyses/?camera=%C2%B2",
        "/api/rules/?camera=%C2%B2",
        "/api/alerts/?camera=99999999999999999999",
        "/api/budgets/?site=99999999999999999999",
    ],
)
def test_malformed_or_huge_ids_in_filters_are_refused_with_400(admin_api, url):
    assert admin_api.get(url).status_code == 400


def test_a_frame_id_in_other_digits_is_not_found(admin_api):
    camera_id = admin_api.get("/api/cameras/").json()["results"][0]["id"]
    assert admin_api.get(f"/api/cameras/{camera_id}/frame/?frame=%C2%B2").status_code == 404


def test_deleting_a_vendor_account_cameras_use_is_a_conflict(admin_api):
    account = VendorAccount.objects.filter(camera_analyses__isnull=False).first()
    response = admin_api.delete(f"/api/vendor-accounts/{account.pk}/")
    assert response.status_code == 409
    assert VendorAccount.objects.filter(pk=account.pk).exists()
