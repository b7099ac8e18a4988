"""The AMM API's OpenAPI 3 schema, served at /api/amm/v1/schema/ beside the platform's
/api/v1/schema/: the same generator on the AMM's URL tree only (schema_urls).

Public like the platform's: it documents the operations, never data. The title is set on
the answer rather than through drf-spectacular's `custom_settings`, which patches its global
settings for the time of a generation (a concurrent platform schema would get our title)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

TITLE = "AMM monitoring API"
DESCRIPTION = ("Instances with their live state, histories, alerts, reconciliation runs, audit reports, health "
               "and the operator's kill switch / reset / resume (SPEC §9). Authenticate with "
               "`Authorization: Token <key>` (manage.py amm_api_token USERNAME) or the admin's session.")


class AmmSchemaApi(SpectacularAPIView):
    urlconf = "amm.apis.schema_urls"
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(exclude=True)  # the schema's own route is no operation of the API
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data["info"] = {**response.data.get("info", {}), "title": TITLE, "description": DESCRIPTION}
        return response
