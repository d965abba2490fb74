"""The metered call path end to end, against fake vendors (respx): every attempt is one
ledger row, request ids make re-runs idempotent, and a refused call sends nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import respx
from django.utils import timezone
from PIL import Image

from billing.metered import (
    MeteredHooks,
    close_backends,
    metered_call,
    open_metered_backend,
)
from billing.models import AccountStatus, Package, UsageRecord
from monitoring.backends.base import BadRequest, RateLimited, RefusedLocally
from tests.factories import BaiduAccountFactory, CtyunAccountFactory, LocalAccountFactory

pytestmark = pytest.mark.django_db

BAIDU = "https://aip.baidubce.com"
CTYUN = "https://ai-global.ctapi.ctyun.cn"
HELMET = "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"
FALL = "/v1/aiop/api/2gm0y369n30g/action/falldown/images"


def jpeg(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


FRAME = jpeg()
NO_PERSON = {"person_num": 0, "person_info": [], "log_id": 1}


def baidu_error(code: int) -> httpx.Response:
    # `错误码` > `错误返回格式`: HTTP 200 with error_code and error_msg.
    return httpx.Response(200, json={"error_code": code, "error_msg": "error", "log_id": 2})


@pytest.fixture(autouse=True)
def _fresh_backends():
    close_backends()
    yield
    close_backends()


@pytest.fixture
def baidu_vendor():
    with respx.mock(base_url=BAIDU, assert_all_called=False) as mock:
        mock.get("/oauth/2.0/token", name="token").respond(
            json={
                "access_token": "24.token",
                "expires_in": 2592000,
                "scope": "public brain_all_scope",
            }
        )
        mock.post("/rest/2.0/image-classify/v1/body_attr", name="body_attr").respond(json=NO_PERSON)
        yield mock


@pytest.fixture
def ctyun_vendor():
    with respx.mock(base_url=CTYUN, assert_all_called=False) as mock:
        mock.post(HELMET, name="helmet").respond(
            json={"code": 0, "message": "success", "result": []}
        )
        mock.post(FALL, name="fall").respond(
            json={"code": 0, "message": "success", "result": {"score": 0.1}}
        )
        yield mock


def no_pause(account) -> None:
    """Retries of the opened client happen at once."""
    backend, _ = open_metered_backend(account)
    if hasattr(backend.client, "_sleep"):
        backend.client._sleep = lambda _seconds: None
    else:
        backend.client.sleep = lambda _seconds: None


@pytest.fixture
def baidu():
    account = BaiduAccountFactory(name="Baidu")
    no_pause(account)
    return account


@pytest.fixture
def ctyun():
    account = CtyunAccountFactory(
        name="CTYun", free_quota_claimed_at=timezone.now() - timedelta(hours=2)
    )
    no_pause(account)
    return account


def ledger():
    return list(
        UsageRecord.objects.order_by("id").values_list("request_id", "outcome", "error_code")
    )


# ---------------------------------------------------------------- recording


def test_a_successful_call_writes_exactly_one_ledger_row(baidu, baidu_vendor):
    # when one frame of camera 5 is analysed
    batches = metered_call(baidu, "body_attr", [FRAME], camera_id=5)
    # then the result comes back and one success row names the account, API and camera
    assert len(batches) == 1 and batches[0].images == [0]
    assert batches[0].result.person_count == 0
    row = UsageRecord.objects.get()
    assert (row.account_id, row.api, row.camera_id, row.outcome) == (
        baidu.pk,
        "body_attr",
        5,
        "success",
    )
    # and without a prefix the row keeps the client's own request id
    assert re.fullmatch(r"[0-9a-f]{32}", row.request_id)
    assert baidu_vendor["body_attr"].call_count == 1


def test_a_retried_call_writes_one_row_per_attempt_and_a_replay_writes_nothing_new(
    baidu, baidu_vendor
):
    # given Baidu answering 18 (QPS limit) and then success
    route = baidu_vendor["body_attr"]
    route.side_effect = [baidu_error(18), httpx.Response(200, json=NO_PERSON)]
    # when frame 42 is analysed with its request-id prefix
    metered_call(baidu, "body_attr", [FRAME], request_id_prefix="frame-42")
    # then two rows: the refused-by-the-vendor attempt and the successful one
    assert ledger() == [
        ("frame-42:body_attr:0:1", "vendor_error", "18"),
        ("frame-42:body_attr:0:2", "success", ""),
    ]
    # when the task runs again for the same frame and the vendor behaves the same
    route.side_effect = [baidu_error(18), httpx.Response(200, json=NO_PERSON)]
    metered_call(baidu, "body_attr", [FRAME], request_id_prefix="frame-42")
    # then the requests were made, and the ledger holds nothing new
    assert route.call_count == 4
    assert UsageRecord.objects.count() == 2


def test_a_call_that_keeps_failing_records_every_attempt(baidu, baidu_vendor):
    baidu_vendor["body_attr"].respond(json={"error_code": 18, "error_msg": "qps"})
    with pytest.raises(RateLimited):
        metered_call(baidu, "body_attr", [FRAME], request_id_prefix="f1")
    attempts = baidu.client_settings().retry.max_attempts
    assert [row[0] for row in ledger()] == [f"f1:body_attr:0:{n}" for n in range(1, attempts + 1)]


def test_a_permanent_error_writes_one_row_and_is_not_retried(baidu, baidu_vendor):
    # given Baidu saying the image format is wrong (216201: never retried)
    baidu_vendor["body_attr"].mock(return_value=baidu_error(216201))
    with pytest.raises(BadRequest):
        metered_call(baidu, "body_attr", [FRAME], camera_id=3)
    assert ledger() == [(UsageRecord.objects.get().request_id, "vendor_error", "216201")]
    assert baidu_vendor["body_attr"].call_count == 1


def test_each_request_of_a_batched_call_gets_its_own_ids(ctyun, ctyun_vendor):
    # given 70 frames for fall detection, which takes at most 64 images per request
    frames = [FRAME] * 70
    batches = metered_call(ctyun, "fall", frames, request_id_prefix="clip-9")
    # then two requests, two rows, told apart by the request number
    assert [len(batch.images) for batch in batches] == [64, 6]
    assert batches[1].images[0] == 64
    assert ledger() == [("clip-9:fall:0:1", "success", ""), ("clip-9:fall:1:1", "success", "")]
    assert list(UsageRecord.objects.values_list("images", flat=True)) == [64, 6]


# ---------------------------------------------------------------- requests in flight


class ProcessKilled(BaseException):
    """Stands for the process dying while a request is in flight: nothing of the client
    runs after it."""


@pytest.mark.parametrize(
    ("account", "vendor", "api", "route"),
    [
        ("baidu", "baidu_vendor", "body_attr", "body_attr"),
        ("ctyun", "ctyun_vendor", "helmet", "helmet"),
    ],
)
def test_a_request_is_on_the_ledger_as_pending_while_it_is_in_flight(
    request, account, vendor, api, route
):
    account = request.getfixturevalue(account)
    mock = request.getfixturevalue(vendor)[route]
    answer = mock.side_effect or mock.return_value
    seen = []

    def vendor_answers(http_request):
        # while the vendor works on it, the request is on the ledger, pending
        seen.extend(ledger())
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=NO_PERSON)

    mock.side_effect = vendor_answers
    metered_call(account, api, [FRAME], camera_id=7, request_id_prefix="frame-3")
    assert seen == [(f"frame-3:{api}:0:1", "pending", "")]
    # and once the answer is in, the same row holds it
    assert ledger() == [(f"frame-3:{api}:0:1", "success", "")]
    assert UsageRecord.objects.get().camera_id == 7


def test_a_request_cut_by_a_crash_stays_on_the_ledger_and_is_closed_as_interrupted(
    baidu, baidu_vendor
):
    from billing.usage import PENDING_GRACE, close_interrupted

    # given the process dying while Baidu works on the request
    def killed(http_request):
        raise ProcessKilled

    baidu_vendor["body_attr"].side_effect = killed
    with pytest.raises(ProcessKilled):
        metered_call(baidu, "body_attr", [FRAME], request_id_prefix="frame-8:delivery-1")
    # then the request that left is on the ledger, its outcome unknown
    assert ledger() == [("frame-8:delivery-1:body_attr:0:1", "pending", "")]
    # and once no answer can come any more it is closed, unbilled, as interrupted
    assert close_interrupted(timezone.now() + PENDING_GRACE + timedelta(seconds=1)) == 1
    assert ledger() == [("frame-8:delivery-1:body_attr:0:1", "transport_error", "interrupted")]


def test_a_request_the_client_fails_on_after_it_left_is_recorded_not_left_pending(
    baidu, baidu_vendor, monkeypatch
):
    # given the client tripping over something it does not expect once the request left
    def broken(http_request):
        raise RuntimeError("unexpected")

    baidu_vendor["body_attr"].side_effect = broken
    with pytest.raises(RuntimeError):
        metered_call(baidu, "body_attr", [FRAME], request_id_prefix="frame-5")
    # then the request is on the ledger as a transport error the client caused
    assert ledger() == [("frame-5:body_attr:0:1", "transport_error", "client_RuntimeError")]


def test_when_the_pending_row_cannot_be_written_the_outcome_is_still_recorded(
    baidu, baidu_vendor, monkeypatch
):
    from django.db import DatabaseError

    from billing import metered

    real = metered.record_attempt

    def failing_when_pending(account_id, attempt, **kwargs):
        if attempt.outcome == "pending":
            raise DatabaseError("connection lost")
        return real(account_id, attempt, **kwargs)

    monkeypatch.setattr(metered, "record_attempt", failing_when_pending)
    monkeypatch.setattr("billing.usage.record_attempt", failing_when_pending)
    metered_call(baidu, "body_attr", [FRAME], request_id_prefix="frame-9")
    assert ledger() == [("frame-9:body_attr:0:1", "success", "")]


# ---------------------------------------------------------------- refusals


def test_an_account_in_arrears_is_refused_with_one_refused_row_and_no_request(baidu, baidu_vendor):
    # given a Baidu account in arrears with no free quota
    AccountStatus.objects.create(account=baidu, in_arrears=True)
    # when a frame is analysed
    with pytest.raises(RefusedLocally) as refused:
        metered_call(baidu, "body_attr", [FRAME], camera_id=8, request_id_prefix="frame-1")
    # then it is refused for arrears, recorded as refused, and nothing was sent
    assert refused.value.code == "arrears"
    assert ledger() == [("frame-1:body_attr:0:1:refused", "refused", "arrears")]
    assert UsageRecord.objects.get().camera_id == 8
    assert baidu_vendor["body_attr"].call_count == 0
    assert baidu_vendor["token"].call_count == 0


def test_ctyun_refuses_helmet_once_the_free_quota_is_used_until_a_package_is_bought(
    ctyun, ctyun_vendor
):
    # given 10,000 successful helmet calls in this year's free quota and no package
    at = timezone.now() - timedelta(hours=1)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=ctyun, api="helmet", request_id=f"old-{n}", occurred_at=at, outcome="success"
        )
        for n in range(10_000)
    )
    # when a frame is sent to helmet
    with pytest.raises(RefusedLocally) as refused:
        metered_call(ctyun, "helmet", [FRAME])
    # then it is refused, recorded once as refused, and no request left
    assert refused.value.code == "ctyun_quota"
    assert UsageRecord.objects.filter(outcome="refused").count() == 1
    assert ctyun_vendor["helmet"].call_count == 0
    # when a package is bought
    now = timezone.now()
    Package.objects.create(
        account=ctyun,
        api="helmet",
        calls=100_000,
        price=Decimal(0),
        purchased_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(days=365),
    )
    # then the next frame goes and is recorded as a success
    metered_call(ctyun, "helmet", [FRAME])
    assert ctyun_vendor["helmet"].call_count == 1
    assert UsageRecord.objects.filter(outcome="success").count() == 10_001


def test_a_vendor_saying_the_count_is_used_up_stops_further_calls(ctyun, ctyun_vendor):
    # given CTYun answering 51003 (call count used up) although the ledger says otherwise
    ctyun_vendor["helmet"].respond(json={"code": 51003, "message": "error", "details": "used"})
    with pytest.raises(Exception, match="51003"):
        metered_call(ctyun, "helmet", [FRAME])
    # then the next call is refused here, without a request
    with pytest.raises(RefusedLocally):
        metered_call(ctyun, "helmet", [FRAME])
    assert ctyun_vendor["helmet"].call_count == 1


def test_a_disabled_account_is_refused_and_recorded(baidu, baidu_vendor):
    baidu.enabled = False
    baidu.save()
    with pytest.raises(RefusedLocally, match="disabled"):
        metered_call(baidu, "body_attr", [FRAME])
    assert [row[1:] for row in ledger()] == [("refused", "disabled")]
    assert baidu_vendor["body_attr"].call_count == 0


# ---------------------------------------------------------------- the local analyzer


def test_the_local_analyzer_is_recorded_at_zero_cost_and_not_refused_in_arrears(db):
    local = LocalAccountFactory(name="Local")
    AccountStatus.objects.create(account=local, in_arrears=True)
    batches = metered_call(local, "persons", [jpeg(160, 120)], camera_id=2, request_id_prefix="f")
    assert batches[0].result.vendor == "local"
    assert ledger() == [("f:persons:0:1", "success", "")]


# ---------------------------------------------------------------- plumbing


def test_every_account_vendor_opens_the_backend_of_the_same_name():
    from monitoring.backends.base import ClientSettings
    from monitoring.backends.registry import open_backend
    from monitoring.models import Vendor

    settings = ClientSettings(base_url="http://192.0.2.1")
    for vendor in Vendor.values:
        with open_backend(vendor, settings) as backend:
            assert backend.name == vendor
            assert backend.client.vendor == vendor
            assert backend.traits.name == vendor


def test_a_backend_is_opened_once_per_account_until_the_account_changes(baidu):
    first, hooks = open_metered_backend(baidu)
    assert isinstance(hooks, MeteredHooks)
    assert open_metered_backend(baidu)[0] is first
    baidu.read_timeout = 12
    baidu.save()
    assert open_metered_backend(baidu)[0] is not first


def test_hooks_outside_a_call_record_for_their_account_with_the_clients_ids(baidu):
    from monitoring.backends.base import Attempt

    hooks = MeteredHooks(baidu)
    hooks.after(Attempt("baidu", "body_num", "abc", timezone.now().timestamp(), 1.0, "success"))
    with hooks.scope(camera_id=4, request_id_prefix="p", batch=2):
        hooks.after(
            Attempt(
                "baidu", "body_num", "def", timezone.now().timestamp(), 1.0, "success", attempt=3
            )
        )
    assert list(UsageRecord.objects.order_by("id").values_list("request_id", "camera_id")) == [
        ("abc", None),
        ("p:body_num:2:3", 4),
    ]
