"""REST API for sites, scoped to the caller's sites."""

from rest_framework import serializers, viewsets

from cameras import roles
from cameras.models import Site


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "address", "created_at"]


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SiteSerializer

    def get_queryset(self):
        return roles.sites_for(self.request.user).order_by("name")
