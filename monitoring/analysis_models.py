"""What the analysis pipeline remembers, so that running a frame again is safe.

* ``FrameRun``: one row per frame the pipeline saw: analysed, or dropped and why, and
  how many times a task started on it (``deliveries``: each start takes the next
  number, which goes into the vendor request ids of that start).
* ``FrameAnalysis``: the normalized result of one analysis on one frame, unique per
  (frame, analysis): a task that runs the frame again reuses it instead of calling the
  vendor again. It also keeps the frames sent with it (the window of APIs that take
  several images), the region whose area was sent, the ledger request ids of the calls
  and why it failed, if it did.
* ``AnalysisState``: per camera analysis, the last frame it analysed (its own interval
  is counted from there) and its health: ok, waiting, failing, refused or paused, why,
  since when, and when it last succeeded.
* ``VendorStop``: a vendor's stop answer (daily or total limit, credentials, nothing
  bought) holding calls of one API or of a whole account back until a time or an action.
* ``RuleEvaluation``: one row per (rule, frame): the decision the rule took on that
  frame. Written in the same transaction as the rule's state and the alert, so a frame
  evaluated again advances no counter twice.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FrameRunStatus(models.TextChoices):
    ANALYZING = "analyzing", _("being analysed")
    ANALYZED = "analyzed", _("analysed")
    DROPPED = "dropped", _("dropped")


class FrameRun(models.Model):
    """The pipeline's record of one frame."""

    frame = models.OneToOneField(
        "cameras.Frame", on_delete=models.CASCADE, related_name="pipeline_run"
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=FrameRunStatus.choices,
        default=FrameRunStatus.ANALYZING,
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    deliveries = models.PositiveIntegerField(
        _("deliveries"), default=0, help_text=_("How many times a task started on this frame.")
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("frame run")
        verbose_name_plural = _("frame runs")
        indexes = [
            models.Index(
                fields=["started_at"], name="framerun_analyzing", condition=Q(status="analyzing")
            )
        ]

    def __str__(self) -> str:
        return f"frame {self.frame_id} {self.status}"


class FrameAnalysisStatus(models.TextChoices):
    PENDING = "pending", _("calling")
    DONE = "done", _("done")
    UNAVAILABLE = "unavailable", _("vendor unavailable")
    REFUSED = "refused", _("refused by the quota gate")
    FAILED = "failed", _("failed")


class FrameAnalysis(models.Model):
    """One analysis of one frame: its normalized result, or why there is none."""

    frame = models.ForeignKey(
        "cameras.Frame", on_delete=models.CASCADE, related_name="analysis_results"
    )
    analysis = models.ForeignKey(
        "cameras.CameraAnalysis", on_delete=models.CASCADE, related_name="frame_results"
    )
    api = models.CharField(_("API"), max_length=64)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=FrameAnalysisStatus.choices,
        default=FrameAnalysisStatus.PENDING,
    )
    # AnalysisResult.as_dict(), the vendor's raw answer included.
    result = models.JSONField(
        _("normalized result"), null=True, blank=True, encoder=DjangoJSONEncoder
    )
    # Frame ids sent in the request, oldest first; this frame is the last one.
    window = models.JSONField(_("frames sent"), default=list, blank=True)
    region_id = models.BigIntegerField(_("region of the area sent"), null=True, blank=True)
    delivery = models.PositiveIntegerField(_("delivery"), default=0)
    # [{"request_id", "account", "vendor", "api", "outcome", "cost"}] from the ledger.
    calls = models.JSONField(_("vendor calls"), default=list, blank=True, encoder=DjangoJSONEncoder)
    error = models.CharField(_("error"), max_length=500, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("frame analysis")
        verbose_name_plural = _("frame analyses")
        constraints = [
            models.UniqueConstraint(
                fields=["frame", "analysis"], name="frame_analysis_unique_per_frame"
            )
        ]

    def __str__(self) -> str:
        return f"frame {self.frame_id} {self.api} {self.status}"


class HealthState(models.TextChoices):
    """An analysis' health (``monitoring.analysis_health``). The values are a contract of
    the API and the live events: keep them."""

    OK = "ok", _("ok")
    WAITING = "waiting", _("waiting")
    FAILING = "failing", _("failing")
    REFUSED = "refused", _("refused")
    PAUSED = "paused", _("paused")


class AnalysisState(models.Model):
    """When a camera analysis last ran, and its health (see ``monitoring.analysis_health``).
    ``available`` and ``reason`` are derived from the health for ``camera.status``."""

    analysis = models.OneToOneField(
        "cameras.CameraAnalysis", on_delete=models.CASCADE, related_name="pipeline_state"
    )
    last_frame_id = models.BigIntegerField(_("last frame analysed"), null=True, blank=True)
    last_frame_at = models.DateTimeField(_("last frame taken at"), null=True, blank=True)
    available = models.BooleanField(_("available"), default=True)
    reason = models.CharField(_("why unavailable"), max_length=500, blank=True)
    changed_at = models.DateTimeField(_("health changed at"), null=True, blank=True)
    health = models.CharField(
        _("health"), max_length=10, choices=HealthState.choices, default=HealthState.WAITING
    )
    # A key of ``analysis_health.REASONS``, and what fills its blanks.
    health_reason = models.CharField(_("health reason"), max_length=40, blank=True)
    health_detail = models.CharField(_("health detail"), max_length=500, blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True)
    last_error_code = models.CharField(_("last error code"), max_length=40, blank=True)
    # The vendor asked to wait (``retry_after``): no call of this analysis before then.
    retry_at = models.DateTimeField(_("next call not before"), null=True, blank=True)

    class Meta:
        verbose_name = _("analysis state")
        verbose_name_plural = _("analysis states")

    def __str__(self) -> str:
        return f"analysis {self.analysis_id} {'available' if self.available else 'unavailable'}"


class VendorStop(models.Model):
    """A vendor's stop answer, held in the database so that every process of every host
    sees it: no call of ``api`` (or of any API when ``api`` is empty) of ``account``
    leaves while it is active (``billing.gate``). See ``monitoring.vendor_stops``."""

    account = models.ForeignKey(
        "monitoring.VendorAccount", on_delete=models.CASCADE, related_name="stops"
    )
    api = models.CharField(_("API"), max_length=64, blank=True, help_text=_("Empty: every API."))
    state = models.CharField(_("state"), max_length=10, choices=HealthState.choices)
    # What lifts it: "next_day", "resume" or "quota" (``monitoring.backends.stops``).
    lift = models.CharField(_("lifted by"), max_length=10)
    reason = models.CharField(_("reason"), max_length=40)
    code = models.CharField(_("vendor code"), max_length=40, blank=True)
    message = models.CharField(_("vendor message"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started at"))
    until = models.DateTimeField(_("until"), null=True, blank=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_how = models.CharField(_("lifted how"), max_length=10, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("vendor stop")
        verbose_name_plural = _("vendor stops")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "api"],
                condition=Q(lifted_at__isnull=True),
                name="vendor_stop_one_open_per_api",
            )
        ]

    def __str__(self) -> str:
        return f"account {self.account_id} {self.api or '*'} {self.state} ({self.reason})"


class RuleEvaluation(models.Model):
    """The decision of one rule on one frame (at most one)."""

    rule = models.ForeignKey("alerts.Rule", on_delete=models.CASCADE, related_name="+")
    frame = models.ForeignKey("cameras.Frame", on_delete=models.CASCADE, related_name="+")
    holds = models.BooleanField(_("condition holds"), default=False)
    fire = models.BooleanField(_("fires"), default=False)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    # {"active", "score", "count", "severity", "findings": [...]}
    decision = models.JSONField(_("decision"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    alert_id = models.BigIntegerField(_("alert"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule evaluation")
        verbose_name_plural = _("rule evaluations")
        constraints = [
            models.UniqueConstraint(fields=["rule", "frame"], name="rule_evaluation_unique")
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} frame {self.frame_id} {'holds' if self.holds else 'clear'}"


__all__ = [
    "AnalysisState",
    "FrameAnalysis",
    "FrameAnalysisStatus",
    "FrameRun",
    "FrameRunStatus",
    "HealthState",
    "RuleEvaluation",
    "VendorStop",
]
