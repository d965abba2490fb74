"""Django admin for rules (their changes are written to the change history), alerts (read
mostly: their changes go through the lifecycle), webhooks (the secret is write-only) and
their deliveries."""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert, AlertChange, LiveEvent, Rule, Webhook, WebhookDelivery
from cameras.history import record_change, snapshot


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "camera", "region", "kind", "severity", "enabled", "updated_at")
    list_filter = ("kind", "severity", "enabled", "camera__site")
    search_fields = ("name", "camera__name")
    raw_id_fields = ("camera", "region")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = None
            if change:
                # The form has written the submitted values onto ``obj``: read the stored rule.
                stored = Rule.objects.filter(pk=obj.pk).first()
                before = snapshot(stored) if stored is not None else None
            super().save_model(request, obj, form, change)
            record_change(
                request.user, obj, "update" if change else "create", before, snapshot(obj)
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            record_change(request.user, obj, "delete", snapshot(obj), None)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


class AlertChangeInline(admin.TabularInline):
    model = AlertChange
    extra = 0
    can_delete = False
    fields = ("at", "action", "user", "note", "data")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "site", "camera", "status", "severity", "opened_at", "count")
    list_filter = ("status", "severity", "kind", "site")
    search_fields = ("title", "summary", "camera__name")
    date_hierarchy = "opened_at"
    inlines = [AlertChangeInline]
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class WebhookForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=1000, assume_scheme="https")
    secret = forms.CharField(
        label=_("secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Write-only. Left empty on a change, the stored secret is kept."),
    )

    class Meta:
        model = Webhook
        fields = ["site", "name", "url", "secret", "enabled", "event_types"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret:
            return secret
        if self.instance.pk:
            return self.instance.secret
        raise forms.ValidationError(_("A new webhook needs a secret."))


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ("name", "site", "url", "enabled", "created_at")
    list_filter = ("enabled", "site")
    search_fields = ("name", "url")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook",
        "event_id",
        "event_type",
        "attempt",
        "at",
        "status_code",
        "succeeded",
    )
    list_filter = ("succeeded", "event_type")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LiveEvent)
class LiveEventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "site", "camera_id", "created_at")
    list_filter = ("type",)
    readonly_fields = [field.name for field in LiveEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
