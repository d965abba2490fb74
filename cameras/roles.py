"""The three roles, as groups with permissions, and who may see which site.

Roles say what a user may do; site membership says where. A superuser sees every site.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import QuerySet

WATCH = "cameras.watch_site"
ACKNOWLEDGE = "cameras.acknowledge_alerts"
CONFIGURE = "cameras.configure_site"
VIEW_BILLS = "cameras.view_bills"
# Alert evidence as taken, people not masked by the camera's privacy mask; each view is
# recorded in the alert's history. Given to Admins (who configure the masks), not to
# Operators, who watch masked pictures all shift.
VIEW_UNMASKED = "cameras.view_unmasked_evidence"

OPERATOR = "Operator"
ADMIN = "Admin"
FINANCE = "Finance"

# Later apps add their model permissions to these lists; the groups are brought in line
# with them after every migrate.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATOR: [WATCH, ACKNOWLEDGE],
    ADMIN: [
        WATCH,
        ACKNOWLEDGE,
        CONFIGURE,
        VIEW_UNMASKED,
        "cameras.view_site",
        "cameras.change_site",
    ],
    FINANCE: [VIEW_BILLS],
}


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def ensure_roles() -> dict[str, Group]:
    groups = {}
    for role, dotted_names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(name) for name in dotted_names])
        groups[role] = group
    return groups


def ensure_roles_after_migrate(sender, **kwargs) -> None:
    ensure_roles()


def sites_for(user) -> QuerySet:
    from cameras.models import Site

    if user is None or not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(members=user)


def roles_of(user) -> list[str]:
    if not user.is_authenticated:
        return []
    return sorted(user.groups.filter(name__in=ROLE_PERMISSIONS).values_list("name", flat=True))
