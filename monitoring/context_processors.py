"""What the page shell needs on every page: the navigation the user may use, and the
vendor accounts stopped by their vendor's answer (for those who configure them)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cameras import roles
from monitoring import vendor_stops

NAVIGATION = [
    ("live", _("Live"), roles.WATCH),
    ("alerts:list", _("Alerts"), roles.WATCH),
    ("alerts:rules", _("Rules"), roles.WATCH),
    ("cameras:list", _("Cameras"), roles.CONFIGURE),
    ("billing:index", _("Billing"), roles.VIEW_BILLS),
    ("vendor_account_list", _("Vendor accounts"), roles.CONFIGURE),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    current = request.path
    items = [
        {"url": reverse(name), "label": label, "active": False}
        for name, label, permission in NAVIGATION
        if user.has_perm(permission)
    ]
    # The page belongs to the entry with the longest matching address (/alerts/rules/ is
    # Rules, not Alerts).
    matching = [item for item in items if current.startswith(item["url"])]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["active"] = True
    return {
        "navigation": items,
        "user_roles": roles.roles_of(user),
        # Vendor accounts a vendor's stop answer holds back: told to their admins.
        "vendor_account_stops": vendor_stops.account_stops_for(user),
    }
