from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # The gate and budgets clear their cached facts when purchases, statuses or
        # budgets are saved: their signal handlers must be connected in every process.
        # Cameras ask billing which APIs run on a camera and what they cost.
        from billing import budgets, costs, gate  # noqa: F401
        from cameras import catalog

        catalog.install(costs)
