"""HTTP(S) snapshot URLs: one GET per frame, the answer checked to be a whole image.

Cameras protect their snapshot URL with basic auth (many Dahua and older models) or
digest auth (Hikvision ISAPI, newer Dahua). The source answers whichever the camera
asks for in its ``WWW-Authenticate`` challenge and then keeps using it; it never sends
the password in clear text to a camera that asked for digest.

Every request, redirects included, is checked before it leaves: it must go to the
scheme, host and port the camera's URL names (the credentials were entered for that
address, so a redirect elsewhere is refused rather than followed with them), and the
host must not resolve to an address of the server's own networks (loopback, link-local,
private, any non-global address) unless ``settings.CAMERA_HTTP_ALLOWED_NETWORKS`` lists
it: a snapshot URL cannot be used to probe the ports of the server's network.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import socket
from collections.abc import Generator
from urllib.parse import urlsplit

import httpx
from django.conf import settings as django_settings

from .base import Source, SourceError, SourceSettings, as_jpeg

CONNECT_TIMEOUT = 5.0


class BasicOrDigestAuth(httpx.Auth):
    """Answers the camera's challenge with basic or digest credentials, as it asks."""

    def __init__(self, username: str, password: str):
        self._basic = httpx.BasicAuth(username, password)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._basic_header = f"Basic {token}"
        self._digest = httpx.DigestAuth(username, password)
        self.scheme: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self.scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        schemes = [
            value.split(None, 1)[0].lower()
            for value in response.headers.get_list("www-authenticate")
            if value.strip()
        ]
        if "digest" in schemes:
            self.scheme = "digest"
            flow = self._digest.auth_flow(request)
            next(flow)  # the digest flow's first, unauthenticated request: already sent
            try:
                retry = flow.send(response)
            except StopIteration:
                return
            response = yield retry
            with contextlib.suppress(StopIteration):
                flow.send(response)
        elif "basic" in schemes:
            self.scheme = "basic"
            request.headers["Authorization"] = self._basic_header
            yield request


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = 443 if url.scheme == "https" else 80
    return (url.scheme, (url.host or "").lower(), url.port or default)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(network, strict=False)
        for network in django_settings.CAMERA_HTTP_ALLOWED_NETWORKS
    ]


def internal_address_refusal(host: str, port: int) -> str | None:
    """Why ``host`` may not be asked for a snapshot (it resolves to a non-global address
    outside ``CAMERA_HTTP_ALLOWED_NETWORKS``), or None. A name that does not resolve is
    left for the request to report."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if address.is_global or any(address in network for network in allowed):
            continue
        return (
            f"refused: {host} is an address of the server's own network ({address}); "
            "a snapshot URL there needs its network in CAMERA_HTTP_ALLOWED_NETWORKS"
        )
    return None


class HttpSnapshotSource(Source):
    """A camera's snapshot URL. One connection is kept alive between grabs."""

    kind = "http"

    def __init__(self, settings: SourceSettings):
        parts = urlsplit(settings.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(
                f"not an HTTP(S) URL: {settings.url!r} (write http://host/path or https://...)"
            )
        self.settings = settings
        self._where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._host = parts.hostname
        auth = (
            BasicOrDigestAuth(settings.username, settings.password) if settings.username else None
        )
        self._origin = _origin(httpx.URL(settings.url))
        self._client = httpx.Client(
            event_hooks={"request": [self._check_target]},
            auth=auth,
            timeout=httpx.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout)),
            follow_redirects=True,
            # Cameras on a site network often carry self-signed certificates.
            verify=False,  # noqa: S501
            headers={"Cache-Control": "no-cache", "Pragma": "no-cache", "Accept": "image/*"},
        )

    def _check_target(self, request: httpx.Request) -> None:
        if _origin(request.url) != self._origin:
            raise SourceError(
                f"the camera redirected to {request.url.host}:{_origin(request.url)[2]}; "
                f"its credentials go only to {self._where}, the address they were entered for"
            )
        refusal = internal_address_refusal(request.url.host, _origin(request.url)[2])
        if refusal:
            raise SourceError(refusal)

    def grab(self) -> bytes:
        try:
            response = self._client.get(self.settings.url)
        except httpx.ConnectTimeout:
            raise SourceError(
                f"timed out connecting to {self._where} after {self._client.timeout.connect:g} s"
            ) from None
        except httpx.TimeoutException:
            raise SourceError(
                f"no answer from {self._where} within {self.settings.timeout:g} s"
            ) from None
        except httpx.ConnectError as error:
            raise SourceError(self._connect_failure(error)) from None
        except httpx.TooManyRedirects:
            raise SourceError(f"too many redirects from {self.settings.url}") from None
        except httpx.HTTPError as error:
            raise SourceError(f"HTTP error talking to {self._where}: {error}") from None
        if response.status_code == 401:
            if self.settings.username:
                raise SourceError(
                    "HTTP 401 Unauthorized: the camera refused the user name or password"
                )
            raise SourceError("HTTP 401 Unauthorized: the camera needs a user name and password")
        if response.status_code != 200:
            raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
        content_type = response.headers.get("content-type", "no content type")
        return as_jpeg(response.content, what=f"the answer ({content_type})")

    def _connect_failure(self, error: httpx.ConnectError) -> str:
        text = str(error)
        cause = error.__cause__ or error.__context__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if (
            isinstance(cause, socket.gaierror)
            or "Name or service not known" in text
            or ("nodename nor servname" in text)
            or "Temporary failure in name resolution" in text
        ):
            return f"cannot resolve host name {self._host!r} (DNS)"
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
            return f"connection refused by {self._where} (nothing listening on that port?)"
        if "certificate" in text.lower() or "ssl" in text.lower():
            return f"TLS handshake with {self._where} failed: {text}"
        return f"cannot connect to {self._where}: {text}"

    def close(self) -> None:
        self._client.close()
