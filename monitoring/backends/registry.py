"""One way to open any backend by name and run an API over a list of images.

``open_backend`` builds the client for ``baidu``, ``baidu-private``, ``ctyun`` or
``local`` from plain settings. ``Backend.run`` sends APIs that take several images in
one request as batches of at most the vendor's maximum (CTYun fence 32, fall and fight
64, liveness 3 to 35) and every other API one request per image, with one client (one
token, one connection pool) for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from monitoring.backends.base import (
    AnalysisResult,
    BadRequest,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    Store,
    Unsupported,
)

BACKENDS = ("baidu", "baidu-private", "ctyun", "local")
DEFAULT_BASE_URLS = {
    "baidu": "https://aip.baidubce.com",
    "ctyun": "https://ai-global.ctapi.ctyun.cn",
}


@dataclass
class Batch:
    """The images (by index in the list given) sent in one request, and its result."""

    images: list[int]
    result: AnalysisResult


class Backend:
    """A client of one vendor with the batching rules of its APIs."""

    def __init__(self, name: str, client: Any):
        self.name = name
        self.client = client

    def apis(self) -> list[str]:
        if self.name == "ctyun":
            from monitoring.backends.ctyun import CTYUN_APIS

            return sorted(CTYUN_APIS)
        if self.name == "baidu":
            from monitoring.backends.baidu import BAIDU_APIS

            return sorted(BAIDU_APIS)
        if self.name == "baidu-private":
            from monitoring.backends.baidu_private import PRIVATE_SERVICES

            return sorted(PRIVATE_SERVICES)
        return sorted(self.client.capabilities)

    def batches(self, api: str, count: int) -> Iterator[list[int]]:
        """Indices of the images each request carries."""
        if self.name == "ctyun":
            from monitoring.backends.ctyun import CTYUN_APIS

            spec = CTYUN_APIS.get(api)
            if spec is None:
                raise Unsupported(
                    f"unknown CTYun API {api!r}; known: {', '.join(sorted(CTYUN_APIS))}",
                    vendor="ctyun",
                    api=api,
                )
            if spec.max_images > 1:
                if count < spec.min_images:
                    raise BadRequest(
                        f"{api} takes {spec.min_images} to {spec.max_images} images in one "
                        f"request; {count} given",
                        vendor="ctyun",
                        api=api,
                    )
                if spec.shape == "numbered" and count > spec.max_images:
                    # Liveness images are one person's action: they cannot be split.
                    raise BadRequest(
                        f"{api} takes at most {spec.max_images} images; {count} given",
                        vendor="ctyun",
                        api=api,
                    )
                step = spec.max_images
                for start in range(0, count, step):
                    yield list(range(start, min(start + step, count)))
                return
        if self.name == "local" and api == "fence":
            yield list(range(count))
            return
        for index in range(count):
            yield [index]

    def run(self, api: str, images: list[bytes], params: dict[str, Any] | None = None):
        params = dict(params or {})
        results = []
        for indices in self.batches(api, len(images)):
            chosen = [images[i] for i in indices]
            results.append(Batch(indices, self._call(api, chosen, params)))
        return results

    def _call(self, api: str, images: list[bytes], params: dict[str, Any]) -> AnalysisResult:
        if self.name == "ctyun":
            return self.client.call(api, images, **params)
        if self.name == "local":
            return self.client.analyze(api, images, params)
        return self.client.call(api, images[0], **params)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_backend(
    name: str,
    settings: ClientSettings,
    *,
    hooks: CallHooks | None = None,
    store: Store | None = None,
    breaker: CircuitBreaker | None = None,
) -> Backend:
    if name == "baidu":
        from monitoring.backends.baidu import BaiduClient

        return Backend(name, BaiduClient(settings, hooks=hooks, token_store=store, breaker=breaker))
    if name == "baidu-private":
        from monitoring.backends.baidu_private import BaiduPrivateClient

        return Backend(name, BaiduPrivateClient(settings, hooks=hooks, breaker=breaker))
    if name == "ctyun":
        from monitoring.backends.ctyun import CtyunClient

        return Backend(name, CtyunClient(settings, hooks=hooks, breaker=breaker))
    if name == "local":
        from monitoring.backends.local import LocalAnalyzer

        return Backend(name, LocalAnalyzer())
    raise Unsupported(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
