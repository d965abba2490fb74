"""REST API of billing, for the Finance role (``roles.VIEW_BILLS``) only.

* ``/api/billing-accounts/``: Baidu and CTYun accounts with their settlement status
  (balance, arrears, forecast, reminders); ``/{id}/usage/?month=`` the daily usage of a
  month and its projected cost.
* ``/api/top-ups/``, ``/api/packages/``, ``/api/qps-orders/``: list (``?account=``) and
  record; purchases are priced by the plan in force and refused with the reason (400).
* ``/api/free-quota-claims/``: list (``?account=``) and record the free quota claimed for
  an API (or, without ``api``, every API): refused (400) when the vendor would not grant
  it (Baidu: an API claimed before; CTYun: an API claimed before in that calendar year).
* ``/api/usage-imports/``: upload a usage CSV (multipart: ``account``, ``file``).
* ``/api/bills/?account=&month=``: a month's bill; ``POST /api/bills/finalize/`` and
  ``POST /api/bills/adjust/`` freeze a past month and correct a final bill.

Anonymous callers get 401; users without the Finance role (operators, admins) get 403.

Modules: ``common`` (permission, refusals, shared fields), ``accounts``, ``records``
(top-ups, purchases, free quota claims, usage imports) and ``bill``; the viewsets are
re-exported here for the router (``monitoring.api``).
"""

from billing.api.accounts import BillingAccountViewSet
from billing.api.bill import BillViewSet
from billing.api.common import FINANCE, BilledAccountField, CanViewBills, Refused
from billing.api.records import (
    FreeQuotaClaimViewSet,
    PackageViewSet,
    QpsOrderViewSet,
    TopUpViewSet,
    UsageImportViewSet,
)

__all__ = [
    "FINANCE",
    "BillViewSet",
    "BilledAccountField",
    "BillingAccountViewSet",
    "CanViewBills",
    "FreeQuotaClaimViewSet",
    "PackageViewSet",
    "QpsOrderViewSet",
    "Refused",
    "TopUpViewSet",
    "UsageImportViewSet",
]
