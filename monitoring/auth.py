"""Sign-in with one throttle against password guessing, on every sign-in form: the
product's login page and the Django admin's (``admin.site.login_form``). The REST API
takes tokens and sessions only; it has no password sign-in of its own.

Failures are counted in the cache (Redis in production) per username and client address,
and per address alone; past the limit the form refuses further tries, right or wrong,
until the window has passed. The address is ``REMOTE_ADDR`` as
``monitoring.client_address`` sets it from the trusted proxies, never a client's header.
"""

from __future__ import annotations

import hashlib

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


class LoginThrottle:
    def __init__(self, request, username: str):
        address = client_address(request)
        self.keys = {
            _key("user", (username or "").strip().lower(), address): (
                settings.LOGIN_FAILURES_PER_USER
            ),
            _key("address", address): settings.LOGIN_FAILURES_PER_ADDRESS,
        }

    def locked(self) -> bool:
        counts = cache.get_many(list(self.keys))
        return any(counts.get(key, 0) >= limit for key, limit in self.keys.items())

    def record_failure(self) -> None:
        for key in self.keys:
            if cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
                continue
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)

    def reset_user(self) -> None:
        cache.delete(next(iter(self.keys)))


THROTTLED = _("Too many failed sign-in attempts. Wait %(minutes)s minutes and try again.")


class ThrottledFormMixin:
    """Refuses a sign-in form while its user and address are throttled; counts failures."""

    def clean(self):
        throttle = LoginThrottle(self.request, self.data.get("username", ""))
        if throttle.locked():
            raise forms.ValidationError(
                THROTTLED,
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure()
            raise
        throttle.reset_user()
        return cleaned


class ThrottledAuthenticationForm(ThrottledFormMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledFormMixin, AdminAuthenticationForm):
    pass


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
