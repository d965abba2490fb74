"""A month's bill as finance reads it, on the page and in files.

Owns:

* the human labels of bill line kinds and of what each line is (``KIND_LABELS``,
  ``describe``), in both languages through gettext;
* ``bill_table``: the bill as one flat table: its lines in bill order, each pay-as-you-go
  line followed by its tier rows (from, to, calls, unit price per 1,000 calls, amount), the
  adjustments of a final bill, and the totals;
* that table as CSV, XLSX and PDF files: ``billing.export_files``.

Amounts are the bill's own ``Decimal`` strings (``billing.bills``): two decimals for lines,
adjustments and totals; tier rows keep their exact amount, since a line is rounded once and
its tiers not at all. No amount passes through a float; XLSX cells hold ``Decimal`` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from billing import bills, facts
from billing.models import Package, QpsOrder
from billing.pricing import LineKind
from billing.pricing.calendar import month_text, shanghai_minute
from billing.pricing.money import CENT
from monitoring.backends.registry import traits

KIND_LABELS = {
    LineKind.FREE: gettext_lazy("free quota"),
    LineKind.PACKAGE: gettext_lazy("count package"),
    LineKind.PAYG: gettext_lazy("pay-as-you-go"),
    LineKind.QPS_USAGE: gettext_lazy("covered by QPS purchase"),
    LineKind.NOT_BILLED: gettext_lazy("failed calls, not billed"),
    LineKind.LIMITED_TIME_FREE: gettext_lazy("free for a limited time"),
    LineKind.OVER_QUOTA: gettext_lazy("over quota"),
    LineKind.PACKAGE_PURCHASE: gettext_lazy("package purchase"),
    LineKind.QPS_ORDER: gettext_lazy("QPS purchase"),
}
PURCHASE_KINDS = frozenset({LineKind.PACKAGE_PURCHASE.value, LineKind.QPS_ORDER.value})
VENDOR_LABELS = {"baidu": gettext_lazy("Baidu"), "ctyun": gettext_lazy("CTYun")}
STATUS_LABELS = {
    "draft": pgettext_lazy("bill status", "draft"),
    "final": pgettext_lazy("bill status", "final"),
}
RECORD_LABELS = {
    "line": pgettext_lazy("bill export row", "line"),
    "tier": pgettext_lazy("bill export row", "tier"),
    "adjustment": pgettext_lazy("bill export row", "adjustment"),
    "subtotal": pgettext_lazy("bill export row", "lines total"),
    "total": pgettext_lazy("bill export row", "total"),
}


# --- formatting ---------------------------------------------------------------------------


def kind_label(kind: str) -> str:
    """The human name of a bill line kind, in the active language."""
    try:
        return str(KIND_LABELS[LineKind(kind)])
    except ValueError:
        return kind


def vendor_label(vendor: str) -> str:
    return str(VENDOR_LABELS.get(vendor, vendor))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def money(value: Decimal | str, *, group: bool = True) -> str:
    """An amount as written on a bill: at least two decimals, never rounded further (a tier's
    exact amount keeps its extra decimals); thousands grouped unless ``group`` is False."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    if amount.as_tuple().exponent > -2:  # type: ignore[operator]
        amount = amount.quantize(CENT)
    return format(amount, ",f" if group else "f")


def two_decimals(amount: Decimal) -> str:
    """A line amount or total as the bill writes it: ``3060.00``."""
    return f"{amount.quantize(CENT):f}"


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def tier_range(lower: int, upper: int | None) -> str:
    """A pay-as-you-go tier as the vendor writes it: calls of the month above ``lower`` and
    up to ``upper``."""
    if upper is None:
        return _("over %(lower)s") % {"lower": count(lower)}
    return _("%(lower)s to %(upper)s") % {"lower": count(lower), "upper": count(upper)}


# --- what a line is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Purchases:
    """The account's packages and QPS orders by the references bill lines use."""

    packages: dict[str, Package] = field(default_factory=dict)
    qps_orders: dict[str, QpsOrder] = field(default_factory=dict)


def purchases_of(account) -> Purchases:
    return Purchases(
        packages={facts.package_id(p): p for p in Package.objects.filter(account=account)},
        qps_orders={facts.qps_order_id(o): o for o in QpsOrder.objects.filter(account=account)},
    )


def qps_period(order: QpsOrder) -> str:
    if order.months and order.days:
        return _("%(months)s months and %(days)s days") % {
            "months": order.months,
            "days": order.days,
        }
    if order.months:
        return _("%(months)s months") % {"months": order.months}
    return _("%(days)s days") % {"days": order.days}


def describe(line: dict[str, Any], vendor: str, purchases: Purchases) -> str:
    """What a bill line is, in the active language (the line's own English note when the
    line is of a kind this module does not know)."""
    kind = line["kind"]
    package = purchases.packages.get(line.get("reference", ""))
    order = purchases.qps_orders.get(line.get("reference", ""))
    if kind == LineKind.FREE:
        yearly = traits(vendor).free_quota == "yearly"
        return _("Yearly free quota") if yearly else _("Free trial quota")
    if kind == LineKind.PACKAGE and package is not None:
        return _("%(calls)s-call package bought %(date)s") % {
            "calls": count(package.calls),
            "date": shanghai_minute(package.purchased_at),
        }
    if kind == LineKind.PAYG:
        return _("Graduated price per 1,000 calls")
    if kind == LineKind.QPS_USAGE:
        return _("Calls while a QPS purchase was in force, no charge per call")
    if kind == LineKind.NOT_BILLED:
        return _("Calls the vendor answered with an error, not billed")
    if kind == LineKind.LIMITED_TIME_FREE:
        return _("Ability free for a limited time")
    if kind == LineKind.OVER_QUOTA:
        return _("Successful calls beyond every package and free quota")
    if kind == LineKind.PACKAGE_PURCHASE and package is not None:
        return _("%(calls)s-call package bought %(bought)s, valid until %(until)s") % {
            "calls": count(package.calls),
            "bought": shanghai_minute(package.purchased_at),
            "until": shanghai_minute(package.expires_at),
        }
    if kind == LineKind.QPS_ORDER and order is not None:
        return _("%(qps)s QPS for %(period)s, %(start)s until %(end)s") % {
            "qps": order.qps,
            "period": qps_period(order),
            "start": shanghai_minute(order.purchased_at),
            "end": shanghai_minute(order.expires_at),
        }
    return line.get("note", "")


# --- the bill as one table ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the bill table. ``record`` is ``line``, ``tier``, ``adjustment``,
    ``subtotal`` (lines before adjustments) or ``total``; amounts are bill strings."""

    record: str
    api: str = ""
    kind: str = ""
    description: str = ""
    calls: int | None = None
    amount: str = ""
    tier_from: int | None = None
    tier_to: int | None = None
    tier_calls: int | None = None
    unit_price: str = ""
    tier_amount: str = ""

    @property
    def record_label(self) -> str:
        return str(RECORD_LABELS[self.record])

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind) if self.kind else ""


def columns() -> list[str]:
    """The table's column headings, in the active language."""
    return [
        _("Row"),
        _("API"),
        _("Kind"),
        _("Description"),
        _("Calls"),
        _("Amount (CNY)"),
        _("Tier from (calls)"),
        _("Tier to (calls)"),
        _("Tier calls"),
        _("Unit price (CNY per 1,000 calls)"),
        _("Tier amount (CNY)"),
    ]


@dataclass(frozen=True)
class BillTable:
    """A month's bill of one account as rows, with what it is about (``meta``)."""

    title: str
    meta: list[tuple[str, str]]
    rows: list[Row]
    total: str
    filename_stem: str


def _line_rows(line: dict[str, Any], vendor: str, purchases: Purchases) -> Iterable[Row]:
    yield Row(
        "line",
        api=line["api"],
        kind=line["kind"],
        description=describe(line, vendor, purchases),
        calls=line["calls"],
        amount=line["amount"],
    )
    for tier in line.get("tiers", ()):
        yield Row(
            "tier",
            api=line["api"],
            kind=line["kind"],
            description=tier_range(tier["from"], tier["to"]),
            tier_from=tier["from"],
            tier_to=tier["to"],
            tier_calls=tier["calls"],
            unit_price=tier["unit_price"],
            tier_amount=tier["amount"],
        )


def bill_table(view: bills.BillView, purchases: Purchases) -> BillTable:
    """The bill as rows: lines (with their tiers), adjustments, and the totals."""
    start, end = view.period
    month = month_text(view.year, view.month)
    rows: list[Row] = []
    for line in view.lines:
        rows.extend(_line_rows(line, view.vendor, purchases))
    if view.adjustments:
        rows.append(Row("subtotal", amount=two_decimals(view.lines_total)))
        for adjustment in view.adjustments:
            rows.append(
                Row(
                    "adjustment",
                    api=adjustment["api"],
                    description=adjustment["note"],
                    amount=adjustment["amount"],
                )
            )
    total = two_decimals(view.total)
    rows.append(Row("total", amount=total))
    meta = [
        (_("Account"), view.account),
        (_("Vendor"), vendor_label(view.vendor)),
        (_("Month"), month),
        (_("Period (Asia/Shanghai)"), f"{shanghai_minute(start)} – {shanghai_minute(end)}"),
        (_("Status"), status_label(view.status)),
        (_("Price plan"), view.plan_name),
        (_("Currency"), "CNY"),
        (_("Total (CNY)"), total),
        (_("Exported at"), shanghai_minute(timezone.now())),
    ]
    if view.finalized_at:
        meta.insert(5, (_("Finalized at"), shanghai_minute(view.finalized_at)))
    return BillTable(
        title=_("Bill of %(account)s for %(month)s") % {"account": view.account, "month": month},
        meta=meta,
        rows=rows,
        total=total,
        filename_stem=f"bill-{view.account_id}-{month}",
    )


def table_cells(row: Row) -> list[Any]:
    """A row's values in column order (ints, bill strings, or empty)."""
    return [
        row.record_label,
        row.api,
        row.kind_label,
        row.description,
        row.calls,
        row.amount,
        row.tier_from,
        row.tier_to,
        row.tier_calls,
        row.unit_price,
        row.tier_amount,
    ]
