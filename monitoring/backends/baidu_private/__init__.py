"""Client for Baidu Body Analysis deployed privately on the customer's LAN.

Each capability is its own service on its own port of one host, all answering
``POST /GeneralClassifyService/classify`` with a JSON body (seed: ``私有化部署``,
``接口调用``). The client speaks the same language as the online client: ``call(api,
image, **params)`` with the online API names, a normalized ``AnalysisResult`` back or a
typed ``BackendError``. There is no access token: the services check their licence
with the local authorization service themselves (seed: ``部署说明``, ``鉴权服务部署``).

What differs per service, and lives in ``PRIVATE_SERVICES``: the default port, how the
request is enveloped, which parameters are understood, the answer's envelope and the
error table (the same number means different things on different services: 6 is "image
empty" on the attribute service and "auth verify error" on crowd counting).

``body_attr`` online detects every person and describes each one; the private
attribute service describes one person filling the whole image. The seed asks to
detect and crop first (``人体属性识别（单人版）``), so ``call("body_attr", ...)`` runs
the detection service, crops each person and asks the attribute service about each
crop; ``single_person=True`` sends the image to the attribute service as it is.

Modules: ``services`` (what each service takes and answers) and ``client``
(``BaiduPrivateClient``).
"""

from __future__ import annotations

from .client import (
    BaiduPrivateClient,
)
from .services import (
    CLASSIFY_PATH,
    CROP_REFUSALS,
    MAX_AREAS,
    MIN_ATTRIBUTE_SIDE,
    PRIVATE_LIMITS,
    PRIVATE_SERVICES,
    PRIVATE_SPECS,
    TRAITS,
    VENDOR,
    Normalizer,
    PrivateService,
    normalize_detection,
    normalize_driver,
    normalize_gesture,
    routes_by_path,
)

__all__ = [
    "CLASSIFY_PATH",
    "CROP_REFUSALS",
    "MAX_AREAS",
    "MIN_ATTRIBUTE_SIDE",
    "PRIVATE_LIMITS",
    "PRIVATE_SERVICES",
    "PRIVATE_SPECS",
    "TRAITS",
    "VENDOR",
    "BaiduPrivateClient",
    "Normalizer",
    "PrivateService",
    "normalize_detection",
    "normalize_driver",
    "normalize_gesture",
    "routes_by_path",
]
