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
  is counted from there) and whether it is available (its vendor answered the last
  time) or why not.
* ``RuleEvaluation``: one row per (rule, frame): the decision the rule took on that
  frame. Written in the same transaction as the rule's state and the alert, so a frame
  evaluated again advances no counter twice.
"""

from __future__ import annotations

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


class AnalysisState(models.Model):
    """When a camera analysis last ran, and whether its vendor is answering."""

    analysis = models.OneToOneField(
        "cameras.CameraAnalysis", on_delete=models.CASCADE, related_name="pipeline_state"
    )
    last_frame_id = models.BigIntegerField(_("last frame analysed"), null=True, blank=True)
    last_frame_at = models.DateTimeField(_("last frame taken at"), null=True, blank=True)
    available = models.BooleanField(_("available"), default=True)
    reason = models.CharField(_("why unavailable"), max_length=500, blank=True)
    changed_at = models.DateTimeField(_("availability changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("analysis state")
        verbose_name_plural = _("analysis states")

    def __str__(self) -> str:
        return f"analysis {self.analysis_id} {'available' if self.available else 'unavailable'}"


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
    "RuleEvaluation",
]
