"""Vendor accounts: who the product calls for analysis, where, and with which credentials.

A ``VendorAccount`` holds what a vendor client needs (``client_settings()``) and what
billing needs to know about the account at the vendor (certification, free quota).
Credentials are encrypted at rest (``monitoring.lib.crypto``) and never shown back: pages,
the API and the Django admin only say whether each one is set.

An account belongs to one site (its Admins see and change it; that site's cameras may
use it) or is shared (``site`` empty: every site's analyses may use it, superusers alone
change it). ``visible_accounts`` and ``editable_accounts`` say which a user may see and
change. Credentials go only to the endpoint they were entered for: a change of
``base_url`` or ``ports`` is valid only with the stored credentials entered again in the
same change (``entered_secrets``).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from monitoring.backends.base import ClientSettings, Timeouts
from monitoring.lib.crypto import EncryptedTextField, needs_reentry

SECRET_FIELDS = ("api_key", "secret_key", "app_key")

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


class Vendor(models.TextChoices):
    BAIDU = "baidu", _("Baidu Body Analysis (online)")
    BAIDU_PRIVATE = "baidu_private", _("Baidu Body Analysis (private deployment)")
    CTYUN = "ctyun", _("CTYun Safety Production")
    LOCAL = "local", _("Local analyzer (no vendor)")


class Certification(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    ENTERPRISE = "enterprise", _("Enterprise")


def vendor_traits(vendor: str):
    """What the backend registry says of ``vendor`` (``VendorTraits``)."""
    from monitoring.backends.registry import traits

    return traits(vendor)


def default_base_url(vendor: str) -> str:
    """The vendor's public endpoint ("" when it has none)."""
    from monitoring.backends.base import Unsupported

    try:
        return vendor_traits(vendor).default_base_url
    except Unsupported:
        return ""


# Which credentials each vendor needs; the others must stay empty.
REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    Vendor.BAIDU: ("api_key", "secret_key"),
    Vendor.CTYUN: ("api_key", "secret_key", "app_key"),
    Vendor.BAIDU_PRIVATE: (),
    Vendor.LOCAL: (),
}

MISSING_CREDENTIAL_MESSAGES = {
    (Vendor.BAIDU, "api_key"): _(
        "A Baidu account needs the API Key of its application "
        "(Baidu AI console, Body Analysis, application list)."
    ),
    (Vendor.BAIDU, "secret_key"): _(
        "A Baidu account needs the Secret Key of its application "
        "(Baidu AI console, Body Analysis, application list)."
    ),
    (Vendor.CTYUN, "api_key"): _(
        "A CTYun account needs the user's AccessKey (ak), from Personal center, "
        "Security settings, User AccessKey."
    ),
    (Vendor.CTYUN, "secret_key"): _(
        "A CTYun account needs the user's SecurityKey (sk), from Personal center, "
        "Security settings, User AccessKey."
    ),
    (Vendor.CTYUN, "app_key"): _(
        "A CTYun account needs the AppKey of its application (AI platform console, "
        "My applications)."
    ),
}


def private_service_names(vendor: str = Vendor.BAIDU_PRIVATE) -> list[str]:
    """The services of a deployment whose services listen on ports of their own (a
    Baidu private deployment), as the client knows them."""
    from monitoring.backends.registry import vendor_apis

    return vendor_apis(vendor)


class VendorAccount(models.Model):
    vendor = models.CharField(_("vendor"), max_length=20, choices=Vendor.choices)
    site = models.ForeignKey(
        "cameras.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vendor_accounts",
        verbose_name=_("site"),
        help_text=_(
            "The site whose Admins manage this account and whose cameras may use it. "
            "Empty: shared by every site, changed by superusers only."
        ),
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        unique=True,
        help_text=_("A name to tell this account apart, e.g. “Baidu, plant 2”."),
    )
    base_url = models.CharField(
        _("base URL"),
        max_length=300,
        blank=True,
        help_text=_(
            "Left empty, the vendor's public address: https://aip.baidubce.com for Baidu, "
            "https://ai-global.ctapi.ctyun.cn for CTYun. A private deployment needs its "
            "server's address on the LAN, like http://192.168.0.10."
        ),
    )
    api_key = EncryptedTextField(
        _("API Key / ak"),
        blank=True,
        default="",
        help_text=_(
            "Baidu: the API Key of the application. CTYun: the user's AccessKey (ak). "
            "Stored encrypted and never shown again."
        ),
    )
    secret_key = EncryptedTextField(
        _("Secret Key / sk"),
        blank=True,
        default="",
        help_text=_(
            "Baidu: the Secret Key of the application. CTYun: the user's SecurityKey (sk). "
            "Stored encrypted and never shown again."
        ),
    )
    app_key = EncryptedTextField(
        _("AppKey"),
        blank=True,
        default="",
        help_text=_(
            "CTYun only: the AppKey of the application. Stored encrypted and never shown again."
        ),
    )
    ports = models.JSONField(
        _("ports"),
        default=dict,
        blank=True,
        help_text=_(
            "Private deployment only: the ports that differ from the defaults, by service, "
            'like {"body_analysis": 8124, "body_num": 8122}.'
        ),
    )
    certification = models.CharField(
        _("certification"),
        max_length=20,
        choices=Certification.choices,
        default=Certification.PERSONAL,
        help_text=_(
            "The real-name certification of the account at the vendor. For Baidu it decides "
            "the free trial quota: personal 10,000 calls per API, enterprise 50,000."
        ),
    )
    free_quota_claimed_at = models.DateTimeField(
        _("free quota claimed at"),
        null=True,
        blank=True,
        help_text=_("When the free trial quota was claimed in the vendor's console, if it was."),
    )
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Disabled accounts are never called.")
    )
    connect_timeout = models.FloatField(
        _("connect timeout (s)"),
        default=Timeouts.connect,
        validators=[MinValueValidator(0.1), MaxValueValidator(120)],
        help_text=_("Seconds to wait for a connection to the vendor."),
    )
    read_timeout = models.FloatField(
        _("read timeout (s)"),
        default=Timeouts.read,
        validators=[MinValueValidator(0.1), MaxValueValidator(600)],
        help_text=_("Seconds to wait for the vendor's answer."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("vendor account")
        verbose_name_plural = _("vendor accounts")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<VendorAccount {self.pk} {self.vendor} {self.name!r}>"

    def save(self, *args, **kwargs) -> None:
        self.apply_vendor_defaults()
        super().save(*args, **kwargs)

    # ------------------------------------------------------------ credentials, as facts

    @property
    def api_key_set(self) -> bool:
        return bool(self.api_key)

    @property
    def secret_key_set(self) -> bool:
        return bool(self.secret_key)

    @property
    def app_key_set(self) -> bool:
        return bool(self.app_key)

    @property
    def secrets_needing_reentry(self) -> list[str]:
        """The credentials stored with a key this server no longer has."""
        return [name for name in SECRET_FIELDS if needs_reentry(getattr(self, name))]

    @property
    def needs_credentials(self) -> bool:
        return bool(REQUIRED_CREDENTIALS.get(self.vendor))

    @property
    def credentials_complete(self) -> bool:
        return all(getattr(self, name) for name in REQUIRED_CREDENTIALS.get(self.vendor, ()))

    # ------------------------------------------------------------ validation

    def apply_vendor_defaults(self) -> None:
        self.base_url = (self.base_url or "").strip()
        if not self.base_url and self.vendor in Vendor.values:
            self.base_url = default_base_url(self.vendor)
        if len(self.base_url) > 1:
            self.base_url = self.base_url.rstrip("/")
        if self.ports is None:
            self.ports = {}

    def clean(self) -> None:
        super().clean()
        self.apply_vendor_defaults()
        errors: dict[str, list[ValidationError]] = {}

        def add(field: str, message, **params) -> None:
            errors.setdefault(field, []).append(ValidationError(message, params=params or None))

        if not self._state.adding and self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("vendor", flat=True)
            stored_vendor = stored.first()
            if stored_vendor is not None and stored_vendor != self.vendor:
                add(
                    "vendor",
                    _(
                        "The vendor of an existing account cannot change: "
                        "create a new account instead."
                    ),
                )

        if (
            self.pk is not None
            and self.site_id is not None
            and self.camera_analyses.exclude(camera__site_id=self.site_id).exists()
        ):
            add(
                "site",
                _(
                    "Cameras of other sites analyse with this account: move their analyses "
                    "to another account first, or keep the account shared."
                ),
            )

        endpoint_error = self._endpoint_change_error()
        if endpoint_error is not None:
            add("base_url", endpoint_error[0], fields=endpoint_error[1])

        if self.vendor in REQUIRED_CREDENTIALS:
            required = REQUIRED_CREDENTIALS[self.vendor]
            for field in SECRET_FIELDS:
                value = getattr(self, field)
                if field in required and not value:
                    add(field, MISSING_CREDENTIAL_MESSAGES[(self.vendor, field)])
                elif field not in required and value:
                    add(
                        field,
                        _("%(vendor)s accounts do not use this credential: leave it empty."),
                        vendor=self.get_vendor_display(),
                    )

        url_error = self._base_url_error()
        if url_error is not None:
            add("base_url", url_error)

        for message, params in self._ports_errors():
            add("ports", message, **params)

        if errors:
            raise ValidationError(errors)

    # Set by the form and the API before validation: the credentials typed in this change.
    entered_secrets: frozenset[str] = frozenset()

    def _endpoint_change_error(self):
        """A stored account whose address (base URL, vendor, private ports) changes keeps
        its credentials only if they are all typed again now: a secret goes only to the
        endpoint it was entered for."""
        if self._state.adding or self.pk is None:
            return None
        stored = type(self).objects.filter(pk=self.pk).first()
        if stored is None:
            return None
        stored.apply_vendor_defaults()
        moved = (
            stored.base_url != self.base_url
            or stored.vendor != self.vendor
            or (stored.ports or {}) != (self.ports or {})
        )
        if not moved:
            return None
        kept = [
            name
            for name in SECRET_FIELDS
            if getattr(stored, name) and name not in self.entered_secrets
        ]
        if not kept:
            return None
        labels = ", ".join(str(self._meta.get_field(name).verbose_name) for name in kept)
        return (
            _(
                "The account's address changed: enter its credentials again (%(fields)s) in "
                "the same change, so that they are sent only to the address they were "
                "entered for."
            ),
            labels,
        )

    def _base_url_error(self):
        url = self.base_url
        if self.vendor not in Vendor.values:
            return None
        wants = vendor_traits(self.vendor)
        if wants.base_url == "none":
            if url:
                return _("The local analyzer runs in this server: leave the base URL empty.")
            return None
        if not url:
            if wants.base_url == "required":
                return _(
                    "A private deployment needs the address of its server on the LAN, "
                    "like http://192.168.0.10."
                )
            return None
        if any(character.isspace() for character in url):
            return _("The URL must not contain spaces.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return _("The URL is not well formed, or its port is not between 0 and 65535.")
        if parts.scheme not in ("http", "https"):
            return _("Enter a URL starting with http:// or https://.")
        if parts.username is not None or parts.password is not None:
            return _(
                "Do not put a user name or password in the URL: credentials go in their own fields."
            )
        host = parts.hostname or ""
        if not host or not _valid_host(host):
            return _("Enter a URL with a valid host name or IP address, like %(example)s.") % {
                "example": default_base_url(self.vendor) or "http://192.168.0.10"
            }
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            return _("Enter the URL without a query string or fragment.")
        if wants.service_ports:
            # Each service on its own port of the host (seed: 私有化部署, 接口调用), or,
            # behind one address with a path (a proxy, the built-in sandbox at
            # <server>/sandbox/baidu-private), each service under its own name.
            has_path = parts.path not in ("", "/")
            if has_path and self.ports:
                return _(
                    "With a path in the URL the services are told apart by path: "
                    "leave Ports empty, or give the server's address only."
                )
            if port is not None and not has_path:
                return _(
                    "Give the server's address only, like http://192.168.0.10: "
                    "the port of each service goes in Ports."
                )
        return None

    def _ports_errors(self):
        ports = self.ports
        if self.vendor not in Vendor.values or not vendor_traits(self.vendor).service_ports:
            if ports:
                yield _("Ports apply to a private deployment only: leave them empty."), {}
            return
        if not isinstance(ports, dict):
            yield (
                _('Ports must map a service to its port, like {"body_analysis": 8124}.'),
                {},
            )
            return
        known = private_service_names(self.vendor)
        unknown = sorted(str(name) for name in ports if name not in known)
        if unknown:
            yield (
                _("Unknown service %(names)s; the services are %(known)s."),
                {"names": ", ".join(unknown), "known": ", ".join(known)},
            )
        for name, port in ports.items():
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                yield (
                    _("The port of %(name)s must be a whole number between 1 and 65535."),
                    {"name": name},
                )

    # ------------------------------------------------------------ for the clients

    @property
    def account_key(self) -> str:
        """A stable name for breaker and token cache keys."""
        return f"{self.vendor}:{self.pk}"

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.base_url or default_base_url(self.vendor),
            api_key=self.api_key,
            secret_key=self.secret_key,
            app_key=self.app_key,
            account=self.account_key,
            timeouts=Timeouts(connect=self.connect_timeout, read=self.read_timeout),
            ports=dict(self.ports or {}),
        )


def visible_accounts(user) -> QuerySet[VendorAccount]:
    """The accounts ``user`` may see and choose for an analysis: their sites' and the
    shared ones (every account for a superuser)."""
    from cameras import roles

    accounts = VendorAccount.objects.all()
    if user is not None and user.is_authenticated and user.is_superuser:
        return accounts
    return accounts.filter(Q(site__isnull=True) | Q(site__in=roles.sites_for(user)))


def editable_accounts(user) -> QuerySet[VendorAccount]:
    """The accounts ``user`` may change: their sites' (every account for a superuser)."""
    from cameras import roles

    accounts = VendorAccount.objects.all()
    if user is not None and user.is_authenticated and user.is_superuser:
        return accounts
    return accounts.filter(site__in=roles.sites_for(user))


def accounts_for_site(site_id: int | None) -> QuerySet[VendorAccount]:
    """The accounts a camera of ``site_id`` may analyse with: its site's and the shared."""
    return VendorAccount.objects.filter(Q(site__isnull=True) | Q(site_id=site_id))


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True


from monitoring.analysis_models import *  # noqa: E402, F403
