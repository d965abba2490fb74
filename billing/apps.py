from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # The gate and budgets clear their cached facts when purchases, statuses or
        # budgets are saved: their signal handlers must be connected in every process.
        from billing import budgets, gate  # noqa: F401
