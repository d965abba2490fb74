"""Django admin for billing, for the Finance role (``roles.VIEW_BILLS``) and superusers.

The ledger, rollups, hourly charges and settlement status are facts written by the
product: read-only here. Purchases and top-ups are recorded through ``billing.purchases``
(pages, API, ``manage.py billing``) so that they are priced and checked: read-only here
too. Price plans are added as new versions (``plans.add_version``), never edited. Bills are
finalized and adjusted through ``billing.bills``; the admin shows them. Budgets are plain
settings and may be edited.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing import plans, pricing
from billing.models import (
    AccountStatus,
    Bill,
    BillAdjustment,
    Budget,
    FreeQuotaClaim,
    HourlyCharge,
    HourlyRollup,
    Package,
    PricePlan,
    QpsOrder,
    TopUp,
    UsageRecord,
)
from cameras import roles


class FinanceAdmin(admin.ModelAdmin):
    """Visible to the Finance role; read-only unless a subclass says otherwise."""

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(FinanceAdmin):
    list_display = ["occurred_at", "account", "api", "outcome", "source", "camera_id", "rolled_up"]
    list_filter = ["outcome", "source", "rolled_up", "account", "api"]
    search_fields = ["request_id", "api", "error_code"]
    date_hierarchy = "occurred_at"
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(HourlyRollup)
class HourlyRollupAdmin(FinanceAdmin):
    list_display = ["hour", "account", "api", "success", "failed", "transport_errors", "refused"]
    list_filter = ["account", "api"]
    date_hierarchy = "hour"
    list_select_related = ["account"]


@admin.register(HourlyCharge)
class HourlyChargeAdmin(FinanceAdmin):
    list_display = ["hour", "account", "amount"]
    list_filter = ["account"]
    date_hierarchy = "hour"
    list_select_related = ["account"]


@admin.register(AccountStatus)
class AccountStatusAdmin(FinanceAdmin):
    list_display = ["account", "balance", "in_arrears", "runs_out_at", "settled_until"]
    list_filter = ["in_arrears"]


@admin.register(TopUp)
class TopUpAdmin(FinanceAdmin):
    list_display = ["at", "account", "amount", "note", "created_by"]
    list_filter = ["account"]


@admin.register(FreeQuotaClaim)
class FreeQuotaClaimAdmin(FinanceAdmin):
    """Listed here; recorded through ``manage.py billing claim-free`` or the REST API,
    which apply the vendor's rules (once per API; CTYun once per API per year)."""

    list_display = ["claimed_at", "account", "api", "created_by"]
    list_filter = ["account", "api"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Package)
class PackageAdmin(FinanceAdmin):
    list_display = ["purchased_at", "account", "api", "calls", "price", "expires_at"]
    list_filter = ["account", "api"]


@admin.register(QpsOrder)
class QpsOrderAdmin(FinanceAdmin):
    list_display = ["purchased_at", "account", "api", "qps", "months", "days", "price"]
    list_filter = ["account", "api"]


class PricePlanForm(forms.ModelForm):
    """A new version: vendor, start and the plan as JSON (``pricing.plan_to_dict``)."""

    class Meta:
        model = PricePlan
        fields = ["vendor", "effective_from", "data", "note"]
        widgets = {"vendor": forms.Select(choices=[(v, v) for v in plans.BILLED_VENDORS])}

    def clean(self):
        cleaned = super().clean()
        vendor, start, data = (cleaned.get(k) for k in ("vendor", "effective_from", "data"))
        if vendor and start and data is not None:
            try:
                plans.check_version(vendor, data, start)
            except pricing.PricingError as error:
                raise forms.ValidationError(str(error)) from None
        return cleaned


@admin.register(PricePlan)
class PricePlanAdmin(FinanceAdmin):
    form = PricePlanForm
    list_display = ["vendor", "effective_from", "plan_name", "note", "created_by", "created_at"]
    list_filter = ["vendor"]

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)

    @admin.display(description=_("plan"))
    def plan_name(self, version: PricePlan) -> str:
        return (version.data or {}).get("name", "")

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        vendor = request.GET.get("vendor", "baidu")
        if vendor in plans.BILLED_VENDORS:
            initial.setdefault("vendor", vendor)
            initial.setdefault(
                "data", json.dumps(pricing.plan_to_dict(pricing.DEFAULT_PLANS[vendor]), indent=2)
            )
        return initial

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        created = plans.add_version(
            obj.vendor, obj.data, obj.effective_from, request.user, obj.note or ""
        )
        obj.pk = created.pk
        obj.created_at = created.created_at


class BillAdjustmentInline(admin.TabularInline):
    model = BillAdjustment
    extra = 0
    fields = ["api", "amount", "note", "created_by", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Bill)
class BillAdmin(FinanceAdmin):
    list_display = ["account", "year", "month", "status", "total", "finalized_at"]
    list_filter = ["status", "account"]
    inlines = [BillAdjustmentInline]


@admin.register(Budget)
class BudgetAdmin(FinanceAdmin):
    list_display = ["site", "camera_id", "monthly_limit", "action", "slow_factor"]
    list_filter = ["action", "site"]

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.VIEW_BILLS)
