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
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from billing import bills, facts, importer, plans, purchases, settlement
from billing.models import (
    MAX_QPS_DAYS,
    MAX_QPS_MONTHS,
    AccountStatus,
    FreeQuotaClaim,
    Package,
    QpsOrder,
    TopUp,
)
from billing.pricing import PricingError
from billing.pricing.calendar import parse_month
from cameras import roles
from monitoring.models import VendorAccount


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


def _refuse(error: Exception) -> Refused:
    return Refused(str(error))


def billed_accounts() -> QuerySet[VendorAccount]:
    return VendorAccount.objects.filter(vendor__in=plans.BILLED_VENDORS).order_by("name")


@extend_schema_field(OpenApiTypes.INT)
class BilledAccountField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return billed_accounts()


def _creator(record) -> str | None:
    return record.created_by.get_username() if record.created_by else None


ACCOUNT_FILTER = OpenApiParameter(
    "account", OpenApiTypes.INT, description=_("Only this account's records (its id).")
)
MONTH_PARAMETER = OpenApiParameter(
    "month", OpenApiTypes.STR, required=True, description=_("The month, as YYYY-MM.")
)


# --- accounts and their status ---------------------------------------------------------------


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


def _month_param(request) -> tuple[int, int]:
    text = request.query_params.get("month")
    if not text:
        raise Refused(_("Say which month: ?month=YYYY-MM."))
    try:
        return parse_month(text)
    except PricingError as error:
        raise _refuse(error) from None


@extend_schema_view(
    list=extend_schema(summary=_("Billed accounts (Baidu, CTYun) and their balance status")),
    retrieve=extend_schema(summary=_("One billed account and its balance status")),
)
class BillingAccountViewSet(viewsets.ReadOnlyModelViewSet):
    """Baidu and CTYun accounts with the result of their hourly settlement."""

    serializer_class = BillingAccountSerializer
    permission_classes = FINANCE

    def get_queryset(self):
        return billed_accounts().select_related("billing_status")

    @extend_schema(
        summary=_("Calls per API per Shanghai day of a month, and the projected month cost"),
        parameters=[MONTH_PARAMETER],
        responses=MonthUsageSerializer,
    )
    @action(detail=True, methods=["get"])
    def usage(self, request, pk=None):
        account = self.get_object()
        year, month = _month_param(request)
        data = {
            "month": f"{year:04d}-{month:02d}",
            "days": bills.daily_usage(account, year, month),
            "projection": bills.project_month(account, year, month).to_dict(),
        }
        return Response(MonthUsageSerializer(data).data)


# --- top-ups and purchases ---------------------------------------------------------------------


class TopUpSerializer(serializers.ModelSerializer):
    account = BilledAccountField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = TopUp
        fields = ["id", "account", "amount", "at", "note", "created_at", "created_by"]
        read_only_fields = ["created_at"]

    def get_created_by(self, record) -> str | None:
        return _creator(record)


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
        return _creator(record)


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
        return _creator(record)


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
        return _creator(record)


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
            raise _refuse(error) from None


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


# --- usage import -------------------------------------------------------------------------------


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
            raise _refuse(error) from None
        return Response(ImportResultSerializer(result.as_dict()).data, status=201)


# --- bills -----------------------------------------------------------------------------------

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
        year, month = _month_param(request)
        account = billed_accounts().filter(pk=int(account_id)).first()
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
            raise _refuse(error) from None
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
            raise _refuse(error) from None
        return _bill_response(bills.current_bill(account, year, month))

    def _valid(self, serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
