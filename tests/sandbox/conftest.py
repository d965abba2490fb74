"""Shared helpers for the sandbox tests: images (made here or read from the shared
ppe-sample folder, never copied), sandbox settings with changes, and request builders
for both vendors' protocols."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client
from PIL import Image

from monitoring.backends.ctyun import CTYUN_APIS, encode_body, signed_headers


def _photos() -> Path:
    """The shared ppe-sample photos: beside the checkout (``../shared``), or beside the
    folder holding several checkouts."""
    here = Path(__file__).resolve()
    for root in (here.parents[3], here.parents[4]):
        candidate = root / "shared" / "data" / "ppe-sample" / "images"
        if candidate.is_dir():
            return candidate
    return here.parents[3] / "shared" / "data" / "ppe-sample" / "images"


PHOTOS = _photos()
BAIDU_TOKEN_PATH = "/sandbox/baidu/oauth/2.0/token"
FORM = "application/x-www-form-urlencoded"


def photo(name: str) -> bytes:
    """One of the shared site photos, read where it lies."""
    return (PHOTOS / name).read_bytes()


def picture(width: int = 320, height: int = 240, fmt: str = "JPEG", colour=(200, 200, 200)):
    """A plain picture of one colour: nobody in it."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sandbox(**changes) -> dict:
    """``settings.SANDBOX`` with some keys changed (for ``override_settings``)."""
    return {**settings.SANDBOX, **changes}


def baidu_api_path(api: str, token: str | None = None, family: str = "image-classify") -> str:
    path = f"/sandbox/baidu/rest/2.0/{family}/v1/{api}"
    return path if token is None else f"{path}?access_token={token}"


def baidu_token(client: Client) -> str:
    answer = client.get(
        BAIDU_TOKEN_PATH,
        {
            "grant_type": "client_credentials",
            "client_id": settings.SANDBOX["BAIDU_API_KEY"],
            "client_secret": settings.SANDBOX["BAIDU_SECRET_KEY"],
        },
    ).json()
    return answer["access_token"]


def baidu_post(client: Client, api: str, token: str | None, **fields):
    """POST a form to a Baidu API the way the seed's curl examples do."""
    return client.post(baidu_api_path(api, token), urlencode(fields), content_type=FORM)


def ctyun_path(api: str) -> str:
    return "/sandbox/ctyun" + CTYUN_APIS[api].path


def ctyun_post(client: Client, api: str, payload=None, *, body: bytes | None = None, **changes):
    """POST a signed JSON body to a CTYun API. ``changes`` replace signed headers (by
    their HTTP name, e.g. ``appkey``); a value of None leaves that header out."""
    if body is None:
        body = encode_body(payload) if not isinstance(payload, bytes) else payload
    headers = signed_headers(
        settings.SANDBOX["CTYUN_AK"],
        settings.SANDBOX["CTYUN_SK"],
        settings.SANDBOX["CTYUN_APPKEY"],
        body,
        host="ai-global.ctapi.ctyun.cn",
    )
    headers.update(changes)
    content_type = headers.pop("Content-Type")
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if value is not None and name.lower() != "host"
    }
    return client.post(ctyun_path(api), body, content_type=content_type, **extra)
