"""The REST API's root: the router every app registers its viewsets on, and ``/api/me/``."""

from drf_spectacular.utils import extend_schema
from rest_framework import routers, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from alerts.api import AlertViewSet, RuleViewSet
from billing import api as billing_api
from billing.budget_api import BudgetViewSet
from cameras import roles
from cameras.analyses_api import CameraAnalysisViewSet
from cameras.api import CameraViewSet, SiteViewSet
from cameras.regions_api import RegionViewSet
from monitoring.accounts_api import VendorAccountViewSet

router = routers.DefaultRouter()
router.register("sites", SiteViewSet, basename="site")
router.register("cameras", CameraViewSet, basename="camera")
router.register("camera-analyses", CameraAnalysisViewSet, basename="camera-analysis")
router.register("regions", RegionViewSet, basename="region")
router.register("vendor-accounts", VendorAccountViewSet, basename="vendor-account")
router.register("billing-accounts", billing_api.BillingAccountViewSet, basename="billing-account")
router.register("top-ups", billing_api.TopUpViewSet, basename="top-up")
router.register("packages", billing_api.PackageViewSet, basename="package")
router.register("free-quota-claims", billing_api.FreeQuotaClaimViewSet, basename="free-quota-claim")
router.register("qps-orders", billing_api.QpsOrderViewSet, basename="qps-order")
router.register("usage-imports", billing_api.UsageImportViewSet, basename="usage-import")
router.register("bills", billing_api.BillViewSet, basename="bill")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("rules", RuleViewSet, basename="rule")
router.register("alerts", AlertViewSet, basename="alert")


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
