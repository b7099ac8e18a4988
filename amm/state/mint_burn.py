"""Mints and burns: the one inventory change outside the fill feed (seed §1). A request is
recorded as pending before it is sent (`amm:privileged:pending`: no balance read may rebuild
a market meanwhile), its answer applied exactly once (`privileged_apply`), and every applied
answer counted in `amm:cash_epoch` (a rebuild's balance read must not straddle one)."""
from __future__ import annotations

from typing import Mapping

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.exceptions import InvalidInput
from amm.state.codec import parse_int
from amm.state.connection import conn_or_default
from amm.state.lua import script

# The platform's position fields (connector.Position) the answer's cost sums are made exact
# from, in the order lua.PRIVILEGED takes them.
_ANSWER_POSITION_FIELDS = ("yes_volume", "yes_cost_sum", "no_volume", "no_cost_sum")


def privileged_apply(
    market_id: str,
    *,
    kind: str,
    request_id: str,
    quantity: int,
    position: Mapping[str, int] | None = None,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> str:
    """Apply a successful mint/burn answer, exactly once per request_id. With the answer's
    `position` (yes_volume, yes_cost_sum, no_volume, no_cost_sum) the cost sums are made exact
    (lua.PRIVILEGED). Returns "repeat" (already applied), "applied" (no position given),
    "exact", or "diverged" (applied; fills were in flight, so the cost sums may be off until
    rebuilt)."""
    kind = kind.upper()
    if kind not in ("MINT", "BURN"):
        raise InvalidInput("kind must be MINT or BURN")
    now = now_ms() if now is None else now
    args = [f"{kind.lower()}:{request_id}", kind, int(quantity), int(now), K.PROCESSED_TTL_S,
            _pending_field(market_id, request_id)]
    if position is not None:
        args += [int(position[f]) for f in _ANSWER_POSITION_FIELDS]
    outcome = script(conn_or_default(conn), "privileged")(
        keys=[K.processed_key(market_id), K.inventory_key(market_id), K.MARKETS, K.PRIVILEGED_PENDING, K.CASH_EPOCH],
        args=args)
    return {0: "repeat", 1: "applied", 2: "diverged", 3: "exact"}[int(outcome)]


def _pending_field(market_id: str, request_id: str) -> str:
    return f"{market_id}:{request_id}"


def privileged_pending_add(market_id: str, *, kind: str, request_id: str, quantity: int,
                           now: int | None = None, conn: redis.Redis | None = None) -> None:
    """A mint/burn is about to be sent: until its answer is applied (or it is refused), no
    market is rebuilt from a balance read (see lua.REBUILD). Value `KIND:quantity:sent_ms`."""
    now = now_ms() if now is None else now
    conn_or_default(conn).hset(K.PRIVILEGED_PENDING, _pending_field(market_id, request_id),
                               f"{kind.upper()}:{int(quantity)}:{int(now)}")


def privileged_pending_remove(market_id: str, *, request_id: str, conn: redis.Redis | None = None) -> None:
    """The mint/burn was refused: nothing happened."""
    conn_or_default(conn).hdel(K.PRIVILEGED_PENDING, _pending_field(market_id, request_id))


def privileged_pending(*, conn: redis.Redis | None = None) -> list[tuple[str, str, str, int]]:
    """The mints/burns sent and not applied: (market_id, request_id, kind, quantity)."""
    out = []
    for field, value in conn_or_default(conn).hgetall(K.PRIVILEGED_PENDING).items():
        market_id, _, request_id = field.partition(":")
        kind, quantity, _ = (value.split(":") + ["", "0", "0"])[:3]
        out.append((market_id, request_id, kind, int(quantity or 0)))
    return out


def cash_epoch(*, conn: redis.Redis | None = None) -> int:
    return parse_int(conn_or_default(conn).get(K.CASH_EPOCH))
