"""Budget pages for admins: monthly spending limits per site and per camera.

* ``/billing/budgets/``: the budgets of the admin's sites, one section per site, each with
  this Shanghai month's estimated spend, its limit, the share used, what happens when it
  is reached (pause or slow down) and whether it is;
* ``/billing/budgets/new/?site=&camera=``: add a budget (the query prefills the form);
* ``/billing/budgets/<id>/``: change a budget; ``/billing/budgets/<id>/delete/`` (POST)
  removes it.

Every page needs ``roles.CONFIGURE``; a budget of a site the admin is not a member of
answers 404. The status is ``billing.budgets.status_of``; ``scope_info`` gives what the
status include (``billing/_budget_status.html``) shows for a site, a camera or a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.budgets import BudgetStatus, status_of
from billing.models import MAX_SLOW_FACTOR, Budget, BudgetAction
from billing.pricing.calendar import shanghai_day, shanghai_month
from cameras import roles
from cameras.models import Camera, Site

configure_required = permission_required(roles.CONFIGURE, raise_exception=True)

DEFAULT_SLOW_FACTOR = 4
# From this share of the limit on, a budget is shown as nearly used up.
NEAR_SHARE = Decimal("0.8")


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class BudgetInfo:
    """One budget as the pages show it."""

    budget: Budget
    camera: Camera | None
    camera_missing: bool  # the budget's camera was deleted since
    status: BudgetStatus
    percent: int  # share of the limit spent, may exceed 100
    meter_value: Decimal  # the spend, capped at the limit, for the bar
    meter_high: Decimal  # from here the bar shows "nearly used up"
    state: str  # "ok", "near" or "reached"
    scope_text: str
    action_text: str
    reached_text: str  # empty until reached
    edit_url: str


def action_text(action: str, slow_factor: int) -> str:
    if action == BudgetAction.PAUSE:
        return _("pause analysis")
    return _("slow analysis down to one frame in %(factor)s") % {"factor": slow_factor}


def reached_text(action: str, slow_factor: int) -> str:
    if action == BudgetAction.PAUSE:
        return _("Reached: analysis paused.")
    return _("Reached: analysis slowed down to one frame in %(factor)s.") % {"factor": slow_factor}


def scope_text(budget: Budget, camera: Camera | None) -> str:
    """What a budget is for: the whole site, or which camera (``camera`` is the budget's
    camera, None when deleted)."""
    if not budget.camera_id:
        return _("Whole site")
    if camera is None:
        return _("Deleted camera (id %(id)s)") % {"id": budget.camera_id}
    return _("Camera “%(name)s”") % {"name": camera.name}


def _camera_of(budget: Budget) -> Camera | None:
    if not budget.camera_id:
        return None
    return Camera.objects.filter(pk=budget.camera_id).first()


def describe(
    budget: Budget, *, camera: Camera | None = None, status: BudgetStatus | None = None
) -> BudgetInfo:
    """``budget`` with this month's status, ready for a page. ``camera`` saves a query
    when the caller has it already."""
    if camera is None or camera.pk != budget.camera_id:
        camera = _camera_of(budget)
    status = status or status_of(budget)
    limit = status.limit
    percent = int(status.spent * 100 / limit) if limit > 0 else 100
    if status.reached:
        state = "reached"
    elif limit > 0 and status.spent >= limit * NEAR_SHARE:
        state = "near"
    else:
        state = "ok"
    return BudgetInfo(
        budget=budget,
        camera=camera,
        camera_missing=bool(budget.camera_id) and camera is None,
        status=status,
        percent=percent,
        meter_value=min(status.spent, limit),
        meter_high=(limit * NEAR_SHARE).quantize(Decimal("0.01")),
        state=state,
        scope_text=scope_text(budget, camera),
        action_text=action_text(budget.action, budget.slow_factor),
        reached_text=reached_text(budget.action, budget.slow_factor) if status.reached else "",
        edit_url=reverse("billing:budget_edit", args=[budget.pk]),
    )


def new_budget_url(site: Site, camera: Camera | None = None) -> str:
    query = {"site": site.pk}
    if camera is not None:
        query["camera"] = camera.pk
    return f"{reverse('billing:budget_new')}?{urlencode(query)}"


def scope_info(scope) -> dict | None:
    """What the status include shows for a ``Site`` (its whole-site budget), a ``Camera``
    (its own budget, then its site's, which it is also subject to) or a ``Budget``; None
    for nothing (a camera not saved yet).

    ``lines``: ``{"title", "info"}`` per budget found; ``has_own``: whether the site or
    camera has its own budget; ``new_url``: where to add one (empty for a ``Budget``)."""
    if scope is None:
        return None
    if isinstance(scope, Budget):
        lines = [{"title": "", "info": describe(scope)}]
        return {"kind": "budget", "lines": lines, "has_own": True, "new_url": ""}
    if isinstance(scope, Site):
        own = Budget.objects.filter(site=scope, camera_id__isnull=True).first()
        lines = [{"title": _("Site budget"), "info": describe(own)}] if own else []
        return {
            "kind": "site",
            "lines": lines,
            "has_own": own is not None,
            "new_url": new_budget_url(scope),
        }
    if isinstance(scope, Camera):
        if scope.pk is None:
            return None
        own = Budget.objects.filter(site_id=scope.site_id, camera_id=scope.pk).first()
        site_budget = Budget.objects.filter(site_id=scope.site_id, camera_id__isnull=True).first()
        lines = []
        if own is not None:
            lines.append({"title": _("Camera budget"), "info": describe(own, camera=scope)})
        if site_budget is not None:
            lines.append({"title": _("Site budget"), "info": describe(site_budget)})
        return {
            "kind": "camera",
            "lines": lines,
            "has_own": own is not None,
            "new_url": new_budget_url(scope.site, scope),
        }
    raise TypeError(f"a budget belongs to a Site or a Camera, not {scope!r}")


# --------------------------------------------------------------------------- form


class CameraChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Camera) -> str:
        return obj.name


class BudgetForm(forms.ModelForm):
    """A budget of one of the user's sites, for the whole site or one of its cameras."""

    camera = CameraChoiceField(
        queryset=Camera.objects.none(),
        required=False,
        label=gettext_lazy("Camera"),
        empty_label=gettext_lazy("— the whole site —"),
        help_text=gettext_lazy(
            "Leave empty for a budget of the whole site. A camera is subject to its own "
            "budget and to its site's."
        ),
    )
    slow_factor = forms.IntegerField(
        required=False,
        max_value=MAX_SLOW_FACTOR,
        label=gettext_lazy("Slow-down factor"),
        help_text=gettext_lazy(
            "When slowing down, analyse one frame in this many (2 or more). Not used when pausing."
        ),
    )

    field_order = ["site", "camera", "monthly_limit", "action", "slow_factor"]

    class Meta:
        model = Budget
        fields = ["site", "monthly_limit", "action", "slow_factor"]
        labels = {
            "site": gettext_lazy("Site"),
            "monthly_limit": gettext_lazy("Monthly limit (CNY)"),
            "action": gettext_lazy("When reached"),
        }
        help_texts = {
            "monthly_limit": gettext_lazy(
                "The estimated spend of a natural month (Asia/Shanghai) that reaches the budget."
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing: Budget | None = None  # the budget a duplicate collides with
        sites = roles.sites_for(user).order_by("name")
        cameras = Camera.objects.filter(site__in=sites).select_related("site")
        self.fields["site"].queryset = sites
        self.fields["site"].empty_label = None if sites.count() == 1 else "—"
        camera_field = self.fields["camera"]
        camera_field.queryset = cameras
        grouped: dict[str, list[tuple[int, str]]] = {}
        for camera in cameras.order_by("site__name", "name"):
            grouped.setdefault(camera.site.name, []).append((camera.pk, camera.name))
        camera_field.choices = [("", camera_field.empty_label), *grouped.items()]
        self.camera_missing = False
        if self.instance.pk is not None and self.instance.camera_id:
            self.initial.setdefault("camera", self.instance.camera_id)
            self.camera_missing = not Camera.objects.filter(pk=self.instance.camera_id).exists()

    def clean_monthly_limit(self) -> Decimal:
        limit = self.cleaned_data["monthly_limit"]
        if limit is not None and limit <= 0:
            raise forms.ValidationError(_("Give a monthly limit above 0 CNY."))
        return limit

    def clean_slow_factor(self) -> int | None:
        factor = self.cleaned_data.get("slow_factor")
        if factor is not None and factor < 2:
            raise forms.ValidationError(
                _(
                    "The slow-down factor is at least 2 (one frame in 2): 1 would not slow "
                    "anything down."
                )
            )
        return factor

    def clean(self):
        cleaned = super().clean()
        site, camera = cleaned.get("site"), cleaned.get("camera")
        if self.camera_missing and camera is None:
            raise forms.ValidationError(
                _(
                    "The camera of this budget has been deleted. Delete this budget, or add "
                    "a new one."
                )
            )
        if site is not None and camera is not None and camera.site_id != site.pk:
            self.add_error(
                "camera",
                _("“%(camera)s” is a camera of %(other)s, not of %(site)s.")
                % {"camera": camera.name, "other": camera.site.name, "site": site.name},
            )
        if cleaned.get("action") == BudgetAction.SLOW:
            if "slow_factor" in cleaned and cleaned["slow_factor"] is None:
                self.add_error(
                    "slow_factor", _("Give how much to slow down: one frame in how many.")
                )
        elif "slow_factor" in cleaned and cleaned["slow_factor"] is None:
            cleaned["slow_factor"] = self.instance.slow_factor or DEFAULT_SLOW_FACTOR
        if site is not None and "camera" not in self.errors:
            self._check_unique(site, camera)
        return cleaned

    def _check_unique(self, site: Site, camera: Camera | None) -> None:
        taken = Budget.objects.filter(site=site, camera_id=camera.pk if camera else None)
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        self.existing = taken.first()
        if self.existing is not None:
            raise forms.ValidationError(duplicate_text(site, camera))

    def save(self, commit: bool = True) -> Budget:
        camera = self.cleaned_data.get("camera")
        self.instance.camera_id = camera.pk if camera else None
        return super().save(commit=commit)


def duplicate_text(site: Site, camera: Camera | None) -> str:
    if camera is None:
        return _("%(site)s already has a whole-site budget: change that one instead.") % {
            "site": site.name
        }
    return _("Camera “%(camera)s” already has a budget: change that one instead.") % {
        "camera": camera.name
    }


# --------------------------------------------------------------------------- pages


def _budgets_of(user):
    return Budget.objects.filter(site__in=roles.sites_for(user)).select_related("site")


def _budget_or_404(user, pk: int) -> Budget:
    return get_object_or_404(_budgets_of(user), pk=pk)


@configure_required
@require_GET
def budget_list(request):
    sites = list(roles.sites_for(request.user).order_by("name"))
    budgets = _budgets_of(request.user).order_by("site_id", "camera_id", "pk")
    cameras = Camera.objects.in_bulk([budget.camera_id for budget in budgets if budget.camera_id])
    by_site: dict[int, list[BudgetInfo]] = {}
    for budget in budgets:
        info = describe(budget, camera=cameras.get(budget.camera_id))
        by_site.setdefault(budget.site_id, []).append(info)
    for rows in by_site.values():
        # The whole-site budget first, then the cameras by name.
        rows.sort(key=lambda row: (row.budget.camera_id is not None, row.scope_text.lower()))
    month_start, _end = shanghai_month(timezone.now())
    context = {
        "sites": [
            {"site": site, "rows": by_site.get(site.pk, []), "new_url": new_budget_url(site)}
            for site in sites
        ],
        "month_start": shanghai_day(month_start),
    }
    return render(request, "billing/budgets.html", context)


def _prefill(request, user) -> dict:
    """The site and camera asked for by ``?site=&camera=``, when they are the user's."""
    initial: dict = {}
    sites = roles.sites_for(user)
    site_id, camera_id = request.GET.get("site", ""), request.GET.get("camera", "")
    if site_id.isdigit() and sites.filter(pk=int(site_id)).exists():
        initial["site"] = int(site_id)
    if camera_id.isdigit():
        camera = Camera.objects.filter(site__in=sites, pk=int(camera_id)).first()
        if camera is not None:
            initial.update(site=camera.site_id, camera=camera.pk)
    return initial


def _form_page(request, budget: Budget | None):
    initial = _prefill(request, request.user) if budget is None else {}
    form = BudgetForm(request.POST or None, instance=budget, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                saved = form.save()
        except IntegrityError:
            # Another admin added the same budget in the meantime.
            form.add_error(
                None, duplicate_text(form.cleaned_data["site"], form.cleaned_data["camera"])
            )
        else:
            scope = scope_text(saved, _camera_of(saved))
            text = (
                _("Budget saved: %(site)s, %(scope)s.")
                if budget
                else _("Budget added: %(site)s, %(scope)s.")
            )
            messages.success(request, text % {"site": saved.site.name, "scope": scope})
            return redirect("billing:budgets")
    context = {
        "form": form,
        "budget": budget,
        "info": describe(budget) if budget is not None else None,
        "existing_url": (
            reverse("billing:budget_edit", args=[form.existing.pk]) if form.existing else None
        ),
    }
    return render(request, "billing/budget_form.html", context)


@configure_required
@require_http_methods(["GET", "POST"])
def budget_new(request):
    return _form_page(request, None)


@configure_required
@require_http_methods(["GET", "POST"])
def budget_edit(request, pk: int):
    return _form_page(request, _budget_or_404(request.user, pk))


@configure_required
@require_POST
def budget_delete(request, pk: int):
    budget = _budget_or_404(request.user, pk)
    scope = scope_text(budget, _camera_of(budget))
    budget.delete()
    messages.success(
        request,
        _("Budget deleted: %(site)s, %(scope)s.") % {"site": budget.site.name, "scope": scope},
    )
    return redirect("billing:budgets")
