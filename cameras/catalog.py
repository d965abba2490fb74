"""What the cameras room asks about vendors and money, answered by the rooms above it.

``cameras`` is the lowest room: it imports nothing of billing, alerts or the vendor
backends. Its forms, pages and API still need to know which APIs an account can run on
a camera, whether its calls are paid for, how many points a region may have and what
an analysis will cost a month. They ask this module; billing installs the answers when
the apps are ready (``billing.apps``: ``catalog.install(billing.costs)``), so the arrow
runs from billing down to cameras, never back.

What cameras knows alone lives here too: an API's name for a person (``api_label``) and
the interval an analysis may run at (``parse_interval``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.utils.translation import gettext as _

from cameras.models import AnalysisKind

SECONDS_PER_DAY = 86_400
MIN_INTERVAL = Decimal("0.2")
MAX_INTERVAL = Decimal(SECONDS_PER_DAY)


class Catalog(Protocol):
    """The answers billing gives (``billing.costs`` is one, as a module)."""

    def vendors(self) -> list[str]: ...
    def camera_apis(self, vendor: str) -> list[str]: ...
    def not_on_cameras(self, api: str) -> str | None: ...
    def pays_per_call(self, vendor: str) -> bool: ...
    def region_max_points(self, vendor: str, api: str) -> int | None: ...
    def project(self, vendor: str, api: str, interval: Any) -> Any: ...
    def project_analysis(self, analysis: Any) -> Any: ...
    def camera_cost(self, camera: Any) -> Any: ...
    def default_only_with_person(self, camera: Any, account: Any) -> bool: ...


_installed: Catalog | None = None


def install(catalog: Catalog) -> None:
    """Make ``catalog`` the one cameras asks (called from an app's ``ready``)."""
    global _installed
    _installed = catalog


def current() -> Catalog:
    if _installed is None:
        raise RuntimeError("no catalog installed: is the billing app in INSTALLED_APPS?")
    return _installed


def api_label(api: str) -> str:
    """A person's name for an API: the analysis kind's label where there is one."""
    try:
        return f"{AnalysisKind(api).label} ({api})"
    except ValueError:
        return api


def parse_interval(value) -> Decimal:
    """Seconds between two analysed frames, as an exact ``Decimal``; ``ValueError`` with a
    reason for a person when it is not a number from 0.2 to 86,400."""
    try:
        interval = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(_("Give the interval in seconds, like 10 or 0.5.")) from None
    if not interval.is_finite() or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ValueError(
            _("The interval must be between %(low)s and %(high)s seconds.")
            % {"low": MIN_INTERVAL, "high": f"{SECONDS_PER_DAY:,}"}
        )
    return interval
