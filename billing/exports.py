"""A month's bill as finance reads it, on the page and in files.

Owns:

* the human labels of bill line kinds and of what each line is (``KIND_LABELS``,
  ``describe``), in both languages through gettext;
* ``bill_table``: the bill as one flat table: its lines in bill order, each pay-as-you-go
  line followed by its tier rows (from, to, calls, unit price per 1,000 calls, amount), the
  adjustments of a final bill, and the totals;
* that table as CSV (UTF-8 with a BOM, so Excel reads Chinese), XLSX (numbers as numbers,
  with number formats) and PDF (A4, Adobe's ``STSong-Light`` CID font for Chinese).

Amounts are the bill's own ``Decimal`` strings (``billing.bills``): two decimals for lines,
adjustments and totals; tier rows keep their exact amount, since a line is rounded once and
its tiers not at all. No amount passes through a float; XLSX cells hold ``Decimal`` values.
"""

from __future__ import annotations

import csv
import io
import re
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
from monitoring.backends.registry import traits

CENT = Decimal("0.01")

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


def _cells(row: Row) -> list[Any]:
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


# --- CSV ----------------------------------------------------------------------------------

# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): text that does is written with a leading apostrophe.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: empty for None, text that a spreadsheet would read as a
    formula prefixed with ``'``; numbers (and the bill's amounts, ``-1.50``) as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(table: BillTable) -> bytes:
    """The table as CSV: what the bill is about, a blank line, the headings, the rows.
    UTF-8 with a byte order mark; amounts as the bill writes them (``3060.00``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(table.title)])
    writer.writerows([csv_cell(label), csv_cell(value)] for label, value in table.meta)
    writer.writerow([])
    writer.writerow(columns())
    for row in table.rows:
        writer.writerow(csv_cell(value) for value in _cells(row))
    return out.getvalue().encode("utf-8-sig")


# --- XLSX ---------------------------------------------------------------------------------

MONEY_FORMAT = "#,##0.00"
EXACT_MONEY_FORMAT = "#,##0.00########"
UNIT_PRICE_FORMAT = "#,##0.00##"
COUNT_FORMAT = "#,##0"
AMOUNT_COLUMNS = {5: MONEY_FORMAT, 9: UNIT_PRICE_FORMAT, 10: EXACT_MONEY_FORMAT}
COUNT_COLUMNS = {4, 6, 7, 8}
COLUMN_WIDTHS = [12, 18, 22, 52, 12, 14, 14, 14, 12, 16, 16]


def _as_text(cells) -> None:
    """Text cells stay text: openpyxl stores a string that starts with ``=`` as a formula,
    and account names, plan names and adjustment notes are chosen by people."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def to_xlsx(table: BillTable) -> bytes:
    """The table as an Excel workbook of one sheet: calls and amounts are numbers with
    number formats (amounts as ``Decimal``), text as text (never a formula), headings bold,
    the heading row frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Bill")[:31]
    bold = Font(bold=True)
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in table.meta:
        sheet.append([label, value])
        sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.append([])
    sheet.append(columns())
    heading_row = sheet.max_row
    fill = PatternFill("solid", fgColor="E8EDF5")
    for cell in sheet[heading_row]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        values = _cells(row)
        for index in AMOUNT_COLUMNS:
            values[index] = Decimal(values[index]) if values[index] else None
        sheet.append(values)
        number = sheet.max_row
        for index, number_format in AMOUNT_COLUMNS.items():
            sheet.cell(row=number, column=index + 1).number_format = number_format
        for index in COUNT_COLUMNS:
            sheet.cell(row=number, column=index + 1).number_format = COUNT_FORMAT
        if row.record in ("subtotal", "total"):
            for cell in sheet[number]:
                cell.font = bold
        elif row.record == "tier":
            sheet.cell(row=number, column=4).alignment = Alignment(indent=2)
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for cells in sheet.iter_rows():
        _as_text(cells)
    sheet.freeze_panes = sheet.cell(row=heading_row + 1, column=1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- PDF ---------------------------------------------------------------------------------

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_FONT_BOLD = "Helvetica-Bold"
MUTED = "#4a5363"
RULE = "#1d2430"
HAIRLINE = "#d9dde4"


def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _latin(character: str) -> bool:
    try:
        character.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pdf_markup(text: str) -> str:
    """Paragraph markup of ``text``: Latin runs in the paragraph's Helvetica, every other run
    (Chinese) in the CID font, so each script is drawn with a font that has its glyphs."""
    runs: list[str] = []
    current, latin = "", True
    for character in text:
        is_latin = _latin(character)
        if current and is_latin != latin:
            runs.append(
                _escape(current) if latin else f'<font face="{CJK_FONT}">{_escape(current)}</font>'
            )
            current = ""
        current += character
        latin = is_latin
    if current:
        runs.append(
            _escape(current) if latin else f'<font face="{CJK_FONT}">{_escape(current)}</font>'
        )
    return "".join(runs)


def _pdf_cells(row: Row) -> list[str]:
    """A row as the PDF shows it: API, kind, description, calls, unit price, amount."""
    if row.record == "tier":
        return [
            "",
            "",
            row.description,
            count(row.tier_calls),
            money(row.unit_price),
            money(row.tier_amount),
        ]
    if row.record == "line":
        calls = "" if row.kind == LineKind.QPS_ORDER else count(row.calls)
        return [row.api, row.kind_label, row.description, calls, "", money(row.amount)]
    if row.record == "adjustment":
        return [row.api, row.record_label, row.description, "", "", money(row.amount)]
    return ["", "", row.record_label, "", "", money(row.amount)]


def to_pdf(table: BillTable) -> bytes:
    """The table as an A4 PDF: the title, what the bill is about, the lines with their
    tiers indented under them, adjustments and the total; the title and page number at the
    foot of every page."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    _register_fonts()
    muted = colors.HexColor(MUTED)
    text = ParagraphStyle("text", fontName=LATIN_FONT, fontSize=8.5, leading=11)
    label = ParagraphStyle("label", parent=text, textColor=muted)
    tier = ParagraphStyle("tier", parent=label, leftIndent=8)
    strong = ParagraphStyle(
        "strong", parent=text, fontName=LATIN_FONT_BOLD, fontSize=10, leading=13
    )
    title = ParagraphStyle("title", fontName=LATIN_FONT_BOLD, fontSize=15, leading=20, spaceAfter=6)
    footnote = ParagraphStyle("footnote", parent=label, fontSize=7.5, leading=10)
    page_number = ParagraphStyle("page_number", parent=footnote, alignment=TA_RIGHT)

    def paragraph(value: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(pdf_markup(value), style)

    buffer = io.BytesIO()
    margin = 16 * mm
    width = A4[0] - 2 * margin
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=table.title,
        author=_("Site safety dashboard"),
    )
    page_label = _("Page %(number)s")

    def footer(canvas, _document) -> None:
        canvas.saveState()
        foot = Table(
            [
                [
                    paragraph(table.title, footnote),
                    paragraph(page_label % {"number": canvas.getPageNumber()}, page_number),
                ]
            ],
            colWidths=[width * 0.8, width * 0.2],
            style=[("LEFTPADDING", (0, 0), (0, 0), 0), ("RIGHTPADDING", (1, 0), (1, 0), 0)],
        )
        foot.wrapOn(canvas, width, 10 * mm)
        foot.drawOn(canvas, margin, 8 * mm)
        canvas.restoreState()

    meta = Table(
        [[paragraph(name, label), paragraph(value, text)] for name, value in table.meta],
        colWidths=[40 * mm, width - 40 * mm],
        hAlign="LEFT",
        style=[
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ],
    )

    headings = [
        _("API"),
        _("Kind"),
        _("Description"),
        _("Calls"),
        _("Unit price"),
        _("Amount (CNY)"),
    ]
    data: list[list[Any]] = [[paragraph(h, label) for h in headings]]
    style: list[tuple] = [
        ("FONTNAME", (3, 1), (-1, -1), LATIN_FONT),
        ("FONTSIZE", (3, 1), (-1, -1), 8.5),
        ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor(RULE)),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
    ]
    for row in table.rows:
        cells = _pdf_cells(row)
        number = len(data)
        if row.record == "tier":
            data.append(["", "", paragraph(cells[2], tier), *cells[3:]])
            style.append(("TEXTCOLOR", (3, number), (-1, number), muted))
            style.append(("TOPPADDING", (0, number), (-1, number), 0))
            continue
        description = strong if row.record in ("subtotal", "total") else text
        data.append(
            [
                paragraph(cells[0], text),
                paragraph(cells[1], text),
                paragraph(cells[2], description),
                *cells[3:],
            ]
        )
        style.append(("LINEABOVE", (0, number), (-1, number), 0.3, colors.HexColor(HAIRLINE)))
        if row.record in ("subtotal", "total"):
            style.append(("FONTNAME", (3, number), (-1, number), LATIN_FONT_BOLD))
            style.append(("FONTSIZE", (3, number), (-1, number), 10))
        if row.record == "total":
            style.append(("LINEABOVE", (0, number), (-1, number), 0.8, colors.HexColor(RULE)))
    fixed = [30 * mm, 30 * mm, None, 22 * mm, 20 * mm, 26 * mm]
    fixed[2] = width - sum(w for w in fixed if w is not None)
    lines = Table(data, colWidths=fixed, repeatRows=1, style=style)

    note = paragraph(
        _(
            "Amounts in CNY. Each line is rounded once to 0.01; tier rows show the exact "
            "amounts the line adds up. Unit prices are per 1,000 calls."
        ),
        footnote,
    )
    document.build(
        [paragraph(table.title, title), meta, Spacer(1, 6 * mm), lines, Spacer(1, 4 * mm), note],
        onFirstPage=footer,
        onLaterPages=footer,
    )
    return buffer.getvalue()
