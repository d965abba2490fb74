"""One sign-in throttle for every sign-in form (the login page and the Django admin's),
counting by the address the trusted proxies saw: a client's own X-Forwarded-For entries
change nothing, and the address Django uses comes from TRUSTED_PROXY_COUNT alone."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from cameras import roles
from monitoring.client_address import client_address
from tests.conftest import PASSWORD


def admin_login(client, username, password, **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        **headers,
    )


def page_login(client, username, password, **headers):
    return client.post("/accounts/login/", {"username": username, "password": password}, **headers)


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("peer", "header", "count", "expected"),
    [
        ("10.0.0.5", None, 0, "10.0.0.5"),
        ("10.0.0.5", "1.2.3.4", 0, "10.0.0.5"),  # no proxy trusted: the header is ignored
        ("10.0.0.5", "203.0.113.9", 1, "203.0.113.9"),
        ("10.0.0.5", "6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # forged left entry
        ("10.0.0.5", "6.6.6.6, 203.0.113.9, 10.0.0.7", 2, "203.0.113.9"),
        ("10.0.0.5", "203.0.113.9", 2, "10.0.0.5"),  # fewer entries than proxies
        ("10.0.0.5", "not-an-address", 1, "10.0.0.5"),
        ("10.0.0.5", "", 1, "10.0.0.5"),
    ],
)
def test_the_client_address_is_the_nth_entry_from_the_right(peer, header, count, expected):
    assert client_address(peer, header, count) == expected


# ---------------------------------------------------------------- the admin's sign-in


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=100)
def test_the_admin_sign_in_is_throttled_even_for_the_right_password(make_user):
    user = make_user(None, is_staff=True, is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(3):
        assert admin_login(client, user.username, "wrong").status_code == 200

    response = admin_login(client, user.username, PASSWORD)

    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=100)
def test_failures_on_the_login_page_count_on_the_admin_sign_in_too(make_user):
    user = make_user(None, is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(3):
        page_login(client, user.username, "wrong")

    admin_login(client, user.username, PASSWORD)

    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_sign_in_still_works(make_user):
    user = make_user(None, is_staff=True, is_superuser=True)
    client = Client()

    assert admin_login(client, user.username, PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


# ---------------------------------------------------------------- forged X-Forwarded-For


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=100)
@pytest.mark.parametrize("trusted", [0, 1])
def test_a_new_forged_forwarded_for_on_every_try_does_not_escape_the_throttle(make_user, trusted):
    user = make_user(roles.OPERATOR)
    client = Client(REMOTE_ADDR="10.0.0.5")
    with override_settings(TRUSTED_PROXY_COUNT=trusted):
        for attempt in range(3):
            # behind one proxy the proxy appends the address it saw; the client's own
            # entry (left) changes every time
            forged = f"198.51.100.{attempt}, 203.0.113.9" if trusted else f"198.51.100.{attempt}"
            page_login(client, user.username, "wrong", HTTP_X_FORWARDED_FOR=forged)

        response = page_login(
            client,
            user.username,
            PASSWORD,
            HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.9" if trusted else "192.0.2.77",
        )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=100, TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_two_real_clients_are_counted_apart(make_user):
    user = make_user(roles.OPERATOR)
    proxy = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(3):
        page_login(proxy, user.username, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9")

    other = Client(REMOTE_ADDR="10.0.0.5")
    response = page_login(other, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10")

    assert response.status_code == 302


def test_the_web_process_of_make_run_does_not_let_daphne_rewrite_the_peer():
    from monitoring.management.commands.runall import process_table

    web = dict((name, argv) for name, argv in process_table("127.0.0.1", 8000, []))["web"]

    assert "--proxy-headers" not in web
