"""One time zone per site (``Site.time_zone``, default Asia/Shanghai): the zone every page,
the live wall's scripts, exports and webhooks show a site's times in.

``SiteTimeZoneMiddleware`` activates, for each request, the zone of the signed-in user's
site (the first of their sites by name; a page about one object of another site overrides
it with ``timezone.override(site.zone)``). The page shell sends the active zone to the
browser (``<html data-time-zone>``), where the scripts format times with ``Intl`` in it,
and says which zone the times are in.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import timezone

from cameras.models import DEFAULT_TIME_ZONE, Site


def site_of_user(user) -> Site | None:
    """The site whose zone a user's pages use: the first of their sites by name (for a
    superuser who is a member of none, the first site)."""
    if user is None or not user.is_authenticated:
        return None
    site = Site.objects.filter(members=user).order_by("name").first()
    if site is None and user.is_superuser:
        site = Site.objects.order_by("name").first()
    return site


def zone_of_user(user) -> ZoneInfo:
    site = site_of_user(user)
    return site.zone if site is not None else ZoneInfo(DEFAULT_TIME_ZONE)


def local_iso(moment, site: Site | None) -> str | None:
    """``moment`` as ISO 8601 with the offset of the site's zone (None stays None)."""
    if moment is None:
        return None
    zone = site.zone if site is not None else ZoneInfo(DEFAULT_TIME_ZONE)
    return moment.astimezone(zone).isoformat()


class SiteTimeZoneMiddleware:
    """Activate the zone of the user's site for the request (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone_of_user(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
