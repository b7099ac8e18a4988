"""The URL tree the AMM API's OpenAPI schema describes: only /api/amm/v1/ (not the platform's)."""
from django.urls import include, path

urlpatterns = [path("api/amm/v1/", include("amm.apis.urls"))]
