"""Admin pages for cameras: the list per site, adding and editing a camera (with "test
connection"), choosing its analyses with their projected cost, the JSON projection the
analysis form asks for as settings change, and the entry to the fence editor.

Every page needs ``roles.CONFIGURE``; cameras of sites the user is not a member of answer
404. Changes are written to the change history (``cameras.history``).
"""

from __future__ import annotations

import base64
import importlib
import io
import logging
import time

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import Image, UnidentifiedImageError

from cameras import catalog, roles
from cameras.catalog import api_label, parse_interval
from cameras.forms import CameraAnalysisForm, CameraForm
from cameras.history import camera_history, record_change, snapshot
from cameras.models import Camera, CameraAnalysis, Frame, RegionKind
from cameras.polygons import KIND_COLOURS, limits_for_camera
from monitoring import analysis_health
from monitoring.models import VendorAccount
from monitoring.prefilter import saved_this_month
from monitoring.vendor_stops import resume_analysis

logger = logging.getLogger(__name__)
configure_required = permission_required(roles.CONFIGURE, raise_exception=True)
HISTORY_ON_PAGE = 50


def _cameras_of(user):
    return Camera.objects.filter(site__in=roles.sites_for(user)).select_related("site")


def _camera_or_404(user, pk: int) -> Camera:
    return get_object_or_404(_cameras_of(user), pk=pk)


def _frame_url(camera: Camera) -> str:
    return reverse("camera-frame", args=[camera.pk])


@configure_required
def camera_list(request):
    has_frame = Exists(Frame.objects.filter(camera=OuterRef("pk")))
    cameras = (
        _cameras_of(request.user)
        .annotate(has_frame=has_frame, region_count=Count("regions", distinct=True))
        .order_by("name")
    )
    by_site: dict[int, list] = {}
    for camera in cameras:
        camera.cost = catalog.current().camera_cost(camera)
        camera.frame_url = _frame_url(camera) if camera.has_frame else None
        by_site.setdefault(camera.site_id, []).append(camera)
    sites = [
        {"site": site, "cameras": by_site.get(site.pk, [])}
        for site in roles.sites_for(request.user).order_by("name")
    ]
    return render(request, "cameras/list.html", {"sites": sites})


def _close_quietly(source) -> None:
    close = getattr(source, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        logger.exception("closing the source after a test connection failed")


def grab_snapshot(camera: Camera) -> dict:
    """Grab one frame from ``camera`` (saved or not) now: the picture as a data URL with
    its size, or ``error`` saying exactly what went wrong."""
    try:
        sources = importlib.import_module("cameras.sources")
    except ImportError:
        return {"error": _("Frame sources are not installed on this server.")}
    started = time.monotonic()
    source = None
    try:
        source = sources.open_source(camera)
        data = source.grab()
    except sources.SourceError as error:
        return {"error": str(error)}
    except Exception as error:  # the source's own failure, shown to the admin as it is
        logger.exception("test connection of camera %s failed", camera.pk)
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        _close_quietly(source)
    seconds = time.monotonic() - started
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height, image_format = picture.width, picture.height, picture.format
    except (UnidentifiedImageError, OSError, TypeError):
        return {"error": _("The source answered, but not with a picture.")}
    mime = Image.MIME.get(image_format or "", "image/jpeg")
    return {
        "data_url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}",
        "width": width,
        "height": height,
        "bytes": len(data),
        "seconds": seconds,
    }


def _camera_form_page(request, camera: Camera | None):
    initial = {}
    if camera is None and request.GET.get("site"):
        initial["site"] = request.GET["site"]
    # Taken before validation, which writes the submitted values onto the instance.
    before = snapshot(camera) if camera is not None else None
    form = CameraForm(request.POST or None, instance=camera, initial=initial, user=request.user)
    context = {"form": form, "camera": camera, "snapshot": None}
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "test":
            # Built from the form, never saved: a blank password keeps the stored one.
            candidate = form.save(commit=False)
            context["snapshot"] = grab_snapshot(candidate)
        else:
            with transaction.atomic():
                saved = form.save()
                record_change(
                    request.user, saved, "update" if before else "create", before, snapshot(saved)
                )
            message = _("Camera “%(name)s” saved.") if before else _("Camera “%(name)s” added.")
            messages.success(request, message % {"name": saved.name})
            return redirect("cameras:edit", pk=saved.pk)
    if camera is not None:
        analyses = list(
            camera.analyses.select_related("account", "region", "pipeline_state").order_by("api")
        )
        for analysis in analyses:
            analysis.projection = catalog.current().project_analysis(analysis)
            analysis.label = api_label(analysis.api)
            analysis.saved_this_month = saved_this_month(analysis)
            analysis.health = analysis_health.health_payload(analysis)
        context.update(
            analyses=analyses,
            cost=catalog.current().camera_cost(camera),
            history=list(camera_history(camera)[:HISTORY_ON_PAGE]),
            has_frame=camera.frames.exists(),
            frame_url=_frame_url(camera),
            region_count=camera.regions.count(),
        )
        # The camera's times in its own site's zone.
        with timezone.override(camera.site.zone):
            return render(request, "cameras/camera_form.html", context)
    return render(request, "cameras/camera_form.html", context)


@sensitive_post_parameters("password")
@configure_required
@require_http_methods(["GET", "POST"])
def camera_new(request):
    return _camera_form_page(request, None)


@sensitive_post_parameters("password")
@configure_required
@require_http_methods(["GET", "POST"])
def camera_edit(request, pk: int):
    return _camera_form_page(request, _camera_or_404(request.user, pk))


@configure_required
@require_http_methods(["GET", "POST"])
def camera_delete(request, pk: int):
    camera = _camera_or_404(request.user, pk)
    if request.method == "POST":
        name = camera.name
        with transaction.atomic():
            record_change(request.user, camera, "delete", snapshot(camera), None)
            camera.delete()
        messages.success(request, _("Camera “%(name)s” deleted.") % {"name": name})
        return redirect("cameras:list")
    return render(request, "cameras/camera_confirm_delete.html", {"camera": camera})


# --------------------------------------------------------------------------- analyses


def _account_apis() -> dict[str, list[str]]:
    return {
        str(pk): catalog.current().camera_apis(vendor)
        for pk, vendor in VendorAccount.objects.values_list("pk", "vendor")
    }


def _initial_projection(form: CameraAnalysisForm):
    """The projection of what the form shows now, or None when it is incomplete."""
    data = form.data if form.is_bound else None
    try:
        if data is not None:
            account = VendorAccount.objects.get(pk=int(data.get("account", "")))
            api, interval = data.get("api", ""), data.get("interval", "")
        elif form.instance.pk is not None:
            return catalog.current().project_analysis(form.instance)
        else:
            account = VendorAccount.objects.get(pk=int(form["account"].value() or 0))
            api, interval = form["api"].value(), form["interval"].value()
        if api not in catalog.current().camera_apis(account.vendor):
            return None
        return catalog.current().project(account.vendor, api, interval)
    except (ValueError, TypeError, VendorAccount.DoesNotExist):
        return None


def _analysis_form_page(request, camera: Camera, analysis: CameraAnalysis | None):
    initial = {"interval": max(10.0, camera.sample_interval)} if analysis is None else {}
    before = snapshot(analysis) if analysis is not None else None
    form = CameraAnalysisForm(
        request.POST or None, instance=analysis, initial=initial, camera=camera
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            record_change(
                request.user, saved, "update" if before else "create", before, snapshot(saved)
            )
        messages.success(
            request,
            _("Analysis %(api)s saved for camera “%(camera)s”.")
            % {"api": saved.api, "camera": camera.name},
        )
        return redirect("cameras:edit", pk=camera.pk)
    context = {
        "form": form,
        "camera": camera,
        "analysis": analysis,
        "projection": _initial_projection(form),
        "account_apis": _account_apis(),
    }
    return render(request, "cameras/analysis_form.html", context)


@configure_required
@require_http_methods(["GET", "POST"])
def analysis_new(request, pk: int):
    return _analysis_form_page(request, _camera_or_404(request.user, pk), None)


def _analysis_or_404(user, pk: int) -> CameraAnalysis:
    return get_object_or_404(
        CameraAnalysis.objects.filter(camera__site__in=roles.sites_for(user)).select_related(
            "camera", "account"
        ),
        pk=pk,
    )


@configure_required
@require_http_methods(["GET", "POST"])
def analysis_edit(request, pk: int):
    analysis = _analysis_or_404(request.user, pk)
    return _analysis_form_page(request, analysis.camera, analysis)


@configure_required
@require_POST
def analysis_delete(request, pk: int):
    analysis = _analysis_or_404(request.user, pk)
    camera = analysis.camera
    with transaction.atomic():
        record_change(request.user, analysis, "delete", snapshot(analysis), None)
        analysis.delete()
    messages.success(request, _("Analysis %(api)s removed.") % {"api": analysis.api})
    return redirect("cameras:edit", pk=camera.pk)


@configure_required
@require_POST
def analysis_resume(request, pk: int):
    """The camera page's resume button: lift the vendor stop holding this analysis'
    API back (``monitoring.vendor_stops``)."""
    analysis = _analysis_or_404(request.user, pk)
    resume_analysis(analysis, user=request.user)
    health = analysis_health.health_payload(analysis.__class__.objects.get(pk=analysis.pk))
    if health["stop"] == "account":
        messages.error(
            request,
            _("The whole vendor account “%(name)s” is stopped: resume it on the vendor account.")
            % {"name": analysis.account.name},
        )
    else:
        messages.success(request, _("Analysis %(api)s resumed.") % {"api": analysis.api})
    return redirect("cameras:edit", pk=analysis.camera_id)


@configure_required
@require_GET
def projection(request):
    """``?account=&api=&interval=``: calls and CNY per month of that analysis, as JSON;
    400 with ``errors`` (one reason per parameter) when a parameter is wrong."""
    errors: dict[str, str] = {}
    account = None
    try:
        account = VendorAccount.objects.get(pk=int(request.GET.get("account", "")))
    except (ValueError, VendorAccount.DoesNotExist):
        errors["account"] = _("Choose a vendor account.")
    api = request.GET.get("api", "")
    if account is not None and api not in catalog.current().camera_apis(account.vendor):
        errors["api"] = _("The account “%(account)s” does not offer %(api)s.") % {
            "account": account.name,
            "api": api or "—",
        }
    try:
        interval = parse_interval(request.GET.get("interval", ""))
    except ValueError as error:
        errors["interval"] = str(error)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    return JsonResponse(catalog.current().project(account.vendor, api, interval).as_dict())


# --------------------------------------------------------------------------- fence editor


def _region_dicts(camera: Camera) -> list[dict]:
    return [
        {
            "id": region.pk,
            "name": region.name,
            "kind": region.kind,
            "points": region.points,
            "frame_width": region.frame_width,
            "frame_height": region.frame_height,
        }
        for region in camera.regions.order_by("name")
    ]


@configure_required
@require_GET
def region_editor(request, pk: int):
    """The fence editor's page for one camera. Its template gets ``camera``, ``regions``
    (dicts id/name/kind/points/frame_width/frame_height), ``latest_frame_url`` (or None),
    ``kinds`` (value/label/colour), ``limits`` (per kind: min_points, max_points,
    max_regions, edge, rules, source), ``regions_api_url``, and all of these but
    ``camera`` together as ``editor_data`` for ``json_script``; it saves through
    ``/api/regions/``."""
    camera = _camera_or_404(request.user, pk)
    context = {
        "camera": camera,
        "regions": _region_dicts(camera),
        "latest_frame_url": _frame_url(camera) if camera.frames.exists() else None,
        "kinds": [
            {"value": kind.value, "label": str(kind.label), "colour": KIND_COLOURS[kind.value]}
            for kind in RegionKind
        ],
        "limits": {kind: limits.as_dict() for kind, limits in limits_for_camera(camera).items()},
        "regions_api_url": reverse("region-list"),
    }
    context["editor_data"] = {
        key: context[key]
        for key in ("regions", "latest_frame_url", "kinds", "limits", "regions_api_url")
    }
    return render(request, "cameras/fence_editor.html", context)
