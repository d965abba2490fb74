from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CamerasConfig(AppConfig):
    name = "cameras"
    verbose_name = _("Sites and cameras")

    def ready(self) -> None:
        from cameras.roles import ensure_roles_after_migrate

        post_migrate.connect(ensure_roles_after_migrate, sender=self)
