"""``/api/bills/``: a month's bill; ``finalize`` and ``adjust`` freeze a past month and correct
a final bill."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import bills, plans
from billing.api.common import (
    FINANCE,
    MONTH_PARAMETER,
    BilledAccountField,
    Refused,
    month_param,
    refuse,
)
from billing.pricing import PricingError
from billing.pricing.calendar import parse_month

TierSerializer = type(
    "TierSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "The calls of a pay-as-you-go line falling in one tier.",
        "from": serializers.IntegerField(help_text=_("Tier lower bound (exclusive).")),
        "to": serializers.IntegerField(
            allow_null=True, help_text=_("Tier upper bound (inclusive); null: no bound.")
        ),
        "calls": serializers.IntegerField(),
        "unit_price": serializers.CharField(help_text=_("CNY per 1,000 calls.")),
        "amount": serializers.CharField(help_text=_("Exact CNY, not rounded.")),
    },
)


class BillLineSerializer(serializers.Serializer):
    api = serializers.CharField()
    kind = serializers.CharField(
        help_text=_(
            "free, package, payg, qps_usage, not_billed, limited_time_free, over_quota, "
            "package_purchase or qps_order."
        )
    )
    calls = serializers.IntegerField()
    amount = serializers.CharField(help_text=_("CNY, two decimals."))
    reference = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    tiers = TierSerializer(many=True)


class AdjustmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    api = serializers.CharField(allow_blank=True)
    amount = serializers.CharField(help_text=_("CNY, two decimals; negative: a credit."))
    note = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)


class PlanRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    effective_from = serializers.DateTimeField(allow_null=True)


class BillSerializer(serializers.Serializer):
    account = serializers.CharField()
    account_id = serializers.IntegerField()
    vendor = serializers.CharField()
    month = serializers.CharField()
    status = serializers.CharField(help_text=_("draft (computed now) or final (stored)."))
    currency = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    plan = PlanRefSerializer()
    lines = BillLineSerializer(many=True)
    lines_total = serializers.CharField()
    adjustments = AdjustmentSerializer(many=True)
    total = serializers.CharField(help_text=_("Lines plus adjustments, CNY, two decimals."))
    computed_at = serializers.DateTimeField()
    finalized_at = serializers.DateTimeField(allow_null=True)
    finalized_by = serializers.CharField(allow_null=True)
    late_calls = serializers.DictField(child=serializers.IntegerField())
    unpriced_calls = serializers.DictField(child=serializers.IntegerField())


class BillMonthSerializer(serializers.Serializer):
    account = BilledAccountField()
    month = serializers.CharField(help_text=_("YYYY-MM"))

    def validate_month(self, value):
        try:
            parse_month(value)
        except PricingError as error:
            raise serializers.ValidationError(str(error)) from None
        return value


class AdjustSerializer(BillMonthSerializer):
    api = serializers.CharField(required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    note = serializers.CharField(max_length=300)


class _OneObjectSchema(AutoSchema):
    """The bill "list" route answers one bill (the account's month), not a list."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


def _bill_response(view: bills.BillView) -> Response:
    return Response(BillSerializer(view.to_dict()).data)


class BillViewSet(viewsets.GenericViewSet):
    """Monthly bills: computed while the month is open, stored once finalized."""

    permission_classes = FINANCE
    serializer_class = BillSerializer
    schema = _OneObjectSchema()
    pagination_class = None

    @extend_schema(
        summary=_("One account's bill for one month (final: stored; otherwise computed now)"),
        parameters=[
            OpenApiParameter(
                "account", OpenApiTypes.INT, required=True, description=_("The account id.")
            ),
            MONTH_PARAMETER,
        ],
        responses=BillSerializer,
    )
    def list(self, request):
        account_id = request.query_params.get("account", "")
        if not account_id.isdigit():
            raise Refused(_("Say which account: ?account=ID&month=YYYY-MM."))
        year, month = month_param(request)
        account = plans.billed_accounts().filter(pk=int(account_id)).first()
        if account is None:
            raise exceptions.NotFound(_("No billed account has this id."))
        return _bill_response(bills.current_bill(account, year, month))

    @extend_schema(
        summary=_("Finalize a month that has ended: freeze its lines and total"),
        request=BillMonthSerializer,
        responses=BillSerializer,
    )
    @action(detail=False, methods=["post"])
    def finalize(self, request):
        data = self._valid(BillMonthSerializer, request)
        try:
            view = bills.finalize(data["account"], *parse_month(data["month"]), request.user)
        except PricingError as error:
            raise refuse(error) from None
        return _bill_response(view)

    @extend_schema(
        summary=_("Add a correction line to a final bill"),
        request=AdjustSerializer,
        responses=BillSerializer,
    )
    @action(detail=False, methods=["post"])
    def adjust(self, request):
        data = self._valid(AdjustSerializer, request)
        account = data["account"]
        year, month = parse_month(data["month"])
        try:
            view = bills.current_bill(account, year, month)
            bills.add_adjustment(view, data["api"], data["amount"], data["note"], request.user)
        except PricingError as error:
            raise refuse(error) from None
        return _bill_response(bills.current_bill(account, year, month))

    def _valid(self, serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
