"""The URL tree the platform's OpenAPI schema describes: only /api/v1/ (not the AMM's API)."""
from django.urls import include, path

urlpatterns = [path("api/v1/", include("exchange.apis.urls"))]
