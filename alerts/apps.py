from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from alerts import (
            access,
            webhooks,  # noqa: F401  (what webhooks subscribe to, kept current)
        )

        access.connect()
