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

        # Alert events queue their webhook deliveries (events know nothing of webhooks).
        from alerts import events, tasks

        events.published.connect(tasks.queue_webhooks, dispatch_uid="alerts.queue_webhooks")

        # A rule is part of its camera's change history, deleted with its region.
        from alerts.models import Rule
        from cameras.history import register_camera_part

        register_camera_part(Rule, deleted_with_region="region")
