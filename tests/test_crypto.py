"""Credentials are encrypted at rest: what the database holds, what comes back, and what
happens when keys rotate or go missing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from monitoring.lib.crypto import (
    FieldDecryptionError,
    decrypt,
    derive_fernet_key,
    encrypt,
    needs_reentry,
)
from monitoring.models import VendorAccount
from tests.factories import CtyunAccountFactory, LocalAccountFactory

API_KEY = "AK-plaintext-7Gq2LkP9xW4mR8tB"
SECRET_KEY = "SK-plaintext-Zc5Vn3Hj1Qa6Ye0U"
APP_KEY = "APPKEY-plaintext-562b89493b1a40e1"


def make_ctyun_account(name: str = "CTYun plant 1") -> VendorAccount:
    return CtyunAccountFactory(name=name, api_key=API_KEY, secret_key=SECRET_KEY, app_key=APP_KEY)


def raw_columns(account: VendorAccount) -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, secret_key, app_key FROM monitoring_vendoraccount WHERE id = %s",
            [account.pk],
        )
        return cursor.fetchone()


def opens_with(token: str, secret: str) -> str:
    return Fernet(derive_fernet_key(secret)).decrypt(token.encode()).decode()


@pytest.mark.django_db
def test_the_database_columns_hold_no_plaintext_credential():
    account = make_ctyun_account()

    stored = raw_columns(account)

    for column, plaintext in zip(stored, (API_KEY, SECRET_KEY, APP_KEY), strict=True):
        assert plaintext not in column
        assert column.startswith("gAAAA")  # a Fernet token


@pytest.mark.django_db
def test_a_saved_credential_reads_back_as_its_plaintext():
    account = make_ctyun_account()

    loaded = VendorAccount.objects.get(pk=account.pk)

    assert (loaded.api_key, loaded.secret_key, loaded.app_key) == (API_KEY, SECRET_KEY, APP_KEY)


@pytest.mark.django_db
def test_the_same_credential_encrypts_differently_each_time():
    first = make_ctyun_account("first")
    second = make_ctyun_account("second")

    assert raw_columns(first)[0] != raw_columns(second)[0]


@pytest.mark.django_db
def test_an_empty_credential_is_stored_empty_and_can_be_found_as_not_set():
    account = LocalAccountFactory(name="Local")

    assert raw_columns(account) == ("", "", "")
    assert VendorAccount.objects.get(pk=account.pk).api_key == ""
    assert list(VendorAccount.objects.filter(api_key="")) == [account]


@pytest.mark.django_db
@override_settings(FIELD_ENCRYPTION_KEYS=None, SECRET_KEY="s" * 50, SECRET_KEY_FALLBACKS=[])
def test_without_field_encryption_keys_the_key_is_derived_from_secret_key():
    account = make_ctyun_account()

    token = raw_columns(account)[0]

    assert opens_with(token, "s" * 50) == API_KEY


@pytest.mark.django_db
def test_a_rotated_secret_key_kept_in_the_fallbacks_still_decrypts():
    with override_settings(FIELD_ENCRYPTION_KEYS=None, SECRET_KEY="old" * 20):
        account = make_ctyun_account()

    with override_settings(
        FIELD_ENCRYPTION_KEYS=None, SECRET_KEY="new" * 20, SECRET_KEY_FALLBACKS=["old" * 20]
    ):
        assert VendorAccount.objects.get(pk=account.pk).secret_key == SECRET_KEY


@pytest.mark.django_db
def test_after_a_key_rotation_values_written_with_the_old_key_still_decrypt():
    with override_settings(FIELD_ENCRYPTION_KEYS=["old key"]):
        account = make_ctyun_account()

    with override_settings(FIELD_ENCRYPTION_KEYS=["new key", "old key"]):
        loaded = VendorAccount.objects.get(pk=account.pk)

    assert loaded.api_key == API_KEY


@pytest.mark.django_db
def test_after_a_key_rotation_new_writes_use_the_new_key():
    with override_settings(FIELD_ENCRYPTION_KEYS=["old key"]):
        account = make_ctyun_account()

    with override_settings(FIELD_ENCRYPTION_KEYS=["new key", "old key"]):
        VendorAccount.objects.get(pk=account.pk).save()

    token = raw_columns(account)[0]
    assert opens_with(token, "new key") == API_KEY
    with pytest.raises(InvalidToken):
        opens_with(token, "old key")
    with override_settings(FIELD_ENCRYPTION_KEYS=["new key"]):
        assert VendorAccount.objects.get(pk=account.pk).api_key == API_KEY


@pytest.mark.django_db
def test_a_value_no_configured_key_opens_loads_as_needing_reentry_and_logs_the_field(caplog):
    with override_settings(FIELD_ENCRYPTION_KEYS=["the key it was written with"]):
        account = make_ctyun_account()

    with override_settings(FIELD_ENCRYPTION_KEYS=["some other key"]):
        loaded = VendorAccount.objects.get(pk=account.pk)

    assert loaded.api_key == ""
    assert needs_reentry(loaded.api_key)
    assert loaded.secrets_needing_reentry == ["api_key", "secret_key", "app_key"]
    assert "monitoring.VendorAccount.api_key" in caplog.text
    assert "FIELD_ENCRYPTION_KEYS" in caplog.text
    assert API_KEY not in caplog.text


def test_decrypting_a_token_no_key_opens_raises_an_error_naming_the_field():
    token = encrypt(API_KEY)

    with (
        override_settings(FIELD_ENCRYPTION_KEYS=["some other key"]),
        pytest.raises(FieldDecryptionError) as raised,
    ):
        decrypt(token, field_label="monitoring.VendorAccount.api_key")

    message = str(raised.value)
    assert "monitoring.VendorAccount.api_key" in message
    assert API_KEY not in message
    assert raised.value.__cause__ is None


@pytest.mark.django_db
def test_an_altered_token_loads_as_needing_reentry_too():
    account = make_ctyun_account()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_vendoraccount SET secret_key = %s WHERE id = %s",
            ["gAAAAAB-not-a-real-token", account.pk],
        )

    loaded = VendorAccount.objects.get(pk=account.pk)

    assert loaded.secrets_needing_reentry == ["secret_key"]
    assert loaded.api_key == API_KEY


@pytest.mark.django_db
def test_queryset_updates_encrypt_too():
    account = make_ctyun_account()

    VendorAccount.objects.filter(pk=account.pk).update(app_key="APPKEY-updated-value")

    assert "APPKEY-updated-value" not in raw_columns(account)[2]
    assert VendorAccount.objects.get(pk=account.pk).app_key == "APPKEY-updated-value"


@pytest.mark.django_db
def test_an_encrypted_field_cannot_be_searched_by_its_value():
    make_ctyun_account()

    with pytest.raises(ValueError, match="encrypted"):
        list(VendorAccount.objects.filter(api_key=API_KEY))
    with pytest.raises(FieldError):
        list(VendorAccount.objects.filter(api_key__icontains="AK"))


@pytest.mark.parametrize("keys", ["one key as a string", [], [""], [None]])
def test_a_malformed_key_list_is_refused_with_a_clear_error(keys):
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=keys),
        pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"),
    ):
        encrypt("anything")


def test_each_secret_derives_its_own_fernet_key_and_never_the_secret_itself():
    first = derive_fernet_key("secret one")

    assert first == derive_fernet_key("secret one")
    assert first != derive_fernet_key("secret two")
    assert len(first) == 44  # urlsafe base64 of 32 bytes
    assert b"secret one" not in first
