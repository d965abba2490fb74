"""Sites, their cameras, what each camera analyses, regions drawn on the picture, stored
frames, and the record of changes. Every object a user sees is scoped by site."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from monitoring.lib.crypto import EncryptedTextField
from monitoring.lib.geometry import rescale_points

# Bounds of the numbers people set here (forms, API and admin all check them through the
# fields' validators): what the product can act on, far inside what the database holds.
MAX_RETENTION_HOURS = 87_600  # ten years
MAX_FRAME_SIDE = 16_384  # pixels, of a region's reference frame

DEFAULT_TIME_ZONE = "Asia/Shanghai"


def validate_time_zone(value: str) -> None:
    """An IANA time zone name this machine knows, like Asia/Shanghai."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(
            _("Unknown time zone %(zone)s: give an IANA name like Asia/Shanghai."),
            params={"zone": value},
        ) from None


class Site(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    address = models.CharField(_("address"), max_length=500, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text=_("Every time of this site is shown in this zone (an IANA name)."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="sites",
        blank=True,
        verbose_name=_("members"),
        help_text=_("Users who may see this site, each with the rights of their roles."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        permissions = [
            ("watch_site", _("Can watch live views and alerts")),
            ("acknowledge_alerts", _("Can acknowledge and resolve alerts")),
            ("configure_site", _("Can configure cameras, regions, rules and vendor accounts")),
            ("view_bills", _("Can read bills and usage")),
            ("view_unmasked_evidence", _("Can view unmasked alert evidence (each view recorded)")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone (the default one if the stored name is unknown here)."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            return ZoneInfo(DEFAULT_TIME_ZONE)


class SourceKind(models.TextChoices):
    HTTP = "http", _("HTTP(S) snapshot URL")
    RTSP = "rtsp", _("RTSP stream")
    FILE = "file", _("Video file or image folder (looped)")
    DEMO = "demo", _("Demo scene (rendered on this machine)")


class Health(models.TextChoices):
    UNKNOWN = "unknown", _("not checked yet")
    ONLINE = "online", _("online")
    DEGRADED = "degraded", _("degraded")
    OFFLINE = "offline", _("offline")


class PrivacyMask(models.TextChoices):
    """How people are hidden in the pictures of a camera that leave the server
    (``monitoring.privacy``); analyses always see the frame as taken."""

    OFF = "off", _("off")
    BLUR = "blur", _("blur people")
    FILL = "fill", _("fill people")


class Camera(models.Model):
    """A camera of a site: where its frames come from, how often one is sampled, and how
    the capture service last found it."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="cameras", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=200)
    source_kind = models.CharField(_("source"), max_length=10, choices=SourceKind.choices)
    # HTTP(S) URL, rtsp:// URL, a file or folder path, or the demo scene's name.
    source_url = models.CharField(_("address"), max_length=1000)
    username = models.CharField(_("user name"), max_length=200, blank=True)
    password = EncryptedTextField(_("password"), blank=True, default="")
    sample_interval = models.FloatField(
        _("sampling interval (s)"),
        default=5.0,
        validators=[MinValueValidator(0.2), MaxValueValidator(86_400)],
        help_text=_("Seconds between two frames taken for analysis."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The resolution of the latest frame; regions are drawn in these pixels.
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    health = models.CharField(
        _("health"), max_length=10, choices=Health.choices, default=Health.UNKNOWN
    )
    health_reason = models.CharField(_("reason"), max_length=500, blank=True)
    health_changed_at = models.DateTimeField(_("health changed at"), null=True, blank=True)
    last_frame_at = models.DateTimeField(_("last frame at"), null=True, blank=True)
    frame_retention_hours = models.PositiveIntegerField(
        _("keep frames for (hours)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_HOURS)],
        help_text=_("Frames older than this are deleted, except those kept as alert evidence."),
    )
    privacy_mask = models.CharField(
        _("privacy mask"),
        max_length=4,
        choices=PrivacyMask.choices,
        default=PrivacyMask.OFF,
        help_text=_(
            "Hide people in the frames, live images and evidence served from this camera. "
            "Analyses still see the frame as taken."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["site__name", "name"]
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="camera_name_unique_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.site.name} / {self.name}"


class AnalysisKind(models.TextChoices):
    """What an analysis of a camera is for; each maps to one vendor API."""

    PERSONS = "persons", _("people (boxes)")
    BODY_ATTR = "body_attr", _("people and attributes (helmet, clothes, smoking, phone)")
    BODY_ANALYSIS = "body_analysis", _("people and keypoints")
    BODY_NUM = "body_num", _("crowd count per area")
    BODY_TRACKING = "body_tracking", _("in/out flow with tracking")
    DRIVER_BEHAVIOR = "driver_behavior", _("driver behaviour")
    HELMET = "helmet", _("helmet detection")
    WORKWEAR = "workwear", _("workwear detection")
    FENCE = "fence", _("fence intrusion")
    FALL = "fall", _("falls")
    FIGHT = "fight", _("fights")


class CameraAnalysis(models.Model):
    """One analysis a camera runs: which API of which vendor account, how often."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="analyses")
    api = models.CharField(_("API"), max_length=64)
    account = models.ForeignKey(
        "monitoring.VendorAccount",
        on_delete=models.PROTECT,
        related_name="camera_analyses",
        verbose_name=_("vendor account"),
    )
    interval = models.FloatField(
        _("every (s)"),
        default=10.0,
        validators=[MinValueValidator(0.2), MaxValueValidator(86_400)],
        help_text=_("Seconds between two analysed frames; calls per month follow from it."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The fence region whose area a fence analysis sends; a camera with two fences runs
    # one fence analysis per region. Empty for the other APIs.
    region = models.ForeignKey(
        "Region",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="analyses",
        verbose_name=_("region"),
        help_text=_("The fence region a fence analysis watches."),
    )
    # The on-box prefilter (monitoring.prefilter): call only when the on-box detector
    # sees a person in the analysis' region, or in the frame when it has none.
    only_with_person = models.BooleanField(
        _("only when someone is there"),
        default=False,
        help_text=_(
            "Call the vendor only when the on-box detector sees a person in this analysis' "
            "region (or in the frame when it has none); other frames are skipped and counted."
        ),
    )

    class Meta:
        ordering = ["camera", "api"]
        verbose_name = _("camera analysis")
        verbose_name_plural = _("camera analyses")
        constraints = [
            models.UniqueConstraint(
                fields=["camera", "api", "account"],
                condition=models.Q(region__isnull=True),
                name="analysis_unique_per_camera",
            ),
            models.UniqueConstraint(
                fields=["camera", "api", "account", "region"],
                condition=models.Q(region__isnull=False),
                name="analysis_unique_per_region",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.api} via {self.account_id}"


class PrefilterSkips(models.Model):
    """Frames an analysis skipped on one day because the on-box detector saw nobody
    (``CameraAnalysis.only_with_person``): the vendor calls saved."""

    analysis = models.ForeignKey(
        CameraAnalysis, on_delete=models.CASCADE, related_name="prefilter_skips"
    )
    day = models.DateField(_("day"))
    frames = models.PositiveIntegerField(_("frames skipped"), default=0)

    class Meta:
        verbose_name = _("frames skipped (nobody there)")
        verbose_name_plural = _("frames skipped (nobody there)")
        constraints = [
            models.UniqueConstraint(fields=["analysis", "day"], name="prefilter_skips_per_day")
        ]

    def __str__(self) -> str:
        return f"analysis {self.analysis_id} {self.day}: {self.frames} skipped"


class RegionKind(models.TextChoices):
    FENCE = "fence", _("fence (no entry)")
    HELMET = "helmet", _("helmet zone")
    WORKWEAR = "workwear", _("workwear zone")
    CROWD = "crowd", _("crowd area")
    FLOW = "flow", _("flow line / area")
    ZONE = "zone", _("zone")
    DANGER = "danger", _("danger zone (no hands)")


class Region(models.Model):
    """A polygon drawn on a camera's picture, in pixels of a stated frame size."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="regions")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=RegionKind.choices)
    # [[x, y], ...] in pixels of a frame frame_width x frame_height.
    points = models.JSONField(_("points"))
    frame_width = models.PositiveIntegerField(
        _("frame width"), validators=[MinValueValidator(1), MaxValueValidator(MAX_FRAME_SIDE)]
    )
    frame_height = models.PositiveIntegerField(
        _("frame height"), validators=[MinValueValidator(1), MaxValueValidator(MAX_FRAME_SIDE)]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["camera", "name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        constraints = [
            models.UniqueConstraint(fields=["camera", "name"], name="region_name_unique_per_camera")
        ]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.kind} {self.name}"

    def points_on(self, size: tuple[int, int]) -> list[list[float]]:
        """The polygon in pixels of a frame of ``size`` (width, height)."""
        return rescale_points(self.points, (self.frame_width, self.frame_height), size)


def frame_path(instance: Frame, filename: str) -> str:
    moment = instance.captured_at
    return f"frames/{instance.camera_id}/{moment:%Y/%m/%d}/{moment:%H%M%S_%f}.jpg"


class Frame(models.Model):
    """A stored JPEG taken from a camera. ``keep`` protects evidence from retention."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="frames")
    captured_at = models.DateTimeField(_("captured at"), db_index=True)
    image = models.FileField(_("image"), upload_to=frame_path, max_length=300)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    size = models.PositiveIntegerField(_("bytes"))
    keep = models.BooleanField(_("kept as evidence"), default=False)
    # Seconds the picture had waited in the source when capture took it (an RTSP frame
    # since its packet arrived); null when the source cannot tell.
    age = models.FloatField(_("age when taken (s)"), null=True, blank=True)

    class Meta:
        ordering = ["-captured_at"]
        verbose_name = _("frame")
        verbose_name_plural = _("frames")
        indexes = [models.Index(fields=["camera", "-captured_at"], name="frame_camera_latest")]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.captured_at:%Y-%m-%d %H:%M:%S}"


class ChangeRecord(models.Model):
    """Who changed what and when, for cameras, their analyses, regions and alert rules."""

    ACTIONS = [("create", _("created")), ("update", _("updated")), ("delete", _("deleted"))]

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="changes")
    object_type = models.CharField(_("object"), max_length=40)
    object_id = models.BigIntegerField(_("object id"))
    object_repr = models.CharField(_("name"), max_length=300)
    action = models.CharField(_("action"), max_length=10, choices=ACTIONS)
    changes = models.JSONField(_("changes"), default=dict)  # field -> [before, after]
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("change")
        verbose_name_plural = _("changes")
        indexes = [models.Index(fields=["object_type", "object_id"], name="change_object")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id} {self.action}"
