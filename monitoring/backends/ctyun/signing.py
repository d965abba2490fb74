"""CTYun's endpoint, the request signature of ``4.1.3 认证鉴权`` and the JSON body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

VENDOR = "ctyun"
DEFAULT_BASE_URL = "https://ai-global.ctapi.ctyun.cn"  # 4.1.1 终端节点

# 4.1.4 Python 调用示例 sends this Content-Type (4.1.2 构造请求 lists "application/json").
CONTENT_TYPE = "application/json;charset=UTF-8"

# The headers the sample signs, already in the alphabetical order 4.1.3 认证鉴权 demands.
SIGNED_HEADERS = "appkey;ctyun-eop-request-id;eop-date"

# eop-date is Beijing wall-clock time followed by a literal "Z". 4.1.4 Python 调用示例 builds
# it with ``time.strftime("%Y%m%dT%H%M%SZ", time.localtime())``, i.e. the local time of the
# caller's machine labelled "Z"; the examples in 4.1.2 构造请求 and 4.3 API
# (20211109T104641Z, 20211221T163014Z) are Beijing office hours, and the vendor's Go SDK does
# the same (``time.Now()``). The gateway derives the signing key from the header value as
# sent, so any value verifies; Beijing time is what the vendor's own samples send from the
# machines they are written for, so it is what a freshness check on their side would expect.
# China keeps no daylight saving time: a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
EOP_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# 5.3 操作类: "碰到并发错误可以延时一小段时间（如 2-5s）重试请求".
CONCURRENCY_PAUSE = (2.0, 5.0)

# Whole-request limits are quoted in "M"; the smaller (decimal) reading is used.
MEGABYTE = 1000 * 1000


# ---------------------------------------------------------------- signing (4.1.3 认证鉴权)


def sorted_query(query: str) -> str:
    """The query part of the string to sign, built as 4.1.4 Python 调用示例 builds it: the raw
    query (no leading "?") split on "&", the pieces sorted as whole strings, and joined again
    with "&", an empty piece adding nothing."""
    after_query = ""
    for query_param in sorted(query.split("&")):
        if len(after_query) < 1:
            after_query += query_param
        else:
            after_query += "&" + query_param
    return after_query


def string_to_sign(appkey: str, request_id: str, eop_date: str, query: str, body: bytes) -> str:
    """Signed headers as ``name:value\\n`` in name order, then "\\n", the sorted query, "\\n"
    and the lowercase hex SHA-256 of the body bytes exactly as sent."""
    headers = f"appkey:{appkey}\nctyun-eop-request-id:{request_id}\neop-date:{eop_date}\n"
    content_hash = hashlib.sha256(body).hexdigest()
    return headers + "\n" + sorted_query(query) + "\n" + content_hash


def _hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def eop_authorization(
    ak: str, sk: str, appkey: str, request_id: str, eop_date: str, query: str, body: bytes
) -> str:
    """The ``Eop-Authorization`` header value for one request.

    Keys (4.1.3 认证鉴权, 构造动态密钥): ktime = HMAC(sk, eop-date), kak = HMAC(ktime, ak),
    kdate = HMAC(kak, the yyyymmdd part of eop-date); signature = base64(HMAC(kdate, string
    to sign)). ``query`` is the raw query string without "?"; ``body`` the bytes sent.
    """
    k_time = _hmac_sha256(sk.encode("utf-8"), eop_date.encode("utf-8"))
    k_ak = _hmac_sha256(k_time, ak.encode("utf-8"))
    k_date = _hmac_sha256(k_ak, eop_date[:8].encode("utf-8"))
    to_sign = string_to_sign(appkey, request_id, eop_date, query, body)
    signature = base64.b64encode(_hmac_sha256(k_date, to_sign.encode("utf-8"))).decode("ascii")
    return f"{ak} Headers={SIGNED_HEADERS} Signature={signature}"


def format_eop_date(now: datetime | None = None) -> str:
    """``yyyymmddTHHMMSSZ`` in Beijing wall-clock time (see ``BEIJING``). An aware ``now`` is
    converted to Beijing time; a naive one is taken as Beijing wall-clock time already."""
    if now is None:
        now = datetime.now(BEIJING)
    elif now.tzinfo is not None:
        now = now.astimezone(BEIJING)
    return now.strftime(EOP_DATE_FORMAT)


def signed_headers(
    ak: str,
    sk: str,
    appkey: str,
    body: bytes,
    query: str = "",
    *,
    request_id: str | None = None,
    now: datetime | None = None,
    host: str,
) -> dict[str, str]:
    """Every header 4.1.4 Python 调用示例 sends, signed for ``body`` and ``query``.

    A request id is generated when none is given (4.1.2 构造请求: "通过 uuid 生成"; a random
    uuid4 rather than the sample's uuid1, which would carry the host's MAC address).
    """
    request_id = request_id or str(uuid.uuid4())
    eop_date = format_eop_date(now)
    return {
        "Content-Type": CONTENT_TYPE,
        "ctyun-eop-request-id": request_id,
        "appkey": appkey,
        "Eop-Authorization": eop_authorization(ak, sk, appkey, request_id, eop_date, query, body),
        "eop-date": eop_date,
        "host": host,
    }


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body as 4.1.4 Python 调用示例 writes it (``json.dumps`` defaults: ", " and ": "
    separators, non-ASCII escaped), as bytes: these are both hashed and sent."""
    return json.dumps(payload).encode("utf-8")
