"""Rule pages: the rules of each camera (``/alerts/rules/``), with forms to add, change and
delete them.

Reading the rules needs ``roles.WATCH`` or ``roles.CONFIGURE``, changing them
``roles.CONFIGURE``: 403 otherwise. Cameras of sites the user is not a member of answer 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch, RestrictedError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from alerts.forms import (
    PARAM_INPUTS,
    RuleForm,
)
from alerts.models import (
    Rule,
)
from alerts.views import _cameras_of
from cameras import roles
from cameras.history import record_change, snapshot
from cameras.models import Camera

configure_required = permission_required(roles.CONFIGURE, raise_exception=True)


def rules_reader_required(view):
    """Watchers read the rules, and so do those who configure them."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not (request.user.has_perm(roles.WATCH) or request.user.has_perm(roles.CONFIGURE)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return check


def _params_shown(rule: Rule) -> list[tuple[str, str]]:
    shown = []
    for name, value in (rule.params or {}).items():
        if name == "region_name":
            continue
        label = PARAM_INPUTS.get(name, (None, name.replace("_", " ")))[1]
        text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        shown.append((str(label), text))
    return shown


def _days_shown(rule: Rule) -> str:
    days = sorted(set(rule.active_days or []))
    if days == list(range(7)):
        return _("every day")
    if not days:
        return _("no day")
    return ", ".join(str(WEEKDAYS_ABBR[day]) for day in days)


@rules_reader_required
def rule_list(request):
    cameras = _cameras_of(request.user).prefetch_related(
        Prefetch("rules", queryset=Rule.objects.select_related("region").order_by("name"))
    )
    by_site: dict[int, list] = {}
    for camera in cameras.order_by("name"):
        for rule in camera.rules.all():
            rule.params_shown = _params_shown(rule)
            rule.days_shown = _days_shown(rule)
        by_site.setdefault(camera.site_id, []).append(camera)
    sites = [
        {"site": site, "cameras": by_site.get(site.pk, [])}
        for site in roles.sites_for(request.user).order_by("name")
    ]
    return render(
        request,
        "alerts/rules.html",
        {"sites": sites, "can_configure": request.user.has_perm(roles.CONFIGURE)},
    )


def _rule_form_page(request, camera: Camera, rule: Rule | None):
    # Taken before validation, which writes the submitted values onto the instance.
    before = snapshot(rule) if rule is not None else None
    form = RuleForm(request.POST or None, instance=rule, camera=camera)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            record_change(
                request.user, saved, "update" if before else "create", before, snapshot(saved)
            )
        message = _("Rule “%(name)s” saved.") if rule else _("Rule “%(name)s” added.")
        messages.success(request, message % {"name": saved.name})
        return redirect(f"{reverse('alerts:rules')}#camera-{camera.pk}")
    return render(
        request,
        "alerts/rule_form.html",
        {
            "form": form,
            "camera": camera,
            "rule": rule,
            "kind_help": _kind_help(),
            "region_kinds": {region.pk: region.kind for region in camera.regions.all()},
        },
    )


def _kind_help() -> dict[str, str]:
    return {
        "fence_intrusion": _("A person's feet inside the region (a fence: no entry)."),
        "no_helmet": _("A person without a safety helmet."),
        "workwear_colour": _("A person whose workwear is not of an allowed colour."),
        "crowd": _("More persons in the region than the limit."),
        "occupancy": _("More persons inside than the capacity, counting in and out."),
        "flow": _("More persons passing than the limit within a time window."),
        "fall": _("A person falling."),
        "fight": _("A fight."),
        "smoking": _("A person smoking."),
        "phone": _("A person using a phone."),
        "no_mask": _("A person without a face mask."),
        "driver_behaviour": _("A driver's risky behaviour."),
        "loitering": _("A person staying in the region too long."),
        "hand_in_danger": _("A hand or wrist inside the danger zone (a press, a saw, rollers)."),
        "help_gesture": _("A worker showing a help gesture (an open palm) to the camera."),
        "person_down": _("A person lying on the ground: the torso near horizontal."),
    }


@configure_required
@require_http_methods(["GET", "POST"])
def rule_new(request):
    camera_id = request.POST.get("camera") or request.GET.get("camera")
    if not camera_id or not str(camera_id).isdigit():
        return render(
            request,
            "alerts/rule_camera_choice.html",
            {"cameras": _cameras_of(request.user).order_by("site__name", "name")},
        )
    camera = get_object_or_404(_cameras_of(request.user), pk=int(camera_id))
    return _rule_form_page(request, camera, None)


def _rule_or_404(user, pk: int) -> Rule:
    return get_object_or_404(
        Rule.objects.filter(camera__site__in=roles.sites_for(user)).select_related(
            "camera", "camera__site", "region"
        ),
        pk=pk,
    )


@configure_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk: int):
    rule = _rule_or_404(request.user, pk)
    return _rule_form_page(request, rule.camera, rule)


@configure_required
@require_http_methods(["GET", "POST"])
def rule_delete(request, pk: int):
    rule = _rule_or_404(request.user, pk)
    alert_count = rule.alerts.count()
    if request.method == "POST":
        name = rule.name
        try:
            with transaction.atomic():
                record_change(request.user, rule, "delete", snapshot(rule), None)
                rule.delete()
        except RestrictedError:
            messages.error(
                request,
                _("This rule has alerts, which keep it for their history: disable it instead."),
            )
            return redirect("alerts:rule_edit", pk=rule.pk)
        messages.success(request, _("Rule “%(name)s” deleted.") % {"name": name})
        return redirect(f"{reverse('alerts:rules')}#camera-{rule.camera_id}")
    return render(
        request, "alerts/rule_confirm_delete.html", {"rule": rule, "alert_count": alert_count}
    )
