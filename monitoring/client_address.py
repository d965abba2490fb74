"""The client's address, as the configured number of trusted reverse proxies saw it.

``TRUSTED_PROXY_COUNT`` (0 by default) says how many proxies stand in front of the web
process. With 0, the address is the socket peer's. With N, each proxy appends the address
it received the request from to ``X-Forwarded-For``, so the N-th entry from the right is
the one the outermost trusted proxy saw; entries further left were written by the client
and are never used. A header with fewer entries than N (a request that did not pass the
proxies) or an entry that is not an IP address leaves the socket peer.

``ClientAddressMiddleware`` puts that address in ``REMOTE_ADDR`` before anything reads
it, so the sign-in throttle, logs and every other reader follow this one rule (the ASGI
server must not rewrite the peer itself: Daphne runs without ``--proxy-headers``).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: int) -> str:
    if trusted_proxies <= 0 or not forwarded_for:
        return peer
    entries = [entry.strip() for entry in forwarded_for.split(",")]
    if len(entries) < trusted_proxies:
        return peer
    candidate = entries[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


class ClientAddressMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        meta["REMOTE_ADDR"] = client_address(
            meta.get("REMOTE_ADDR") or "",
            meta.get("HTTP_X_FORWARDED_FOR"),
            settings.TRUSTED_PROXY_COUNT,
        )
        return self.get_response(request)
