from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from amm.apis.metrics import metrics_view
from amm.apis.schema import AmmSchemaApi

urlpatterns = [
    # AMM Prometheus metrics (issue 11); before any other api/amm/v1/ include.
    path("api/amm/v1/metrics", metrics_view, name="amm-metrics"),
    path("admin/", admin.site.urls),
    # The platform REST API (SPEC §3.6) and its OpenAPI 3 schema.
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(urlconf="exchange.apis.schema_urls", authentication_classes=[],
                                   permission_classes=[]),
        name="api-v1-schema",
    ),
    path("api/v1/", include("exchange.apis.urls")),
    # The AMM's operator dashboard (SPEC §9): /amm/dashboard/ and its data.
    path("amm/", include("amm.dashboard.urls")),
    # The AMM monitoring API (SPEC §9) and its own OpenAPI 3 schema.
    path("api/amm/v1/schema/", AmmSchemaApi.as_view(), name="api-amm-v1-schema"),
    path("api/amm/v1/", include("amm.apis.urls")),
]

# JSON errors under /api/, Django's pages elsewhere.
handler404 = "exchange.apis.errors.not_found"
handler500 = "exchange.apis.errors.server_error"
