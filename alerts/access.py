"""Tells the live sockets of a user to check their access again when it may have shrunk.

Signals (connected in ``AlertsConfig.ready``) send ``{"type": "access.check"}`` to the
user's group (``alerts.events.user_group``) once the change commits:

* sign-out (``user_logged_out``): with the ended session's key, whose sockets close at
  once (4401) whatever else the user still has;
* the user's sites (``Site.members``, either side), groups (``User.groups``), own
  permissions, or a group's permissions (every user of the group);
* the user saved (``is_active``, ``is_superuser``...) or deleted.

Each socket then reads the user's access afresh (``LiveConsumer._recheck``) and closes
with the code that says why when it shrank. The consumers also check every
``LIVE_ACCESS_RECHECK_SECONDS`` on their own, for what no signal announces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from alerts.events import user_group

logger = logging.getLogger(__name__)
# Fields whose change alone cannot shrink access (saved at every sign-in).
HARMLESS_FIELDS = frozenset({"last_login"})


def _send(user_ids: Iterable[int], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in set(user_ids):
        try:
            async_to_sync(layer.group_send)(user_group(user_id), message)
        except Exception:  # the sockets check again on their own within a minute
            logger.warning("live sockets of user %s not told to check access", user_id)


def check_access(user_ids: Iterable[int], *, ended_session: str | None = None) -> None:
    """Have the live sockets of ``user_ids`` check their access once the current
    transaction commits (at once outside one)."""
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return
    message = {"type": "access.check", "ended_session": ended_session}
    transaction.on_commit(lambda: _send(ids, message))


def _signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    session = getattr(request, "session", None)
    check_access([user.pk], ended_session=getattr(session, "session_key", None))


def _user_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if created or (update_fields and set(update_fields) <= HARMLESS_FIELDS):
        return
    check_access([instance.pk])


def _user_deleted(sender, instance, **kwargs) -> None:
    check_access([instance.pk])


def _memberships_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """``Site.members`` or ``User.groups`` changed, from either side."""
    user_model = get_user_model()
    if action == "pre_clear" and not isinstance(instance, user_model):
        # Who is being removed is known only before the rows go.
        instance._access_clearing = list(
            getattr(instance, _members_attribute(sender)).values_list("pk", flat=True)
        )
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if isinstance(instance, user_model):
        check_access([instance.pk])
    elif action == "post_clear":
        check_access(getattr(instance, "_access_clearing", []))
    else:
        check_access(pk_set or [])


def _members_attribute(through) -> str:
    from cameras.models import Site

    return "members" if through is Site.members.through else "user_set"


def _permissions_changed(sender, instance, action, pk_set, **kwargs) -> None:
    """A user's own permissions or a group's changed: its users check."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if isinstance(instance, Group):
        check_access(instance.user_set.values_list("pk", flat=True))
    elif isinstance(instance, get_user_model()):
        check_access([instance.pk])


def _group_deleted(sender, instance, **kwargs) -> None:
    check_access(list(instance.user_set.values_list("pk", flat=True)))


def connect() -> None:
    from cameras.models import Site

    user_model = get_user_model()
    user_logged_out.connect(_signed_out, dispatch_uid="alerts.access.signed_out")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="alerts.access.user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="alerts.access.user_deleted")
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="alerts.access.group_deleted")
    for through in (Site.members.through, user_model.groups.through):
        m2m_changed.connect(
            _memberships_changed, sender=through, dispatch_uid=f"alerts.access.{through.__name__}"
        )
    for through in (Group.permissions.through, user_model.user_permissions.through):
        m2m_changed.connect(
            _permissions_changed,
            sender=through,
            dispatch_uid=f"alerts.access.{through.__name__}",
        )
