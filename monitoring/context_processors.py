"""What the page shell needs on every page: the navigation the user may use."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cameras import roles

NAVIGATION = [
    ("live", _("Live"), roles.WATCH),
    ("alerts:list", _("Alerts"), roles.WATCH),
    ("cameras:list", _("Cameras"), roles.CONFIGURE),
    ("billing:index", _("Billing"), roles.VIEW_BILLS),
    ("vendor_account_list", _("Vendor accounts"), roles.CONFIGURE),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    current = request.path
    items = []
    for name, label, permission in NAVIGATION:
        if user.has_perm(permission):
            url = reverse(name)
            items.append({"url": url, "label": label, "active": current.startswith(url)})
    return {"navigation": items, "user_roles": roles.roles_of(user)}
