"""A bill table (``billing.exports.bill_table``) as files: CSV (UTF-8 with a BOM, so Excel
reads Chinese, formula-like text neutralized), XLSX (numbers as numbers, with number formats)
and PDF (A4, Adobe's ``STSong-Light`` CID font for Chinese)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from billing.exports import BillTable, Row, columns, count, money, table_cells
from billing.pricing import LineKind

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
        writer.writerow(csv_cell(value) for value in table_cells(row))
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
        values = table_cells(row)
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
