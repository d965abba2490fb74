"""EOP signing for CTYun, checked against the vendor's own Python sample.

``sample_get_signature`` below is the function from the seed's ``4.1.4 Python 调用示例``,
changed only so that the request id, the time, the URL and the body text are given
instead of generated or read from globals.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.backends.ctyun import (
    CONTENT_TYPE,
    encode_body,
    eop_authorization,
    format_eop_date,
    signed_headers,
    sorted_query,
    string_to_sign,
)

AK = "ak-4a6f"
SK = "sk-9e1b"
APP_KEY = "562b89493b1a40e1b97ea05e50dd8170"
REQUEST_ID = "33dfa732-b27b-464f-b15a-21ed6845afd5"
HOST = "ai-global.ctapi.ctyun.cn"
URL = "https://ai-global.ctapi.ctyun.cn/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect"


# ---------------------------------------------------------------- the seed's sample


def sample_sha256(content):
    x = hashlib.sha256()
    x.update(content.encode())
    return x.hexdigest().upper()


def sample_hmac_sha256(key, content):
    sign = hmac.new(key, content, digestmod="sha256").digest()
    ret = base64.b64encode(sign)
    return ret


def sample_get_signature(ak, sk, app_key, body_text, *, request_id, now_time, request_url):
    eop_date = time.strftime("%Y%m%dT%H%M%SZ", now_time)
    eop_date_simple = time.strftime("%Y%m%d", now_time)
    camp_header = "appkey:{0}\nctyun-eop-request-id:{1}\neop-date:{2}\n".format(  # noqa: UP030, UP032
        app_key, request_id, eop_date
    )
    parsed_url = urlparse(request_url)
    query = parsed_url.query
    query_params = sorted(query.split("&"))
    after_query = ""
    for query_param in query_params:
        if len(after_query) < 1:
            after_query += query_param
        else:
            after_query += "&" + query_param
    content_hash = sample_sha256(body_text).lower()
    pre_signature = camp_header + "\n" + after_query + "\n" + content_hash
    k_time = sample_hmac_sha256(sk.encode("utf-8"), eop_date.encode("utf-8"))
    k_ak = sample_hmac_sha256(base64.b64decode(k_time), ak.encode("utf-8"))
    k_date = sample_hmac_sha256(base64.b64decode(k_ak), eop_date_simple.encode("utf-8"))
    signature = sample_hmac_sha256(base64.b64decode(k_date), pre_signature.encode("utf-8"))
    sign_header = "{0} Headers=appkey;ctyun-eop-request-id;eop-date Signature={1}".format(  # noqa: UP030, UP032
        ak, signature.decode()
    )
    return request_id, eop_date, sign_header


FIXED_TIME = time.struct_time((2021, 12, 21, 16, 30, 14, 1, 355, 0))
FIXED_DATE = "20211221T163014Z"

BODIES = {
    "ascii image": {"image": "_9j_4AAQSkZJRgABAQ=="},
    "chinese text": {"area": "0,0,1920,0,1920,1080,0,1080", "备注": "电子围栏 北门"},
    "several images": {"images": ["AAAA", "_-_-", "QUJD"]},
    "empty object": {},
}
QUERIES = {
    "no query": "",
    "one param": "a=1",
    "several params out of order": "z=26&b=2&a=1&m=13",
    "repeated keys sorted as text": "a=2&a=10&A=3",
}


# ---------------------------------------------------------------- against the sample


@pytest.mark.parametrize("body_name", BODIES)
@pytest.mark.parametrize("query_name", QUERIES)
def test_eop_authorization_equals_what_the_seed_sample_computes(body_name, query_name):
    # Given a JSON body serialized the way the sample serializes it, and a request URL
    params = BODIES[body_name]
    query = QUERIES[query_name]
    url = URL + (f"?{query}" if query else "")
    _, eop_date, expected = sample_get_signature(
        AK, SK, APP_KEY, json.dumps(params), request_id=REQUEST_ID, now_time=FIXED_TIME,
        request_url=url,
    )  # fmt: skip

    # When the module signs the same request
    header = eop_authorization(AK, SK, APP_KEY, REQUEST_ID, eop_date, query, encode_body(params))

    # Then the header is the same, byte for byte
    assert eop_date == FIXED_DATE
    assert header == expected


def test_non_ascii_body_bytes_are_hashed_as_utf_8_like_the_sample_does():
    # Given a body text with unescaped Chinese characters (the sample hashes content.encode())
    body_text = '{"details": "人脸探测异常，请确保为真实人脸！"}'
    _, _, expected = sample_get_signature(
        AK, SK, APP_KEY, body_text, request_id=REQUEST_ID, now_time=FIXED_TIME, request_url=URL
    )

    # When the module signs those UTF-8 bytes
    header = eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "", body_text.encode())

    # Then both agree
    assert header == expected


def test_the_body_is_serialized_like_the_sample_so_hashed_bytes_are_the_sent_bytes():
    # Given a payload with non-ASCII text
    params = {"image": "_9j_", "说明": "北门"}

    # When it is encoded for sending
    body = encode_body(params)

    # Then it is json.dumps with its default separators and ASCII escapes, as the sample sends
    assert body == json.dumps(params).encode("ascii")
    assert body == b'{"image": "_9j_", "\\u8bf4\\u660e": "\\u5317\\u95e8"}'


query_pieces = st.lists(
    st.tuples(
        st.text("abcxyzABC_0123456789", min_size=1, max_size=6),
        st.text("abc0129-_.%", max_size=6),
    ),
    max_size=6,
).map(lambda pairs: "&".join(f"{key}={value}" for key, value in pairs))


@given(
    ak=st.text("abcdef0123456789", min_size=1, max_size=32),
    sk=st.text(min_size=1, max_size=32).filter(lambda s: "\x00" not in s),
    body_text=st.text(max_size=200),
    query=query_pieces,
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_any_request_is_signed_exactly_as_the_seed_sample_signs_it(
    ak, sk, body_text, query, moment
):
    # Given any keys, body text, query and (naive, Beijing wall-clock) time
    now_time = moment.replace(microsecond=0).timetuple()
    url = URL + (f"?{query}" if query else "")
    _, sample_date, expected = sample_get_signature(
        ak, sk, APP_KEY, body_text, request_id=REQUEST_ID, now_time=now_time, request_url=url
    )

    # When the module builds the headers for the same moment
    headers = signed_headers(
        ak, sk, APP_KEY, body_text.encode(), query, request_id=REQUEST_ID, now=moment, host=HOST
    )

    # Then the date and the authorization match the sample's
    assert headers["eop-date"] == sample_date
    assert headers["Eop-Authorization"] == expected


# ---------------------------------------------------------------- known answer


def test_a_known_request_has_the_known_string_to_sign_and_signature():
    # Given a fixed request, computed once by hand with hmac and hashlib:
    #   body sha256 = 32a8...671f
    #   ktime = HMAC(sk, date), kak = HMAC(ktime, ak), kdate = HMAC(kak, "20211221")
    #   signature = base64(HMAC(kdate, string to sign))
    body = b'{"image": "_9j_4AAQ"}'
    body_hash = "32a83843c4e0188d7577f212079f292b1b7a04c32b80d6974e4b3db7a7ad671f"

    # When it is signed
    text = string_to_sign(APP_KEY, REQUEST_ID, FIXED_DATE, "b=2&a=1", body)
    header = eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "b=2&a=1", body)

    # Then the string to sign and the header are exactly these
    assert text == (
        f"appkey:{APP_KEY}\n"
        f"ctyun-eop-request-id:{REQUEST_ID}\n"
        f"eop-date:{FIXED_DATE}\n"
        "\n"
        "a=1&b=2\n"
        f"{body_hash}"
    )
    assert header == (
        "ak-4a6f Headers=appkey;ctyun-eop-request-id;eop-date "
        "Signature=20BKRdKW2qHhGpXdgH2XlMCxgR/EbB3PM4Zk4/XiEb4="
    )


def test_the_signature_changes_when_any_signed_part_changes():
    # Given one signed request
    body = b'{"image": "AAAA"}'
    reference = eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "", body)

    # When any input differs, Then the header differs
    variants = [
        eop_authorization(AK, SK + "x", APP_KEY, REQUEST_ID, FIXED_DATE, "", body),
        eop_authorization(AK, SK, APP_KEY + "x", REQUEST_ID, FIXED_DATE, "", body),
        eop_authorization(AK, SK, APP_KEY, REQUEST_ID[:-1] + "6", FIXED_DATE, "", body),
        eop_authorization(AK, SK, APP_KEY, REQUEST_ID, "20211221T163015Z", "", body),
        eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "a=1", body),
        eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "", body + b" "),
    ]
    assert all(variant != reference for variant in variants)
    assert len(set(variants)) == len(variants)


def test_query_pieces_are_sorted_as_whole_strings_and_an_empty_query_adds_nothing():
    assert sorted_query("") == ""
    assert sorted_query("b=2&a=1") == "a=1&b=2"
    assert sorted_query("a=2&a=10") == "a=10&a=2"
    # The sample skips the "&" while the text built so far is still empty.
    assert sorted_query("b=1&&a=2") == "a=2&b=1"


# ---------------------------------------------------------------- headers and dates


def test_signed_headers_carry_every_header_the_sample_sends():
    # Given a body and a time
    body = encode_body({"image": "AAAA"})
    now = datetime(2021, 12, 21, 8, 30, 14, tzinfo=UTC)

    # When the headers are built
    headers = signed_headers(AK, SK, APP_KEY, body, request_id=REQUEST_ID, now=now, host=HOST)

    # Then they are the sample's six, with a signature that verifies over the same inputs
    assert headers == {
        "Content-Type": CONTENT_TYPE,
        "ctyun-eop-request-id": REQUEST_ID,
        "appkey": APP_KEY,
        "Eop-Authorization": eop_authorization(AK, SK, APP_KEY, REQUEST_ID, FIXED_DATE, "", body),
        "eop-date": FIXED_DATE,
        "host": HOST,
    }
    assert CONTENT_TYPE == "application/json;charset=UTF-8"


def test_eop_date_is_beijing_wall_clock_time_with_a_literal_z():
    # Given moments in UTC and in another zone
    utc_morning = datetime(2021, 12, 21, 8, 30, 14, tzinfo=UTC)
    berlin = datetime(2021, 12, 21, 9, 30, 14, tzinfo=timezone(timedelta(hours=1)))

    # Then both are written as Beijing time, the way the sample writes local time in China
    assert format_eop_date(utc_morning) == "20211221T163014Z"
    assert format_eop_date(berlin) == "20211221T163014Z"
    # And a naive time is taken as Beijing wall-clock time already
    assert format_eop_date(datetime(2021, 12, 21, 16, 30, 14)) == "20211221T163014Z"


def test_the_signing_day_follows_the_beijing_date_across_utc_midnight():
    # Given 20:00 UTC, which is already the next day in Beijing
    now = datetime(2021, 12, 21, 20, 0, 0, tzinfo=UTC)

    # When signed
    headers = signed_headers(AK, SK, APP_KEY, b"{}", request_id=REQUEST_ID, now=now, host=HOST)

    # Then the date and the kdate day are the Beijing ones
    assert headers["eop-date"] == "20211222T040000Z"
    _, _, expected = sample_get_signature(
        AK, SK, APP_KEY, "{}", request_id=REQUEST_ID,
        now_time=time.struct_time((2021, 12, 22, 4, 0, 0, 2, 356, 0)), request_url=URL,
    )  # fmt: skip
    assert headers["Eop-Authorization"] == expected


def test_without_a_request_id_each_signing_gets_a_fresh_uuid():
    # When headers are built twice without a request id
    first = signed_headers(AK, SK, APP_KEY, b"{}", host=HOST)
    second = signed_headers(AK, SK, APP_KEY, b"{}", host=HOST)

    # Then each has its own uuid, and the current date in the expected format
    uuid_shape = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    assert uuid_shape.match(first["ctyun-eop-request-id"])
    assert first["ctyun-eop-request-id"] != second["ctyun-eop-request-id"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", first["eop-date"])
