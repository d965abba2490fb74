"""The finance pages: who may see them, the accounts list with balances and reminders, and a
month's bill as ``bills.current_bill`` computes it, with its tiers, chart, packages, QPS
purchases, projection, finalizing and adjustments."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import bills, importer, purchases
from billing.models import AccountStatus, Bill, BillAdjustment, BillStatus
from billing.pricing import SHANGHAI
from billing.pricing.calendar import month_of
from cameras import roles
from monitoring.models import VendorAccount
from tests.factories import BaiduPrivateAccountFactory

pytestmark = pytest.mark.django_db

MARCH = "2025-03"
CLAIMED = datetime(2025, 2, 20, 9, 0, tzinfo=SHANGHAI)


# --- scenario helpers (used by test_exports too) -----------------------------------------------


def import_calls(
    account, api: str, calls: int, *, month: str = MARCH, days: int = 20, success: bool = True
) -> None:
    """Import ``calls`` calls of ``api`` spread over the first ``days`` days of ``month``,
    through the vendor usage import."""
    flag = "true" if success else "false"
    rows = ["timestamp,api,success,request_id"]
    rows += [
        f"{month}-{1 + n % days:02d}T10:00:00+08:00,{api},{flag},{api}-{month}-{flag}-{n}"
        for n in range(calls)
    ]
    importer.import_usage(account, io.BytesIO(("\n".join(rows) + "\n").encode()))


def enterprise_baidu(name: str = "Baidu plant 2") -> VendorAccount:
    return purchases.add_account(name, "baidu", "enterprise", free_claimed_at=CLAIMED)


def personal_baidu(name: str = "Baidu personal") -> VendorAccount:
    return purchases.add_account(name, "baidu", "personal", free_claimed_at=CLAIMED)


class TableReader(HTMLParser):
    """The rows of one table of a page, by id: each as (classes of the row, cell texts)."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and (self.depth or attributes.get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append((attributes.get("class") or "", []))
        elif self.depth and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response, table_id: str) -> list[tuple[str, list[str]]]:
    reader = TableReader(table_id)
    reader.feed(response.content.decode())
    return [(classes, cells) for classes, cells in reader.rows if cells]


def body_rows(response, table_id: str) -> list[tuple[str, list[str]]]:
    return table_rows(response, table_id)[1:]


def grouped(amount: str) -> str:
    return f"{Decimal(amount):,.2f}"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def finance(make_user):
    return make_user(roles.FINANCE)


@pytest.fixture
def browser(finance) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(finance)
    return client


@pytest.fixture
def account():
    return personal_baidu()


def bill_url(account, month: str = MARCH) -> str:
    return f"{reverse('billing:bill', args=[account.pk])}?month={month}"


# --- who may see the pages --------------------------------------------------------------------

PAGES = [
    "billing:index",
    "billing:bill",
    "billing:export_csv",
    "billing:export_xlsx",
    "billing:export_pdf",
]


def page_url(name: str, account) -> str:
    if name == "billing:index":
        return reverse(name)
    return f"{reverse(name, args=[account.pk])}?month={MARCH}"


@pytest.mark.parametrize("name", PAGES)
def test_finance_may_open_every_billing_page(name, browser, account):
    # given a finance user and a billed account
    # when they open the page
    response = browser.get(page_url(name, account))
    # then it is shown
    assert response.status_code == 200


@pytest.mark.parametrize("role", [roles.OPERATOR, roles.ADMIN])
@pytest.mark.parametrize("name", PAGES)
def test_operators_and_admins_are_not_allowed_on_billing_pages(
    name, role, make_user, site_a, account
):
    # given an operator or an admin of a site
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(role, site_a))
    # when they open a billing page
    response = client.get(page_url(name, account))
    # then they are refused
    assert response.status_code == 403


@pytest.mark.parametrize("role", [roles.OPERATOR, roles.ADMIN])
def test_operators_and_admins_cannot_finalize_or_adjust(role, make_user, site_a, account):
    # given an admin or operator
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_user(role, site_a))
    # when they post to finalize and to adjust
    finalize = client.post(
        reverse("billing:finalize", args=[account.pk]), {"month": MARCH, "confirm": "on"}
    )
    adjust = client.post(
        reverse("billing:adjust", args=[account.pk]),
        {"month": MARCH, "amount": "5.00", "note": "x"},
    )
    # then both are refused and no bill is frozen
    assert (finalize.status_code, adjust.status_code) == (403, 403)
    assert not Bill.objects.exists()


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(name, client, account):
    # given nobody signed in
    # when a billing page is opened
    response = client.get(page_url(name, account))
    # then the login page is where they go
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_account_that_is_not_billed_per_call_has_no_bill_page(browser):
    # given a privately deployed Baidu account (not metered)
    private = BaiduPrivateAccountFactory(name="On site")
    # when its bill is asked for
    response = browser.get(bill_url(private))
    # then there is no such page
    assert response.status_code == 404


# --- the accounts -----------------------------------------------------------------------------


def test_the_accounts_page_shows_balance_arrears_forecast_and_reminders(browser):
    # given one account in arrears, one about to run out, one never settled
    sent = timezone.now() - timedelta(hours=2)
    runs_out = datetime(2025, 3, 18, 14, 30, tzinfo=SHANGHAI)
    owing = personal_baidu("Owing")
    AccountStatus.objects.create(
        account=owing,
        balance=Decimal("-12.50"),
        in_arrears=True,
        settled_until=sent,
        reminders_sent={"arrears": {"sent_at": sent.isoformat(), "message": "x"}},
    )
    low = personal_baidu("Running low")
    AccountStatus.objects.create(
        account=low,
        balance=Decimal("1234.56"),
        runs_out_at=runs_out,
        settled_until=sent,
        reminders_sent={
            "2": {"sent_at": sent.isoformat(), "runs_out_at": runs_out.isoformat(), "message": "x"}
        },
    )
    personal_baidu("New")
    # when finance opens the billing page
    response = browser.get(reverse("billing:index"))
    # then each account shows its balance, its state, the forecast and its reminder
    rows = {cells[0].split(" ")[0]: cells for _c, cells in body_rows(response, "accounts-table")}
    assert rows["Owing"][2] == "-12.50"
    assert "in arrears" in rows["Owing"][3]
    assert rows["Running"][2] == "1,234.56"
    assert "running low" in rows["Running"][3]
    assert rows["Running"][4] == "2025-03-18 14:30"
    assert "not settled yet" in rows["New"][3]
    text = response.content.decode()
    assert "In arrears since" in text
    assert "Forecast to run out within 2 days, at about 2025-03-18 14:30" in text


def test_the_accounts_page_shows_this_months_bill_so_far(browser, monkeypatch):
    # given it is 16 March 2025 and an account without free quota made 500 calls this month
    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 3, 16, 12, 0, tzinfo=SHANGHAI))
    account = purchases.add_account("No quota", "baidu", "personal")
    import_calls(account, "body_attr", 500, days=5)
    # when finance opens the billing page
    response = browser.get(reverse("billing:index"))
    # then the month's total so far is the bill's: 500 calls at 2.0 per 1,000
    expected = bills.current_bill(account, 2025, 3).total
    assert expected == Decimal("1.00")
    (_classes, cells), *_notices = body_rows(response, "accounts-table")
    assert cells[5] == "1.00"
    assert "2025-03 so far" in response.content.decode()


# --- a month's bill ---------------------------------------------------------------------------


def test_the_bill_page_shows_the_lines_tiers_and_total_of_current_bill(browser):
    # given an enterprise Baidu account (50,000 free calls per API) with 80,000 body_attr
    # calls imported for March 2025
    account = enterprise_baidu()
    import_calls(account, "body_attr", 80_000)
    view = bills.current_bill(account, 2025, 3)
    # when finance opens the March bill
    response = browser.get(bill_url(account))
    # then the lines are those of the bill: 50,000 free, 30,000 pay-as-you-go for 60.00
    rows = body_rows(response, "usage-lines")
    lines = [cells for classes, cells in rows if classes.startswith("line")]
    assert [(c[0], c[3], c[5]) for c in lines] == [
        (line["api"], f"{line['calls']:,}", grouped(line["amount"])) for line in view.lines
    ]
    assert [(c[1], c[3], c[5]) for c in lines] == [
        ("free quota", "50,000", "0.00"),
        ("pay-as-you-go", "30,000", "60.00"),
    ]
    # and the tier breakdown: calls of the month 0 to 50,000 at 2.00 per 1,000
    tiers = [cells for classes, cells in rows if classes == "tier"]
    assert tiers == [["", "tier", "calls of the month 0 to 50,000", "30,000", "2.00", "60.00"]]
    # and the total, as a draft of an ended month
    assert view.total == Decimal("60.00")
    totals = body_rows(response, "totals") or table_rows(response, "totals")
    assert totals[-1][1] == ["Total (CNY)", "60.00"]
    assert 'data-status="draft"' in response.content.decode()


def test_a_ctyun_bill_page_shows_yearly_free_quota_packages_and_limited_time_free_calls(browser):
    # given a CTYun account with its yearly free quota claimed, a 100,000-call helmet package
    # and calls of helmet and of an ability free for a limited time
    account = purchases.add_account(
        "CTYun plant", "ctyun", "enterprise", free_claimed_at=datetime(2025, 1, 3, tzinfo=SHANGHAI)
    )
    purchases.buy_package(account, "helmet", 100_000, datetime(2025, 3, 3, tzinfo=SHANGHAI))
    import_calls(account, "helmet", 15_000, days=10)
    import_calls(account, "face_quality", 200, days=5)
    view = bills.current_bill(account, 2025, 3)
    # when finance opens March
    response = browser.get(bill_url(account))
    # then the usage lines are the bill's, with the CTYun meaning of each
    lines = [cells for classes, cells in body_rows(response, "usage-lines")]
    assert [(c[0], c[3]) for c in lines] == [
        (line["api"], f"{line['calls']:,}")
        for line in view.lines
        if line["kind"] != "package_purchase"
    ]
    assert [(c[0], c[1], c[2].split(" 20")[0]) for c in lines] == [
        ("helmet", "free quota", "Yearly free quota"),
        ("helmet", "count package", "100,000-call package bought"),
        ("face_quality", "free for a limited time", "Ability free for a limited time"),
    ]
    # and the package has 95,000 calls left
    packages = [cells for _c, cells in body_rows(response, "packages")]
    assert [(p[0], p[2], p[5]) for p in packages] == [("helmet", "95,000", "active")]


def test_the_bill_page_shows_package_and_qps_purchases_balances_and_states(browser):
    # given a package bought in March and partly used, one bought long ago and expired,
    # and a 10-day QPS purchase that has ended
    account = personal_baidu()
    purchases.buy_package(
        account, "driver_behavior", 300_000, datetime(2024, 1, 5, 9, 0, tzinfo=SHANGHAI)
    )
    purchases.buy_package(
        account, "driver_behavior", 300_000, datetime(2025, 3, 2, 9, 0, tzinfo=SHANGHAI)
    )
    purchases.buy_qps(account, "body_num", 5, 0, 10, datetime(2025, 3, 6, 9, 0, tzinfo=SHANGHAI))
    import_calls(account, "driver_behavior", 20_000, days=10)
    view = bills.current_bill(account, 2025, 3)
    # when finance opens the March bill
    response = browser.get(bill_url(account))
    # then the month's purchases are lines at the prices paid
    purchases_shown = [cells for _c, cells in body_rows(response, "purchase-lines")]
    expected = [
        (line["api"], grouped(line["amount"]))
        for line in view.lines
        if line["kind"] in ("package_purchase", "qps_order")
    ]
    assert [(c[0], c[4]) for c in purchases_shown] == expected
    assert [c[1] for c in purchases_shown] == ["package purchase", "QPS purchase"]
    # and the package table shows what is left and which is expired
    packages = [cells for _c, cells in body_rows(response, "packages")]
    used = sum(line["calls"] for line in view.lines_of("package"))
    assert [(p[1], p[2], p[5]) for p in packages] == [
        ("300,000", "300,000", "expired"),
        ("300,000", f"{300_000 - used:,}", "active"),
    ]
    # and the QPS purchase has ended
    orders = [cells for _c, cells in body_rows(response, "qps-orders")]
    assert [(o[0], o[1], o[6]) for o in orders] == [("body_num", "5", "ended")]


def test_the_bill_page_draws_calls_per_api_per_day_as_stacked_bars(browser):
    # given calls of two APIs over ten days of March
    account = personal_baidu()
    import_calls(account, "body_attr", 1_000, days=10)
    import_calls(account, "body_num", 300, days=10)
    # when the bill page is opened
    response = browser.get(bill_url(account))
    text = response.content.decode()
    # then an inline SVG has one bar segment per API per day, adding up to the calls
    assert "<svg" in text and "usage-chart" in text
    segments = [part for part in text.split("<rect ")[1:] if 'data-api="' in part.split(">")[0]]
    calls = {}
    for part in segments:
        head = part.split(">")[0]
        api = head.split('data-api="')[1].split('"')[0]
        calls[api] = calls.get(api, 0) + int(head.split('data-calls="')[1].split('"')[0])
    assert len(segments) == 20
    assert calls == {"body_attr": 1_000, "body_num": 300}


def test_a_bill_page_without_calls_says_so(browser, account):
    # given an account with no calls in March
    # when its March bill is opened
    response = browser.get(bill_url(account))
    # then the page says there were no calls, and the total is zero
    text = response.content.decode()
    assert "No calls this month." in text
    assert "<svg" not in text
    assert table_rows(response, "totals")[-1][1] == ["Total (CNY)", "0.00"]


def test_the_month_under_way_shows_the_projected_month_end_cost(browser, monkeypatch):
    # given it is 16 March 2025, noon, and 15 days of calls beyond the free quota
    now = datetime(2025, 3, 16, 12, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: now)
    account = personal_baidu()
    import_calls(account, "body_attr", 30_000, days=15)
    expected = bills.project_month(account, 2025, 3, now)
    # when finance opens March
    response = browser.get(bill_url(account))
    # then the projected month-end cost is the projection's, above the cost so far
    text = response.content.decode()
    assert expected.projected_total > expected.total_so_far
    assert f'id="projected-total">{grouped(str(expected.projected_total))}<' in text
    assert f'id="bill-total">{grouped(str(expected.total_so_far))}<' in text
    # and a month under way cannot be finalized from the page
    assert reverse("billing:finalize", args=[account.pk]) not in text


def test_a_malformed_month_shows_this_month_with_a_message(browser, account):
    # when the bill is asked for a month that is not YYYY-MM
    response = browser.get(bill_url(account, "March"), follow=True)
    # then this month's bill is shown, with a message saying how to write a month
    assert response.redirect_chain[-1][1] == 302
    year, month = month_of(timezone.now())
    assert f'value="{year:04d}-{month:02d}"' in response.content.decode()
    assert "The month must be written YYYY-MM" in response.content.decode()


# --- finalizing and adjusting -----------------------------------------------------------------


def test_finalizing_an_ended_month_through_the_page_freezes_its_bill(browser, finance):
    # given March with 12,000 calls on a personal account: 2,000 beyond the free quota
    account = personal_baidu()
    import_calls(account, "body_attr", 12_000)
    page = browser.get(bill_url(account))
    assert reverse("billing:finalize", args=[account.pk]) in page.content.decode()
    # when finance confirms and finalizes March
    response = browser.post(
        reverse("billing:finalize", args=[account.pk]),
        {"month": MARCH, "confirm": "on"},
        follow=True,
    )
    # then the bill is final, with the draft's total, and the page says so
    bill = Bill.objects.get(account=account, year=2025, month=3)
    assert (bill.status, bill.total, bill.finalized_by) == (
        BillStatus.FINAL,
        Decimal("4.00"),
        finance,
    )
    text = response.content.decode()
    assert 'data-status="final"' in text
    assert "The bill for 2025-03 is final." in text
    # and it now takes adjustments instead of being finalized again
    assert reverse("billing:adjust", args=[account.pk]) in text
    assert reverse("billing:finalize", args=[account.pk]) not in text


def test_finalizing_without_ticking_the_confirmation_changes_nothing(browser, account):
    # when finance posts the finalize form without confirming
    response = browser.post(reverse("billing:finalize", args=[account.pk]), {"month": MARCH})
    # then nothing is frozen and the form asks for the confirmation
    assert response.status_code == 400
    assert not Bill.objects.exists()
    assert "Tick the box to confirm." in response.content.decode()


def test_a_month_under_way_cannot_be_finalized(browser, account, monkeypatch):
    # given it is still March
    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 3, 16, 12, 0, tzinfo=SHANGHAI))
    # when finance tries to finalize March anyway
    response = browser.post(
        reverse("billing:finalize", args=[account.pk]),
        {"month": MARCH, "confirm": "on"},
        follow=True,
    )
    # then it is refused with the reason
    assert not Bill.objects.exists()
    assert "2025-03 has not ended yet" in response.content.decode()


def test_an_adjustment_on_a_final_bill_changes_its_total(browser, finance):
    # given a final March bill of 4.00
    account = personal_baidu()
    import_calls(account, "body_attr", 12_000)
    bills.finalize(account, 2025, 3, finance)
    # when finance adds a credit of 1.50 for body_attr through the page
    response = browser.post(
        reverse("billing:adjust", args=[account.pk]),
        {"month": MARCH, "api": "body_attr", "amount": "-1.50", "note": "Vendor credit"},
        follow=True,
    )
    # then the adjustment is stored and the bill shows lines total, adjustment and total
    adjustment = BillAdjustment.objects.get()
    assert (adjustment.amount, adjustment.api, adjustment.created_by) == (
        Decimal("-1.50"),
        "body_attr",
        finance,
    )
    assert bills.current_bill(account, 2025, 3).total == Decimal("2.50")
    totals = [cells for _c, cells in table_rows(response, "totals")]
    assert totals[0] == ["Lines total", "4.00"]
    assert totals[1][-1] == "-1.50" and "Vendor credit" in totals[1][0]
    assert totals[-1] == ["Total (CNY)", "2.50"]


def test_an_adjustment_of_zero_is_refused_with_a_reason(browser, finance, account):
    # given a final March bill
    bills.finalize(account, 2025, 3, finance)
    # when finance posts an adjustment of zero
    response = browser.post(
        reverse("billing:adjust", args=[account.pk]),
        {"month": MARCH, "amount": "0", "note": "nothing"},
    )
    # then nothing is added and the form says why
    assert response.status_code == 400
    assert not BillAdjustment.objects.exists()
    assert "An adjustment of zero changes nothing." in response.content.decode()


def test_a_draft_bill_takes_no_adjustment(browser, account):
    # when finance posts an adjustment to March before finalizing it
    response = browser.post(
        reverse("billing:adjust", args=[account.pk]),
        {"month": MARCH, "amount": "5.00", "note": "early"},
        follow=True,
    )
    # then it is refused with the reason
    assert not BillAdjustment.objects.exists()
    assert "Only a final bill takes adjustments" in response.content.decode()
