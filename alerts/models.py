"""Rules, their per-region state, alerts and their history, the stored live events that
browsers catch up from, and the webhooks alerts are pushed to.

What a rule decides lives in ``alerts.rules`` (pure); how an alert opens, holds, is
acknowledged and resolves lives in ``alerts.lifecycle``. These are the facts both write.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from alerts.rule_params import params_errors
from alerts.rules import RULE_KINDS, RuleConfig
from monitoring.lib.crypto import EncryptedTextField

WEEKDAYS = tuple(range(7))  # Monday = 0 ... Sunday = 6, as datetime.weekday()


def every_day() -> list[int]:
    return list(WEEKDAYS)


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


RULE_KIND_LABELS = {
    "fence_intrusion": _("fence intrusion"),
    "no_helmet": _("no helmet"),
    "workwear_colour": _("workwear colour"),
    "crowd": _("crowd"),
    "occupancy": _("occupancy"),
    "flow": _("flow"),
    "fall": _("fall"),
    "fight": _("fight"),
    "smoking": _("smoking"),
    "phone": _("phone"),
    "no_mask": _("no mask"),
    "driver_behaviour": _("driver behaviour"),
    "loitering": _("loitering"),
    "hand_in_danger": _("hand in danger"),
    "help_gesture": _("help gesture"),
    "person_down": _("person down"),
}
RULE_KIND_CHOICES = [(kind, RULE_KIND_LABELS[kind]) for kind in RULE_KINDS]


def validate_weekdays(value) -> None:
    if not isinstance(value, list) or any(
        not isinstance(day, int) or isinstance(day, bool) or day not in WEEKDAYS for day in value
    ):
        raise ValidationError(_("Active days are a list of weekdays, 0 (Monday) to 6 (Sunday)."))


# Bounds of the numbers a rule is set with (its parameters' are in ``alerts.rule_params``):
# what a site can mean, far inside what the database and the rule code (seconds into
# timedeltas, counts into integers) handle.
MAX_COOLDOWN_SECONDS = 7 * 86_400
MAX_CLEAR_AFTER_SECONDS = 86_400


class Rule(models.Model):
    """What to look for on a camera (in one of its regions, or the whole picture), from
    how sure and how many frames in a row, when, and how loud."""

    camera = models.ForeignKey(
        "cameras.Camera", on_delete=models.CASCADE, related_name="rules", verbose_name=_("camera")
    )
    region = models.ForeignKey(
        "cameras.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        verbose_name=_("region"),
        help_text=_("Empty: the whole picture."),
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=RULE_KIND_CHOICES)
    enabled = models.BooleanField(_("enabled"), default=True)
    min_confidence = models.FloatField(
        _("minimum confidence"),
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    consecutive_frames = models.PositiveIntegerField(
        _("frames in a row"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("How many analysed frames in a row must show the condition to alert."),
    )
    active_days = models.JSONField(
        _("active days"),
        default=every_day,
        blank=True,
        validators=[validate_weekdays],
        help_text=_("Weekdays the rule applies on: 0 is Monday, 6 is Sunday."),
    )
    active_start = models.TimeField(_("active from"), null=True, blank=True)
    active_end = models.TimeField(
        _("active until"),
        null=True,
        blank=True,
        help_text=_("Both empty: all day. An end before the start spans midnight."),
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    cooldown_seconds = models.PositiveIntegerField(
        _("cooldown (s)"),
        default=300,
        validators=[MaxValueValidator(MAX_COOLDOWN_SECONDS)],
        help_text=_("After an alert is resolved, no new one opens for this long."),
    )
    clear_after_seconds = models.PositiveIntegerField(
        _("resolves itself after (s)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CLEAR_AFTER_SECONDS)],
        help_text=_("An alert resolves by itself once its condition stayed clear this long."),
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["camera", "name"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        constraints = [
            models.UniqueConstraint(fields=["camera", "name"], name="rule_name_unique_per_camera")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if (
            self.region_id is not None
            and self.camera_id is not None
            and self.region.camera_id != self.camera_id
        ):
            raise ValidationError({"region": _("The region belongs to another camera.")})
        errors = params_errors(self.kind, self.params)
        if errors:
            raise ValidationError(
                {"params": [f"{name}: {reason}" for name, reason in sorted(errors.items())]}
            )

    def to_config(self) -> RuleConfig:
        """The rule as ``alerts.rules`` reads it. Active hours are in the project's time
        zone unless the params name another; summaries name the region."""
        params = {"timezone": settings.TIME_ZONE, **(self.params or {})}
        if self.region_id is not None and "region_name" not in params:
            params["region_name"] = self.region.name
        return RuleConfig(
            kind=self.kind,
            min_confidence=self.min_confidence,
            consecutive_frames=self.consecutive_frames,
            active_days=frozenset(self.active_days if self.active_days is not None else WEEKDAYS),
            active_start=self.active_start,
            active_end=self.active_end,
            severity=self.severity,
            cooldown_seconds=self.cooldown_seconds,
            params=params,
        )


class RuleState(models.Model):
    """What a rule remembers between frames of one camera and region (``alerts.rules``'
    state: frames in a row, tracks seen...)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="states")
    camera = models.ForeignKey("cameras.Camera", on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(
        "cameras.Region", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    state = models.JSONField(_("state"), default=dict)
    consecutive = models.PositiveIntegerField(_("frames in a row"), default=0)
    last_seen_at = models.DateTimeField(_("condition last seen at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("rule state")
        verbose_name_plural = _("rule states")
        constraints = [
            models.UniqueConstraint(
                "rule",
                "camera",
                Coalesce("region", Value(0), output_field=models.BigIntegerField()),
                name="rule_state_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.camera_id} {self.region_id}"


class AlertStatus(models.TextChoices):
    OPEN = "open", _("open")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")


UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


def evidence_path(instance: Alert, filename: str) -> str:
    moment = instance.opened_at
    return f"evidence/{instance.camera_id}/{moment:%Y/%m/%d}/alert-{instance.pk}-{filename}"


class Alert(models.Model):
    """A condition a rule saw on a camera, from when it fired until someone (or the
    condition staying clear) resolved it. At most one is unresolved per rule, camera and
    region; while the condition holds, that one is updated."""

    rule = models.ForeignKey(
        Rule, on_delete=models.RESTRICT, related_name="alerts", verbose_name=_("rule")
    )
    camera = models.ForeignKey(
        "cameras.Camera", on_delete=models.CASCADE, related_name="alerts", verbose_name=_("camera")
    )
    region = models.ForeignKey(
        "cameras.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("region"),
    )
    # The camera's site, kept here so that scoping a list of alerts needs no join.
    site = models.ForeignKey(
        "cameras.Site", on_delete=models.CASCADE, related_name="alerts", verbose_name=_("site")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=RULE_KIND_CHOICES)
    status = models.CharField(
        _("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    title = models.CharField(_("title"), max_length=300)
    summary = models.CharField(_("what is wrong"), max_length=500, blank=True)
    opened_at = models.DateTimeField(_("opened at"), db_index=True)
    last_seen_at = models.DateTimeField(_("last seen at"))
    count = models.PositiveIntegerField(
        _("frames"), default=1, help_text=_("Analysed frames that showed the condition.")
    )
    best_score = models.FloatField(_("best score"), default=0.0)
    best_frame = models.ForeignKey(
        "cameras.Frame",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="best_for_alerts",
        verbose_name=_("evidence frame"),
    )
    best_frame_at = models.DateTimeField(_("evidence taken at"), null=True, blank=True)
    evidence = models.FileField(
        _("evidence image"), upload_to=evidence_path, max_length=300, blank=True
    )
    findings = models.JSONField(_("findings"), default=list, blank=True)
    normalized = models.JSONField(_("normalized results"), default=list, blank=True)
    raw = models.JSONField(_("vendor answers"), default=list, blank=True)
    vendor_calls = models.JSONField(
        _("vendor calls"),
        default=list,
        blank=True,
        help_text=_("The calls behind the evidence: ledger request id, account, API, cost."),
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.TextField(_("resolution note"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # A NULL region (the whole picture) counts as one region: hence the COALESCE,
            # which PostgreSQL and SQLite both index, where NULLS NOT DISTINCT is
            # PostgreSQL's alone.
            models.UniqueConstraint(
                "rule",
                "camera",
                Coalesce("region", Value(0), output_field=models.BigIntegerField()),
                condition=Q(status__in=UNRESOLVED),
                name="alert_one_unresolved_per_rule_camera_region",
                violation_error_message=_(
                    "This rule already has an unresolved alert on this camera and region."
                ),
            )
        ]
        indexes = [
            models.Index(fields=["site", "-opened_at"], name="alert_site_latest"),
            models.Index(fields=["status", "last_seen_at"], name="alert_status_seen"),
            models.Index(
                fields=["rule", "camera", "region", "-resolved_at"], name="alert_last_resolved"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} ({self.status})"

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED


class ChangeAction(models.TextChoices):
    OPENED = "opened", _("opened")
    UPDATED = "updated", _("updated")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")
    AUTO_RESOLVED = "auto_resolved", _("resolved by itself")
    NOTE = "note", _("note")
    VIEWED_UNMASKED = "viewed_unmasked", _("viewed unmasked evidence")


class AlertChange(models.Model):
    """One entry of an alert's history: who did what, when, and with which note."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(_("at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    action = models.CharField(_("action"), max_length=15, choices=ChangeAction.choices)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("alert change")
        verbose_name_plural = _("alert changes")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} {self.at:%Y-%m-%d %H:%M:%S}"


class EventType(models.TextChoices):
    ALERT_OPENED = "alert.opened", _("alert opened")
    ALERT_UPDATED = "alert.updated", _("alert updated")
    ALERT_ACKNOWLEDGED = "alert.acknowledged", _("alert acknowledged")
    ALERT_RESOLVED = "alert.resolved", _("alert resolved")
    FRAME_ANALYZED = "frame.analyzed", _("frame analysed")
    CAMERA_STATUS = "camera.status", _("camera status")
    ANALYSIS_HEALTH = "analysis.health", _("analysis health")


ALERT_EVENT_TYPES = (
    EventType.ALERT_OPENED,
    EventType.ALERT_UPDATED,
    EventType.ALERT_ACKNOWLEDGED,
    EventType.ALERT_RESOLVED,
)


class LiveEvent(models.Model):
    """An event sent to the browsers of a site, kept for a while so that a browser that
    reconnects can ask for what it missed. Ids only grow: they are the resume point."""

    site = models.ForeignKey("cameras.Site", on_delete=models.CASCADE, related_name="+")
    camera_id = models.BigIntegerField(_("camera"), null=True, blank=True)
    type = models.CharField(_("type"), max_length=30, choices=EventType.choices)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("live event")
        verbose_name_plural = _("live events")
        indexes = [
            models.Index(fields=["site", "id"], name="live_event_site_id"),
            models.Index(fields=["type", "created_at"], name="live_event_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.type}"

    def as_message(self) -> dict:
        """The event as browsers and webhooks receive it."""
        return {"id": self.pk, "type": self.type, **self.payload}


def default_webhook_events() -> list[str]:
    return [
        str(EventType.ALERT_OPENED),
        str(EventType.ALERT_ACKNOWLEDGED),
        str(EventType.ALERT_RESOLVED),
    ]


def validate_webhook_events(value) -> None:
    allowed = {str(kind) for kind in ALERT_EVENT_TYPES}
    if not isinstance(value, list) or not value or any(item not in allowed for item in value):
        raise ValidationError(
            _("Choose one or more of: %(types)s.") % {"types": ", ".join(sorted(allowed))}
        )


class Webhook(models.Model):
    """An HTTP endpoint that receives a site's alert events, signed with its secret."""

    site = models.ForeignKey(
        "cameras.Site", on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=1000)
    secret = EncryptedTextField(
        _("secret"),
        help_text=_("Signs every delivery (HMAC-SHA256). Stored encrypted, never shown again."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    event_types = models.JSONField(
        _("events"),
        default=default_webhook_events,
        validators=[validate_webhook_events],
        help_text=_("Which alert events are sent."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["site", "name"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in (self.event_types or [])


class WebhookDelivery(models.Model):
    """One attempt at delivering one event to one webhook."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    # The live event's id; not a foreign key, so that pruning events keeps this record.
    event_id = models.BigIntegerField(_("event"))
    event_type = models.CharField(_("event type"), max_length=30)
    attempt = models.PositiveIntegerField(_("attempt"))
    at = models.DateTimeField(_("at"))
    status_code = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_id", "attempt"], name="webhook_delivery_attempt_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} event {self.event_id} attempt {self.attempt}"
