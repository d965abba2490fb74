"""The one registry of backends: vendor name -> client, what each client declares, and
one way to open any of them and run an API over a list of images.

Every client class declares ``vendor`` (the ``VendorAccount.vendor`` value: ``baidu``,
``baidu_private``, ``ctyun``, ``local``), ``traits`` (``VendorTraits``: how it is paid,
whether it runs in this server, what its base URL needs...) and ``api_specs`` (one
``ApiSpec`` per API: frames per request, region, metered, result kinds), and opens with
``open(settings, hooks=..., store=..., breaker=...)``. The rest of the product asks this
module (``traits``, ``api_spec``, ``vendor_apis``, ``vendors_where``) instead of
branching on vendor names.

``Backend.run`` sends APIs that take several images in one request as batches of at
most the API's ``max_frames`` (CTYun fence 32, fall and fight 64; liveness 3 to 35 in
one request, never split) and every other API one request per image, with one client
(one token, one connection pool) for all of them.

The published spelling ``baidu-private`` (``manage.py analyze --backend``) is accepted
as another name of ``baidu_private``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from monitoring.backends.base import (
    AnalysisResult,
    ApiSpec,
    BadRequest,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    Store,
    Unsupported,
    VendorTraits,
)

# vendor -> (module, client class); imported when first asked for.
_CLIENTS: dict[str, tuple[str, str]] = {
    "baidu": ("monitoring.backends.baidu", "BaiduClient"),
    "baidu_private": ("monitoring.backends.baidu_private", "BaiduPrivateClient"),
    "ctyun": ("monitoring.backends.ctyun", "CtyunClient"),
    "local": ("monitoring.backends.local", "LocalAnalyzer"),
}
VENDORS: tuple[str, ...] = tuple(_CLIENTS)
# Other spellings accepted where a name is typed (the ``analyze`` command's contract).
ALIASES = {"baidu-private": "baidu_private"}
BACKENDS: tuple[str, ...] = (*VENDORS, *ALIASES)


def canonical(name: str) -> str:
    """The vendor name of ``name`` (an alias is resolved); ``Unsupported`` if unknown."""
    vendor = ALIASES.get(name, name)
    if vendor not in _CLIENTS:
        raise Unsupported(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    return vendor


@cache
def client_class(vendor: str) -> Any:
    module, name = _CLIENTS[canonical(vendor)]
    return getattr(importlib.import_module(module), name)


def traits(vendor: str) -> VendorTraits:
    return client_class(vendor).traits


def api_specs(vendor: str) -> Mapping[str, ApiSpec]:
    return client_class(vendor).api_specs


def api_spec(vendor: str, api: str) -> ApiSpec:
    """The spec of ``api`` on ``vendor``; ``Unsupported`` when it does not offer it."""
    specs = api_specs(vendor)
    try:
        return specs[api]
    except KeyError:
        raise Unsupported(
            f"{canonical(vendor)} offers no API {api!r}; it offers {', '.join(sorted(specs))}",
            vendor=canonical(vendor),
            api=api,
        ) from None


def vendor_apis(vendor: str) -> list[str]:
    """The APIs an account of ``vendor`` can run (none for an unknown vendor)."""
    try:
        return sorted(api_specs(vendor))
    except Unsupported:
        return []


def vendors_where(test: Callable[[VendorTraits], bool]) -> tuple[str, ...]:
    """The vendors whose traits pass ``test``, e.g. ``vendors_where(lambda t: t.metered)``."""
    return tuple(vendor for vendor in VENDORS if test(traits(vendor)))


def window_frames(vendor: str, api: str) -> int:
    """The most frames one request of ``api`` carries when the pipeline gathers a window
    of a camera's stored frames: all the API takes where the vendor counts a request
    whatever its frames (CTYun fence 32, fall and fight 64), else one (an on-box fence
    pays each frame in CPU; an API needing several frames at least is not windowed)."""
    spec = api_spec(vendor, api)
    if (
        traits(vendor).request_counts_whatever_frames
        and spec.multi_frame
        and spec.min_frames <= 1
        and spec.max_frames is not None
    ):
        return spec.max_frames
    return 1


@dataclass
class Batch:
    """The images (by index in the list given) sent in one request, and its result."""

    images: list[int]
    result: AnalysisResult


class Backend:
    """A client of one vendor with the batching rules of its APIs."""

    def __init__(self, name: str, client: Any):
        self.name = canonical(name)
        self.client = client
        self.traits: VendorTraits = traits(self.name)

    def apis(self) -> list[str]:
        return vendor_apis(self.name)

    def spec(self, api: str) -> ApiSpec:
        return api_spec(self.name, api)

    def batches(self, api: str, count: int) -> Iterator[list[int]]:
        """Indices of the images each request carries."""
        spec = self.spec(api)
        if not spec.multi_frame:
            for index in range(count):
                yield [index]
            return
        most = spec.max_frames
        if count < spec.min_frames:
            raise BadRequest(
                f"{api} takes {spec.min_frames} to {most} images in one request; {count} given",
                vendor=self.name,
                api=api,
            )
        if not spec.split and most is not None and count > most:
            raise BadRequest(
                f"{api} takes at most {most} images; {count} given", vendor=self.name, api=api
            )
        step = most or max(count, 1)
        for start in range(0, count, step):
            yield list(range(start, min(start + step, count)))

    def run(self, api: str, images: list[bytes], params: dict[str, Any] | None = None):
        params = dict(params or {})
        results = []
        for indices in self.batches(api, len(images)):
            chosen = [images[i] for i in indices]
            results.append(Batch(indices, self.client.analyze(api, chosen, params)))
        return results

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
    """The client of vendor ``name`` (or an alias) opened on ``settings``."""
    vendor = canonical(name)
    client = client_class(vendor).open(settings, hooks=hooks, store=store, breaker=breaker)
    return Backend(vendor, client)
