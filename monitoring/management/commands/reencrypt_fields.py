"""``manage.py reencrypt_fields``: write every encrypted field again with the first key of
``FIELD_ENCRYPTION_KEYS``, so that older keys can then be removed from the list. Values
no configured key opens are counted, left as they are, and show as "needs re-entry"."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from monitoring.lib.crypto import encrypted_fields, reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (vendor credentials, camera passwords, webhook "
        "secrets) with the first key of FIELD_ENCRYPTION_KEYS."
    )

    def handle(self, *args, **options) -> None:
        total_unreadable = 0
        for model, field in encrypted_fields():
            rewritten, unreadable = reencrypt(model, field)
            total_unreadable += unreadable
            self.stdout.write(
                f"{model._meta.label}.{field.name}: {rewritten} re-encrypted, "
                f"{unreadable} unreadable (need re-entry)"
            )
        if total_unreadable:
            self.stderr.write(
                f"{total_unreadable} value(s) could not be decrypted with any configured key: "
                "put the missing key back in FIELD_ENCRYPTION_KEYS and run again, or enter "
                "those secrets again."
            )
