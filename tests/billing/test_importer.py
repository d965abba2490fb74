"""Importing a vendor's usage CSV: idempotent on request id, all or nothing, strict."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from billing import importer, purchases
from billing.importer import ImportResult, UsageImportError
from billing.models import Outcome, Source, UsageRecord
from billing.pricing import SHANGHAI, PricingError
from tests.factories import BaiduPrivateAccountFactory

HEADER = "timestamp,api,success,request_id\n"


@pytest.fixture
def baidu(db):
    return purchases.add_account("Plant 1 Baidu", "baidu", "enterprise")


@pytest.fixture
def ctyun(db):
    return purchases.add_account("Plant 1 CTYun", "ctyun", "enterprise")


def csv_file(tmp_path, *rows: str, header: str = HEADER, name: str = "usage.csv"):
    path = tmp_path / name
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def test_an_import_adds_one_ledger_row_per_call(baidu, tmp_path):
    # given a file with a success and a failure
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,body_attr,true,a1",
        "2024-03-01T02:30:00Z,body_num,false,a2",
    )
    # when it is imported
    result = importer.import_usage(baidu, path)
    # then both calls are in the ledger, as imported, not rolled up yet
    assert (result.rows, result.imported, result.skipped) == (2, 2, 0)
    rows = {r.request_id: r for r in UsageRecord.objects.filter(account=baidu)}
    assert rows["a1"].outcome == Outcome.SUCCESS
    assert rows["a1"].occurred_at == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert rows["a2"].outcome == Outcome.VENDOR_ERROR
    assert rows["a2"].api == "body_num"
    assert {r.source for r in rows.values()} == {Source.IMPORT}
    assert not any(r.rolled_up for r in rows.values())
    assert result.first_at == datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert result.last_at == datetime(2024, 3, 1, 2, 30, tzinfo=UTC)


def test_importing_the_same_file_again_adds_nothing(baidu, tmp_path):
    # given a file already imported
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,body_attr,true,a1",
        "2024-03-01T10:00:01+08:00,body_attr,true,a2",
    )
    importer.import_usage(baidu, path)
    # when it is imported a second time
    result = importer.import_usage(baidu, path)
    # then every row is skipped as already in the ledger
    assert (result.rows, result.imported, result.skipped) == (2, 0, 2)
    assert UsageRecord.objects.filter(account=baidu).count() == 2


def test_rows_already_recorded_live_are_skipped_and_counted_as_such(baidu, tmp_path):
    # given a live call in the ledger
    UsageRecord.objects.create(
        account=baidu,
        api="body_attr",
        request_id="live-1",
        occurred_at=datetime(2024, 3, 1, 2, tzinfo=UTC),
        outcome=Outcome.SUCCESS,
    )
    # when the vendor's export, which also lists it, is imported
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,body_attr,true,live-1",
        "2024-03-01T10:05:00+08:00,body_attr,true,new-1",
    )
    result = importer.import_usage(baidu, path)
    # then only the new call is added and the live one keeps its source
    assert (result.imported, result.skipped) == (1, 1)
    assert UsageRecord.objects.get(request_id="live-1").source == Source.LIVE


def test_the_same_request_id_in_another_account_is_another_call(baidu, tmp_path):
    other = purchases.add_account("Plant 2 Baidu", "baidu", "personal")
    path = csv_file(tmp_path, "2024-03-01T10:00:00+08:00,body_attr,true,same-id")
    importer.import_usage(baidu, path)
    assert importer.import_usage(other, path).imported == 1


def test_a_request_id_repeated_in_the_file_is_imported_once(baidu, tmp_path):
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,body_attr,true,twice",
        "2024-03-01T10:00:00+08:00,body_attr,true,twice",
    )
    result = importer.import_usage(baidu, path)
    assert (result.rows, result.imported, result.skipped) == (2, 1, 1)


def test_a_bad_row_stops_the_import_with_its_line_number_and_imports_nothing(baidu, tmp_path):
    # given a file whose fourth line (third call) has no valid timestamp
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,body_attr,true,a1",
        "2024-03-01T10:00:01+08:00,body_attr,true,a2",
        "yesterday,body_attr,true,a3",
        "2024-03-01T10:00:03+08:00,body_attr,true,a4",
    )
    # when it is imported
    with pytest.raises(UsageImportError, match=r"^line 4: timestamp 'yesterday'") as error:
        importer.import_usage(baidu, path)
    # then the error names line 4 and not even the rows before it were imported
    assert error.value.line == 4
    assert not UsageRecord.objects.exists()


def test_a_timestamp_without_an_offset_is_refused(baidu, tmp_path):
    path = csv_file(tmp_path, "2024-03-01T10:00:00,body_attr,true,a1")
    with pytest.raises(UsageImportError, match=r"line 2: .*no UTC offset"):
        importer.import_usage(baidu, path)
    assert not UsageRecord.objects.exists()


def test_an_api_the_vendor_does_not_bill_is_refused(baidu, tmp_path):
    # given a CTYun API in a Baidu account's file
    path = csv_file(tmp_path, "2024-03-01T10:00:00+08:00,helmet,true,a1")
    with pytest.raises(UsageImportError, match="line 2: unknown API 'helmet'"):
        importer.import_usage(baidu, path)
    assert not UsageRecord.objects.exists()


def test_ctyun_apis_are_known_to_a_ctyun_account(ctyun, tmp_path):
    path = csv_file(
        tmp_path,
        "2024-03-01T10:00:00+08:00,helmet,true,c1",
        "2024-03-01T10:00:00+08:00,fall,false,c2",
    )
    assert importer.import_usage(ctyun, path).imported == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2024-03-01T10:00:00+08:00,body_attr,yes,a1", "success must be true or false"),
        ("2024-03-01T10:00:00+08:00,body_attr,True,a1", "success must be true or false"),
        ("2024-03-01T10:00:00+08:00,body_attr,true,", "request id is empty"),
        ("2024-03-01T10:00:00+08:00,body_attr,true", "expected 4 fields"),
        ("2024-03-01T10:00:00+08:00,body_attr,true,a1,extra", "expected 4 fields"),
        (f"2024-03-01T10:00:00+08:00,body_attr,true,{'x' * 101}", "longer than 100"),
        ("2999-03-01T10:00:00+08:00,body_attr,true,a1", "in the future"),
    ],
)
def test_malformed_rows_are_refused_with_the_reason(baidu, tmp_path, row, reason):
    path = csv_file(tmp_path, row)
    with pytest.raises(UsageImportError, match=f"line 2: .*{reason}"):
        importer.import_usage(baidu, path)


@pytest.mark.parametrize(
    "header", ["", "timestamp,api,ok,request_id\n", "api,timestamp,success,request_id\n"]
)
def test_a_file_without_the_exact_header_is_refused_on_line_1(baidu, tmp_path, header):
    path = csv_file(tmp_path, "2024-03-01T10:00:00+08:00,body_attr,true,a1", header=header)
    if not header:
        path.write_text("", encoding="utf-8")
    with pytest.raises(UsageImportError, match=r"^line 1: "):
        importer.import_usage(baidu, path)


def test_a_byte_order_mark_and_blank_lines_are_tolerated(baidu, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        ("\ufeff" + HEADER + "2024-03-01T10:00:00+08:00,body_attr,true,a1\n\n").encode("utf-8")
    )
    assert importer.import_usage(baidu, path).imported == 1


def test_an_uploaded_binary_file_and_a_text_stream_import_alike(baidu):
    data = HEADER + "2024-03-01T10:00:00+08:00,body_attr,true,b1\n"
    assert importer.import_usage(baidu, io.BytesIO(data.encode())).imported == 1
    assert importer.import_usage(baidu, io.StringIO(data.replace("b1", "t1"))).imported == 1
    assert UsageRecord.objects.count() == 2


def test_a_private_deployment_account_has_no_usage_to_import(db, tmp_path):

    private = BaiduPrivateAccountFactory(name="LAN", base_url="http://192.168.0.10")
    path = csv_file(tmp_path, "2024-03-01T10:00:00+08:00,body_attr,true,a1")
    with pytest.raises(PricingError, match="not billed per call"):
        importer.import_usage(private, path)


def test_progress_is_reported_with_the_rows_done_and_the_total(baidu, tmp_path, monkeypatch):
    # given a file of 25 calls and progress reported every 10 rows
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 10)
    rows = [f"2024-03-01T10:00:{s:02d}+08:00,body_attr,true,p{s}" for s in range(25)]
    path = csv_file(tmp_path, *rows)
    reports = []
    # when it is imported
    importer.import_usage(baidu, path, progress=lambda *args: reports.append(args))
    # then progress went 10, 20, 25 of 25 while checking, then the write
    checking = [(done, total) for done, total, stage in reports if stage == "checking"]
    assert checking == [(10, 25), (20, 25), (25, 25)]
    assert reports[-1] == (25, 25, "writing")


def test_the_progress_bar_shows_rows_total_percentage_and_rate():
    # given a bar writing to a (non-terminal) stream
    stream = io.StringIO()
    bar = importer.ProgressBar(stream)
    # when half of 1,000 rows are checked, then all of them are written
    bar(500, 1_000, "checking")
    bar(0, 1_000, "writing")
    bar.finish()
    text = stream.getvalue()
    # then the lines say how far it got and how fast
    assert "500/1,000 rows  50.0%" in text
    assert "rows/s" in text
    assert "writing   1,000 rows into the ledger done" in text


def test_an_import_result_reads_as_plain_data():
    result = ImportResult(3, 2, 1, datetime(2024, 3, 1, tzinfo=SHANGHAI), None, 0.25)
    assert result.as_dict() == {
        "rows": 3,
        "imported": 2,
        "skipped": 1,
        "first_at": "2024-03-01T00:00:00+08:00",
        "last_at": None,
        "seconds": 0.25,
    }
