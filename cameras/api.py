"""REST API for sites, cameras, camera analyses, regions and the latest frame of a camera.

Scoping and roles:

* every query is limited to the caller's sites (``roles.sites_for``): another site's
  objects answer 404, as if they did not exist;
* reading cameras, analyses, regions and frames needs a role that watches or configures
  (``roles.WATCH`` or ``roles.CONFIGURE``); writing needs ``roles.CONFIGURE`` (403);
* sites are read by all their members; their admins (``roles.CONFIGURE``) change and delete
  them; only superusers create sites, because site membership decides who sees what and is
  managed with the users, in the Django admin.

The camera password is write-only: answers carry ``password_set`` instead. On update a
password left out or empty keeps the stored one; ``clear_password: true`` removes it.

A region's polygon is ``points``, ``[[x, y], ...]`` in pixels of a ``frame_width`` x
``frame_height`` frame (``0 <= x <= frame_width - 1``; see ``cameras.polygons``). The frame
size defaults to the camera's resolution and is required while the camera has none. A
refused region answers 400 with one reason per field, e.g. ``{"points": ["..."]}``.

Lists take ``?site=`` and, for analyses and regions, ``?camera=``. Every change is written
to the change history (``cameras.history``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import permissions, renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.settings import api_settings

from cameras import roles
from cameras.forms import (
    password_reentry_error,
    sample_interval_error,
    source_url_error,
)
from cameras.history import record_change, snapshot
from cameras.models import (
    Camera,
    Frame,
    Site,
)
from cameras.polygons import NON_FIELD
from monitoring.lib.apiutils import id_filter, parse_id
from monitoring.lib.crypto import needs_reentry
from monitoring.privacy import served_frame

# --------------------------------------------------------------------------- access


class WatchOrConfigure(permissions.BasePermission):
    """Reading needs a role that watches or configures; writing needs configuring."""

    message = gettext_lazy("Your roles do not include configuring cameras.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return user.has_perm(roles.WATCH) or user.has_perm(roles.CONFIGURE)
        return user.has_perm(roles.CONFIGURE)


class SiteAccess(permissions.BasePermission):
    """Members read their sites; admins change and delete them; superusers create them."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if view.action == "create":
            self.message = _("Only a superuser creates sites.")
            return user.is_superuser
        self.message = _("Your roles do not include configuring sites.")
        return user.has_perm(roles.CONFIGURE)


def _request_user(serializer_or_field):
    request = serializer_or_field.context.get("request")
    return getattr(request, "user", None)


class SitePrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A site of the caller's, by id."""

    def get_queryset(self):
        return roles.sites_for(_request_user(self))


class CameraPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A camera of the caller's sites, by id."""

    def get_queryset(self):
        return Camera.objects.filter(site__in=roles.sites_for(_request_user(self)))


def _site_filter_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "site", OpenApiTypes.INT, description=gettext_lazy("Only objects of this site (id).")
    )


def _camera_filter_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "camera", OpenApiTypes.INT, description=gettext_lazy("Only objects of this camera (id).")
    )


def filter_site_and_camera(request, queryset):
    """``queryset`` (of objects on a camera) narrowed by the ``?site=`` and ``?camera=`` of
    ``request``, when given."""
    site = id_filter(request, "site")
    if site is not None:
        queryset = queryset.filter(camera__site_id=site)
    camera = id_filter(request, "camera")
    if camera is not None:
        queryset = queryset.filter(camera_id=camera)
    return queryset


def _one_reason_each(errors: dict[str, str]) -> dict[str, list[str]]:
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD else name): [message]
        for name, message in errors.items()
    }


class HistoryMixin:
    """Writes every create, update and delete to the change history, in one transaction
    with the change itself."""

    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            record_change(self.request.user, instance, "create", None, snapshot(instance))

    def perform_update(self, serializer):
        with transaction.atomic():
            before = snapshot(serializer.instance)
            instance = serializer.save()
            record_change(self.request.user, instance, "update", before, snapshot(instance))

    def perform_destroy(self, instance):
        with transaction.atomic():
            record_change(self.request.user, instance, "delete", snapshot(instance), None)
            instance.delete()


# --------------------------------------------------------------------------- sites


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "address", "created_at"]


@extend_schema_view(
    list=extend_schema(summary=gettext_lazy("List the sites you are a member of")),
    retrieve=extend_schema(summary=gettext_lazy("One of your sites")),
    create=extend_schema(summary=gettext_lazy("Create a site (superusers only)")),
    update=extend_schema(summary=gettext_lazy("Replace a site's name and address")),
    partial_update=extend_schema(summary=gettext_lazy("Change a site's name or address")),
    destroy=extend_schema(
        summary=gettext_lazy("Delete a site with its cameras, regions, frames and history")
    ),
)
class SiteViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Sites, the unit of access: each user sees the sites they are a member of."""

    queryset = Site.objects.none()
    serializer_class = SiteSerializer
    permission_classes = [SiteAccess]

    def get_queryset(self):
        return roles.sites_for(self.request.user).order_by("name")

    def perform_destroy(self, instance):
        # The site's history goes with it: nothing to record.
        instance.delete()


# --------------------------------------------------------------------------- cameras


class CameraSerializer(serializers.ModelSerializer):
    site = SitePrimaryKeyField(help_text=gettext_lazy("The site's id, one of yours."))
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=500,
        style={"input_type": "password"},
        help_text=gettext_lazy(
            "Write-only. Left out or empty on update, the stored password is kept."
        ),
    )
    clear_password = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text=gettext_lazy("Write-only. True removes the stored password."),
    )
    password_set = serializers.SerializerMethodField(
        help_text=gettext_lazy("Whether a password is stored (it is never returned).")
    )
    password_needs_reentry = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "Whether the stored password cannot be read with this server's keys and must be "
            "typed again."
        )
    )
    latest_frame = serializers.SerializerMethodField(
        help_text=gettext_lazy("URL of the latest frame's JPEG, or null when there is none.")
    )

    class Meta:
        model = Camera
        fields = [
            "id",
            "site",
            "name",
            "source_kind",
            "source_url",
            "username",
            "password",
            "clear_password",
            "password_set",
            "password_needs_reentry",
            "sample_interval",
            "enabled",
            "frame_retention_hours",
            "privacy_mask",
            "width",
            "height",
            "health",
            "health_reason",
            "health_changed_at",
            "last_frame_at",
            "latest_frame",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "width",
            "height",
            "health",
            "health_reason",
            "health_changed_at",
            "last_frame_at",
            "created_at",
            "updated_at",
        ]
        validators = []

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_password_set(self, camera: Camera) -> bool:
        return bool(camera.password)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_password_needs_reentry(self, camera: Camera) -> bool:
        return needs_reentry(camera.password)

    @extend_schema_field(OpenApiTypes.URI)
    def get_latest_frame(self, camera: Camera) -> str | None:
        if hasattr(camera, "latest_frame_at"):
            has_frame = camera.latest_frame_at is not None
        else:
            has_frame = camera.frames.exists()
        if not has_frame:
            return None
        url = reverse("camera-frame", args=[camera.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def validate(self, attrs):
        errors: dict[str, str] = {}
        instance = self.instance
        kind = attrs.get("source_kind", getattr(instance, "source_kind", ""))
        if "source_url" in attrs or "source_kind" in attrs:
            attrs["source_url"] = attrs.get("source_url", getattr(instance, "source_url", ""))
            attrs["source_url"] = attrs["source_url"].strip()
            problem = source_url_error(kind, attrs["source_url"])
            if problem:
                errors["source_url"] = problem
            problem = password_reentry_error(
                instance,
                kind,
                attrs["source_url"],
                bool(attrs.get("password") or attrs.get("clear_password")),
            )
            if problem:
                errors["password"] = problem
        site = attrs.get("site", getattr(instance, "site", None))
        name = attrs.get("name", getattr(instance, "name", None))
        if site is not None and name is not None:
            taken = Camera.objects.filter(site=site, name=name)
            if instance is not None:
                taken = taken.exclude(pk=instance.pk)
            if taken.exists():
                errors["name"] = _("The site already has a camera named “%(name)s”.") % {
                    "name": name
                }
        if "sample_interval" in attrs:
            problem = sample_interval_error(instance, attrs["sample_interval"])
            if problem:
                errors["sample_interval"] = problem
        if errors:
            raise serializers.ValidationError(_one_reason_each(errors))
        return attrs

    @staticmethod
    def _apply_password(camera: Camera, password: str | None, clear: bool) -> None:
        if clear:
            camera.password = ""
        elif password:
            camera.password = password

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        clear = validated_data.pop("clear_password", False)
        camera = Camera(**validated_data)
        self._apply_password(camera, password, clear)
        camera.save()
        return camera

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        clear = validated_data.pop("clear_password", False)
        self._apply_password(instance, password, clear)
        return super().update(instance, validated_data)


class JPEGRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``image/jpeg``; errors then come with an empty body."""

    media_type = "image/jpeg"
    format = "jpg"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


def scoped_cameras(user):
    latest = Frame.objects.filter(camera=OuterRef("pk")).order_by("-captured_at")
    return (
        Camera.objects.filter(site__in=roles.sites_for(user))
        .select_related("site")
        .annotate(latest_frame_at=Subquery(latest.values("captured_at")[:1]))
        .order_by("site__name", "name")
    )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List the cameras of your sites"),
        parameters=[_site_filter_parameter()],
    ),
    retrieve=extend_schema(summary=gettext_lazy("One camera (the password is never returned)")),
    create=extend_schema(summary=gettext_lazy("Add a camera to one of your sites")),
    update=extend_schema(
        summary=gettext_lazy("Replace a camera; a password left out or empty is kept")
    ),
    partial_update=extend_schema(summary=gettext_lazy("Change some fields of a camera")),
    destroy=extend_schema(
        summary=gettext_lazy("Delete a camera with its analyses, regions and frames")
    ),
)
class CameraViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Cameras of the caller's sites: where frames come from, how often, how they are doing."""

    queryset = Camera.objects.none()
    serializer_class = CameraSerializer
    permission_classes = [WatchOrConfigure]

    def get_queryset(self):
        cameras = scoped_cameras(self.request.user)
        site = id_filter(self.request, "site")
        if site is not None:
            cameras = cameras.filter(site_id=site)
        return cameras

    @extend_schema(
        summary=gettext_lazy("The latest frame of a camera, as JPEG"),
        parameters=[
            OpenApiParameter(
                "frame",
                OpenApiTypes.INT,
                description=gettext_lazy("A given frame's id instead of the latest."),
            )
        ],
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            404: OpenApiResponse(
                description=gettext_lazy("No such camera among yours, or no frame yet.")
            ),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[renderers.JSONRenderer, JPEGRenderer],
        url_path="frame",
        url_name="frame",
    )
    def frame(self, request, pk=None):
        camera = self.get_object()
        wanted = request.query_params.get("frame")
        if wanted:
            # A given frame (the one an overlay was computed on), still kept.
            number = parse_id(wanted)
            if number is None:
                raise NotFound(_("No such frame of this camera."))
            frame = camera.frames.filter(pk=number).first()
            if frame is None:
                raise NotFound(_("No such frame of this camera."))
        else:
            frame = camera.frames.order_by("-captured_at").first()
        if frame is None:
            raise NotFound(_("No frame has been captured from this camera yet."))
        try:
            # People masked as the camera says (monitoring.privacy).
            data = served_frame(frame)
        except OSError:
            raise NotFound(_("The latest frame's file is missing from storage.")) from None
        # Frames are small: whole bytes, not a file stream, which ASGI would iterate
        # through a thread for nothing.
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-cache"
        return response
