"""The demo's simulated traders trade over real HTTP and leave the platform consistent."""
import random

import pytest

from exchange.invariants import invariants_check
from exchange.models import Order, Trade
from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create
from sim.traders import Trader, TruePrice, traders_run


def test_true_price_walk_stays_in_the_price_band():
    rng, walk = random.Random(1), TruePrice(vol=0.5)
    assert all(1 <= walk.step(rng) <= 99 for _ in range(5_000))


@pytest.mark.django_db(transaction=True)
def test_traders_place_and_cross_orders_over_http(live_server):
    market_create(market_id="SIM-1", title="sim", taker_fee_bps=10)
    crowd = []
    for i in range(3):
        user, _ = user_get_or_create(username=f"t{i}")
        account_deposit(user_id=str(user.id), amount_cents=1_000_000)
        crowd.append(Trader(name=user.username, key=api_key_issue(user=user), informed=i == 0))
    stats = traders_run(base=live_server.url, market_id="SIM-1", traders=crowd, rate_per_s=500, seed=3,
                        duration_s=3.0)
    assert stats.orders > 20 and stats.rejected < stats.orders
    assert Order.objects.filter(market_id="SIM-1").count() > 20
    assert Trade.objects.filter(market_id="SIM-1").exists(), "noise traders should cross each other"
    assert invariants_check() == []
