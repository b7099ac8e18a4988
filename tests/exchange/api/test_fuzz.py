"""Schema-driven fuzzing (schemathesis) of every operation of the served OpenAPI schema.

Cases come from /api/v1/schema/ itself, so this also checks the schema against the
implementation: answers must match the documented status codes, content types and
bodies, and no request may get a 5xx. The AMM's key (and a staff key for /staff/) makes
the fuzzed calls reach the engine; half the generated market ids are swapped for a real
market so orders, replaces and mints actually trade. Every invariant of SPEC §3.5 must
hold afterwards."""
import random
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.models import Order
from exchange.services import amm_mint

FUZZ_MARKET = "MKT-FUZZ"
MAX_EXAMPLES = 25


@pytest.fixture
def fuzz_env(live_server, amm_actor, staff, make_actor):
    from exchange.services import market_create

    market_create(market_id=FUZZ_MARKET, title="fuzzed", maker_fee_bps=25, taker_fee_bps=75)
    amm_mint(user_id=amm_actor.user_id, market_id=FUZZ_MARKET, quantity=500, request_id="fuzz-seed")
    trader = make_actor("fuzz_trader")
    for price in (30, 45, 55, 70):  # a book to trade against
        trader.place(FUZZ_MARKET, "YES", "BUY", price, 5)
        trader.place(FUZZ_MARKET, "NO", "BUY", 100 - price - 5, 5)
    return {"amm": amm_actor.key, "staff": staff.key, "url": live_server.url}


def aim_at_real_rows(case, rng: random.Random, real_orders: list[str]) -> None:
    """Half the time, point market ids (and order ids) at rows that exist."""
    if rng.random() < 0.5:
        return
    if case.path_parameters and "market_id" in case.path_parameters:
        case.path_parameters["market_id"] = FUZZ_MARKET
    if case.path_parameters and "order_id" in case.path_parameters and real_orders:
        case.path_parameters["order_id"] = rng.choice(real_orders)
    if isinstance(case.body, dict) and "market_id" in case.body:
        case.body["market_id"] = FUZZ_MARKET
    if case.query and "market_id" in case.query:
        case.query["market_id"] = FUZZ_MARKET


@pytest.mark.django_db(transaction=True)
def test_fuzz_every_operation(fuzz_env, clean_invariants):
    raw = httpx.get(f"{fuzz_env['url']}/api/v1/schema/", params={"format": "json"}).json()
    schema = schemathesis.openapi.from_dict(raw)
    rng = random.Random(7)
    real_orders = [str(pk) for pk in Order.objects.values_list("id", flat=True)]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 19
    statuses: Counter = Counter()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case):
                aim_at_real_rows(case, rng, real_orders)
                key = fuzz_env["staff"] if case.path.startswith("/api/v1/staff/") else fuzz_env["amm"]
                response = case.call_and_validate(
                    base_url=fuzz_env["url"],
                    headers={"Authorization": f"Token {key}", "Connection": "close"},
                    checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                            response_schema_conformance],
                )
                statuses[response.status_code] += 1

            run()
    assert not [code for code in statuses if code >= 500]
    assert statuses[200] + statuses[201] > 50, statuses  # the fuzz reached the engine, not only 4xx
