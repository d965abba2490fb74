"""Pages where an admin lists, adds and edits vendor accounts, and the form they share
with the Django admin.

Credentials are write-only here: the form never carries a stored secret back to the
browser, says "•••• set" instead, and keeps the stored value when its input is left blank.

Admins list their sites' accounts and the shared ones; they change their sites' only
(a shared account opens read-only for them, and another site's is not found).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from cameras import roles
from monitoring import vendor_stops
from monitoring.lib.crypto import NEEDS_REENTRY_TEXT, needs_reentry
from monitoring.models import SECRET_FIELDS, VendorAccount, editable_accounts, visible_accounts

SECRET_SET_TEXT = _("•••• set")
REENTRY = "reentry"


class VendorAccountForm(forms.ModelForm):
    """Edits every field of an account; credentials only ever go in, never out."""

    api_key = forms.CharField(
        label=VendorAccount._meta.get_field("api_key").verbose_name,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    secret_key = forms.CharField(
        label=VendorAccount._meta.get_field("secret_key").verbose_name,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    app_key = forms.CharField(
        label=VendorAccount._meta.get_field("app_key").verbose_name,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = VendorAccount
        fields = [
            "name",
            "site",
            "vendor",
            "base_url",
            "api_key",
            "secret_key",
            "app_key",
            "ports",
            "certification",
            "free_quota_claimed_at",
            "enabled",
            "connect_timeout",
            "read_timeout",
            "notes",
        ]
        widgets = {
            "base_url": forms.TextInput(attrs={"placeholder": "https://aip.baidubce.com"}),
            "ports": forms.Textarea(attrs={"rows": 3}),
            "free_quota_claimed_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    # The Django admin shows "•••• set" in the help text; the pages show it by the label.
    status_in_help = True

    # The user the form edits for; the Django admin sets it on the class it builds.
    user = None

    def __init__(self, *args, status_in_help: bool | None = None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if status_in_help is not None:
            self.status_in_help = status_in_help
        if user is not None:
            self.user = user
        self._limit_sites()
        editing = self.instance.pk is not None
        # Whether each credential is stored, taken before the submitted data touches the
        # instance; the stored secret itself must not reach the page, not even as initial.
        self.stored_secrets = {
            name: REENTRY
            if needs_reentry(getattr(self.instance, name))
            else bool(getattr(self.instance, name))
            for name in SECRET_FIELDS
        }
        for name in SECRET_FIELDS:
            self.initial.pop(name, None)
            field = self.fields[name]
            model_help = VendorAccount._meta.get_field(name).help_text
            if self.stored_secrets[name] == REENTRY:
                field.widget.attrs["placeholder"] = str(NEEDS_REENTRY_TEXT)
                field.help_text = _(
                    "The stored value cannot be read with this server's keys: type it again. "
                    "%(help)s"
                ) % {"help": model_help}
            elif self.stored_secrets[name]:
                field.widget.attrs["placeholder"] = str(SECRET_SET_TEXT)
                keep = _("Leave blank to keep the stored value; type a new one to replace it.")
                status = f"{SECRET_SET_TEXT}. " if self.status_in_help else ""
                field.help_text = f"{status}{keep} {model_help}"
            else:
                field.help_text = model_help
        if editing:
            vendor = self.fields["vendor"]
            vendor.disabled = True
            vendor.help_text = _("The vendor of an existing account cannot change.")
        self.fields["ports"].required = False

    def _limit_sites(self) -> None:
        """Superusers may leave the site empty (a shared account); others pick one of
        their sites."""
        if self.user is None or "site" not in self.fields:
            return
        site = self.fields["site"]
        site.queryset = roles.sites_for(self.user).order_by("name")
        if not self.user.is_superuser:
            site.required = True
            site.empty_label = None

    def read_only(self) -> None:
        for field in self.fields.values():
            field.disabled = True

    def page_rows(self) -> list[tuple[forms.BoundField, bool | str | None]]:
        """Each field with, for credentials, whether a value is stored (``REENTRY``: one
        that cannot be read) and None for other fields."""
        return [
            (self[name], self.stored_secrets[name] if name in SECRET_FIELDS else None)
            for name in self.fields
        ]

    def clean_ports(self):
        return self.cleaned_data.get("ports") or {}

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if not cleaned.get(name):
                # Blank keeps what is stored: the instance is left as it is.
                cleaned.pop(name, None)
        self.instance.entered_secrets = frozenset(
            name for name in SECRET_FIELDS if cleaned.get(name)
        )
        return cleaned


_sensitive = sensitive_post_parameters(*SECRET_FIELDS)


@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
def vendor_account_list(request):
    accounts = list(visible_accounts(request.user).select_related("site").order_by("name"))
    stops = vendor_stops.stops_by_account([account.pk for account in accounts])
    for account in accounts:
        account.active_stops = stops.get(account.pk, [])
    return render(request, "monitoring/vendor_account_list.html", {"accounts": accounts})


@_sensitive
@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
def vendor_account_new(request):
    form = VendorAccountForm(request.POST or None, status_in_help=False, user=request.user)
    if request.method == "POST" and form.is_valid():
        account = form.save()
        messages.success(request, _("Vendor account “%(name)s” added.") % {"name": account.name})
        return redirect("vendor_account_list")
    return render(
        request,
        "monitoring/vendor_account_form.html",
        {"form": form, "account": None, "editable": True},
    )


@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
@require_POST
def vendor_account_resume(request, pk: int):
    """The banner's resume button: lift every vendor stop of the account."""
    account = get_object_or_404(editable_accounts(request.user), pk=pk)
    vendor_stops.resume(account.pk, user=request.user)
    messages.success(request, _("Vendor account “%(name)s” resumed.") % {"name": account.name})
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("vendor_account_list")


@_sensitive
@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
def vendor_account_edit(request, pk: int):
    account = get_object_or_404(visible_accounts(request.user), pk=pk)
    editable = request.user.is_superuser or account.site_id is not None
    if request.method == "POST" and not editable:
        raise PermissionDenied(_("Shared vendor accounts can be changed by superusers only."))
    form = VendorAccountForm(
        request.POST or None, instance=account, status_in_help=False, user=request.user
    )
    if not editable:
        form.read_only()
    if request.method == "POST" and form.is_valid():
        account = form.save()
        messages.success(request, _("Vendor account “%(name)s” saved.") % {"name": account.name})
        return redirect("vendor_account_list")
    return render(
        request,
        "monitoring/vendor_account_form.html",
        {"form": form, "account": account, "editable": editable},
    )
