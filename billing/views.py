"""Finance pages: the vendor accounts with their balance, and each account's monthly bill.

* ``/billing/``: Baidu and CTYun accounts with balance, arrears, the forecast run-out date,
  current reminders and this month's bill so far;
* ``/billing/<account_id>/?month=YYYY-MM``: the month's bill (``bills.current_bill``): its
  lines with their pay-as-you-go tiers, purchases, adjustments and total; draft or final;
  a daily usage chart; package balances and QPS purchases; the projected month-end cost;
  finalizing an ended month and adjusting a final bill;
* ``/billing/<account_id>/export.csv|xlsx|pdf?month=YYYY-MM``: the bill as a file
  (``billing.exports``).

Every page needs the Finance role (``roles.VIEW_BILLS``); other users get 403, anonymous
visitors are sent to the login page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from billing import bills, charts, export_files, exports, facts, plans, pricing, settlement
from billing.exports import count, kind_label, money
from billing.models import AccountStatus, Bill, BillStatus, Package, QpsOrder
from billing.pricing import PricingError
from billing.pricing.calendar import (
    month_bounds,
    month_of,
    month_text,
    next_month,
    parse_month,
    shanghai_minute,
)
from cameras import roles
from monitoring.models import VendorAccount

finance_only = permission_required(roles.VIEW_BILLS, raise_exception=True)


def _account(account_id: int) -> VendorAccount:
    return get_object_or_404(plans.billed_accounts(), pk=account_id)


def _this_month() -> tuple[int, int]:
    return month_of(timezone.now())


def _month_of_request(request) -> tuple[int, int]:
    """The ``?month=YYYY-MM`` asked for (this month when absent), or ``PricingError``."""
    text = request.GET.get("month") or request.POST.get("month")
    if not text:
        return _this_month()
    return parse_month(text)


def _bill_url(account_id: int, year: int, month: int) -> str:
    return f"{reverse('billing:bill', args=[account_id])}?month={month_text(year, month)}"


# --- the accounts ----------------------------------------------------------------------------


def notice_text(notice: dict) -> str:
    """A settlement notice (``settlement.notices``) in the active language."""
    at = shanghai_minute(_parse_time(notice.get("sent_at")))
    if notice.get("kind") == "arrears":
        return _(
            "In arrears since %(time)s. Only free quota may be used until the account is topped up."
        ) % {"time": at}
    days = int(str(notice.get("kind", "")).split("_", 1)[0] or 0)
    runs_out = shanghai_minute(_parse_time(notice.get("runs_out_at")))
    return ngettext(
        "Forecast to run out within %(days)s day, at about %(time)s. Please top up.",
        "Forecast to run out within %(days)s days, at about %(time)s. Please top up.",
        days,
    ) % {"days": days, "time": runs_out}


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AccountRow:
    account: VendorAccount
    status: AccountStatus | None
    balance: str | None
    runs_out_at: str
    settled_until: str
    notices: list[str]
    month_total: str | None
    month_error: str | None


def _account_row(account: VendorAccount, year: int, month: int) -> AccountRow:
    try:
        status = account.billing_status
    except AccountStatus.DoesNotExist:
        status = None
    try:
        month_total, month_error = money(bills.current_bill(account, year, month).total), None
    except PricingError as error:
        month_total, month_error = None, str(error)
    return AccountRow(
        account=account,
        status=status,
        balance=money(status.balance) if status else None,
        runs_out_at=shanghai_minute(status.runs_out_at) if status else "",
        settled_until=shanghai_minute(status.settled_until) if status else "",
        notices=[notice_text(n) for n in settlement.notices(status)],
        month_total=month_total,
        month_error=month_error,
    )


@finance_only
@require_GET
def index(request):
    year, month = _this_month()
    rows = [
        _account_row(account, year, month)
        for account in plans.billed_accounts().select_related("billing_status")
    ]
    return render(
        request,
        "billing/index.html",
        {"rows": rows, "month": month_text(year, month)},
    )


# --- a bill ----------------------------------------------------------------------------------


class FinalizeForm(forms.Form):
    month = forms.CharField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I have checked this bill. Finalizing freezes its lines and total; later "
            "corrections are adjustments."
        ),
        error_messages={"required": gettext_lazy("Tick the box to confirm.")},
    )


class AdjustmentForm(forms.Form):
    month = forms.CharField(widget=forms.HiddenInput)
    api = forms.ChoiceField(label=gettext_lazy("API"), required=False)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (CNY)"),
        max_digits=14,
        decimal_places=2,
        help_text=gettext_lazy("Positive: owed more. Negative: a credit."),
    )
    note = forms.CharField(label=gettext_lazy("Why"), max_length=300)

    def __init__(self, *args, vendor: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api"].choices = [("", _("the whole bill"))] + [
            (api, api) for api in sorted(plans.known_apis(vendor))
        ]

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("An adjustment of zero changes nothing."))
        return amount


@dataclass(frozen=True)
class TierRow:
    range: str
    calls: str
    unit_price: str
    amount: str


@dataclass(frozen=True)
class LineRow:
    api: str
    kind: str
    kind_label: str
    description: str
    calls: str
    amount: str
    tiers: list[TierRow]


def _line_row(line: dict, vendor: str, purchases: exports.Purchases) -> LineRow:
    return LineRow(
        api=line["api"],
        kind=line["kind"],
        kind_label=kind_label(line["kind"]),
        description=exports.describe(line, vendor, purchases),
        calls=count(line["calls"]),
        amount=money(line["amount"]),
        tiers=[
            TierRow(
                range=exports.tier_range(tier["from"], tier["to"]),
                calls=count(tier["calls"]),
                unit_price=money(tier["unit_price"]),
                amount=money(tier["amount"]),
            )
            for tier in line.get("tiers", ())
        ],
    )


@dataclass(frozen=True)
class PackageRow:
    package: Package
    api: str
    calls: str
    remaining: str
    used: str
    purchased_at: str
    expires_at: str
    state: str
    state_label: str


@dataclass(frozen=True)
class QpsRow:
    order: QpsOrder
    period: str
    price: str
    purchased_at: str
    expires_at: str
    state: str
    state_label: str


def _closing_carry(view: bills.BillView) -> pricing.Carry | None:
    if view.month_bill is not None:
        return view.month_bill.closing
    bill = Bill.objects.filter(
        account_id=view.account_id, year=view.year, month=view.month, status=BillStatus.FINAL
    ).first()
    if bill is None or not bill.closing:
        return None
    return pricing.carry_from_dict(bill.closing)


def _package_rows(account, view: bills.BillView, as_of: datetime) -> list[PackageRow]:
    """The packages bought by the end of the month, with the calls left at ``as_of``."""
    _start, end = view.period
    carry = _closing_carry(view)
    used_by_id = dict(carry.package_used) if carry else {}
    rows = []
    for package in Package.objects.filter(account=account, purchased_at__lt=end).order_by(
        "purchased_at", "id"
    ):
        used = used_by_id.get(facts.package_id(package), 0)
        remaining = max(package.calls - used, 0)
        if package.expires_at <= as_of:
            state, label = "expired", _("expired")
        elif remaining == 0:
            state, label = "used-up", _("used up")
        else:
            state, label = "active", _("active")
        rows.append(
            PackageRow(
                package=package,
                api=package.api,
                calls=count(package.calls),
                remaining=count(remaining),
                used=count(min(used, package.calls)),
                purchased_at=shanghai_minute(package.purchased_at),
                expires_at=shanghai_minute(package.expires_at),
                state=state,
                state_label=label,
            )
        )
    return rows


def _qps_rows(account, view: bills.BillView, now: datetime) -> list[QpsRow]:
    """The QPS purchases in force at some time in the month."""
    start, end = view.period
    rows = []
    for order in QpsOrder.objects.filter(
        account=account, purchased_at__lt=end, expires_at__gt=start
    ).order_by("purchased_at", "id"):
        if order.expires_at <= now:
            state, label = "ended", _("ended")
        elif order.purchased_at > now:
            state, label = "not-started", _("not started")
        else:
            state, label = "active", _("active")
        rows.append(
            QpsRow(
                order=order,
                period=exports.qps_period(order),
                price=money(order.price),
                purchased_at=shanghai_minute(order.purchased_at),
                expires_at=shanghai_minute(order.expires_at),
                state=state,
                state_label=label,
            )
        )
    return rows


def _month_links(year: int, month: int) -> dict[str, str]:
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = next_month(year, month)
    return {
        "previous": month_text(*previous),
        "next": month_text(*following),
        "this": month_text(*_this_month()),
    }


def _bill_page(
    request,
    account: VendorAccount,
    year: int,
    month: int,
    *,
    finalize_form: FinalizeForm | None = None,
    adjustment_form: AdjustmentForm | None = None,
    status: int = 200,
):
    view = bills.current_bill(account, year, month)
    now = timezone.now()
    start, end = view.period
    purchases = exports.purchases_of(account)
    lines = [_line_row(line, view.vendor, purchases) for line in view.lines]
    month_value = month_text(year, month)
    is_final = view.status == BillStatus.FINAL
    ended = now >= end
    context = {
        "account": account,
        "vendor_label": exports.vendor_label(view.vendor),
        "bill": view,
        "month": month_value,
        "months": _month_links(year, month),
        "period_start": shanghai_minute(start),
        "period_end": shanghai_minute(end),
        "status_label": exports.status_label(view.status),
        "is_final": is_final,
        "month_ended": ended,
        "month_started": now >= start,
        "usage_lines": [line for line in lines if line.kind not in exports.PURCHASE_KINDS],
        "purchase_lines": [line for line in lines if line.kind in exports.PURCHASE_KINDS],
        "lines_total": money(view.lines_total),
        "total": money(view.total),
        "adjustments": [
            {
                **adjustment,
                "amount_text": money(adjustment["amount"]),
                "created_at_text": shanghai_minute(_parse_time(adjustment["created_at"])),
            }
            for adjustment in view.adjustments
        ],
        "finalized_at": shanghai_minute(view.finalized_at),
        "chart": charts.daily_usage_chart(bills.daily_usage(account, year, month), year, month),
        "packages": _package_rows(account, view, min(now, end)),
        "packages_as_of": shanghai_minute(min(now, end)),
        "qps_orders": _qps_rows(account, view, now),
        "late_calls": [(api, count(calls)) for api, calls in view.late_calls.items()],
        "unpriced_calls": [(api, count(calls)) for api, calls in view.unpriced_calls.items()],
        "projection": None,
        "export_query": f"?month={month_value}",
    }
    if start <= now < end:
        projection = bills.project_month(account, year, month, now)
        context["projection"] = {
            "so_far": money(projection.total_so_far),
            "projected": money(projection.projected_total),
            "elapsed_percent": f"{projection.elapsed_fraction * 100:.0f}",
            "calls": [
                (api, count(calls), count(projection.projected_calls.get(api, calls)))
                for api, calls in projection.calls_so_far.items()
            ],
        }
    if not is_final and ended:
        context["finalize_form"] = finalize_form or FinalizeForm(initial={"month": month_value})
    if is_final:
        context["adjustment_form"] = adjustment_form or AdjustmentForm(
            initial={"month": month_value}, vendor=view.vendor
        )
    return render(request, "billing/bill.html", context, status=status)


@finance_only
@require_GET
def bill(request, account_id: int):
    account = _account(account_id)
    try:
        year, month = _month_of_request(request)
    except PricingError:
        messages.error(
            request,
            _("The month must be written YYYY-MM, like 2025-03. This month's bill is shown."),
        )
        return redirect(reverse("billing:bill", args=[account.pk]))
    return _bill_page(request, account, year, month)


@finance_only
@require_POST
def finalize(request, account_id: int):
    account = _account(account_id)
    form = FinalizeForm(request.POST)
    try:
        year, month = parse_month(request.POST.get("month", ""))
    except PricingError:
        return HttpResponseBadRequest(_("The month must be written YYYY-MM."))
    if not form.is_valid():
        return _bill_page(request, account, year, month, finalize_form=form, status=400)
    _start, end = month_bounds(year, month)
    label = month_text(year, month)
    if timezone.now() < end:
        messages.error(
            request,
            _("%(month)s has not ended yet: only a past month can be finalized.")
            % {"month": label},
        )
    elif Bill.objects.filter(
        account=account, year=year, month=month, status=BillStatus.FINAL
    ).exists():
        messages.error(
            request,
            _("The bill for %(month)s is already final; correct it with an adjustment.")
            % {"month": label},
        )
    else:
        try:
            bills.finalize(account, year, month, user=request.user)
        except PricingError as error:
            messages.error(
                request, _("The bill could not be finalized: %(reason)s") % {"reason": error}
            )
        else:
            messages.success(request, _("The bill for %(month)s is final.") % {"month": label})
    return redirect(_bill_url(account.pk, year, month))


@finance_only
@require_POST
def adjust(request, account_id: int):
    account = _account(account_id)
    try:
        year, month = parse_month(request.POST.get("month", ""))
    except PricingError:
        return HttpResponseBadRequest(_("The month must be written YYYY-MM."))
    vendor = plans.billing_vendor(account)
    form = AdjustmentForm(request.POST, vendor=vendor)
    final = Bill.objects.filter(
        account=account, year=year, month=month, status=BillStatus.FINAL
    ).first()
    if final is None:
        messages.error(request, _("Only a final bill takes adjustments: finalize the month first."))
        return redirect(_bill_url(account.pk, year, month))
    if not form.is_valid():
        return _bill_page(request, account, year, month, adjustment_form=form, status=400)
    try:
        bills.add_adjustment(
            final,
            form.cleaned_data["api"],
            form.cleaned_data["amount"],
            form.cleaned_data["note"],
            user=request.user,
        )
    except PricingError as error:
        form.add_error(None, _("The adjustment was refused: %(reason)s") % {"reason": error})
        return _bill_page(request, account, year, month, adjustment_form=form, status=400)
    messages.success(
        request,
        _("Adjustment of %(amount)s CNY added.") % {"amount": money(form.cleaned_data["amount"])},
    )
    return redirect(_bill_url(account.pk, year, month))


# --- exports ---------------------------------------------------------------------------------

EXPORTS = {
    "csv": ("text/csv; charset=utf-8", export_files.to_csv),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        export_files.to_xlsx,
    ),
    "pdf": ("application/pdf", export_files.to_pdf),
}


@finance_only
@require_GET
def export(request, account_id: int, fmt: str):
    if fmt not in EXPORTS:
        raise Http404
    account = _account(account_id)
    try:
        year, month = _month_of_request(request)
    except PricingError:
        return HttpResponseBadRequest(_("The month must be written YYYY-MM, like 2025-03."))
    view = bills.current_bill(account, year, month)
    table = exports.bill_table(view, exports.purchases_of(account))
    content_type, write = EXPORTS[fmt]
    response = HttpResponse(write(table), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{table.filename_stem}.{fmt}"
    )
    return response
