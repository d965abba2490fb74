"""``/api/billing-accounts/``: Baidu and CTYun accounts with their settlement status, and a
month's daily usage and projected cost."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import bills, facts, plans, settlement
from billing.api.common import FINANCE, MONTH_PARAMETER, month_param
from billing.models import (
    AccountStatus,
)
from billing.pricing import PricingError
from monitoring.models import VendorAccount


class NoticeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("arrears, or N_days_before for a reminder."))
    sent_at = serializers.CharField()
    message = serializers.CharField()
    runs_out_at = serializers.CharField(required=False)


class AccountStatusSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)
    settled_until = serializers.DateTimeField(allow_null=True)
    in_arrears = serializers.BooleanField()
    runs_out_at = serializers.DateTimeField(allow_null=True)
    notices = NoticeSerializer(many=True)


class FreeQuotaInForceSerializer(serializers.Serializer):
    api = serializers.CharField()
    calls = serializers.IntegerField()
    claimed_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class BillingAccountSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    free_quotas = serializers.SerializerMethodField()

    class Meta:
        model = VendorAccount
        fields = [
            "id",
            "name",
            "vendor",
            "certification",
            "free_quota_claimed_at",
            "free_quotas",
            "status",
        ]

    @extend_schema_field(FreeQuotaInForceSerializer(many=True))
    def get_free_quotas(self, account) -> list[dict]:
        """Every free quota the account's claims grant (per API; CTYun per year too)."""
        try:
            quotas = facts.free_quotas_of(account)
        except PricingError:
            return []
        return FreeQuotaInForceSerializer(
            [
                {
                    "api": q.api,
                    "calls": q.calls,
                    "claimed_at": q.claimed_at,
                    "expires_at": q.expires_at,
                }
                for q in quotas
            ],
            many=True,
        ).data

    @extend_schema_field(AccountStatusSerializer(allow_null=True))
    def get_status(self, account) -> dict | None:
        try:
            status = account.billing_status
        except AccountStatus.DoesNotExist:
            return None
        return AccountStatusSerializer(
            {
                "balance": status.balance,
                "settled_until": status.settled_until,
                "in_arrears": status.in_arrears,
                "runs_out_at": status.runs_out_at,
                "notices": settlement.notices(status),
            }
        ).data


class DailyUsageSerializer(serializers.Serializer):
    day = serializers.DateField()
    api = serializers.CharField()
    success = serializers.IntegerField()
    failed = serializers.IntegerField(help_text=_("Calls the vendor answered with an error."))
    calls = serializers.IntegerField()


class ProjectionSerializer(serializers.Serializer):
    month = serializers.CharField()
    as_of = serializers.DateTimeField()
    elapsed_fraction = serializers.FloatField()
    total_so_far = serializers.CharField(help_text=_("CNY, two decimals."))
    projected_total = serializers.CharField(help_text=_("CNY, two decimals."))
    calls_so_far = serializers.DictField(child=serializers.IntegerField())
    projected_calls = serializers.DictField(child=serializers.IntegerField())


class MonthUsageSerializer(serializers.Serializer):
    month = serializers.CharField()
    days = DailyUsageSerializer(many=True)
    projection = ProjectionSerializer()


@extend_schema_view(
    list=extend_schema(summary=_("Billed accounts (Baidu, CTYun) and their balance status")),
    retrieve=extend_schema(summary=_("One billed account and its balance status")),
)
class BillingAccountViewSet(viewsets.ReadOnlyModelViewSet):
    """Baidu and CTYun accounts with the result of their hourly settlement."""

    serializer_class = BillingAccountSerializer
    permission_classes = FINANCE

    def get_queryset(self):
        return plans.billed_accounts().select_related("billing_status")

    @extend_schema(
        summary=_("Calls per API per Shanghai day of a month, and the projected month cost"),
        parameters=[MONTH_PARAMETER],
        responses=MonthUsageSerializer,
    )
    @action(detail=True, methods=["get"])
    def usage(self, request, pk=None):
        account = self.get_object()
        year, month = month_param(request)
        data = {
            "month": f"{year:04d}-{month:02d}",
            "days": bills.daily_usage(account, year, month),
            "projection": bills.project_month(account, year, month).to_dict(),
        }
        return Response(MonthUsageSerializer(data).data)
