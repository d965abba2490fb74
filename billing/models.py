"""Billing records: the usage ledger and its hourly rollups, what was bought at the vendor
(packages, QPS orders), top-ups, price plans with history, bills and their adjustments,
and monthly budgets.

Counts are integers and money is ``Decimal`` (CNY, two decimals). The pricing rules
themselves live in ``billing.pricing`` (pure); these are the facts they are applied to.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}
# Bounds of numbers people set (forms, API and admin check them through the validators):
# what can be meant, far inside what the database and date arithmetic hold. Not the
# vendors' rules (``billing.pricing`` checks those), only sanity.
MAX_QPS_MONTHS = 120
MAX_QPS_DAYS = 3_660
MAX_SLOW_FACTOR = 1_000


class Outcome(models.TextChoices):
    SUCCESS = "success", _("success")
    VENDOR_ERROR = "vendor_error", _("vendor error")
    TRANSPORT_ERROR = "transport_error", _("transport error")
    REFUSED = "refused", _("refused locally")
    # Written as the request leaves and replaced by its outcome when the answer comes;
    # a row still pending long after is closed as a transport error ("interrupted").
    PENDING = "pending", _("in flight")


class Source(models.TextChoices):
    LIVE = "live", _("live call")
    IMPORT = "import", _("imported")


class UsageRecord(models.Model):
    """One vendor call (one attempt that left, or was refused before leaving).

    ``request_id`` is unique per account, so a call recorded twice (a retried task, a
    re-imported file) is one row. A request is recorded ``pending`` as it leaves and
    given its outcome when the answer comes, so one cut by a crash is still on record.
    """

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="usage"
    )
    api = models.CharField(_("API"), max_length=64)
    camera_id = models.BigIntegerField(_("camera"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=100)
    occurred_at = models.DateTimeField(_("time"))
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    images = models.PositiveIntegerField(_("images"), default=1)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default="live")
    rolled_up = models.BooleanField(_("rolled up"), default=False)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "request_id"], name="usage_request_id_unique_per_account"
            )
        ]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="usage_account_time"),
            models.Index(fields=["camera_id", "occurred_at"], name="usage_camera_time"),
            models.Index(
                fields=["account", "occurred_at"],
                name="usage_not_rolled_up",
                condition=Q(rolled_up=False),
            ),
            models.Index(
                fields=["occurred_at"], name="usage_pending", condition=Q(outcome="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.api} {self.request_id} {self.outcome}"


class HourlyRollup(models.Model):
    """Calls of one account and API in the hour starting at ``hour`` (UTC), by outcome."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="rollups"
    )
    api = models.CharField(_("API"), max_length=64)
    hour = models.DateTimeField(_("hour"))
    success = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)  # answered with a vendor error
    transport_errors = models.PositiveBigIntegerField(default=0)
    refused = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("hourly rollup")
        verbose_name_plural = _("hourly rollups")
        constraints = [
            models.UniqueConstraint(fields=["account", "api", "hour"], name="rollup_unique_hour")
        ]
        indexes = [models.Index(fields=["account", "hour"], name="rollup_account_hour")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.api} {self.hour:%Y-%m-%d %H}:00"


class PricePlan(models.Model):
    """A vendor's price plan as data (``billing.pricing.plan_to_dict``), in force from
    ``effective_from``; editing a plan adds a version, history is never rewritten."""

    vendor = models.CharField(_("vendor"), max_length=20)
    effective_from = models.DateTimeField(_("effective from"))
    data = models.JSONField(_("plan"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("price plan")
        verbose_name_plural = _("price plans")
        ordering = ["vendor", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "effective_from"], name="plan_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.vendor} from {self.effective_from:%Y-%m-%d}"


class Package(models.Model):
    """A count package bought at the vendor (Baidu 次数包, CTYun 资源包)."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="packages"
    )
    api = models.CharField(_("API"), max_length=64)
    calls = models.PositiveBigIntegerField(_("calls"))
    price = models.DecimalField(_("price"), **MONEY)
    purchased_at = models.DateTimeField(_("purchased at"))
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        ordering = ["purchased_at", "calls", "id"]

    def __str__(self) -> str:
        return f"{self.api} {self.calls:,} ({self.purchased_at:%Y-%m-%d})"


class QpsOrder(models.Model):
    """A Baidu QPS purchase: ``qps`` for ``months`` and ``days`` from ``purchased_at``."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="qps_orders"
    )
    api = models.CharField(_("API"), max_length=64)
    qps = models.PositiveIntegerField(_("QPS"), validators=[MinValueValidator(1)])
    months = models.PositiveIntegerField(
        _("months"), default=0, validators=[MaxValueValidator(MAX_QPS_MONTHS)]
    )
    days = models.PositiveIntegerField(
        _("days"), default=0, validators=[MaxValueValidator(MAX_QPS_DAYS)]
    )
    price = models.DecimalField(_("price"), **MONEY)
    purchased_at = models.DateTimeField(_("purchased at"))
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("QPS order")
        verbose_name_plural = _("QPS orders")
        ordering = ["purchased_at", "id"]

    def __str__(self) -> str:
        return f"{self.api} {self.qps} QPS ({self.purchased_at:%Y-%m-%d})"


class FreeQuotaClaim(models.Model):
    """A free quota claimed in the vendor's console for one API (``billing.pricing.FreeClaim``):
    Baidu once per API, valid 365 days from this claim; CTYun once per API per calendar
    year. The account's ``free_quota_claimed_at`` is a claim of every API at once."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="free_quota_claims"
    )
    api = models.CharField(_("API"), max_length=64)
    claimed_at = models.DateTimeField(_("claimed at"))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("free quota claim")
        verbose_name_plural = _("free quota claims")
        ordering = ["claimed_at", "id"]

    def __str__(self) -> str:
        return f"{self.api} free quota ({self.claimed_at:%Y-%m-%d})"


class TopUp(models.Model):
    """Money paid into the vendor account, as recorded by finance."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="top_ups"
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    at = models.DateTimeField(_("at"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("top-up")
        verbose_name_plural = _("top-ups")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.amount} ({self.at:%Y-%m-%d})"


class AccountStatus(models.Model):
    """The hourly settlement of an account: balance after the last settled hour, whether it
    is in arrears, the forecast, and which balance reminders have been sent."""

    account = models.OneToOneField(
        "monitoring.VendorAccount", on_delete=models.CASCADE, related_name="billing_status"
    )
    balance = models.DecimalField(_("balance"), default=Decimal(0), **MONEY)
    settled_until = models.DateTimeField(_("settled until"), null=True, blank=True)
    in_arrears = models.BooleanField(_("in arrears"), default=False)
    runs_out_at = models.DateTimeField(_("forecast to run out at"), null=True, blank=True)
    reminders_sent = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("account status")
        verbose_name_plural = _("account statuses")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.balance}"


class HourlyCharge(models.Model):
    """What one settled hour cost an account (usage only; purchases are charged when made)."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="hourly_charges"
    )
    hour = models.DateTimeField(_("hour"))
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=6)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "hour"], name="charge_unique_hour")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.hour:%Y-%m-%d %H}:00 {self.amount}"


class BillStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    FINAL = "final", _("final")


class Bill(models.Model):
    """A finalized (or last computed) monthly bill of one account.

    A draft is recomputed whenever asked; ``finalize`` freezes lines and total, and keeps
    the closing carried state so later months need not replay history. Corrections to a
    final bill are ``BillAdjustment`` lines.
    """

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.PROTECT, related_name="bills"
    )
    year = models.PositiveIntegerField()
    month = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=BillStatus.choices, default="draft")
    lines = models.JSONField(default=list)
    total = models.DecimalField(_("total"), default=Decimal(0), **MONEY)
    closing = models.JSONField(default=dict)  # billing.pricing.carry_to_dict
    computed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        ordering = ["-year", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["account", "year", "month"], name="bill_unique_month")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.year}-{self.month:02d} {self.status}"


class BillAdjustment(models.Model):
    """A correction line on a final bill: late calls, credits, disputes."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="adjustments")
    api = models.CharField(_("API"), max_length=64, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    note = models.CharField(_("note"), max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"{self.bill_id} {self.amount} {self.note}"


class BudgetAction(models.TextChoices):
    PAUSE = "pause", _("pause analysis")
    SLOW = "slow", _("slow analysis down")


class Budget(models.Model):
    """A monthly spending limit for a site or one camera, and what happens when reached."""

    site = models.ForeignKey("cameras.Site", on_delete=models.CASCADE, related_name="budgets")
    camera_id = models.BigIntegerField(_("camera"), null=True, blank=True)
    monthly_limit = models.DecimalField(_("monthly limit"), **MONEY)
    action = models.CharField(_("when reached"), max_length=10, choices=BudgetAction.choices)
    slow_factor = models.PositiveIntegerField(
        _("slow-down factor"),
        default=4,
        validators=[MinValueValidator(2), MaxValueValidator(MAX_SLOW_FACTOR)],
        help_text=_("When slowing down, analyse one frame in this many."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            # One budget per site and per camera; a NULL camera (the whole site) counts as
            # one value, on SQLite too (which has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                "site", Coalesce("camera_id", Value(0)), name="budget_unique_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.camera_id or '*'} {self.monthly_limit}"
