"""REST API for camera analyses: which API of which vendor account each camera runs, how
often, its projected monthly cost and its health (``cameras.api`` describes the scoping
and roles all the camera endpoints share)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cameras import catalog, roles
from cameras.api import (
    CameraPrimaryKeyField,
    HistoryMixin,
    WatchOrConfigure,
    _camera_filter_parameter,
    _one_reason_each,
    _request_user,
    _site_filter_parameter,
    filter_site_and_camera,
)
from cameras.forms import analysis_errors
from cameras.models import CameraAnalysis, Region
from monitoring import analysis_health
from monitoring.analysis_models import HealthState
from monitoring.models import visible_accounts
from monitoring.vendor_stops import resume_analysis


class AnalysisProjectionSerializer(serializers.Serializer):
    calls_per_month = serializers.IntegerField(
        help_text=gettext_lazy("Calls in a 30-day month: 30 × 86,400 / interval.")
    )
    cost_per_month = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text=gettext_lazy("CNY per month on the account's price plan; null if unpriced."),
    )
    currency = serializers.CharField()
    basis = serializers.CharField(help_text=gettext_lazy("How the cost was worked out."))


class RegionPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A region of the caller's sites, by id."""

    def get_queryset(self):
        return Region.objects.filter(camera__site__in=roles.sites_for(_request_user(self)))


class VisibleAccountField(serializers.PrimaryKeyRelatedField):
    """A vendor account of the caller's sites, or a shared one, by id."""

    def get_queryset(self):
        return visible_accounts(_request_user(self))


class AnalysisHealthSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=[state.value for state in HealthState],
        help_text=gettext_lazy(
            "ok: the last call succeeded; waiting: no frame yet; failing: calls fail, "
            "retrying may help; refused: the product will not call; paused: held until "
            "“until”."
        ),
    )
    reason = serializers.CharField(help_text=gettext_lazy("What to do, in your language."))
    since = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error_code = serializers.CharField(allow_null=True)
    until = serializers.DateTimeField(
        allow_null=True, help_text=gettext_lazy("When a pause ends by itself.")
    )
    stop = serializers.ChoiceField(
        choices=["api", "account"],
        allow_null=True,
        help_text=gettext_lazy(
            "What resumes it: api, this analysis' resume action; account, the vendor "
            "account's resume action."
        ),
    )


class CameraAnalysisSerializer(serializers.ModelSerializer):
    camera = CameraPrimaryKeyField(help_text=gettext_lazy("The camera's id; fixed once created."))
    account = VisibleAccountField(
        help_text=gettext_lazy(
            "The vendor account's id: one of the camera's site, or a shared one."
        )
    )
    region = RegionPrimaryKeyField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy(
            "Fence analyses: the id of the fence region of the camera it watches (required "
            "when the camera has several fences); null for the other APIs."
        ),
    )
    projection = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = CameraAnalysis
        fields = [
            "id",
            "camera",
            "api",
            "account",
            "region",
            "interval",
            "enabled",
            "params",
            "only_with_person",
            "projection",
            "health",
        ]
        validators = []
        extra_kwargs = {
            "only_with_person": {
                "required": False,
                "help_text": gettext_lazy(
                    "Call the vendor only when the on-box detector sees a person in the "
                    "analysis' region (or the frame). When left out of a new analysis: on for "
                    "a paid vendor on a camera with regions, else off."
                ),
            }
        }

    def create(self, validated_data):
        if "only_with_person" not in validated_data:
            validated_data["only_with_person"] = catalog.current().default_only_with_person(
                validated_data["camera"], validated_data["account"]
            )
        return super().create(validated_data)

    @extend_schema_field(AnalysisHealthSerializer)
    def get_health(self, analysis: CameraAnalysis) -> dict:
        return analysis_health.health_payload(analysis)

    @extend_schema_field(AnalysisProjectionSerializer)
    def get_projection(self, analysis: CameraAnalysis) -> dict:
        projection = catalog.current().project_analysis(analysis)
        return AnalysisProjectionSerializer(projection.as_dict()).data

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(
                _('Give the parameters as a JSON object, like {"type": "headwear"}.')
            )
        return value

    def validate(self, attrs):
        instance = self.instance
        camera = attrs.get("camera", getattr(instance, "camera", None))
        if instance is not None and camera.pk != instance.camera_id:
            raise serializers.ValidationError(
                {"camera": [_("An analysis stays on its camera: add a new one to the other.")]}
            )
        errors = analysis_errors(
            camera,
            api=attrs.get("api", getattr(instance, "api", "")),
            account=attrs.get("account", getattr(instance, "account", None)),
            interval=attrs.get("interval", getattr(instance, "interval", None)),
            analysis_id=getattr(instance, "pk", None),
            region=attrs.get("region", getattr(instance, "region", None)),
        )
        if errors:
            raise serializers.ValidationError(_one_reason_each(errors))
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List the analyses of your cameras, with projected cost"),
        parameters=[_site_filter_parameter(), _camera_filter_parameter()],
    ),
    retrieve=extend_schema(summary=gettext_lazy("One analysis of a camera")),
    create=extend_schema(summary=gettext_lazy("Run an analysis on a camera")),
    update=extend_schema(summary=gettext_lazy("Replace an analysis of a camera")),
    partial_update=extend_schema(summary=gettext_lazy("Change an analysis of a camera")),
    destroy=extend_schema(summary=gettext_lazy("Stop and remove an analysis of a camera")),
)
class CameraAnalysisViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Which API of which vendor account each camera runs, and how often."""

    queryset = CameraAnalysis.objects.none()
    serializer_class = CameraAnalysisSerializer
    permission_classes = [WatchOrConfigure]

    def get_queryset(self):
        analyses = CameraAnalysis.objects.filter(
            camera__site__in=roles.sites_for(self.request.user)
        ).select_related("account", "camera", "pipeline_state")
        return filter_site_and_camera(self.request, analyses).order_by("camera_id", "api", "pk")

    @extend_schema(
        request=None,
        responses={
            200: CameraAnalysisSerializer,
            409: OpenApiResponse(description=gettext_lazy("The vendor account's stop holds it.")),
        },
        summary=gettext_lazy("Resume an analysis a vendor's stop answer holds back"),
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Lift the stop of this analysis' API on its vendor account (a daily or total
        limit, nothing bought): calls leave again from the next frame. A stop of the
        whole account (credentials) is resumed on the vendor account: 409 then."""
        analysis = self.get_object()
        resume_analysis(analysis, user=request.user)
        analysis = self.get_queryset().get(pk=analysis.pk)
        data = self.get_serializer(analysis).data
        if data["health"]["stop"] == "account":
            return Response(
                {
                    "detail": _(
                        "The whole vendor account is stopped: resume it on the vendor account."
                    ),
                    "health": data["health"],
                },
                status=409,
            )
        return Response(data)
