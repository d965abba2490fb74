"""REST API for vendor accounts (``/api/vendor-accounts/``), for admins only.

Credentials are write-only: requests may send them, answers only say whether each one
is set (``api_key_set``...). On update, a credential left out or sent empty keeps the
stored value. The model's own validation (``VendorAccount.clean``) decides what is valid,
so the API, the pages and the Django admin accept and refuse the same things.

Admins see their sites' accounts and the shared ones, and change their sites' only; a
shared account (no ``site``) is changed by superusers alone (403 for others); another
site's account is not found (404).

``stops`` lists the vendor's stop answers holding the account's calls back
(``monitoring.vendor_stops``); ``POST /api/vendor-accounts/{id}/resume/`` lifts them all.
"""

from __future__ import annotations

import copy

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cameras import roles
from monitoring import vendor_stops
from monitoring.analysis_health import reason_text
from monitoring.lib.apiutils import Conflict
from monitoring.models import SECRET_FIELDS, VendorAccount, visible_accounts

SHARED_READ_ONLY = _("Shared vendor accounts can be changed by superusers only.")
SITE_REQUIRED = _("Choose one of your sites: only superusers can add shared accounts.")


class CanConfigure(permissions.BasePermission):
    """The caller's roles include configuring sites, cameras and vendor accounts; changing
    a shared account needs a superuser."""

    message = _("Your roles do not include configuring vendor accounts.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(roles.CONFIGURE))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS or request.user.is_superuser:
            return True
        if obj.site_id is None:
            self.message = SHARED_READ_ONLY
            return False
        return True


class AccountSiteField(serializers.PrimaryKeyRelatedField):
    """A site the caller may see; empty (shared) only for superusers."""

    def get_queryset(self):
        request = self.context.get("request")
        return roles.sites_for(request.user if request else None)


def _secret_field(help_text) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        style={"input_type": "password"},
        help_text=help_text,
    )


_KEEP = _("Write-only. Left out or empty on update, the stored value is kept.")


class VendorStopSerializer(serializers.Serializer):
    api = serializers.CharField(help_text=_("The API held back; empty: every API."))
    state = serializers.ChoiceField(choices=["paused", "refused"])
    code = serializers.CharField(help_text=_("The vendor's error code."))
    reason = serializers.CharField(help_text=_("What to do, in your language."))
    started_at = serializers.DateTimeField()
    until = serializers.DateTimeField(allow_null=True)


class VendorAccountSerializer(serializers.ModelSerializer):
    api_key = _secret_field(
        format_lazy(
            "{} {}",
            _("Baidu: the application's API Key. CTYun: the user's AccessKey (ak)."),
            _KEEP,
        )
    )
    secret_key = _secret_field(
        format_lazy(
            "{} {}",
            _("Baidu: the application's Secret Key. CTYun: the user's SecurityKey (sk)."),
            _KEEP,
        )
    )
    app_key = _secret_field(format_lazy("{} {}", _("CTYun only: the application's AppKey."), _KEEP))
    api_key_set = serializers.BooleanField(
        read_only=True, help_text=_("Whether an API Key / ak is stored.")
    )
    secret_key_set = serializers.BooleanField(
        read_only=True, help_text=_("Whether a Secret Key / sk is stored.")
    )
    app_key_set = serializers.BooleanField(
        read_only=True, help_text=_("Whether an AppKey is stored.")
    )
    needs_reentry = serializers.ListField(
        source="secrets_needing_reentry",
        child=serializers.CharField(),
        read_only=True,
        help_text=_(
            "Credentials stored with a key this server no longer has: they must be typed again."
        ),
    )
    ports = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=65535),
        required=False,
        help_text=VendorAccount._meta.get_field("ports").help_text,
    )
    site = AccountSiteField(
        allow_null=True,
        required=False,
        help_text=VendorAccount._meta.get_field("site").help_text,
    )
    stops = serializers.SerializerMethodField()

    class Meta:
        model = VendorAccount
        fields = [
            "id",
            "site",
            "vendor",
            "name",
            "base_url",
            "api_key",
            "secret_key",
            "app_key",
            "api_key_set",
            "secret_key_set",
            "app_key_set",
            "needs_reentry",
            "ports",
            "certification",
            "free_quota_claimed_at",
            "enabled",
            "connect_timeout",
            "read_timeout",
            "notes",
            "stops",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(VendorStopSerializer(many=True))
    def get_stops(self, account: VendorAccount) -> list[dict]:
        return [stop_payload(stop) for stop in vendor_stops.active_stops(account.pk)]

    def validate(self, attrs):
        attrs = {
            name: value
            for name, value in attrs.items()
            if not (name in SECRET_FIELDS and value == "")
        }
        request = self.context.get("request")
        if not (request and request.user.is_superuser):
            if self.instance is None and "site" not in attrs:
                # An Admin of exactly one site adds accounts to it without naming it.
                own = list(roles.sites_for(request.user if request else None)[:2])
                if len(own) == 1:
                    attrs["site"] = own[0]
            site = attrs.get("site", getattr(self.instance, "site", None))
            if site is None:
                raise serializers.ValidationError({"site": [SITE_REQUIRED]})
        candidate = copy.copy(self.instance) if self.instance is not None else VendorAccount()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        candidate.entered_secrets = frozenset(name for name in SECRET_FIELDS if attrs.get(name))
        try:
            candidate.full_clean(validate_unique=False)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_as_drf_errors(error)) from None
        # Keep what validation normalized (the vendor's default base URL, no trailing /).
        attrs["base_url"] = candidate.base_url
        attrs["ports"] = candidate.ports
        return attrs


def stop_payload(stop) -> dict:
    return {
        "api": stop.api,
        "state": stop.state,
        "code": stop.code,
        "reason": reason_text(stop.reason, stop.message, stop.code, stop.until),
        "started_at": stop.started_at,
        "until": stop.until,
    }


def _as_drf_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
        for field, messages in error.message_dict.items()
    }


@extend_schema_view(
    list=extend_schema(summary=_("List vendor accounts (credentials are never returned)")),
    retrieve=extend_schema(summary=_("One vendor account (credentials are never returned)")),
    create=extend_schema(summary=_("Add a vendor account")),
    update=extend_schema(
        summary=_("Replace a vendor account; credentials left out or empty are kept")
    ),
    partial_update=extend_schema(
        summary=_("Change some fields of a vendor account; credentials left out are kept")
    ),
    destroy=extend_schema(summary=_("Delete a vendor account")),
)
class VendorAccountViewSet(viewsets.ModelViewSet):
    """Vendor accounts analysis is bought from: Baidu online or privately deployed,
    CTYun, or the local analyzer. Admins only (role permission ``cameras.configure_site``).
    """

    queryset = VendorAccount.objects.none()
    serializer_class = VendorAccountSerializer
    permission_classes = [permissions.IsAuthenticated, CanConfigure]

    def get_queryset(self):
        return visible_accounts(self.request.user).order_by("name")

    @extend_schema(
        request=None,
        responses=VendorAccountSerializer,
        summary=_("Resume a vendor account its vendor's stop answers hold back"),
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Lift every stop of the account (credentials, limits, nothing bought): calls
        leave again from the next frames."""
        account = self.get_object()
        vendor_stops.resume(account.pk, user=request.user)
        return Response(self.get_serializer(account).data)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict(
                _(
                    "Cameras analyse with this account, and its usage and bills refer to it: "
                    "disable it instead."
                )
            ) from None
