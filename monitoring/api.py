"""The REST API's root: the router every app registers its viewsets on, and ``/api/me/``."""

from drf_spectacular.utils import extend_schema
from rest_framework import routers, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from cameras import roles
from cameras.api import SiteViewSet
from monitoring.accounts_api import VendorAccountViewSet

router = routers.DefaultRouter()
router.register("sites", SiteViewSet, basename="site")
router.register("vendor-accounts", VendorAccountViewSet, basename="vendor-account")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    sites = serializers.ListField(child=serializers.IntegerField())


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    """Who the caller is, their roles and the ids of the sites they may see."""
    user = request.user
    data = {
        "id": user.id,
        "username": user.get_username(),
        "roles": roles.roles_of(user),
        "sites": list(roles.sites_for(user).values_list("id", flat=True)),
    }
    return Response(MeSerializer(data).data)
