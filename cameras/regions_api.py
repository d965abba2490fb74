"""REST API for regions: the fences and zones drawn on cameras, as polygons in pixels of a
frame (``cameras.api`` describes the scoping, roles and the points format)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets

from cameras import roles
from cameras.api import (
    CameraPrimaryKeyField,
    HistoryMixin,
    WatchOrConfigure,
    _camera_filter_parameter,
    _one_reason_each,
    _site_filter_parameter,
    filter_site_and_camera,
)
from cameras.models import MAX_FRAME_SIDE, Region, RegionKind
from cameras.polygons import region_errors


@extend_schema_field(
    {
        "type": "array",
        "minItems": 3,
        "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        "example": [[100, 80], [600, 80], [600, 400], [100, 400]],
    }
)
class PointsField(serializers.JSONField):
    """A polygon as ``[[x, y], ...]`` in pixels; checked by ``cameras.polygons``."""


# Described inside allOf, so the schema keeps it apart from the other apps' fields named
# "kind" (alert and rule kinds), whose shared enum component name would otherwise collide.
@extend_schema_field({"allOf": [{"type": "string", "enum": list(RegionKind.values)}]})
class RegionKindField(serializers.ChoiceField):
    """What a region is for: its kind."""


class RegionSerializer(serializers.ModelSerializer):
    camera = CameraPrimaryKeyField(help_text=gettext_lazy("The camera's id; fixed once created."))
    kind = RegionKindField(
        choices=RegionKind.choices,
        help_text=gettext_lazy(
            "fence (no entry), helmet, workwear, crowd (counted by area), flow (in/out "
            "tracking) or zone."
        ),
    )
    points = PointsField(
        help_text=gettext_lazy(
            "The polygon, [[x, y], ...] in pixels of the frame: 0 <= x <= frame_width - 1, "
            "0 <= y <= frame_height - 1; at least 3 points, not crossing itself."
        )
    )
    frame_width = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_FRAME_SIDE,
        help_text=gettext_lazy(
            "Width of the frame the points are in. Defaults to the camera's resolution; "
            "required while the camera has none."
        ),
    )
    frame_height = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_FRAME_SIDE,
        help_text=gettext_lazy(
            "Height of the frame the points are in. Defaults to the camera's resolution; "
            "required while the camera has none."
        ),
    )

    class Meta:
        model = Region
        fields = [
            "id",
            "camera",
            "name",
            "kind",
            "points",
            "frame_width",
            "frame_height",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []

    def _frame_size(self, attrs, camera, instance) -> tuple[int, int]:
        given = [name for name in ("frame_width", "frame_height") if name in attrs]
        if len(given) == 1:
            missing = "frame_height" if given == ["frame_width"] else "frame_width"
            raise serializers.ValidationError(
                {missing: [_("Give frame_width and frame_height together.")]}
            )
        if given:
            return attrs["frame_width"], attrs["frame_height"]
        if instance is not None:
            return instance.frame_width, instance.frame_height
        if not camera.width or not camera.height:
            reason = _(
                "No frame has come from this camera yet, so its resolution is unknown: "
                "give frame_width and frame_height."
            )
            raise serializers.ValidationError({"frame_width": [reason], "frame_height": [reason]})
        return camera.width, camera.height

    def validate(self, attrs):
        instance = self.instance
        camera = attrs.get("camera", getattr(instance, "camera", None))
        if instance is not None and camera.pk != instance.camera_id:
            raise serializers.ValidationError(
                {"camera": [_("A region stays on its camera: draw a new one on the other.")]}
            )
        width, height = self._frame_size(attrs, camera, instance)
        name = attrs.get("name", getattr(instance, "name", None))
        errors: dict[str, str] = {}
        taken = Region.objects.filter(camera=camera, name=name)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            errors["name"] = _("This camera already has a region named “%(name)s”.") % {
                "name": name
            }
        errors.update(
            region_errors(
                camera,
                kind=attrs.get("kind", getattr(instance, "kind", "")),
                points=attrs.get("points", getattr(instance, "points", None)),
                width=width,
                height=height,
                region_id=getattr(instance, "pk", None),
            )
        )
        if errors:
            raise serializers.ValidationError(_one_reason_each(errors))
        attrs["frame_width"], attrs["frame_height"] = width, height
        if "points" in attrs:
            attrs["points"] = [[x, y] for x, y in attrs["points"]]
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List the regions drawn on your cameras"),
        parameters=[_site_filter_parameter(), _camera_filter_parameter()],
    ),
    retrieve=extend_schema(summary=gettext_lazy("One region")),
    create=extend_schema(summary=gettext_lazy("Draw a region on a camera")),
    update=extend_schema(summary=gettext_lazy("Replace a region")),
    partial_update=extend_schema(summary=gettext_lazy("Change a region")),
    destroy=extend_schema(summary=gettext_lazy("Delete a region")),
)
class RegionViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Fences and zones drawn on the cameras of the caller's sites."""

    queryset = Region.objects.none()
    serializer_class = RegionSerializer
    permission_classes = [WatchOrConfigure]

    def get_queryset(self):
        regions = Region.objects.filter(camera__site__in=roles.sites_for(self.request.user))
        return filter_site_and_camera(self.request, regions).order_by("camera_id", "name", "pk")
