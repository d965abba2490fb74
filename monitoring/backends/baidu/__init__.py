"""Client for Baidu Body Analysis, online API (``aip.baidubce.com``).

This package owns, for the online API only (the private deployment is ``baidu_private``):

- ``BAIDU_APIS``: every API of the seed's ``API文档``, its path and the parameters it
  takes besides ``image``;
- ``TokenManager``: the access token of ``调用方式一``, fetched from ``/oauth/2.0/token``,
  cached in a shared ``Store`` so that every process with the same store reuses one
  token, refreshed before it runs out, dropped on demand;
- ``BaiduClient``: one request per attempt (``POST .../<api>?access_token=...`` with a
  form-urlencoded body), parameters checked before anything leaves, fence areas scaled
  from the original frame into the frame sent, the seed's ``错误码`` table mapped to typed
  errors, retries, breaker and per-attempt hooks from ``base``, and the per-camera case
  state of ``body_tracking`` (``BaiduClient.track``);
- ``normalize_answer``: a vendor answer turned into an ``AnalysisResult``.

Seed: ``seeds/baidu-body-analysis.txt``; comments quote its section headings.

Modules: ``apis`` (the API table and limits), ``errors`` (``错误码`` to typed errors),
``token`` (``TokenManager``), ``params`` (parameters checked and written as the form),
``normalize`` (``normalize_answer``) and ``client`` (``BaiduClient``).
"""

from __future__ import annotations

from .apis import (
    BAIDU_APIS,
    BODY_ATTR_TYPES,
    BODY_KEYPOINTS,
    BODY_SEG_TYPES,
    CASE_ID_MAX,
    DRIVER_BEHAVIOUR_TYPES,
    FINGERTIP_KEYPOINTS,
    MAX_AREAS,
    MIN_TRACKING_POINTS,
    TOKEN_PATH,
    TRAITS,
    VENDOR,
    BaiduApi,
)
from .client import (
    BaiduClient,
    tracking_case_id,
)
from .errors import (
    ERROR_CLASSES,
    error_from_answer,
)
from .normalize import (
    is_valid_body,
    normalize_answer,
)
from .token import (
    AccessToken,
    TokenManager,
)

__all__ = [
    "BAIDU_APIS",
    "BODY_ATTR_TYPES",
    "BODY_KEYPOINTS",
    "BODY_SEG_TYPES",
    "CASE_ID_MAX",
    "DRIVER_BEHAVIOUR_TYPES",
    "ERROR_CLASSES",
    "FINGERTIP_KEYPOINTS",
    "MAX_AREAS",
    "MIN_TRACKING_POINTS",
    "TOKEN_PATH",
    "TRAITS",
    "VENDOR",
    "AccessToken",
    "BaiduApi",
    "BaiduClient",
    "TokenManager",
    "error_from_answer",
    "is_valid_body",
    "normalize_answer",
    "tracking_case_id",
]
