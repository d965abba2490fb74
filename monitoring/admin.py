"""Django admin for vendor accounts, with the pages' secrecy: credentials go in through
password inputs, are never shown back, and a blank input keeps the stored value.

Staff users whose roles include configuring (``roles.CONFIGURE``) may use it, as they may
use the vendor account pages, with the same scope: their sites' accounts to change, the
shared ones to read, other sites' not at all."""

from django.contrib import admin
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from cameras import roles
from monitoring.accounts import VendorAccountForm
from monitoring.auth import ThrottledAdminAuthenticationForm
from monitoring.models import SECRET_FIELDS, VendorAccount, VendorStop, visible_accounts

# The admin's sign-in form counts failures with the login page's throttle.
admin.site.login_form = ThrottledAdminAuthenticationForm


def _owned_or_superuser(request, account: VendorAccount | None) -> bool:
    """Shared accounts are changed by superusers only."""
    return account is None or request.user.is_superuser or account.site_id is not None


@admin.register(VendorAccount)
class VendorAccountAdmin(admin.ModelAdmin):
    form = VendorAccountForm
    list_display = [
        "name",
        "site",
        "vendor",
        "base_url",
        "credentials_complete",
        "enabled",
        "updated_at",
    ]
    list_filter = ["vendor", "enabled", "certification"]
    search_fields = ["name", "base_url", "notes"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "site", "vendor", "base_url", "enabled", "notes"]}),
        (_("Credentials"), {"fields": list(SECRET_FIELDS)}),
        (_("Private deployment"), {"fields": ["ports"]}),
        (_("At the vendor"), {"fields": ["certification", "free_quota_claimed_at"]}),
        (_("Timeouts"), {"fields": ["connect_timeout", "read_timeout"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return visible_accounts(request.user).select_related("site")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    # The role that may configure vendor accounts on the pages may do so here too.
    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(roles.CONFIGURE)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.CONFIGURE)

    def has_add_permission(self, request) -> bool:
        return request.user.has_perm(roles.CONFIGURE)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.CONFIGURE) and _owned_or_superuser(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(roles.CONFIGURE) and _owned_or_superuser(request, obj)

    def delete_queryset(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(site__isnull=False)
        super().delete_queryset(request, queryset)

    @admin.display(boolean=True, description=_("credentials complete"))
    def credentials_complete(self, account: VendorAccount) -> bool:
        return account.credentials_complete

    @method_decorator(sensitive_post_parameters(*SECRET_FIELDS))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(VendorStop)
class VendorStopAdmin(admin.ModelAdmin):
    """The vendors' stop answers, in force and lifted: read only (resume on the vendor
    accounts page, the camera page or the API)."""

    list_display = ["account", "api", "state", "code", "started_at", "until", "lifted_at"]
    list_filter = ["state", "lifted_how"]
    search_fields = ["account__name", "api", "code"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
