"""Django admin for sites, cameras (with their analyses), regions, frames and the change
history. Non-superusers see only their sites' objects; the camera password is write-only
here too; changes made here are written to the change history; frames and the history
are read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from cameras import roles
from cameras.forms import (
    SECRET_SET_TEXT,
    analysis_errors,
    password_reentry_error,
    sample_interval_error,
    source_url_error,
)
from cameras.history import record_change, snapshot
from cameras.models import Camera, CameraAnalysis, ChangeRecord, Frame, Region, Site
from cameras.polygons import NON_FIELD, region_errors
from monitoring.lib.crypto import NEEDS_REENTRY_TEXT, needs_reentry
from monitoring.models import visible_accounts


class HistoryAdminMixin:
    """Writes changes made in the Django admin to the change history."""

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            stored = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(stored) if stored is not None else None
        super().save_model(request, obj, form, change)
        record_change(request.user, obj, "update" if change else "create", before, snapshot(obj))

    def delete_model(self, request, obj):
        if not isinstance(obj, Site):
            record_change(request.user, obj, "delete", snapshot(obj), None)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class SiteScopedAdminMixin:
    """Non-superusers see the objects of their sites only."""

    site_path = "site"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.site_path}__in": roles.sites_for(request.user)})


@admin.register(Site)
class SiteAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ("name", "address", "time_zone", "created_at")
    search_fields = ("name", "address")
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request)
        return roles.sites_for(request.user)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Members to choose from: the users of the editor's own sites (all for superusers).
        if db_field.name == "members" and not request.user.is_superuser:
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(sites__in=roles.sites_for(request.user))
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CameraAdminForm(forms.ModelForm):
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave blank to keep the stored password."),
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
            "sample_interval",
            "enabled",
            "frame_retention_hours",
            "privacy_mask",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("password", None)
        if needs_reentry(self.instance.password):
            self.fields["password"].help_text = f"{NEEDS_REENTRY_TEXT}. " + str(
                self.fields["password"].help_text
            )
        elif self.instance.pk and self.instance.password:
            self.fields["password"].help_text = f"{SECRET_SET_TEXT}. " + str(
                self.fields["password"].help_text
            )

    def clean(self):
        cleaned = super().clean()
        problem = source_url_error(cleaned.get("source_kind", ""), cleaned.get("source_url", ""))
        if problem:
            self.add_error("source_url", problem)
        problem = password_reentry_error(
            self.instance,
            cleaned.get("source_kind", ""),
            cleaned.get("source_url", ""),
            bool(cleaned.get("password")),
        )
        if problem:
            self.add_error("password", problem)
        if self.instance.pk and cleaned.get("sample_interval") is not None:
            problem = sample_interval_error(self.instance, cleaned["sample_interval"])
            if problem:
                self.add_error("sample_interval", problem)
        if not cleaned.get("password"):
            cleaned.pop("password", None)
        return cleaned


@admin.register(Camera)
class CameraAdmin(HistoryAdminMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    form = CameraAdminForm
    list_display = ("name", "site", "source_kind", "enabled", "health", "last_frame_at")
    list_filter = ("site", "source_kind", "enabled", "health")
    search_fields = ("name", "source_url")
    readonly_fields = (
        "width",
        "height",
        "health",
        "health_reason",
        "health_changed_at",
        "last_frame_at",
    )


class CameraAnalysisAdminForm(forms.ModelForm):
    class Meta:
        model = CameraAnalysis
        fields = ["camera", "api", "account", "region", "interval", "enabled", "params"]

    def clean(self):
        cleaned = super().clean()
        camera, account = cleaned.get("camera"), cleaned.get("account")
        if camera is not None and account is not None and cleaned.get("api"):
            errors = analysis_errors(
                camera,
                api=cleaned["api"],
                account=account,
                interval=cleaned.get("interval"),
                analysis_id=self.instance.pk,
                region=cleaned.get("region"),
            )
            for name, message in errors.items():
                self.add_error(name, message)
        return cleaned


@admin.register(CameraAnalysis)
class CameraAnalysisAdmin(HistoryAdminMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    form = CameraAnalysisAdminForm
    site_path = "camera__site"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account":
            kwargs["queryset"] = visible_accounts(request.user).order_by("name")
        elif db_field.name == "camera" and not request.user.is_superuser:
            kwargs["queryset"] = Camera.objects.filter(site__in=roles.sites_for(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    list_display = ("camera", "api", "account", "region", "interval", "enabled")
    list_filter = ("api", "enabled")
    raw_id_fields = ("region",)


class RegionAdminForm(forms.ModelForm):
    class Meta:
        model = Region
        fields = ["camera", "name", "kind", "points", "frame_width", "frame_height"]

    def clean(self):
        cleaned = super().clean()
        camera = cleaned.get("camera")
        if camera is not None and cleaned.get("kind"):
            errors = region_errors(
                camera,
                kind=cleaned["kind"],
                points=cleaned.get("points"),
                width=cleaned.get("frame_width"),
                height=cleaned.get("frame_height"),
                region_id=self.instance.pk,
            )
            for name, message in errors.items():
                self.add_error(None if name == NON_FIELD else name, message)
        return cleaned


@admin.register(Region)
class RegionAdmin(HistoryAdminMixin, SiteScopedAdminMixin, admin.ModelAdmin):
    form = RegionAdminForm
    site_path = "camera__site"
    list_display = ("name", "camera", "kind", "frame_width", "frame_height")
    list_filter = ("kind",)
    search_fields = ("name",)


class ReadOnlyAdmin(SiteScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdmin):
    site_path = "camera__site"
    list_display = ("camera", "captured_at", "width", "height", "size", "keep")
    list_filter = ("keep",)
    date_hierarchy = "captured_at"


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "user", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("object_repr",)

    def has_delete_permission(self, request, obj=None):
        return False
