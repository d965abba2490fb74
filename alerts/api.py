"""REST API for rules (``/api/rules/``) and alerts (``/api/alerts/``), scoped to the
caller's sites: anything of another site answers 404.

Reading needs the watch role; writing rules needs configure; acknowledging, resolving
and adding notes need acknowledge. The state changes themselves are
``alerts.lifecycle``'s; a change the alert's status no longer allows answers 409.
"""

from __future__ import annotations

from django.db.models import Prefetch, RestrictedError
from django.http import FileResponse, Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import permissions, renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from alerts import events, lifecycle
from alerts.models import (
    RULE_KIND_CHOICES,
    Alert,
    AlertChange,
    AlertStatus,
    Rule,
    Severity,
)
from alerts.rule_params import params_errors
from cameras import roles
from cameras.api import HistoryMixin
from cameras.models import Camera, Region
from monitoring.lib.apiutils import MAX_ID, Conflict, parse_id
from monitoring.privacy import masks_people, may_see_unmasked, without_person_images

ACKNOWLEDGE_ACTIONS = {"acknowledge", "resolve", "note"}


class CanWatch(permissions.BasePermission):
    """Reading needs the watch role; each action may need more."""

    message = _("Your roles do not include watching alerts.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(roles.WATCH))


class CanConfigureOrReadOnly(permissions.BasePermission):
    message = _("Your roles do not include configuring rules.")

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.has_perm(roles.CONFIGURE)


class CanAcknowledge(permissions.BasePermission):
    message = _("Your roles do not include acknowledging and resolving alerts.")

    def has_permission(self, request, view) -> bool:
        if getattr(view, "action", None) in ACKNOWLEDGE_ACTIONS:
            return request.user.has_perm(roles.ACKNOWLEDGE)
        return True


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


# ---------------------------------------------------------------- rules


class RuleSerializer(serializers.ModelSerializer):
    active_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        help_text=_("Weekdays the rule applies on: 0 is Monday, 6 is Sunday."),
    )
    params = serializers.DictField(
        required=False,
        help_text=_("Parameters of the rule's kind (see docs/alerts.md)."),
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            "camera",
            "region",
            "name",
            "kind",
            "enabled",
            "min_confidence",
            "consecutive_frames",
            "active_days",
            "active_start",
            "active_end",
            "severity",
            "cooldown_seconds",
            "clear_after_seconds",
            "params",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        sites = roles.sites_for(request.user if request else None)
        fields["camera"].queryset = Camera.objects.filter(site__in=sites)
        fields["region"].queryset = Region.objects.filter(camera__site__in=sites)
        return fields

    def validate_active_days(self, value: list[int]) -> list[int]:
        return sorted(set(value))

    def validate(self, attrs):
        instance = self.instance

        def current(name, default=None):
            if name in attrs:
                return attrs[name]
            return getattr(instance, name) if instance is not None else default

        camera, region = current("camera"), current("region")
        if region is not None and camera is not None and region.camera_id != camera.pk:
            raise serializers.ValidationError(
                {"region": _("The region belongs to another camera.")}
            )
        kind = current("kind")
        errors = params_errors(kind, current("params", {}) or {})
        if errors:
            raise serializers.ValidationError({"params": errors})
        return attrs


class RuleViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Rules of the cameras of the caller's sites. Filters: ``camera``, ``site``,
    ``kind``, ``enabled``."""

    serializer_class = RuleSerializer
    permission_classes = [permissions.IsAuthenticated, CanWatch, CanConfigureOrReadOnly]

    def get_queryset(self):
        rules = Rule.objects.filter(camera__site__in=roles.sites_for(self.request.user))
        params = self.request.query_params
        for name, lookup in (("camera", "camera"), ("site", "camera__site")):
            value = params.get(name)
            if value is not None:
                number = parse_id(value)
                if number is None:
                    raise serializers.ValidationError({name: _("A whole number is required.")})
                rules = rules.filter(**{lookup: number})
        if params.get("kind"):
            rules = rules.filter(kind=params["kind"])
        if params.get("enabled") in {"true", "false"}:
            rules = rules.filter(enabled=params["enabled"] == "true")
        return rules.select_related("camera", "region").order_by("camera", "name", "id")

    def perform_destroy(self, instance):
        try:
            super().perform_destroy(instance)
        except RestrictedError:
            raise Conflict(
                _("This rule has alerts, which keep it for their history: disable it instead.")
            ) from None


# ---------------------------------------------------------------- alerts


class AlertChangeSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AlertChange
        fields = ["at", "action", "user", "note", "data"]


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    camera_name = serializers.CharField(source="camera.name", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    evidence_url = serializers.SerializerMethodField()
    frame_url = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "site",
            "camera",
            "camera_name",
            "region",
            "region_name",
            "rule",
            "rule_name",
            "kind",
            "status",
            "severity",
            "title",
            "summary",
            "opened_at",
            "last_seen_at",
            "count",
            "best_score",
            "evidence_url",
            "frame_url",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "resolution_note",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_evidence_url(self, alert: Alert) -> str | None:
        url = events.evidence_url(alert)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if url and request else url

    @extend_schema_field(OpenApiTypes.URI)
    def get_frame_url(self, alert: Alert) -> str | None:
        url = events.frame_url(alert.camera_id, alert.best_frame_id)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if url and request else url


class AlertDetailSerializer(AlertSerializer):
    history = AlertChangeSerializer(source="changes", many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [
            *AlertSerializer.Meta.fields,
            "best_frame",
            "best_frame_at",
            "findings",
            "normalized",
            "raw",
            "vendor_calls",
            "history",
        ]
        read_only_fields = fields

    def to_representation(self, alert: Alert) -> dict:
        data = super().to_representation(alert)
        if masks_people(alert.camera):
            # body_seg's cut-outs of people would show them unmasked.
            data["normalized"] = without_person_images(data["normalized"])
            data["raw"] = without_person_images(data["raw"])
        return data


class AlertFilterSerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=AlertStatus.choices, required=False, help_text=_("One or more, repeated.")
    )
    severity = serializers.MultipleChoiceField(
        choices=Severity.choices, required=False, help_text=_("One or more, repeated.")
    )
    kind = serializers.ChoiceField(choices=RULE_KIND_CHOICES, required=False)
    camera = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    site = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    rule = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    opened_after = serializers.DateTimeField(
        required=False, help_text=_("Opened at or after this moment.")
    )
    opened_before = serializers.DateTimeField(
        required=False, help_text=_("Opened before this moment.")
    )


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RequiredNoteSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=5000, help_text=_("How the alert was resolved (required).")
    )


class JPEGRenderer(renderers.BaseRenderer):
    media_type = "image/jpeg"
    format = "jpg"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts of the caller's sites, newest first."""

    permission_classes = [permissions.IsAuthenticated, CanWatch, CanAcknowledge]

    def get_serializer_class(self):
        if self.action == "list":
            return AlertSerializer
        return AlertDetailSerializer

    def get_queryset(self):
        alerts = Alert.objects.filter(site__in=roles.sites_for(self.request.user)).select_related(
            "rule", "camera", "region", "best_frame", "acknowledged_by", "resolved_by"
        )
        if self.action != "list":
            return alerts.prefetch_related(
                Prefetch("changes", queryset=AlertChange.objects.select_related("user"))
            )
        filters = AlertFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        if given.get("status"):
            alerts = alerts.filter(status__in=given["status"])
        if given.get("severity"):
            alerts = alerts.filter(severity__in=given["severity"])
        for name in ("kind", "camera", "site", "rule"):
            if name in given:
                alerts = alerts.filter(**{name: given[name]})
        if "opened_after" in given:
            alerts = alerts.filter(opened_at__gte=given["opened_after"])
        if "opened_before" in given:
            alerts = alerts.filter(opened_at__lt=given["opened_before"])
        return alerts.order_by("-opened_at", "-id")

    @extend_schema(parameters=[AlertFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _answer(self, alert: Alert) -> Response:
        fresh = self.get_queryset().get(pk=alert.pk)
        return Response(AlertDetailSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(
        request=NoteSerializer,
        responses={200: AlertDetailSerializer, 409: ErrorSerializer},
        description="Acknowledge an open alert, with an optional note.",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            lifecycle.acknowledge(alert, request.user, body.validated_data["note"])
        except lifecycle.AlertTransitionError as refusal:
            return Response({"detail": str(refusal), "code": refusal.code}, status=409)
        return self._answer(alert)

    @extend_schema(
        request=RequiredNoteSerializer,
        responses={200: AlertDetailSerializer, 409: ErrorSerializer},
        description="Resolve an open or acknowledged alert, saying how.",
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alert = self.get_object()
        body = RequiredNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            lifecycle.resolve(alert, request.user, body.validated_data["note"])
        except lifecycle.AlertTransitionError as refusal:
            status_code = 400 if refusal.code == "note_required" else 409
            return Response({"detail": str(refusal), "code": refusal.code}, status=status_code)
        return self._answer(alert)

    @extend_schema(
        request=RequiredNoteSerializer,
        responses={200: AlertDetailSerializer},
        description="Add a note to the alert's history.",
    )
    @action(detail=True, methods=["post"])
    def note(self, request, pk=None):
        alert = self.get_object()
        body = RequiredNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            lifecycle.add_note(alert, request.user, body.validated_data["note"])
        except lifecycle.AlertTransitionError as refusal:
            return Response({"detail": str(refusal), "code": refusal.code}, status=400)
        return self._answer(alert)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The frame with what was found drawn on it."
            ),
            404: OpenApiResponse(description="No such alert, or it has no evidence picture."),
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[JPEGRenderer])
    def evidence(self, request, pk=None):
        alert = self.get_object()
        if not alert.evidence:
            raise Http404
        try:
            stored = alert.evidence.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        return FileResponse(stored, content_type="image/jpeg")

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The evidence drawn on the frame as taken, people not masked; "
                "the view is recorded in the alert's history.",
            ),
            403: OpenApiResponse(description="Not allowed to view unmasked evidence."),
            404: OpenApiResponse(description="No such alert, or its frame is gone."),
        }
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JPEGRenderer],
        url_path="unmasked-evidence",
        url_name="unmasked-evidence",
    )
    def unmasked_evidence(self, request, pk=None):
        alert = self.get_object()
        if not may_see_unmasked(request.user):
            raise PermissionDenied
        data = lifecycle.unmasked_evidence(alert, request.user)
        if data is None:
            raise Http404
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "no-store"
        return response
