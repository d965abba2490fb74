"""The demo as `make run` makes it: finance's history (bills with tiers, a package, a QPS
order, a finalized month with an adjustment, a balance reminder), live paid calls
through the sandbox while it runs, and a second start that doubles nothing."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from alerts.models import Rule
from billing import bills
from billing.demo_data import BAIDU_ACCOUNT, CTYUN_ACCOUNT
from billing.models import (
    AccountStatus,
    Bill,
    BillAdjustment,
    BillStatus,
    HourlyCharge,
    Package,
    QpsOrder,
    Source,
    TopUp,
    UsageRecord,
)
from billing.pricing import SHANGHAI
from cameras.models import Camera, CameraAnalysis, Region
from monitoring.models import VendorAccount
from tests.servers import MANAGE, ROOT, free_port, on_test_database, running, tail


def last_month() -> tuple[int, int]:
    today = timezone.now().astimezone(SHANGHAI)
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def demo(**options) -> str:
    out = io.StringIO()
    call_command("demo", stdout=out, **options)
    return out.getvalue()


def demo_counts() -> dict[str, int]:
    models = [
        VendorAccount,
        UsageRecord,
        TopUp,
        Package,
        QpsOrder,
        Bill,
        BillAdjustment,
        Camera,
        Region,
        CameraAnalysis,
        Rule,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_finance_reads_last_months_bill_with_tiers_a_package_a_qps_order_and_a_total():
    demo()
    account = VendorAccount.objects.get(name=BAIDU_ACCOUNT)

    view = bills.current_bill(account, *last_month()).to_dict()

    kinds = {line["kind"] for line in view["lines"]}
    assert {"payg", "package_purchase", "qps_order"} <= kinds
    payg = [line for line in view["lines"] if line["kind"] == "payg"]
    assert payg and all(line["tiers"] for line in payg)
    assert float(view["total"]) > 0
    assert "seed" not in view["plan"]["name"]


@pytest.mark.django_db
def test_the_demo_accounts_are_named_sandbox_and_call_the_sandbox():
    demo(sandbox_url="http://127.0.0.1:8123/sandbox")
    for name, vendor in ((BAIDU_ACCOUNT, "baidu"), (CTYUN_ACCOUNT, "ctyun")):
        account = VendorAccount.objects.get(name=name)
        assert "sandbox" in account.name.lower()
        assert account.vendor == vendor
        assert account.base_url == f"http://127.0.0.1:8123/sandbox/{vendor}"
        assert account.free_quota_claimed_at is not None


@pytest.mark.django_db
def test_the_oldest_month_is_final_with_an_adjustment_and_the_balance_is_reminded():
    demo()
    account = VendorAccount.objects.get(name=BAIDU_ACCOUNT)

    final = Bill.objects.get(account=account, status=BillStatus.FINAL)
    assert BillAdjustment.objects.filter(bill=final).count() == 1
    status = AccountStatus.objects.get(account=account)
    assert not status.in_arrears
    assert status.balance > 0
    assert any(key in (status.reminders_sent or {}) for key in ("1", "2", "3"))
    assert UsageRecord.objects.filter(account=account, source=Source.IMPORT).count() > 20_000
    assert TopUp.objects.filter(account=account).count() >= 2


@pytest.mark.django_db
def test_each_demo_camera_has_a_paid_analysis_through_the_sandbox_account():
    demo()
    sandbox = VendorAccount.objects.get(name=BAIDU_ACCOUNT)
    for camera in Camera.objects.all():
        assert CameraAnalysis.objects.filter(camera=camera, account=sandbox).exists()


@pytest.mark.django_db
def test_a_second_demo_leaves_the_demos_counts_unchanged():
    demo()
    first = demo_counts()
    charges = HourlyCharge.objects.count()

    output = demo()

    assert demo_counts() == first
    assert HourlyCharge.objects.count() == charges
    assert "Vendor account ready: " + BAIDU_ACCOUNT in output


@pytest.mark.django_db(transaction=True)
def test_the_demo_ledger_grows_by_itself_while_it_runs(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the demo server shares the test database over PostgreSQL only")
    port = free_port()
    env = on_test_database(tmp_path)
    subprocess.run(
        [sys.executable, str(MANAGE), "demo", "--sandbox-url", f"http://127.0.0.1:{port}/sandbox"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    account = VendorAccount.objects.get(name=BAIDU_ACCOUNT)
    live = UsageRecord.objects.filter(account=account, source=Source.LIVE)
    assert live.count() == 0

    def body_num_calls_this_month() -> int:
        today = timezone.now().astimezone(SHANGHAI)
        view = bills.current_bill(account, today.year, today.month).to_dict()
        return sum(line["calls"] for line in view["lines"] if line["api"] == "body_num")

    billed_before = body_num_calls_this_month()

    def cameras_called() -> int:
        return live.filter(outcome="success").values("camera_id").distinct().count()

    log = tmp_path / "runall.log"
    with running([str(MANAGE), "runall", "--port", str(port)], env, log) as server:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and cameras_called() < Camera.objects.count():
            assert server.poll() is None, tail(log, 3000)
            time.sleep(2)
    # Every demo camera made a paid call through the sandbox, answered from its picture.
    calls = live.filter(outcome="success")
    assert cameras_called() == Camera.objects.count(), tail(log, 3000)
    assert set(calls.values_list("api", flat=True)) == {"body_num"}
    # and the month's draft bill counts them.
    assert body_num_calls_this_month() >= billed_before + calls.count()


@pytest.mark.django_db
def test_every_finance_page_and_export_labels_the_demo_accounts_as_sandbox():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse
    from openpyxl import load_workbook

    from tests.billing.test_exports import pdf_page_text

    demo()
    users = get_user_model().objects
    finance, admin = Client(), Client()
    finance.force_login(users.get(username="finance"))
    admin.force_login(users.get(username="admin"))
    month = "{:04d}-{:02d}".format(*last_month())

    assert b"sandbox" in finance.get(reverse("billing:index")).content
    assert b"sandbox" in admin.get(reverse("vendor_account_list")).content
    for name in (BAIDU_ACCOUNT, CTYUN_ACCOUNT):
        account = VendorAccount.objects.get(name=name)
        page = finance.get(reverse("billing:bill", args=[account.pk]), {"month": month})
        assert page.status_code == 200 and b"sandbox" in page.content
        assert b"seed" not in page.content
        edit = admin.get(reverse("vendor_account_edit", args=[account.pk]))
        assert edit.status_code == 200 and b"sandbox" in edit.content
        csv = finance.get(reverse("billing:export_csv", args=[account.pk]), {"month": month})
        assert "sandbox" in csv.content.decode("utf-8-sig")
        xlsx = finance.get(reverse("billing:export_xlsx", args=[account.pk]), {"month": month})
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        cells = [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell]
        assert any("sandbox" in cell for cell in cells)
        pdf = finance.get(reverse("billing:export_pdf", args=[account.pk]), {"month": month})
        assert b"sandbox" in pdf_page_text(pdf.content)
