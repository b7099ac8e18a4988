"""Assertions comparing the AMM's Redis state with the platform's database (the truth)."""
from __future__ import annotations

from amm import state
from amm.constants import AMM_USER_ID
from exchange.models import Account, Order, Position


def platform_truth(market_id: str) -> dict:
    pos = Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id).first() or Position()
    account = Account.objects.get(user_id=AMM_USER_ID)
    return {
        "yes_volume": pos.yes_volume, "no_volume": pos.no_volume,
        "yes_available": pos.yes_volume - pos.yes_pending_sell, "no_available": pos.no_volume - pos.no_pending_sell,
        "yes_cost_sum_cents": pos.yes_cost_sum, "no_cost_sum_cents": pos.no_cost_sum,
        "cash_cents": account.available_balance,
    }


def platform_open_orders(market_id: str) -> dict[str, int]:
    return {str(o.id): o.quantity - o.filled_quantity for o in Order.objects.filter(
        user_id=AMM_USER_ID, market_id=market_id, status__in=["OPEN", "PARTIALLY_FILLED"])}


def redis_view(market_id: str) -> dict:
    inv = state.inventory_get(market_id).as_dict()
    inv.pop("updated_at_ms")
    return inv


def assert_redis_is_platform(market_id: str) -> None:
    assert redis_view(market_id) == platform_truth(market_id)
    assert {oid: o.remaining for oid, o in state.orders_get(market_id).items()} == platform_open_orders(market_id)
