"""Signing in and out, changing the password, the throttle against guessing, and the
login page in both languages."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from cameras import roles
from tests.conftest import PASSWORD


def _login(client, username, password, **headers):
    return client.post("/accounts/login/", {"username": username, "password": password}, **headers)


@pytest.mark.django_db
def test_an_operator_signs_in_and_lands_on_the_live_page(make_user, site_a):
    user = make_user(roles.OPERATOR, site_a)
    client = Client()
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).request["PATH_INFO"] == "/live/"


@pytest.mark.django_db
def test_signing_out_needs_a_post_and_ends_the_session(make_user, site_a):
    client = Client()
    client.force_login(make_user(roles.OPERATOR, site_a))
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/live/").status_code == 302


@pytest.mark.django_db
def test_a_user_changes_their_password(make_user, site_a):
    user = make_user(roles.OPERATOR, site_a)
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-phrase-42",
            "new_password2": "a-new-long-phrase-42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-phrase-42")


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=100)
def test_after_too_many_failures_even_the_right_password_is_refused(make_user, site_a):
    user = make_user(roles.OPERATOR, site_a)
    client = Client()
    for _ in range(3):
        assert _login(client, user.username, "wrong").status_code == 200
    response = _login(client, user.username, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_ADDRESS=5)
def test_guessing_across_many_usernames_from_one_address_is_throttled(make_user, site_a):
    user = make_user(roles.OPERATOR, site_a)
    client = Client()
    for index in range(5):
        _login(client, f"someone-{index}", "wrong")
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    other_address = Client(REMOTE_ADDR="10.1.2.3")
    assert _login(other_address, user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(LOGIN_FAILURES_PER_USER=3)
def test_a_successful_sign_in_clears_the_failures_of_that_user(make_user, site_a):
    user = make_user(roles.OPERATOR, site_a)
    client = Client()
    _login(client, user.username, "wrong")
    _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    _login(client, user.username, "wrong")
    _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [("zh-hans", "登录", "Sign in"), ("en", "Sign in", "登录")],
)
def test_the_login_page_speaks_the_browser_language(client, language, expected, absent):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert expected in page
    assert absent not in page.replace('lang="en"', "")


@pytest.mark.django_db
def test_the_language_switch_keeps_the_choice(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Sign in" in page
