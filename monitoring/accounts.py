"""Pages where an admin lists, adds and edits vendor accounts, and the form they share
with the Django admin.

Credentials are write-only here: the form never carries a stored secret back to the
browser, says "•••• set" instead, and keeps the stored value when its input is left blank.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from cameras import roles
from monitoring import vendor_stops
from monitoring.models import SECRET_FIELDS, VendorAccount

SECRET_SET_TEXT = _("•••• set")


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

    def __init__(self, *args, status_in_help: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if status_in_help is not None:
            self.status_in_help = status_in_help
        editing = self.instance.pk is not None
        # Whether each credential is stored, taken before the submitted data touches the
        # instance; the stored secret itself must not reach the page, not even as initial.
        self.stored_secrets = {name: bool(getattr(self.instance, name)) for name in SECRET_FIELDS}
        for name in SECRET_FIELDS:
            self.initial.pop(name, None)
            field = self.fields[name]
            model_help = VendorAccount._meta.get_field(name).help_text
            if self.stored_secrets[name]:
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

    def page_rows(self) -> list[tuple[forms.BoundField, bool | None]]:
        """Each field with, for credentials, whether a value is stored (None otherwise)."""
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
        return cleaned


_sensitive = sensitive_post_parameters(*SECRET_FIELDS)


@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
def vendor_account_list(request):
    accounts = list(VendorAccount.objects.order_by("name"))
    stops = vendor_stops.stops_by_account([account.pk for account in accounts])
    for account in accounts:
        account.active_stops = stops.get(account.pk, [])
    return render(request, "monitoring/vendor_account_list.html", {"accounts": accounts})


@_sensitive
@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
def vendor_account_new(request):
    form = VendorAccountForm(request.POST or None, status_in_help=False)
    if request.method == "POST" and form.is_valid():
        account = form.save()
        messages.success(request, _("Vendor account “%(name)s” added.") % {"name": account.name})
        return redirect("vendor_account_list")
    return render(request, "monitoring/vendor_account_form.html", {"form": form, "account": None})


@login_required
@permission_required(roles.CONFIGURE, raise_exception=True)
@require_POST
def vendor_account_resume(request, pk: int):
    """The banner's resume button: lift every vendor stop of the account."""
    account = get_object_or_404(VendorAccount, pk=pk)
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
    account = get_object_or_404(VendorAccount, pk=pk)
    form = VendorAccountForm(request.POST or None, instance=account, status_in_help=False)
    if request.method == "POST" and form.is_valid():
        account = form.save()
        messages.success(request, _("Vendor account “%(name)s” saved.") % {"name": account.name})
        return redirect("vendor_account_list")
    return render(
        request, "monitoring/vendor_account_form.html", {"form": form, "account": account}
    )
