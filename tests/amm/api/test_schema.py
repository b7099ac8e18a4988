"""The AMM API's OpenAPI 3 schema is served at /api/amm/v1/schema/, valid, generated without
warnings, and describes exactly the AMM's routes (the platform's schema stays its own)."""
import io
import re

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from amm.apis import urls

pytestmark = pytest.mark.django_db


def implemented() -> set[tuple[str, str]]:
    routes = set()
    for pattern in urls.urlpatterns:
        path = "/api/amm/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(pattern.callback.view_class, method):
                routes.add((path, method))
    return routes


def test_schema_is_served_anonymously_valid_and_lists_every_route():
    response = APIClient().get("/api/amm/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # the OpenAPI 3 meta-schema; raises on an invalid document
    assert schema["info"]["title"] == "AMM monitoring API"
    assert {(p, m) for p, ops in schema["paths"].items() for m in ops} == implemented()
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if path.endswith("/health"):
                assert {} in op["security"] and set(op["responses"]) == {"200", "503"}
                continue
            assert op["security"] == [{"tokenAuth": []}, {"cookieAuth": []}], (path, method)
            assert {"400", "401", "403"} <= set(op["responses"]), (path, method)


def test_schema_names_what_the_api_answers():
    schemas = APIClient().get("/api/amm/v1/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert {"count", "next", "previous", "results"} <= set(schemas["PaginatedInstanceListOutputList"]["properties"])
    assert {"inventory", "best_bid", "last_requote_age_ms", "daily_pnl_cents"} <= set(
        schemas["LiveSummaryOutput"]["properties"])
    assert "requote_interval_ms" in schemas["ConfigParametersOutput"]["properties"]
    assert set(schemas["AmmError"]["properties"]) == {"error", "detail", "field"}
    assert schemas["ReasonInput"]["required"] == ["reason"]


def test_schema_generates_without_warnings_and_the_platform_schema_is_apart(tmp_path):
    out = tmp_path / "amm.yaml"
    call_command("spectacular", urlconf="amm.apis.schema_urls", validate=True, fail_on_warn=True, file=str(out),
                 stderr=io.StringIO())
    assert all(path.startswith("/api/amm/v1/") for path in yaml.safe_load(out.read_text())["paths"])
    platform = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    assert not any(path.startswith("/api/amm/") for path in platform["paths"])
