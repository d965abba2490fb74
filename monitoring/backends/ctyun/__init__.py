"""CTYun "Safety Production" (天翼云安全生产) client.

This package owns everything specific to that vendor: EOP request signing
(``eop_authorization``, ``signed_headers``), the table of APIs it offers (``CTYUN_APIS``),
checking a request before it leaves (image counts, request sizes, fence areas), turning
answers into ``AnalysisResult`` and every documented answer code into a typed error.

Rules come from the vendor's manual, cited by its section headings (``4.1.3 状态码``,
``4.1.2 构造请求``, ``4.1.3 认证鉴权``, ``4.1.4 Python 调用示例``, ``4.3 API``, ``5.3 操作类``).

Modules: ``signing`` (4.1.3 认证鉴权), ``apis`` (the API table and codes), ``answers``
(codes and values read from answers) and ``client`` (``CtyunClient``).
"""

from __future__ import annotations

from .answers import (
    describe_code,
    error_class_for_code,
    parse_code,
)
from .apis import (
    COUNT_USED_UP,
    CTYUN_APIS,
    CTYUN_SPECS,
    GATEWAY_ERRORS,
    TRAITS,
    CtyunApi,
)
from .client import (
    CtyunClient,
)
from .signing import (
    BEIJING,
    CONCURRENCY_PAUSE,
    CONTENT_TYPE,
    DEFAULT_BASE_URL,
    EOP_DATE_FORMAT,
    MEGABYTE,
    SIGNED_HEADERS,
    VENDOR,
    encode_body,
    eop_authorization,
    format_eop_date,
    signed_headers,
    sorted_query,
    string_to_sign,
)

__all__ = [
    "BEIJING",
    "CONCURRENCY_PAUSE",
    "CONTENT_TYPE",
    "COUNT_USED_UP",
    "CTYUN_APIS",
    "CTYUN_SPECS",
    "DEFAULT_BASE_URL",
    "EOP_DATE_FORMAT",
    "GATEWAY_ERRORS",
    "MEGABYTE",
    "SIGNED_HEADERS",
    "TRAITS",
    "VENDOR",
    "CtyunApi",
    "CtyunClient",
    "describe_code",
    "encode_body",
    "eop_authorization",
    "error_class_for_code",
    "format_eop_date",
    "parse_code",
    "signed_headers",
    "sorted_query",
    "string_to_sign",
]
