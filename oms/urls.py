"""Project URLs. Apps plug in their own `urls.py` and `api/urls.py` here as they grow."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

# Each app owns its URL modules; they are mounted here by dotted path (no import of the apps from oms).
api_v1: list[URLPattern | URLResolver] = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("orders.api.urls")),
    path("", include("inventory.api.urls")),
    path("", include("routing.api.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("orders/", include("orders.urls")),
    path("fulfilment/", include("orders.fulfilment_urls")),
    path("returns/", include("orders.return_urls")),
    path("track/", include("orders.tracking_urls")),
    path("inventory/", include("inventory.urls")),
    path("routing/", include("routing.urls")),
    path("reporting/", include("reporting.urls")),
    path("access/", include("oms.access_urls")),
]

handler403 = "oms.views.error_403"
handler404 = "oms.views.error_404"
handler500 = "oms.views.error_500"
