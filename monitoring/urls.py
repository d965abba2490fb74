"""URL routes of the whole project."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from alerts import views as alert_views
from monitoring import api, health, views
from monitoring.accounts import (
    vendor_account_edit,
    vendor_account_list,
    vendor_account_new,
    vendor_account_resume,
)
from monitoring.auth import ThrottledLoginView

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path(
        "jsi18n/",
        login_not_required(JavaScriptCatalog.as_view(packages=["alerts", "cameras", "billing"])),
        name="javascript-catalog",
    ),
    path("live/", alert_views.live, name="live"),
    path("alerts/", include("alerts.urls")),
    path("cameras/", include("cameras.urls")),
    path("billing/", include("billing.urls")),
    path("vendor-accounts/", vendor_account_list, name="vendor_account_list"),
    path("vendor-accounts/new/", vendor_account_new, name="vendor_account_new"),
    path("vendor-accounts/<int:pk>/", vendor_account_edit, name="vendor_account_edit"),
    path("vendor-accounts/<int:pk>/resume/", vendor_account_resume, name="vendor_account_resume"),
    path("api/me/", api.me, name="api-me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(api.router.urls)),
    path("sandbox/", include("monitoring.sandbox.urls")),
    path("admin/", admin.site.urls),
]
