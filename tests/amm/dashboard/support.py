"""Helpers of the dashboard and history tests: markets in the database and in Redis, and a
count of Redis round trips."""
from __future__ import annotations

from contextlib import contextmanager

import redis

from amm import state
from amm.models import AMMInstance
from amm.state import OrderEntry
from tests.amm.conftest import seed_market


@contextmanager
def redis_round_trips():
    """Counts what the client sends to Redis: one command, or one whole pipeline, is one
    round trip (the connection's own health-check PING and handshake are not counted)."""
    sent = {"n": 0}
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        if check_health:
            sent["n"] += 1
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original


def order(oid: str, side: str, direction: str, price: int, remaining: int, book_type: str) -> OrderEntry:
    return OrderEntry(oid, side, direction, price, remaining, remaining, book_type, 1_000)


def market(market_id: str, *, lifecycle: str = "RUNNING", phase: str = "EXPLORATION", defense: str = "NORMAL",
           kill_switch: str = "OFF", yes: int = 0, no: int = 0, orders=(), redis_state: dict | None = None,
           in_redis: bool = True) -> AMMInstance:
    """An AMM instance in those states (as the state machines left it) and its Redis state."""
    instance = AMMInstance.objects.create(market_id=market_id, lifecycle_state=lifecycle, phase=phase,
                                          defense_level=defense, kill_switch=kill_switch,
                                          kill_switch_reason="operator: test" if kill_switch == "ON" else "")
    if in_redis:
        seed_market(market_id, yes=yes, no=no, orders=orders)
        state.state_update(market_id, phase=phase, defense_level=defense, kill_switch=kill_switch,
                           **(redis_state or {}))
    return instance
