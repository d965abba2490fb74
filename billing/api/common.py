"""What every billing endpoint shares: the Finance permission, the refusal (400) with the
vendor's reason, the billed accounts and their field, the common query parameters."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema_field,
)
from rest_framework import exceptions, permissions, serializers

from billing import plans
from billing.pricing import PricingError
from billing.pricing.calendar import parse_month
from cameras import roles


class CanViewBills(permissions.BasePermission):
    """The caller's roles include finance (reading bills, recording purchases)."""

    message = _("Your roles do not include finance: bills and purchases are for Finance.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(roles.VIEW_BILLS))


FINANCE = [permissions.IsAuthenticated, CanViewBills]


class Refused(exceptions.APIException):
    """The vendor's rules, or the input, refuse this; ``detail`` says why."""

    status_code = 400
    default_detail = _("Refused.")
    default_code = "refused"


def refuse(error: Exception) -> Refused:
    return Refused(str(error))


@extend_schema_field(OpenApiTypes.INT)
class BilledAccountField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return plans.billed_accounts()


def creator(record) -> str | None:
    return record.created_by.get_username() if record.created_by else None


ACCOUNT_FILTER = OpenApiParameter(
    "account", OpenApiTypes.INT, description=_("Only this account's records (its id).")
)
MONTH_PARAMETER = OpenApiParameter(
    "month", OpenApiTypes.STR, required=True, description=_("The month, as YYYY-MM.")
)


def month_param(request) -> tuple[int, int]:
    """The ``?month=YYYY-MM`` asked for, or a refusal saying how to write it."""
    text = request.query_params.get("month")
    if not text:
        raise Refused(_("Say which month: ?month=YYYY-MM."))
    try:
        return parse_month(text)
    except PricingError as error:
        raise refuse(error) from None
