"""``manage.py billing``: the finance scenarios end to end, and its exit codes.

Scenarios run through ``call_command`` against the test database; exit codes are checked
by running ``manage.py`` in a subprocess against its own SQLite database (the command
needs no running service). Amounts are worked out by hand from the seeds (SPEC.md 2-3).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import FreeQuotaClaim, HourlyRollup, Package, QpsOrder, TopUp, UsageRecord
from billing.pricing import SHANGHAI
from monitoring.models import VendorAccount

ROOT = Path(__file__).resolve().parents[2]
HEADER = "timestamp,api,success,request_id\n"


def billing(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("billing", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bill_json(account: str, month: str) -> dict:
    out, _err = billing("bill", account, "--month", month, "--json")
    return json.loads(out)


def lines(bill: dict, kind: str) -> list[dict]:
    return [line for line in bill["lines"] if line["kind"] == kind]


def rolled_up(account_name, api, at, success, failed=0):
    account = VendorAccount.objects.get(name=account_name)
    hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    HourlyRollup.objects.create(account=account, api=api, hour=hour, success=success, failed=failed)


def sh(year, month, day, hour=0):
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


# --- scenarios through call_command -----------------------------------------------------------


def test_an_enterprise_account_importing_80000_body_attr_calls_pays_60(db, tmp_path):
    # given an enterprise Baidu account that claimed its free quota (50,000 calls per API)
    billing(
        "add-account",
        "Plant 1",
        "--vendor",
        "baidu",
        "--certification",
        "enterprise",
        "--free-claimed-at",
        "2024-01-01",
    )
    # and a usage export of 80,000 successful body_attr calls in March 2024
    path = tmp_path / "march.csv"
    with path.open("w") as file:
        file.write(HEADER)
        for n in range(80_000):
            file.write(f"2024-03-{1 + n % 28:02d}T{n % 24:02d}:00:00+08:00,body_attr,true,m{n}\n")
    # when it is imported and March is billed
    out, err = billing("import-usage", "Plant 1", str(path))
    bill = bill_json("Plant 1", "2024-03")
    # then the import says what it did, with progress on stderr
    assert "Imported 80,000 of 80,000 rows into Plant 1 (0 skipped" in out
    assert "80,000/80,000 rows" in err
    # and 30,000 calls are paid at 2.0 per 1,000: 60.00
    assert lines(bill, "free")[0]["calls"] == 50_000
    payg = lines(bill, "payg")[0]
    assert (payg["api"], payg["kind"], payg["calls"], payg["amount"]) == (
        "body_attr",
        "payg",
        30_000,
        "60.00",
    )
    assert payg["tiers"] == [
        {"from": 0, "to": 50_000, "calls": 30_000, "unit_price": "2.0", "amount": "60.00"}
    ]
    assert bill["total"] == "60.00"
    # and importing it again adds nothing
    out, _err = billing("import-usage", "Plant 1", str(path))
    assert "Imported 0 of 80,000 rows" in out
    assert UsageRecord.objects.count() == 80_000


def test_a_driver_behavior_package_bought_from_the_cli_is_deducted(db):
    # given an account without free quota, a 300,000-call package bought on 1 March (500)
    billing("add-account", "Fleet", "--vendor", "baidu", "--certification", "personal")
    out, _err = billing(
        "buy-package", "Fleet", "--api", "driver_behavior", "--spec", "300000", "--at", "2024-03-01"
    )
    assert "300,000-call driver_behavior package for 500.00 CNY" in out
    # when 320,000 driver_behavior calls are made on 10 March
    rolled_up("Fleet", "driver_behavior", sh(2024, 3, 10, 9), 320_000)
    bill = bill_json("Fleet", "2024-03")
    # then the package takes 300,000, 20,000 cost 40.00, and the package 500.00
    assert lines(bill, "package")[0]["calls"] == 300_000
    assert lines(bill, "payg")[0]["amount"] == "40.00"
    assert lines(bill, "package_purchase")[0]["amount"] == "500.00"
    assert bill["total"] == "540.00"


def test_a_qps_order_from_the_cli_costs_7000_and_its_calls_nothing(db):
    billing("add-account", "Gate", "--vendor", "baidu", "--certification", "enterprise")
    out, _err = billing(
        "buy-qps",
        "Gate",
        "--api",
        "body_attr",
        "--qps",
        "15",
        "--months",
        "1",
        "--at",
        "2024-03-05T10:00",
    )
    assert "15 QPS of body_attr for 1 month(s) and 0 day(s) for 7000.00 CNY" in out
    # the time without an offset was Shanghai time
    assert QpsOrder.objects.get().purchased_at == sh(2024, 3, 5, 10)
    rolled_up("Gate", "body_attr", sh(2024, 3, 6, 9), 100_000)
    bill = bill_json("Gate", "2024-03")
    assert lines(bill, "qps_order")[0]["amount"] == "7000.00"
    assert lines(bill, "qps_usage")[0]["calls"] == 100_000
    assert lines(bill, "payg") == []
    assert bill["total"] == "7000.00"


def test_a_qps_order_without_a_period_lasts_one_month(db):
    billing("add-account", "Gate", "--vendor", "baidu", "--certification", "enterprise")
    billing("buy-qps", "Gate", "--api", "gesture", "--qps", "2", "--at", "2024-03-05")
    order = QpsOrder.objects.get()
    assert (order.months, order.days, order.price) == (1, 0, Decimal("1000.00"))


def test_a_ctyun_account_uses_its_free_quota_then_its_package(db):
    billing(
        "add-account",
        "Site CT",
        "--vendor",
        "ctyun",
        "--certification",
        "enterprise",
        "--free-claimed-at",
        "2024-01-15T09:00",
    )
    billing("buy-package", "Site CT", "--api", "helmet", "--spec", "100000", "--at", "2024-02-01")
    rolled_up("Site CT", "helmet", sh(2024, 3, 5, 9), 12_000)
    bill = bill_json("Site CT", "2024-03")
    assert [(line["kind"], line["calls"]) for line in bill["lines"]] == [
        ("free", 10_000),
        ("package", 2_000),
    ]
    assert bill["total"] == "0.00"


def test_a_top_up_is_recorded_and_the_bill_reads_as_a_table(db):
    billing("add-account", "Plant 2", "--vendor", "baidu", "--certification", "personal")
    out, _err = billing("top-up", "Plant 2", "--amount", "1000.00", "--at", "2024-03-01T08:00")
    assert "top-up of 1000.00 CNY to Plant 2 at 2024-03-01 08:00 (Asia/Shanghai)" in out
    assert TopUp.objects.get().amount == Decimal("1000.00")
    rolled_up("Plant 2", "body_num", sh(2024, 3, 2, 9), 60_000)
    table, _err = billing("bill", "Plant 2", "--month", "2024-03")
    assert "Bill of Plant 2 (baidu) for 2024-03: draft" in table
    assert "tier 50,000-300,000: 10,000 calls at 1.8 per 1,000 = 18.00" in table
    assert table.rstrip().endswith("118.00")


def test_a_refused_purchase_raises_with_the_reason_and_records_nothing(db):
    billing("add-account", "Plant 3", "--vendor", "baidu", "--certification", "personal")
    with pytest.raises(CommandError, match="Refused: No count packages are sold for body_attr"):
        billing(
            "buy-package", "Plant 3", "--api", "body_attr", "--spec", "300000", "--at", "2024-03-01"
        )
    billing("buy-qps", "Plant 3", "--api", "body_attr", "--qps", "30", "--at", "2024-03-01T09:00")
    with pytest.raises(CommandError, match="30 QPS were bought today") as refused:
        billing(
            "buy-qps", "Plant 3", "--api", "body_attr", "--qps", "21", "--at", "2024-03-01T18:00"
        )
    assert refused.value.returncode == 1
    assert not Package.objects.exists()
    assert QpsOrder.objects.count() == 1


def test_a_bad_usage_file_imports_nothing_and_names_the_line(db, tmp_path):
    billing("add-account", "Plant 4", "--vendor", "baidu", "--certification", "personal")
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "2024-03-01T10:00:00+08:00,body_attr,true,a\n"
        + "2024-03-01T10:00:00,body_attr,true,b\n"
    )
    with pytest.raises(CommandError, match=r"Nothing imported: line 3: .*no UTC offset") as bad:
        billing("import-usage", "Plant 4", str(path))
    assert bad.value.returncode == 2
    assert not UsageRecord.objects.exists()


# --- exit codes from a real process -----------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Run ``manage.py billing`` in a subprocess on its own migrated SQLite database."""
    folder = tmp_path_factory.mktemp("billing-cli")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATA_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        DJANGO_DEBUG="true",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    migrated = run("migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    added = run(
        "billing", "add-account", "Acme", "--vendor", "baidu", "--certification", "enterprise"
    )
    assert added.returncode == 0, added.stderr
    return run


def test_the_command_and_its_help_run_in_a_process_of_their_own(cli):
    result = cli("billing", "--help")
    assert result.returncode == 0
    for subcommand in ("add-account", "top-up", "buy-package", "buy-qps", "import-usage", "bill"):
        assert subcommand in result.stdout


@pytest.mark.parametrize(
    "subcommand", ["add-account", "top-up", "buy-package", "buy-qps", "import-usage", "bill"]
)
def test_every_subcommand_has_help(subcommand, capsys):
    with pytest.raises(SystemExit) as done:
        call_command("billing", subcommand, "--help")
    assert done.value.code == 0
    assert f"billing {subcommand} [-h]" in capsys.readouterr().out


def test_a_refused_purchase_exits_1_with_the_reason_on_stderr(cli):
    result = cli(
        "billing",
        "buy-qps",
        "Acme",
        "--api",
        "body_attr",
        "--qps",
        "51",
        "--at",
        "2024-03-01T10:00",
    )
    assert result.returncode == 1
    assert "At most 50 QPS of body_attr may be bought per day" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bill", "Nobody", "--month", "2024-03", "--json"], "No account named 'Nobody'"),
        (["bill", "Acme", "--month", "2024-3", "--json"], "YYYY-MM"),
        (["top-up", "Acme", "--amount", "5"], "the following arguments are required: --at"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(cli, args, message):
    result = cli("billing", *args)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bill", "Acme", "--month", "2024-13"], "no month"),
        (["top-up", "Acme", "--amount", "ten", "--at", "2024-03-01"], "number of CNY"),
        (["top-up", "Acme", "--amount", "-5", "--at", "2024-03-01"], "more than zero"),
        (["top-up", "Acme", "--amount", "5", "--at", "yesterday"], "ISO 8601"),
        (["import-usage", "Acme", "/nonexistent/usage.csv"], "No such file"),
        (["buy-qps", "Nobody", "--api", "body_attr", "--qps", "1", "--at", "2024-03-01"], "No"),
    ],
)
def test_malformed_input_is_refused_as_bad_input(db, args, message):
    billing("add-account", "Acme", "--vendor", "baidu", "--certification", "enterprise")
    with pytest.raises(CommandError, match=message) as bad:
        billing(*args)
    assert bad.value.returncode == 2


def test_the_bill_json_is_printed_on_stdout(cli):
    result = cli("billing", "bill", "Acme", "--month", "2024-03", "--json")
    assert result.returncode == 0, result.stderr
    bill = json.loads(result.stdout)
    assert (bill["account"], bill["month"], bill["total"], bill["lines"]) == (
        "Acme",
        "2024-03",
        "0.00",
        [],
    )


def test_claim_free_records_each_ctyun_api_per_year_and_refuses_a_second_claim_that_year(db):
    billing("add-account", "Yard CTYun", "--vendor", "ctyun", "--certification", "enterprise")
    out, _err = billing(
        "claim-free", "Yard CTYun", "--api", "helmet", "--api", "fence", "--at", "2026-02-01"
    )
    assert "helmet, fence" in out
    billing("claim-free", "Yard CTYun", "--api", "helmet", "--at", "2027-01-01T08:00")
    with pytest.raises(CommandError, match="once a year"):
        billing("claim-free", "Yard CTYun", "--api", "fence", "--at", "2026-12-01")
    claims = FreeQuotaClaim.objects.order_by("claimed_at", "api")
    assert [(c.api, c.claimed_at) for c in claims] == [
        ("fence", sh(2026, 2, 1)),
        ("helmet", sh(2026, 2, 1)),
        ("helmet", sh(2027, 1, 1, 8)),
    ]
