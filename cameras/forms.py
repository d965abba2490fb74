"""The camera and camera-analysis forms of the admin pages, and the checks they share with
the REST API (``source_url_error``, ``sample_interval_error``, ``analysis_errors``).

The camera password is write-only: the form never sends a stored password back to the
browser, a blank password keeps the stored one, and "remove the stored password" clears it.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cameras import catalog, roles
from cameras.catalog import api_label
from cameras.models import (
    Camera,
    CameraAnalysis,
    PrivacyMask,
    Region,
    RegionKind,
    SourceKind,
)
from cameras.polygons import analysis_region_error
from cameras.sources.files import OUTSIDE_ROOTS, allowed_path
from monitoring.lib.crypto import NEEDS_REENTRY_TEXT, needs_reentry
from monitoring.models import accounts_for_site

# Baidu tracking: "最大时差不超过500ms, 即: 抽帧频率需要大于2fps" (body_tracking FAQ).
BODY_TRACKING_MAX_INTERVAL = 0.5
# Baidu person segmentation: its label map is read by the privacy mask alone.
SEGMENTATION_API = "body_seg"
FENCE_API = "fence"
SECRET_SET_TEXT = gettext_lazy("•••• set")

_SCHEMES = {
    SourceKind.HTTP: ("http", "https"),
    SourceKind.RTSP: ("rtsp", "rtsps"),
}


def source_url_error(kind: str, url: str) -> str | None:
    """Why ``url`` cannot be the address of a ``kind`` source, or None."""
    url = (url or "").strip()
    if not url:
        return _("Give the address of the source.")
    if any(character.isspace() or ord(character) < 32 for character in url):
        return _("The address must not contain spaces or control characters.")
    if kind == SourceKind.FILE and allowed_path(url) is None:
        return str(OUTSIDE_ROOTS)
    schemes = _SCHEMES.get(kind)
    if schemes is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return _("The address is not a well-formed URL, or its port is not 0 to 65535.")
    if parts.scheme.lower() not in schemes:
        return _("This kind of source needs an address starting with %(plain)s or %(secure)s.") % {
            "plain": f"{schemes[0]}://",
            "secure": f"{schemes[1]}://",
        }
    if not parts.hostname:
        return _("The address needs a host name or IP address, like %(example)s.") % {
            "example": f"{schemes[0]}://192.168.1.64/"
        }
    if parts.username is not None or parts.password is not None:
        return _(
            "Do not put a user name or password in the address: they go in their own fields, "
            "where the password is stored encrypted."
        )
    return None


def password_reentry_error(
    camera: Camera | None, kind: str, url: str, password_entered: bool
) -> str | None:
    """A stored password goes only to the address it was entered for: a camera whose kind
    or address changes must be given its password again (or have it removed)."""
    if camera is None or camera.pk is None or password_entered or not camera.password:
        return None
    if (kind, (url or "").strip()) == (camera.source_kind, camera.source_url):
        return None
    return _(
        "The address changed: type the password again (or remove it), so that it is sent "
        "only to the address it was entered for."
    )


def sample_interval_error(camera: Camera | None, sample_interval: float) -> str | None:
    """Why ``camera`` cannot be sampled every ``sample_interval`` seconds: an analysis
    may not ask for frames more often than the camera gives them."""
    if camera is None or camera.pk is None or sample_interval is None:
        return None
    faster = camera.analyses.filter(interval__lt=sample_interval).order_by("interval").first()
    if faster is None:
        return None
    return _(
        "The analysis %(api)s runs every %(interval)s s: sample the camera at least that "
        "often, or slow the analysis down first."
    ) % {"api": faster.api, "interval": f"{faster.interval:g}"}


def analysis_region_choice_error(camera: Camera, api: str, region) -> str | None:
    """Why ``region`` (a ``Region`` or None) cannot be the region of an ``api`` analysis
    on ``camera``: only a fence analysis names one, a fence region of its own camera, and
    it must name one when the camera has several fences."""
    if region is None:
        if api == FENCE_API and camera.pk is not None:
            fences = camera.regions.filter(kind=RegionKind.FENCE).count()
            if fences > 1:
                return _(
                    "This camera has %(count)d fences: choose the one this analysis watches "
                    "(one fence analysis per fence)."
                ) % {"count": fences}
        return None
    if api != FENCE_API:
        return _("Only a fence analysis watches a region; leave the region empty.")
    if region.camera_id != camera.pk:
        return _("The region belongs to another camera.")
    if region.kind != RegionKind.FENCE:
        return _("Choose a fence region; “%(name)s” is a %(kind)s.") % {
            "name": region.name,
            "kind": RegionKind(region.kind).label,
        }
    return None


def analysis_errors(
    camera: Camera,
    *,
    api: str,
    account,
    interval: float | None,
    analysis_id: int | None = None,
    region=None,
) -> dict[str, str]:
    """Why ``camera`` cannot run ``api`` through ``account`` every ``interval`` seconds,
    watching ``region`` (fence analyses), as a new analysis or replacing ``analysis_id``:
    one reason per field."""
    errors: dict[str, str] = {}
    if account is not None and account.site_id not in (None, camera.site_id):
        errors["account"] = _(
            "The account “%(account)s” belongs to another site: choose one of this "
            "camera's site or a shared one."
        ) % {"account": account.name}
    region_problem = analysis_region_choice_error(camera, api, region)
    if region_problem:
        errors["region"] = region_problem
    refused = catalog.current().not_on_cameras(api)
    if refused:
        errors["api"] = refused
    elif account is not None:
        offered = catalog.current().camera_apis(account.vendor)
        if api not in offered:
            errors["api"] = _(
                "The account “%(account)s” does not offer %(api)s; it offers %(offered)s."
            ) % {
                "account": account.name,
                "api": api,
                "offered": ", ".join(offered) or _("nothing"),
            }
        elif (
            CameraAnalysis.objects.filter(camera=camera, api=api, account=account, region=region)
            .exclude(pk=analysis_id)
            .exists()
        ):
            errors["api"] = (
                _("This camera already runs %(api)s on this region through this account.")
                if region is not None
                else _("This camera already runs %(api)s through this account.")
            ) % {"api": api}
        elif api == SEGMENTATION_API and camera.privacy_mask == PrivacyMask.OFF:
            # Only the privacy mask reads body_seg's label map (monitoring.privacy).
            errors["api"] = _(
                "Only the privacy mask reads person segmentation (%(api)s): turn this "
                "camera's privacy mask on (blur or fill) first."
            ) % {"api": api}
        else:
            problem = analysis_region_error(camera, api, account.vendor, analysis_id)
            if problem:
                errors["api"] = problem
    if interval is not None and math.isfinite(interval):
        if interval < camera.sample_interval:
            errors["interval"] = _(
                "The camera gives a frame every %(sample)s s: an analysis cannot run more "
                "often than that."
            ) % {"sample": f"{camera.sample_interval:g}"}
        elif api == "body_tracking" and interval > BODY_TRACKING_MAX_INTERVAL:
            errors["interval"] = _(
                "Flow tracking (body_tracking) needs frames at most 0.5 s apart (more than "
                "2 per second; 5 per second advised)."
            )
    return errors


def _api_choices() -> list[tuple[str, str]]:
    known = catalog.current()
    names = sorted({api for vendor in known.vendors() for api in known.camera_apis(vendor)})
    return [(name, api_label(name)) for name in names]


class CameraApiField(forms.ChoiceField):
    """The API of a camera analysis: one of ``_api_choices``; an API the vendor offers
    but cameras do not passes here, for ``analysis_errors`` to say why."""

    def valid_value(self, value) -> bool:
        return (
            super().valid_value(value) or catalog.current().not_on_cameras(str(value)) is not None
        )


class CameraForm(forms.ModelForm):
    """Adds or edits a camera of one of the user's sites."""

    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_password = forms.BooleanField(
        label=gettext_lazy("Remove the stored password"), required=False
    )

    class Meta:
        model = Camera
        fields = [
            "site",
            "name",
            "source_kind",
            "source_url",
            "username",
            "password",
            "clear_password",
            "sample_interval",
            "enabled",
            "frame_retention_hours",
            "privacy_mask",
        ]
        widgets = {
            "source_url": forms.TextInput(
                attrs={"placeholder": "rtsp://192.168.1.64:554/Streaming/Channels/101"}
            ),
            "username": forms.TextInput(attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = roles.sites_for(user).order_by("name")
        self.fields["site"].empty_label = None
        self.password_stored = bool(self.instance.pk and self.instance.password)
        self.password_unreadable = needs_reentry(self.instance.password)
        self.initial.pop("password", None)
        password = self.fields["password"]
        if self.password_unreadable:
            password.widget.attrs["placeholder"] = str(NEEDS_REENTRY_TEXT)
            password.help_text = _(
                "The stored password cannot be read with this server's keys: type it again."
            )
        if self.password_stored:
            password.widget.attrs["placeholder"] = str(SECRET_SET_TEXT)
            password.help_text = _("Leave blank to keep the stored password.")
        else:
            del self.fields["clear_password"]
        self.fields["source_url"].help_text = _(
            "HTTP(S) snapshot URL, rtsp:// stream, a file or folder path on the server, or "
            "the demo scene's name. User name and password go in their own fields."
        )
        # A post without it (an older page, a script) keeps the camera's mask.
        self.fields["privacy_mask"].required = False

    def clean_privacy_mask(self):
        return self.cleaned_data.get("privacy_mask") or self.instance.privacy_mask

    def clean_source_url(self):
        url = self.cleaned_data["source_url"].strip()
        problem = source_url_error(self.cleaned_data.get("source_kind", ""), url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean_sample_interval(self):
        value = self.cleaned_data["sample_interval"]
        problem = sample_interval_error(self.instance, value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean(self):
        cleaned = super().clean()
        if "source_url" in cleaned:
            problem = password_reentry_error(
                self.instance,
                cleaned.get("source_kind", ""),
                cleaned["source_url"],
                bool(cleaned.get("password") or cleaned.get("clear_password")),
            )
            if problem:
                self.add_error("password", problem)
        if cleaned.get("clear_password"):
            cleaned["password"] = ""
        elif not cleaned.get("password"):
            # Blank keeps what is stored: the instance's password is left as it is.
            cleaned.pop("password", None)
        return cleaned


class CameraAnalysisForm(forms.ModelForm):
    """Chooses one analysis a camera runs: API, vendor account, interval."""

    api = CameraApiField(label=gettext_lazy("API"), choices=())

    class Meta:
        model = CameraAnalysis
        fields = ["api", "account", "region", "interval", "enabled", "params", "only_with_person"]
        widgets = {
            "interval": forms.NumberInput(attrs={"step": "0.1", "min": "0.2"}),
            "params": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, camera: Camera, **kwargs):
        super().__init__(*args, **kwargs)
        self.camera = camera
        self.instance.camera = camera
        self.fields["api"].choices = _api_choices()
        self.fields["account"].queryset = accounts_for_site(camera.site_id).order_by("name")
        self.fields["region"].queryset = Region.objects.filter(
            camera=camera, kind=RegionKind.FENCE
        ).order_by("name")
        self.fields["params"].required = False
        if self.instance.pk is None and not self.is_bound:
            # Shown ticked for a camera with regions; a free account turns it off on saving.
            self.initial.setdefault(
                "only_with_person", camera.pk is not None and camera.regions.exists()
            )
        self.fields["params"].help_text = _(
            'Extra parameters for the API as JSON, like {"type": "headwear,upper_wear"}; '
            "areas come from the regions drawn on the camera."
        )

    def clean_params(self):
        params = self.cleaned_data.get("params")
        if params in (None, ""):
            return {}
        if not isinstance(params, dict):
            raise forms.ValidationError(_('Give the parameters as a JSON object, like {"a": 1}.'))
        return params

    def clean(self):
        cleaned = super().clean()
        api, account = cleaned.get("api"), cleaned.get("account")
        if account is not None and not catalog.current().pays_per_call(account.vendor):
            cleaned["only_with_person"] = False  # nothing to save on a free account
        if api and account is not None:
            errors = analysis_errors(
                self.camera,
                api=api,
                account=account,
                interval=cleaned.get("interval"),
                analysis_id=self.instance.pk,
                region=cleaned.get("region"),
            )
            for name, message in errors.items():
                self.add_error(name, message)
        return cleaned
