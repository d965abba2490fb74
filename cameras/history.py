"""The change history of sites, cameras, their analyses, regions and alert rules: who
changed what, when.

Rooms above cameras add their own parts of a camera with ``register_camera_part``
(alerts adds its rules in ``alerts.apps``), so this module knows no model of theirs.

``snapshot(obj)`` takes the fields a person edits (not timestamps, not what the capture
service keeps up to date: resolution, health, last frame), ``record_change`` writes one
``ChangeRecord`` with ``changes`` as ``{field: [before, after]}`` for the fields that
differ. Pages, the REST API, the Django admin and the capture service (region rescaling)
all write through ``record_change``.

Secrets are never written: a changed camera password is recorded as
``"password": [null, "changed"]``, whatever the values were.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.db.models import Q, QuerySet

from cameras.models import Camera, CameraAnalysis, ChangeRecord, Region, Site

SECRET_FIELDS = frozenset({"password", "api_key", "secret_key", "app_key"})
SECRET_CHANGED = [None, "changed"]
# Kept by the capture service, not edited by people.
NOT_RECORDED = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "width",
        "height",
        "health",
        "health_reason",
        "health_changed_at",
        "last_frame_at",
    }
)
ACTIONS = frozenset({"create", "update", "delete"})

# Models with a ``camera`` whose changes belong to the camera's history, and, for each,
# the field naming the region it is deleted with (None when it is not).
CAMERA_PARTS: dict[type, str | None] = {CameraAnalysis: None, Region: None}


def register_camera_part(model: type, *, deleted_with_region: str | None = None) -> None:
    """Keep ``model``'s changes in its camera's history; ``deleted_with_region`` names the
    field of a part that is deleted with its region (each gets its own deletion record)."""
    CAMERA_PARTS[model] = deleted_with_region


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def snapshot(obj) -> dict[str, Any]:
    """The recorded fields of ``obj`` as JSON-safe values; relations by id."""
    values: dict[str, Any] = {}
    for model_field in obj._meta.concrete_fields:
        if model_field.name in NOT_RECORDED:
            continue
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            continue
        values[model_field.name] = _plain(getattr(obj, model_field.attname))
    return values


def diff(before: dict | None, after: dict | None) -> dict[str, Any]:
    """``{field: [before, after]}`` for the fields whose value differs; secrets as
    ``[null, "changed"]``."""
    before, after = before or {}, after or {}
    changes: dict[str, Any] = {}
    for name in [*before, *(key for key in after if key not in before)]:
        old, new = before.get(name), after.get(name)
        if name in SECRET_FIELDS:
            if old != new and (old or new):
                changes[name] = list(SECRET_CHANGED)
            continue
        if old != new:
            changes[name] = [old, new]
    return changes


def _site_id(obj) -> int:
    if isinstance(obj, Site):
        return obj.pk
    if isinstance(obj, Camera):
        return obj.site_id
    if isinstance(obj, tuple(CAMERA_PARTS)):
        return Camera.objects.values_list("site_id", flat=True).get(pk=obj.camera_id)
    raise TypeError(f"no change history for {type(obj).__name__}")


def describe(obj) -> str:
    """How a record names ``obj`` to a person: with its site and camera."""
    if isinstance(obj, CameraAnalysis):
        return f"{obj.camera} / {obj.api} · {obj.account}"
    if isinstance(obj, tuple(CAMERA_PARTS)):
        return f"{obj.camera} / {obj.name}"
    return str(obj)


def record_change(
    user, obj, action: str, before: dict | None, after: dict | None
) -> ChangeRecord | None:
    """Write who did ``action`` (create, update, delete) to ``obj`` and what changed.

    ``before`` and ``after`` are ``snapshot``s (None for what does not exist). Call it
    before deleting, while ``obj`` still has its id. An update that changes nothing writes
    nothing and returns None. ``user`` None (or anonymous) means the system did it.
    Deleting a region deletes its rules with it: each gets its own deletion record.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {sorted(ACTIONS)}")
    if action == "delete" and isinstance(obj, Region):
        for model, region_field in CAMERA_PARTS.items():
            if region_field is None:
                continue
            for part in model.objects.filter(**{region_field: obj}).select_related("camera"):
                record_change(user, part, "delete", snapshot(part), None)
    changes = diff(before, after)
    if action == "update" and not changes:
        return None
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return ChangeRecord.objects.create(
        site_id=_site_id(obj),
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        object_repr=describe(obj)[:300],
        action=action,
        changes=changes,
        user=user,
    )


def camera_history(camera: Camera) -> QuerySet:
    """Changes to ``camera`` and to every analysis, region and rule it has or had, newest
    first.

    Parts deleted since are found through their creation or deletion record, which holds
    the camera's id under ``camera``.
    """
    ever_on_camera = Q(changes__camera__0=camera.pk) | Q(changes__camera__1=camera.pk)
    part_ids: dict[str, set[int]] = {
        model._meta.model_name: set(
            model.objects.filter(camera=camera).values_list("pk", flat=True)
        )
        for model in CAMERA_PARTS
    }
    for object_type, object_id in ChangeRecord.objects.filter(
        ever_on_camera, object_type__in=list(part_ids)
    ).values_list("object_type", "object_id"):
        part_ids[object_type].add(object_id)
    condition = Q(object_type=Camera._meta.model_name, object_id=camera.pk)
    for object_type, ids in part_ids.items():
        if ids:
            condition |= Q(object_type=object_type, object_id__in=ids)
    return ChangeRecord.objects.filter(condition).select_related("user").order_by("-at", "-pk")
