"""Sites: what cameras and users belong to. Every object a user sees is scoped by site."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Site(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    address = models.CharField(_("address"), max_length=500, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="sites",
        blank=True,
        verbose_name=_("members"),
        help_text=_("Users who may see this site, each with the rights of their roles."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        permissions = [
            ("watch_site", _("Can watch live views and alerts")),
            ("acknowledge_alerts", _("Can acknowledge and resolve alerts")),
            ("configure_site", _("Can configure cameras, regions, rules and vendor accounts")),
            ("view_bills", _("Can read bills and usage")),
        ]

    def __str__(self) -> str:
        return self.name
