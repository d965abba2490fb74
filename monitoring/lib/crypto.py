"""Encryption at rest for secrets kept in the database (vendor credentials).

``EncryptedTextField`` stores a Fernet token (AES-128-CBC + HMAC-SHA256, from
``cryptography``) and hands back the plaintext when a row is loaded. The empty string is
stored as it is, so "is a secret set?" needs no decryption.

Keys come from the ``FIELD_ENCRYPTION_KEYS`` setting: a list of secrets, the first one
encrypts, every one is tried to decrypt, so a key is rotated by putting the new one first
and keeping the old one until every row has been saved again. Unset, the list is
``SECRET_KEY`` followed by ``SECRET_KEY_FALLBACKS``, which makes Django's own key rotation
carry the encrypted fields along. Each secret becomes a Fernet key through HKDF-SHA256
with a fixed salt and an ``info`` naming this purpose, so the Fernet key is never the
secret itself nor the key Django signs sessions with.

Plaintext never leaves through this module: it is neither logged nor put in error
messages. A stored token no key opens does not break the row: it loads as an
``UnreadableSecret`` (empty, so "not usable", and ``needs_reentry()`` says why), a warning
naming the field only is logged, and saving the row again keeps the stored token as it
is, until someone types the secret again or the missing key is put back.
``manage.py reencrypt_fields`` writes every readable value again with the first key.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

KDF_SALT = b"site-safety-dashboard field encryption salt v1"
KDF_INFO = b"monitoring.lib.crypto.EncryptedTextField Fernet key"


class FieldDecryptionError(Exception):
    """A stored value that none of ``FIELD_ENCRYPTION_KEYS`` can decrypt."""

    def __init__(self, field_label: str):
        self.field_label = field_label
        super().__init__(
            f"Cannot decrypt {field_label}: none of the FIELD_ENCRYPTION_KEYS opens the stored "
            "value. The key it was written with is missing (keep the old key in "
            "FIELD_ENCRYPTION_KEYS, or SECRET_KEY_FALLBACKS, after a rotation) or the value "
            "was altered."
        )


class UnreadableSecret(str):
    """A stored value no configured key opens: empty as a string (never used as a
    secret), holding the stored token so that saving the row again does not lose it."""

    token: str

    def __new__(cls, token: str) -> UnreadableSecret:
        value = super().__new__(cls, "")
        value.token = token
        return value

    def __repr__(self) -> str:
        return "<UnreadableSecret>"


NEEDS_REENTRY_TEXT = _("needs re-entry")


def needs_reentry(value: object) -> bool:
    """Whether a loaded secret could not be decrypted and must be typed again."""
    return isinstance(value, UnreadableSecret)


def derive_fernet_key(secret: str | bytes) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) derived from one configured secret."""
    material = secret.encode() if isinstance(secret, str) else secret
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=KDF_SALT, info=KDF_INFO)
    return base64.urlsafe_b64encode(kdf.derive(material))


def configured_secrets() -> tuple[str | bytes, ...]:
    """``FIELD_ENCRYPTION_KEYS``, or ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``, checked."""
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None)
    if keys is None:
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    elif isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be a list of secrets, newest first.")
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must hold at least one secret.")
    for key in keys:
        if not isinstance(key, (str, bytes)) or not key:
            raise ImproperlyConfigured(
                "Every entry of FIELD_ENCRYPTION_KEYS must be a non-empty string."
            )
    return tuple(keys)


@lru_cache(maxsize=8)
def _multi_fernet(secrets: tuple[str | bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(derive_fernet_key(secret)) for secret in secrets])


def fernet() -> MultiFernet:
    """Encrypts with the first configured key, decrypts with any of them."""
    return _multi_fernet(configured_secrets())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str, field_label: str = "an encrypted value") -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise FieldDecryptionError(field_label) from None


class EncryptedTextField(models.TextField):
    """Text kept as a Fernet token in the database and as plaintext in Python.

    Encrypted values cannot be searched: the only lookups are ``isnull`` and an exact
    match against the empty string ("not set").
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt(value, field_label=self._label())
        except FieldDecryptionError as error:
            logger.warning("%s It needs to be entered again.", error)
            return UnreadableSecret(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value
        return super().get_prep_value(value)

    def get_db_prep_save(self, value, connection):
        if isinstance(value, UnreadableSecret):
            return value.token
        value = self.get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return EncryptedIsEmpty
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None

    def _label(self) -> str:
        model = getattr(self, "model", None)
        if model is None:
            return self.name or "an encrypted field"
        return f"{model._meta.label}.{self.name}"


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    """Every ``EncryptedTextField`` of every installed model."""
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def reencrypt(model: type[models.Model], field: EncryptedTextField) -> tuple[int, int]:
    """Writes every stored value of ``field`` again with the first key; returns how many
    were rewritten and how many no key opens (left as they are)."""
    from django.db.models.functions import Cast

    rewritten = unreadable = 0
    stored = (
        model._default_manager.exclude(**{field.name: ""})
        .exclude(**{f"{field.name}__isnull": True})
        .annotate(_stored_token=Cast(field.name, models.TextField()))
        .values_list("pk", "_stored_token")
    )
    for pk, token in stored.iterator():
        try:
            plaintext = decrypt(token, field_label=f"{model._meta.label}.{field.name}")
        except FieldDecryptionError:
            unreadable += 1
            continue
        model._default_manager.filter(pk=pk).update(**{field.name: plaintext})
        rewritten += 1
    return rewritten, unreadable


class EncryptedIsEmpty(Exact):
    """``field=""``: whether no secret is stored. Other values cannot be compared, since
    the same plaintext encrypts to a different token every time."""

    def get_prep_lookup(self):
        if hasattr(self.rhs, "resolve_expression"):
            return super().get_prep_lookup()
        if self.rhs != "":
            raise ValueError(
                f"{self.lhs.target} is encrypted: it can only be compared with the empty string."
            )
        return self.rhs
