"""Shared fixtures: users with roles on sites, and a clean cache for every test."""

from __future__ import annotations

import itertools
import os

# Inherited by the servers and workers that tests start, so they read the fast hashes.
os.environ.setdefault("DJANGO_TEST_FAST_HASHER", "true")

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from django.utils import translation

from cameras import roles
from cameras.models import Site
from tests.factories import SiteFactory

PASSWORD = "correct horse battery staple"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _test_defaults():
    """Fast password hashing (the production hasher takes most of a second and tests make
    many users), and English outside requests: tests read messages in English unless a
    request asks for another language through its Accept-Language header."""
    with (
        override_settings(
            PASSWORD_HASHERS=[
                "django.contrib.auth.hashers.MD5PasswordHasher",
                "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            ],
            LANGUAGE_CODE="en",
        ),
        translation.override("en"),
    ):
        yield


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_site(db):
    def make(name: str | None = None) -> Site:
        return SiteFactory(name=name) if name else SiteFactory()

    return make


@pytest.fixture
def make_user(db):
    """``make_user(role, *sites)``: a user with one role (or none) and those sites."""

    def make(role: str | None, *sites: Site, username: str | None = None, **extra):
        user = get_user_model().objects.create_user(
            username=username or f"{(role or 'nobody').lower()}-{next(_counter)}",
            password=PASSWORD,
            **extra,
        )
        if role:
            user.groups.add(roles.ensure_roles()[role])
        for site in sites:
            site.members.add(user)
        return user

    return make


@pytest.fixture
def site_a(make_site):
    return make_site("Site A")


@pytest.fixture
def site_b(make_site):
    return make_site("Site B")
