"""REST API of monthly budgets: ``/api/budgets/``.

A budget is a monthly spending limit (CNY) for a whole site (``camera`` null) or one of
its cameras, with what happens when this month's estimated spend reaches it: ``pause``
(the camera's calls are refused) or ``slow`` (one frame in ``slow_factor`` is analysed).
Each answer carries the read-only ``status`` of this Shanghai month: ``spent``,
``limit``, ``action`` and ``reached`` (``billing.budgets.status_of``).

Scoping and roles:

* budgets of sites the caller is not a member of answer 404 (``roles.sites_for``);
* reading needs a role that watches or configures (``roles.WATCH`` or
  ``roles.CONFIGURE``), writing needs ``roles.CONFIGURE`` (403 otherwise); anonymous
  callers get 401.

A refused budget answers 400 with one reason per field: ``monthly_limit`` not above 0,
``slow_factor`` below 2, ``camera`` not a camera of ``site``, and, under
``non_field_errors``, a second budget for the same site or camera.

Lists take ``?site=`` and ``?camera=``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import permissions, serializers, viewsets
from rest_framework.settings import api_settings

from billing.budget_views import duplicate_text
from billing.budgets import status_of
from billing.models import MAX_SLOW_FACTOR, Budget, BudgetAction
from cameras import roles
from cameras.api import SitePrimaryKeyField
from cameras.models import Camera
from monitoring.lib.apiutils import id_filter

# --------------------------------------------------------------------------- access


class BudgetAccess(permissions.BasePermission):
    """Reading needs a role that watches or configures; writing needs configuring."""

    message = gettext_lazy(
        "Your roles do not include configuring sites: budgets are set by admins."
    )

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return user.has_perm(roles.WATCH) or user.has_perm(roles.CONFIGURE)
        return user.has_perm(roles.CONFIGURE)


# --------------------------------------------------------------------------- serializers


# Described inside allOf, so the schema keeps it apart from other apps' fields named
# "action" (alert changes), whose shared enum component name would otherwise collide.
@extend_schema_field({"allOf": [{"type": "string", "enum": list(BudgetAction.values)}]})
class BudgetActionField(serializers.ChoiceField):
    """What happens when a budget is reached."""


class BudgetStatusSerializer(serializers.Serializer):
    spent = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text=gettext_lazy(
            "Estimated spend this month (Asia/Shanghai) in CNY: the billable calls of the "
            "site's or camera's analyses, each at the account's current unit price."
        ),
    )
    limit = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=gettext_lazy("The monthly limit in CNY.")
    )
    action = BudgetActionField(
        choices=BudgetAction.choices,
        help_text=gettext_lazy("What happens when reached: pause or slow."),
    )
    reached = serializers.BooleanField(
        help_text=gettext_lazy("Whether spent has reached the limit, so the action applies.")
    )


@extend_schema_field(OpenApiTypes.INT)
class BudgetCameraField(serializers.PrimaryKeyRelatedField):
    """A camera of the caller's sites, by id."""

    default_error_messages = {
        "does_not_exist": gettext_lazy("No camera with id {pk_value} on your sites."),
        "incorrect_type": gettext_lazy("Give the id of a camera, a whole number."),
    }

    def get_queryset(self):
        request = self.context.get("request")
        return Camera.objects.filter(site__in=roles.sites_for(getattr(request, "user", None)))


class BudgetSerializer(serializers.ModelSerializer):
    site = SitePrimaryKeyField(help_text=gettext_lazy("The site's id, one of yours."))
    camera = BudgetCameraField(
        source="camera_id",
        allow_null=True,
        required=False,
        default=None,
        help_text=gettext_lazy(
            "The id of a camera of the site, or null for a budget of the whole site."
        ),
    )
    monthly_limit = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": gettext_lazy("Give a monthly limit above 0 CNY.")},
        help_text=gettext_lazy('CNY a month, above 0, as a decimal string like "500.00".'),
    )
    action = BudgetActionField(
        choices=BudgetAction.choices,
        help_text=gettext_lazy(
            "When reached: pause (the camera's calls are refused) or slow (one frame in "
            "slow_factor is analysed)."
        ),
    )
    slow_factor = serializers.IntegerField(
        required=False,
        min_value=2,
        max_value=MAX_SLOW_FACTOR,
        error_messages={
            "min_value": gettext_lazy(
                "The slow-down factor is at least 2 (one frame in 2): 1 would not slow "
                "anything down."
            )
        },
        help_text=gettext_lazy(
            "When slowing down, analyse one frame in this many (at least 2; 4 when left out)."
        ),
    )
    status = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = ["id", "site", "camera", "monthly_limit", "action", "slow_factor", "status"]
        validators = []

    @extend_schema_field(BudgetStatusSerializer)
    def get_status(self, budget: Budget) -> dict:
        return BudgetStatusSerializer(status_of(budget)._asdict()).data

    def validate(self, attrs):
        instance = self.instance
        site = attrs.get("site", getattr(instance, "site", None))
        if "camera_id" in attrs:
            camera = attrs["camera_id"]
        elif instance is not None and instance.camera_id:
            camera = Camera.objects.filter(pk=instance.camera_id).first()
        else:
            camera = None
        if camera is not None and camera.site_id != site.pk:
            raise serializers.ValidationError(
                {
                    "camera": [
                        _("“%(camera)s” is a camera of %(other)s, not of %(site)s.")
                        % {"camera": camera.name, "other": camera.site.name, "site": site.name}
                    ]
                }
            )
        if "camera_id" in attrs:
            attrs["camera_id"] = camera.pk if camera is not None else None
        camera_id = attrs.get("camera_id", getattr(instance, "camera_id", None))
        taken = Budget.objects.filter(site=site, camera_id=camera_id)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [duplicate_text(site, camera)]}
            )
        return attrs


# --------------------------------------------------------------------------- view set


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List the budgets of your sites with this month's status"),
        parameters=[
            OpenApiParameter(
                "site", OpenApiTypes.INT, description=gettext_lazy("Only this site's budgets.")
            ),
            OpenApiParameter(
                "camera",
                OpenApiTypes.INT,
                description=gettext_lazy("Only the budget of this camera (id)."),
            ),
        ],
    ),
    retrieve=extend_schema(summary=gettext_lazy("One budget with this month's status")),
    create=extend_schema(summary=gettext_lazy("Set a monthly budget for a site or a camera")),
    update=extend_schema(summary=gettext_lazy("Replace a budget")),
    partial_update=extend_schema(summary=gettext_lazy("Change some fields of a budget")),
    destroy=extend_schema(summary=gettext_lazy("Remove a budget")),
)
class BudgetViewSet(viewsets.ModelViewSet):
    """Monthly spending limits of the caller's sites and cameras, and what happens when
    one is reached."""

    queryset = Budget.objects.none()
    serializer_class = BudgetSerializer
    permission_classes = [BudgetAccess]

    def get_queryset(self):
        budgets = Budget.objects.filter(site__in=roles.sites_for(self.request.user))
        site = id_filter(self.request, "site")
        if site is not None:
            budgets = budgets.filter(site_id=site)
        camera = id_filter(self.request, "camera")
        if camera is not None:
            budgets = budgets.filter(camera_id=camera)
        return budgets.select_related("site").order_by(
            "site__name", F("camera_id").asc(nulls_first=True), "pk"
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer)

    @staticmethod
    def _save(serializer) -> None:
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            # Another caller set the same budget in the meantime.
            data = serializer.validated_data
            instance = serializer.instance
            site = data.get("site", getattr(instance, "site", None))
            camera_id = data.get("camera_id", getattr(instance, "camera_id", None))
            camera = Camera.objects.filter(pk=camera_id).first() if camera_id else None
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [duplicate_text(site, camera)]}
            ) from None
