"""``/api/top-ups/``, ``/api/packages/``, ``/api/qps-orders/``, ``/api/free-quota-claims/``
and ``/api/usage-imports/``: what finance records for an account."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from billing import importer, purchases
from billing.api.common import ACCOUNT_FILTER, FINANCE, BilledAccountField, Refused, creator, refuse
from billing.models import (
    MAX_QPS_DAYS,
    MAX_QPS_MONTHS,
    FreeQuotaClaim,
    Package,
    QpsOrder,
    TopUp,
)
from billing.pricing import PricingError


class TopUpSerializer(serializers.ModelSerializer):
    account = BilledAccountField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = TopUp
        fields = ["id", "account", "amount", "at", "note", "created_at", "created_by"]
        read_only_fields = ["created_at"]

    def get_created_by(self, record) -> str | None:
        return creator(record)


class FreeQuotaClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = BilledAccountField()
    api = serializers.CharField(
        max_length=64,
        required=False,
        help_text=_("The API claimed; leave it out to claim every API at once."),
    )
    claimed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.SerializerMethodField()

    def get_created_by(self, record) -> str | None:
        return creator(record)


class PackageSerializer(serializers.ModelSerializer):
    account = BilledAccountField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Package
        fields = [
            "id",
            "account",
            "api",
            "calls",
            "price",
            "purchased_at",
            "expires_at",
            "created_at",
            "created_by",
        ]
        read_only_fields = ["price", "expires_at", "created_at"]
        extra_kwargs = {"calls": {"help_text": _("The package size on sale, e.g. 300000.")}}

    def get_created_by(self, record) -> str | None:
        return creator(record)


class QpsOrderSerializer(serializers.ModelSerializer):
    account = BilledAccountField()
    months = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QPS_MONTHS,
        required=False,
        help_text=_("Months bought; with neither months nor days, one month."),
    )
    days = serializers.IntegerField(
        min_value=0, max_value=MAX_QPS_DAYS, required=False, help_text=_("Days bought.")
    )
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = QpsOrder
        fields = [
            "id",
            "account",
            "api",
            "qps",
            "months",
            "days",
            "price",
            "purchased_at",
            "expires_at",
            "created_at",
            "created_by",
        ]
        read_only_fields = ["price", "expires_at", "created_at"]

    def get_created_by(self, record) -> str | None:
        return creator(record)


class _AccountRecords(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = FINANCE
    model = TopUp
    order_by = ("-id",)

    def get_queryset(self):
        records = self.model.objects.select_related("account", "created_by").order_by(
            *self.order_by
        )
        account = self.request.query_params.get("account")
        if account:
            if not account.isdigit():
                raise Refused(_("account must be an account id."))
            records = records.filter(account_id=int(account))
        return records

    def perform_create(self, serializer):
        try:
            serializer.instance = self.record(serializer.validated_data)
        except PricingError as error:
            raise refuse(error) from None


@extend_schema_view(
    list=extend_schema(summary=_("Top-ups, newest first"), parameters=[ACCOUNT_FILTER]),
    retrieve=extend_schema(summary=_("One top-up")),
    create=extend_schema(summary=_("Record money paid into a vendor account")),
)
class TopUpViewSet(_AccountRecords):
    serializer_class = TopUpSerializer
    model = TopUp
    order_by = ("-at", "-id")

    def record(self, data):
        return purchases.top_up(
            data["account"], data["amount"], data["at"], self.request.user, data.get("note", "")
        )


@extend_schema_view(
    list=extend_schema(summary=_("Free quotas claimed, newest first"), parameters=[ACCOUNT_FILTER]),
    retrieve=extend_schema(summary=_("One free quota claim")),
    create=extend_schema(
        summary=_(
            "Record a free quota claimed: Baidu once per API, CTYun once per API per calendar year"
        ),
        responses=FreeQuotaClaimSerializer(many=True),
    ),
)
class FreeQuotaClaimViewSet(_AccountRecords):
    serializer_class = FreeQuotaClaimSerializer
    model = FreeQuotaClaim
    order_by = ("-claimed_at", "-id")

    def record(self, data):
        apis = [data["api"]] if data.get("api") else []
        return purchases.claim_free_quota(
            data["account"], apis, data["claimed_at"], self.request.user
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        claims = serializer.instance
        return Response(self.get_serializer(claims, many=True).data, status=201)


@extend_schema_view(
    list=extend_schema(
        summary=_("Count packages bought, newest first"), parameters=[ACCOUNT_FILTER]
    ),
    retrieve=extend_schema(summary=_("One count package")),
    create=extend_schema(
        summary=_("Record a count package bought (priced by the plan in force then)")
    ),
)
class PackageViewSet(_AccountRecords):
    serializer_class = PackageSerializer
    model = Package
    order_by = ("-purchased_at", "-id")

    def record(self, data):
        return purchases.buy_package(
            data["account"], data["api"], data["calls"], data["purchased_at"], self.request.user
        )


@extend_schema_view(
    list=extend_schema(summary=_("Baidu QPS orders, newest first"), parameters=[ACCOUNT_FILTER]),
    retrieve=extend_schema(summary=_("One QPS order")),
    create=extend_schema(summary=_("Record a Baidu QPS order (at most 50 QPS of one API per day)")),
)
class QpsOrderViewSet(_AccountRecords):
    serializer_class = QpsOrderSerializer
    model = QpsOrder
    order_by = ("-purchased_at", "-id")

    def record(self, data):
        months, days = data.get("months"), data.get("days")
        if months is None and days is None:
            months = purchases.DEFAULT_QPS_MONTHS
        return purchases.buy_qps(
            data["account"],
            data["api"],
            data["qps"],
            months or 0,
            days or 0,
            data["purchased_at"],
            self.request.user,
        )


class UsageImportSerializer(serializers.Serializer):
    account = BilledAccountField(help_text=_("The account the calls were made with (its id)."))
    file = serializers.FileField(
        help_text=_("CSV with the header timestamp,api,success,request_id (see docs/billing.md).")
    )


class ImportResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text=_("Calls read from the file."))
    imported = serializers.IntegerField(help_text=_("New ledger rows."))
    skipped = serializers.IntegerField(help_text=_("Request ids already in the ledger."))
    first_at = serializers.DateTimeField(allow_null=True)
    last_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField()


class UsageImportViewSet(viewsets.GenericViewSet):
    """Upload a vendor's usage export into the ledger; a bad row imports nothing."""

    permission_classes = FINANCE
    serializer_class = UsageImportSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary=_("Import a usage CSV (idempotent on request id)"),
        request={"multipart/form-data": UsageImportSerializer},
        responses={201: ImportResultSerializer},
    )
    def create(self, request):
        serializer = UsageImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = importer.import_usage(
                serializer.validated_data["account"], serializer.validated_data["file"]
            )
        except (importer.UsageImportError, PricingError) as error:
            raise refuse(error) from None
        return Response(ImportResultSerializer(result.as_dict()).data, status=201)
