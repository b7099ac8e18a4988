"""Shared fixtures of the AMM tests (tests/amm/strategy has its own)."""
from __future__ import annotations

import pytest
import redis

from amm import state
from amm.enums import AMMPhase, DefenseLevel, KillSwitchState


def seed_market(market_id: str, *, cash: int = 100_000, yes: int = 0, no: int = 0, yes_cost: int = 0,
                no_cost: int = 0, maker_bps: int = 0, taker_bps: int = 0, orders=(), cursor: int | None = None) -> int:
    """Put one market into Redis as a sync would (no platform needed)."""
    return state.market_rebuild(
        market_id, yes_volume=yes, yes_cost_sum=yes_cost, yes_pending_sell=0, no_volume=no, no_cost_sum=no_cost,
        no_pending_sell=0, cash_mode="available", cash_value=cash,
        market_meta={"status": "ACTIVE", "maker_fee_bps": maker_bps, "taker_fee_bps": taker_bps,
                     "min_price_cents": 1, "max_price_cents": 99},
        orders=list(orders),
        state={"phase": AMMPhase.EXPLORATION.value, "defense_level": DefenseLevel.NORMAL.value,
               "kill_switch": KillSwitchState.OFF.value},
        state_defaults={"daily_pnl_cents": 0, "total_fills_today": 0},
        expected_cursor=state.trade_cursor_get() if cursor is None else cursor,
    )


@pytest.fixture
def market_in_redis(redis_conn):
    """seed_market with defaults for market 'MKT-T' (fees: maker 0, taker 100 bps)."""
    seed_market("MKT-T", cash=100_000, taker_bps=100)
    return "MKT-T"


def redis_sends(monkeypatch) -> list:
    """Every command or pipeline this process sends to Redis from now on (one entry per round
    trip), for tests that a read costs one round trip whatever the number of markets."""
    sends: list = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sends.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sends
