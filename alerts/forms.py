"""The forms of the operator pages: filtering the alert list, acknowledging, resolving and
annotating an alert, and editing a rule.

A rule's parameters are checked by ``alerts.rule_params.params_errors``, the check the REST
API and the model use; this module only says how each parameter is typed in (a number, a
whole number, a list of names, a choice) and which kinds read it (``KIND_PARAMS``).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from alerts.body_rules import GESTURE_CLASSES
from alerts.models import (
    RULE_KIND_CHOICES,
    AlertStatus,
    Rule,
    Severity,
)
from alerts.rule_params import COMMON_PARAMS, KIND_PARAMS, REQUIRED_PARAMS, params_errors
from alerts.rules import DRIVER_BEHAVIOURS, RULE_KINDS
from cameras import roles
from cameras.models import Camera

NOTE_MAX_LENGTH = 5000
PARAM_PREFIX = "param_"

# --------------------------------------------------------------------------- alerts


class AlertFilterForm(forms.Form):
    """The filters of the alert list; every one is optional. Dates are whole days in the
    current time zone, both ends included."""

    status = forms.MultipleChoiceField(
        label=_("Status"),
        choices=AlertStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    severity = forms.MultipleChoiceField(
        label=_("Severity"),
        choices=Severity.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    camera = forms.ModelChoiceField(
        label=_("Camera"), queryset=Camera.objects.none(), required=False, empty_label=_("All")
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    opened_from = forms.DateField(
        label=_("Opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    opened_to = forms.DateField(
        label=_("Opened until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["camera"].queryset = (
            Camera.objects.filter(site__in=roles.sites_for(user))
            .select_related("site")
            .order_by("site__name", "name")
        )
        self.fields["camera"].label_from_instance = lambda camera: str(camera)
        self.fields["kind"].choices = [("", _("All")), *RULE_KIND_CHOICES]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("opened_from"), cleaned.get("opened_to")
        if start and end and end < start:
            self.add_error("opened_to", _("The end of the date range is before its start."))
        return cleaned

    def apply(self, alerts):
        """``alerts`` narrowed to the filters that are valid (the others are ignored)."""
        given = getattr(self, "cleaned_data", {})
        if given.get("status"):
            alerts = alerts.filter(status__in=given["status"])
        if given.get("severity"):
            alerts = alerts.filter(severity__in=given["severity"])
        if given.get("camera"):
            alerts = alerts.filter(camera=given["camera"])
        if given.get("kind"):
            alerts = alerts.filter(kind=given["kind"])
        zone = timezone.get_current_timezone()
        if given.get("opened_from"):
            start = datetime.combine(given["opened_from"], time.min, tzinfo=zone)
            alerts = alerts.filter(opened_at__gte=start)
        if given.get("opened_to"):
            end = datetime.combine(given["opened_to"] + timedelta(days=1), time.min, tzinfo=zone)
            alerts = alerts.filter(opened_at__lt=end)
        return alerts


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("How was it resolved?"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say how the alert was resolved: a note is required.")},
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("The note is empty.")},
    )


# --------------------------------------------------------------------------- rules

NUMBER, WHOLE, NAMES, CHOICE, CHOICES, TEXT = (
    "number",
    "whole",
    "names",
    "choice",
    "choices",
    "text",
)

# How each parameter is typed in: (input, label, help). Which kinds read it, which are
# required and what values are allowed come from ``alerts.models``.
PARAM_INPUTS: dict[str, tuple[str, str, str]] = {
    "head_fraction": (
        NUMBER,
        _("Head part of the box"),
        _("Share of a person's box, from the top, taken as the head. Default 0.25."),
    ),
    "head_overlap": (
        NUMBER,
        _("Head overlap"),
        _("Share of the head a helmet box must cover to count. Default 0.3."),
    ),
    "no_helmet_classes": (
        NAMES,
        _("Bare-head classes"),
        _("Detector classes that mean a head without a helmet, separated by commas."),
    ),
    "allowed_colours": (
        NAMES,
        _("Allowed workwear colours"),
        _("Colour names separated by commas, e.g. orange, yellow."),
    ),
    "garment_overlap": (
        NUMBER,
        _("Garment overlap"),
        _("Share of the garment box inside the person's box to count it. Default 0.5."),
    ),
    "limit": (WHOLE, _("Most persons allowed"), _("Alert when more persons than this.")),
    "area_index": (
        WHOLE,
        _("Counting area"),
        _("Which of the camera's crowd areas, from 0. Default 0."),
    ),
    "capacity": (WHOLE, _("Capacity"), _("Alert when more persons than this are inside.")),
    "initial": (WHOLE, _("Persons inside at start"), _("Default 0.")),
    "limit_per_window": (
        WHOLE,
        _("Most passages per window"),
        _("Alert when more persons pass within the window."),
    ),
    "window_seconds": (NUMBER, _("Window (s)"), _("Length of the counting window.")),
    "direction": (CHOICE, _("Direction"), _("Which passages count. Default both.")),
    "threshold": (
        NUMBER,
        _("Threshold"),
        _("Score from which the behaviour counts, 0 to 1. Default: the minimum confidence."),
    ),
    "behaviours": (
        CHOICES,
        _("Behaviours"),
        _("Which driver behaviours alert. None chosen: all of them."),
    ),
    "dwell_seconds": (
        NUMBER,
        _("Dwell time (s)"),
        _("Alert when a person stays this long."),
    ),
    "iou": (
        NUMBER,
        _("Same-person overlap"),
        _("Box overlap (IoU) from which two frames show the same person. Default 0.3."),
    ),
    "forget_after_seconds": (
        NUMBER,
        _("Forget after (s)"),
        _("A person unseen this long starts over. Default 30."),
    ),
    "gestures": (
        CHOICES,
        _("Help gestures"),
        _("Which Baidu gesture classes call for help. None chosen: Five (an open palm)."),
    ),
    "timezone": (
        TEXT,
        _("Time zone of the active hours"),
        _("An IANA name such as Asia/Shanghai. Empty: the server's time zone."),
    ),
}
PARAM_CHOICES = {
    "direction": [("", "—"), ("both", _("both")), ("in", _("in")), ("out", _("out"))],
    "behaviours": [(name, name.replace("_", " ")) for name in DRIVER_BEHAVIOURS],
    "gestures": [(name, name.replace("_", " ")) for name in GESTURE_CLASSES],
}
# Kept as they are when a rule is edited: set by other means than this form.
KEPT_PARAMS = tuple(name for name in COMMON_PARAMS if name not in PARAM_INPUTS)


def kinds_reading(name: str) -> list[str]:
    """The rule kinds that read parameter ``name`` (all of them for the common ones)."""
    if name in COMMON_PARAMS:
        return list(RULE_KINDS)
    return [kind for kind in RULE_KINDS if name in KIND_PARAMS.get(kind, {})]


def _param_names() -> list[str]:
    names = [name for kind in RULE_KINDS for name in KIND_PARAMS.get(kind, {})]
    names += [name for name in COMMON_PARAMS if name in PARAM_INPUTS]
    return list(dict.fromkeys(names))


def _param_field(name: str) -> forms.Field:
    kind_of_input, label, help_text = PARAM_INPUTS.get(
        name, (TEXT, name.replace("_", " "), _("Written as JSON."))
    )
    common = {"label": label, "help_text": help_text, "required": False}
    if kind_of_input == NUMBER:
        return forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if kind_of_input == WHOLE:
        return forms.IntegerField(**common)
    if kind_of_input == CHOICE:
        return forms.ChoiceField(choices=PARAM_CHOICES[name], **common)
    if kind_of_input == CHOICES:
        return forms.MultipleChoiceField(
            choices=PARAM_CHOICES[name], widget=forms.CheckboxSelectMultiple, **common
        )
    return forms.CharField(**common)


def _param_value(name: str, value):
    """The value to store for what was typed in, or None for "not given"."""
    kind_of_input = PARAM_INPUTS.get(name, (TEXT,))[0]
    if value in (None, "", []):
        return None
    if kind_of_input == NAMES:
        names = [part.strip() for part in str(value).split(",") if part.strip()]
        return names or None
    if name not in PARAM_INPUTS:
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply: text
            return value
    return value


def _param_initial(name: str, value):
    kind_of_input = PARAM_INPUTS.get(name, (TEXT,))[0]
    if kind_of_input == NAMES and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if name not in PARAM_INPUTS and not isinstance(value, str):
        return json.dumps(value)
    return value


class RuleForm(forms.ModelForm):
    """A rule of one camera: the common settings and the parameters of its kind. The
    camera is fixed; the region is one of the camera's."""

    active_days = forms.TypedMultipleChoiceField(
        label=_("Active days"),
        choices=sorted(WEEKDAYS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: the rule never applies."),
    )

    class Meta:
        model = Rule
        fields = [
            "camera",
            "name",
            "kind",
            "enabled",
            "region",
            "severity",
            "min_confidence",
            "consecutive_frames",
            "active_days",
            "active_start",
            "active_end",
            "cooldown_seconds",
            "clear_after_seconds",
        ]
        widgets = {
            "camera": forms.HiddenInput,
            "active_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "active_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "min_confidence": forms.NumberInput(attrs={"step": "0.05", "min": 0, "max": 1}),
        }

    def __init__(self, *args, camera: Camera, **kwargs):
        super().__init__(*args, **kwargs)
        self.camera = camera
        camera_field = self.fields["camera"]
        camera_field.queryset = Camera.objects.filter(pk=camera.pk)
        camera_field.initial = camera.pk
        camera_field.disabled = True
        region = self.fields["region"]
        region.queryset = camera.regions.order_by("name")
        region.empty_label = _("The whole picture")
        region.label_from_instance = lambda item: f"{item.name} ({item.get_kind_display()})"
        if self.instance.pk is None:
            self.initial.setdefault("active_days", list(range(7)))
        stored = dict(self.instance.params or {}) if self.instance.pk else {}
        self.param_names = _param_names()
        for name in self.param_names:
            field = _param_field(name)
            self.fields[PARAM_PREFIX + name] = field
            if name in stored:
                self.initial[PARAM_PREFIX + name] = _param_initial(name, stored[name])
        self._params_reported = False

    def param_fields(self) -> list[dict]:
        """The parameter fields with the kinds that read them, for the template."""
        return [
            {
                "field": self[PARAM_PREFIX + name],
                "name": name,
                "kinds": kinds_reading(name),
                "required_for": [kind for kind, names in REQUIRED_PARAMS.items() if name in names],
                "common": name in COMMON_PARAMS,
            }
            for name in self.param_names
        ]

    def params_for(self, kind: str) -> dict:
        """The parameters typed in for ``kind``, plus those the form keeps as they were."""
        stored = dict(self.instance.params or {}) if self.instance.pk else {}
        params = {name: stored[name] for name in KEPT_PARAMS if name in stored}
        for name in self.param_names:
            if kind not in kinds_reading(name):
                continue
            value = _param_value(name, self.cleaned_data.get(PARAM_PREFIX + name))
            if value is not None:
                params[name] = value
        return params

    def clean_active_days(self):
        return sorted(set(self.cleaned_data.get("active_days") or []))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind:
            params = self.params_for(kind)
            errors = params_errors(kind, params)
            for name, reason in sorted(errors.items()):
                field = PARAM_PREFIX + name
                message = reason[:1].upper() + reason[1:] + "."
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{name}: {message}")
            self._params_reported = bool(errors)
            self.instance.params = params
        return cleaned

    def _update_errors(self, errors):
        # The model checks the parameters with the same function as ``clean``: its
        # answer is already shown field by field.
        if hasattr(errors, "error_dict") and "params" in errors.error_dict:
            messages = errors.error_dict.pop("params")
            if not self._params_reported:
                self.add_error(None, ValidationError(messages))
            if not errors.error_dict:
                return
        super()._update_errors(errors)
