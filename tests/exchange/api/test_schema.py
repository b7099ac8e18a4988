"""The OpenAPI 3 schema is served and describes exactly the routes implemented."""
import re

import pytest

from exchange.apis import urls

pytestmark = pytest.mark.django_db(transaction=True)


def implemented() -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route of exchange.apis.urls."""
    routes = set()
    for pattern in urls.urlpatterns:
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        view = pattern.callback.view_class
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                routes.add((path, method))
    return routes


def test_schema_is_served_without_a_key_and_lists_every_route(anon):
    response = anon.get("/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert documented == implemented()
    assert len(documented) == 19
    assert schema["components"]["securitySchemes"]["PlatformToken"]["in"] == "header"
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"PlatformToken": []}], (path, method)
            assert "400" in op["responses"] and "401" in op["responses"], (path, method)
            assert op["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}


def test_schema_names_the_contract_fields(anon):
    schemas = anon.get("/schema/", params={"format": "json"}).json()["components"]["schemas"]
    assert set(schemas["Order"]["properties"]) == {
        "id", "client_order_id", "market_id", "side", "direction", "book_type", "price_cents", "quantity",
        "filled_quantity", "remaining_quantity", "status", "time_in_force", "created_at"}
    assert set(schemas["OrderPlaceInput"]["properties"]) == {
        "market_id", "client_order_id", "side", "direction", "price_cents", "quantity", "time_in_force"}
    assert schemas["OrderPlaceInput"]["additionalProperties"] is False
    assert set(schemas["TradeListOutput"]["properties"]) == {"results", "next_since"}
    assert set(schemas["OrdersReplaceOutput"]["properties"]) == {"cancelled", "placed", "trades", "sequence_id"}
    assert set(schemas["Error"]["properties"]) == {"error", "detail", "field"}
    assert sorted(schemas["Error"]["required"]) == ["detail", "error"]
