"""Operator pages: the live wall (``/live/``), the alert list and an alert's page with its
evidence, history, acknowledge and resolve forms (``/alerts/``); the rules pages are
``alerts.rule_views``.

Every page needs ``roles.WATCH``; acknowledging, resolving and adding notes need
``roles.ACKNOWLEDGE``: 403 otherwise. What belongs to a site the user is not a member of
answers 404. State changes are ``alerts.lifecycle``'s; these views only collect the note.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import events, lifecycle
from alerts.forms import (
    AcknowledgeForm,
    AlertFilterForm,
    NoteForm,
    ResolveForm,
)
from alerts.models import (
    UNRESOLVED,
    Alert,
    AlertStatus,
    EventType,
    LiveEvent,
    Severity,
)
from cameras import roles
from cameras.models import Camera, Health
from cameras.polygons import KIND_COLOURS
from monitoring import analysis_health
from monitoring.lib.geometry import size_factors
from monitoring.models import VendorAccount
from monitoring.privacy import (
    masks_people,
    may_see_unmasked,
    served_frame,
    without_person_images,
)

ALERTS_PER_PAGE = 25
# The live feed starts with every unresolved alert (up to this many) and the latest ones.
FEED_UNRESOLVED = 100
FEED_RECENT = 30
# Placeholder id in URL patterns handed to the page's scripts.
ID_PLACEHOLDER = 2_147_483_647

watch_required = permission_required(roles.WATCH, raise_exception=True)
acknowledge_required = permission_required(roles.ACKNOWLEDGE, raise_exception=True)


def _alerts_of(user):
    return Alert.objects.filter(site__in=roles.sites_for(user))


def _cameras_of(user):
    return Camera.objects.filter(site__in=roles.sites_for(user)).select_related("site")


def _url_pattern(name: str) -> str:
    return reverse(name, args=[ID_PLACEHOLDER]).replace(str(ID_PLACEHOLDER), "{id}")


def _choices(choices) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices}


# --------------------------------------------------------------------------- live wall


def _latest_events(camera_ids: list[int], type: str) -> dict[int, dict]:
    """The latest event of ``type`` of each camera, as browsers receive it."""
    latest_ids = (
        LiveEvent.objects.filter(type=type, camera_id__in=camera_ids)
        .values("camera_id")
        .annotate(latest=Max("id"))
        .values_list("latest", flat=True)
    )
    return {
        event.camera_id: event.as_message()
        for event in LiveEvent.objects.filter(id__in=list(latest_ids))
    }


def _feed(user) -> list[Alert]:
    alerts = _alerts_of(user).select_related(
        "rule", "camera", "region", "best_frame", "acknowledged_by", "resolved_by"
    )
    unresolved = list(alerts.filter(status__in=UNRESOLVED).order_by("-opened_at")[:FEED_UNRESOLVED])
    recent = list(alerts.order_by("-opened_at", "-id")[:FEED_RECENT])
    by_id = {alert.pk: alert for alert in [*unresolved, *recent]}
    return sorted(by_id.values(), key=lambda alert: (alert.opened_at, alert.pk), reverse=True)


@watch_required
def live(request):
    sites = list(roles.sites_for(request.user).order_by("name"))
    cameras = list(_cameras_of(request.user).order_by("site__name", "name"))
    camera_ids = [camera.pk for camera in cameras]
    with_frames = set(
        Camera.objects.filter(pk__in=camera_ids, frames__isnull=False)
        .values_list("pk", flat=True)
        .distinct()
    )
    for camera in cameras:
        camera.frame_url = (
            reverse("camera-frame", args=[camera.pk]) if camera.pk in with_frames else None
        )
    feed = _feed(request.user)
    can_acknowledge = request.user.has_perm(roles.ACKNOWLEDGE)
    data = {
        # Where the socket resumes: events published after this page was drawn.
        "last_event_id": LiveEvent.objects.aggregate(latest=Max("id"))["latest"] or 0,
        "socket_path": "/ws/live/",
        "can_acknowledge": can_acknowledge,
        "cameras": [
            {
                "id": camera.pk,
                "name": camera.name,
                "site": camera.site_id,
                "health": camera.health,
                "reason": camera.health_reason,
                "enabled": camera.enabled,
                "width": camera.width,
                "height": camera.height,
                "frame_url": camera.frame_url,
                "last_frame_at": camera.last_frame_at.isoformat() if camera.last_frame_at else None,
            }
            for camera in cameras
        ],
        "overlays": _latest_events(camera_ids, EventType.FRAME_ANALYZED),
        "statuses": _latest_events(camera_ids, EventType.CAMERA_STATUS),
        # Each camera's analyses and their health, reasons in the page's language.
        "analysis_health": analysis_health.cameras_health(camera_ids),
        "alerts": [events.alert_payload(alert) for alert in feed],
        "region_colours": KIND_COLOURS,
        "labels": {
            "health": _choices(Health.choices),
            "severity": _choices(Severity.choices),
            "status": _choices(AlertStatus.choices),
        },
        "urls": {
            "alert_page": _url_pattern("alerts:detail"),
            "alert_api": _url_pattern("alert-detail"),
            "acknowledge": _url_pattern("alert-acknowledge"),
            "resolve": _url_pattern("alert-resolve"),
            "camera_frame": _url_pattern("camera-frame"),
            "alerts_api": reverse("alert-list"),
            "cameras_api": reverse("camera-list"),
        },
    }
    by_site = {site.pk: [] for site in sites}
    for camera in cameras:
        by_site.setdefault(camera.site_id, []).append(camera)
    return render(
        request,
        "alerts/live.html",
        {
            "sites": sites,
            "wall": [{"site": site, "cameras": by_site.get(site.pk, [])} for site in sites],
            "feed": feed,
            "can_acknowledge": can_acknowledge,
            "live_data": data,
        },
    )


# --------------------------------------------------------------------------- alert list


@watch_required
def alert_list(request):
    form = AlertFilterForm(request.GET or None, user=request.user)
    if form.is_bound:
        form.is_valid()
    alerts = form.apply(
        _alerts_of(request.user).select_related(
            "camera", "region", "rule", "site", "acknowledged_by", "resolved_by"
        )
    ).order_by("-opened_at", "-id")
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "alerts/list.html",
        {
            "form": form,
            "page": page,
            "alerts": page.object_list,
            "query": query.urlencode(),
            "filtered": bool(query),
        },
    )


# --------------------------------------------------------------------------- one alert


def _alert_or_404(user, pk: int) -> Alert:
    return get_object_or_404(
        _alerts_of(user).select_related(
            "rule",
            "camera",
            "camera__site",
            "region",
            "best_frame",
            "acknowledged_by",
            "resolved_by",
        ),
        pk=pk,
    )


def _scaled_box(box, sx: float, sy: float) -> dict | None:
    if not isinstance(box, dict):
        return None
    try:
        return {
            "left": round(float(box["left"]) * sx, 1),
            "top": round(float(box["top"]) * sy, 1),
            "width": round(float(box["width"]) * sx, 1),
            "height": round(float(box["height"]) * sy, 1),
        }
    except (KeyError, TypeError, ValueError):
        return None


def alert_overlay(alert: Alert) -> dict | None:
    """What the alert's page draws over its evidence frame, in the shape of a
    ``frame.analyzed`` event: the persons and objects of the stored results (scaled to
    the frame), the rule's region, and the alert's findings as the problem."""
    frame = alert.best_frame
    if frame is None or not frame.image:
        return None
    width, height = frame.width, frame.height
    persons, objects = [], []
    for result in alert.normalized or []:
        if not isinstance(result, dict):
            continue
        # Results stored before the pipeline scaled them once may be in pixels of the
        # image sent: those still are scaled here.
        result_size = (result.get("frame_width") or 0, result.get("frame_height") or 0)
        sx, sy = size_factors(result_size, (width, height)) or (1.0, 1.0)
        for person in result.get("persons") or []:
            keypoints = [
                {
                    "name": point.get("name"),
                    "x": round(float(point.get("x", 0)) * sx, 1),
                    "y": round(float(point.get("y", 0)) * sy, 1),
                    "score": point.get("score"),
                }
                for point in person.get("keypoints") or []
                if isinstance(point, dict)
            ]
            persons.append(
                {
                    "box": _scaled_box(person.get("box"), sx, sy),
                    "score": person.get("score"),
                    "track_id": person.get("track_id"),
                    "keypoints": keypoints,
                    "source": result.get("api"),
                }
            )
        for found in result.get("objects") or []:
            objects.append(
                {
                    "label": found.get("label"),
                    "box": _scaled_box(found.get("box"), sx, sy),
                    "score": found.get("score"),
                    "source": result.get("api"),
                }
            )
    regions = []
    if alert.region is not None:
        region = alert.region
        regions.append(
            {
                "id": region.pk,
                "name": region.name,
                "kind": region.kind,
                "points": region.points_on((width, height)),
            }
        )
    return {
        "camera": alert.camera_id,
        "frame": frame.pk,
        "frame_size": [width, height],
        "persons": [person for person in persons if person["box"]],
        "objects": [found for found in objects if found["box"]],
        "regions": regions,
        "problems": [
            {
                "rule": alert.rule_id,
                "kind": alert.kind,
                "severity": alert.severity,
                "summary": alert.summary,
                "region": alert.region_id,
                "alert": alert.pk,
                "findings": alert.findings or [],
            }
        ],
    }


def _vendor_calls(alert: Alert) -> tuple[list[dict], Decimal | None]:
    calls = [dict(call) for call in alert.vendor_calls or [] if isinstance(call, dict)]
    account_ids = {call.get("account") for call in calls if isinstance(call.get("account"), int)}
    names = dict(VendorAccount.objects.filter(pk__in=account_ids).values_list("pk", "name"))
    total = None
    for call in calls:
        call["account_name"] = names.get(call.get("account"))
        try:
            cost = Decimal(str(call["cost"])) if call.get("cost") not in (None, "") else None
        except InvalidOperation:
            cost = None
        call["cost_value"] = cost
        if cost is not None:
            total = (total or Decimal(0)) + cost
    return calls, total


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _detail_page(request, alert: Alert, *, resolve_form=None, note_form=None):
    history = alert.changes.select_related("user").order_by("at", "id")
    calls, total_cost = _vendor_calls(alert)
    overlay = alert_overlay(alert)
    can_acknowledge = request.user.has_perm(roles.ACKNOWLEDGE)
    masked = masks_people(alert.camera)

    def shown(value):
        # body_seg's cut-outs of people would show them unmasked.
        return without_person_images(value) if masked else value

    context = {
        "alert": alert,
        "history": history,
        "can_acknowledge": can_acknowledge,
        "acknowledge_form": AcknowledgeForm(),
        "resolve_form": resolve_form or ResolveForm(),
        "note_form": note_form or NoteForm(),
        "vendor_calls": calls,
        "total_cost": total_cost,
        "normalized_json": _pretty(shown(alert.normalized)),
        "raw_json": _pretty(shown(alert.raw)),
        "findings_json": _pretty(alert.findings),
        "evidence_url": events.evidence_url(alert),
        "frame_url": reverse("alerts:frame", args=[alert.pk]) if overlay else None,
        "unmasked_url": (
            reverse("alerts:unmasked_evidence", args=[alert.pk])
            if overlay and masked and may_see_unmasked(request.user)
            else None
        ),
        "overlay_data": {"overlay": overlay, "region_colours": KIND_COLOURS} if overlay else None,
    }
    # The alert's times in its own site's zone, whichever site the user's pages use.
    with timezone.override(alert.site.zone):
        return render(request, "alerts/detail.html", context)


@watch_required
def alert_detail(request, pk: int):
    return _detail_page(request, _alert_or_404(request.user, pk))


@watch_required
def alert_frame(request, pk: int):
    """The alert's evidence frame as taken, without drawing (the page draws over it)."""
    alert = _alert_or_404(request.user, pk)
    frame = alert.best_frame
    if frame is None or not frame.image:
        raise Http404(_("This alert has no evidence frame."))
    try:
        data = served_frame(frame)  # people masked as the camera says
    except FileNotFoundError:
        raise Http404(_("The evidence frame's file is missing from storage.")) from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-cache"
    return response


@watch_required
def alert_unmasked_evidence(request, pk: int):
    """The evidence picture drawn on the frame as taken, people not masked: for users
    who may see it, each view recorded in the alert's history."""
    alert = _alert_or_404(request.user, pk)
    if not may_see_unmasked(request.user):
        raise PermissionDenied
    data = lifecycle.unmasked_evidence(alert, request.user)
    if data is None:
        raise Http404(_("This alert has no evidence frame."))
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


def _refusal(refusal: lifecycle.AlertTransitionError) -> str:
    return {
        "already_resolved": _("This alert is already resolved."),
        "already_acknowledged": _("This alert is already acknowledged."),
        "note_required": _("Say how the alert was resolved: a note is required."),
        "gone": _("This alert no longer exists."),
    }.get(refusal.code, _("The alert's current state does not allow this change."))


def _change(request, alert, change, form, done: str):
    """Apply a lifecycle change with the form's note; say how it went on the detail page."""
    try:
        change(alert, request.user, form.cleaned_data["note"])
    except lifecycle.AlertTransitionError as refusal:
        messages.error(request, _refusal(refusal))
    else:
        messages.success(request, done)
    return redirect("alerts:detail", pk=alert.pk)


@require_POST
@watch_required
@acknowledge_required
def alert_acknowledge(request, pk: int):
    alert = _alert_or_404(request.user, pk)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("note", [])))
        return redirect("alerts:detail", pk=alert.pk)
    return _change(request, alert, lifecycle.acknowledge, form, _("Alert acknowledged."))


@require_POST
@watch_required
@acknowledge_required
def alert_resolve(request, pk: int):
    alert = _alert_or_404(request.user, pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, alert, resolve_form=form)
    return _change(request, alert, lifecycle.resolve, form, _("Alert resolved."))


@require_POST
@watch_required
@acknowledge_required
def alert_note(request, pk: int):
    alert = _alert_or_404(request.user, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, alert, note_form=form)
    return _change(request, alert, lifecycle.add_note, form, _("Note added."))
