"""The values the state package reads and writes: the inventory (the strategy's `Inventory`,
the one in-memory inventory type, built here from `amm:inventory:{m}`), one live order, one
fill leg, and what a quote cycle reads."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import amm.state.keys as K
from amm.clock import now_ms
from amm.state.codec import parse_int
from amm.state.strategy_codec import strategy_parse
from amm.strategy.types import Inventory


# The name callers of amm.state have always used: the same type, not a copy.
InventoryView = Inventory


def inventory_from_hash(raw: Mapping[str, str], cash: str | None = None) -> Inventory:
    """`amm:inventory:{m}` as ints (INVENTORY_FIELDS, `updated_at_ms` included); all zeros and
    `exists=False` when Redis keeps no inventory for the market (never synced, or forgotten).
    `cash`: `amm:cash` read with it, the account's cash, which the hash's `cash_cents` only
    mirrors as of the market's last cycle (lua.py cash_move); None: the mirror is taken."""
    if not raw:
        return Inventory(exists=False)
    fields = {name: parse_int(raw.get(name)) for name in K.INVENTORY_FIELDS}
    if cash is not None:
        fields["cash_cents"] = parse_int(cash)
    return Inventory(**fields)


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One value of `amm:orders:{m}`: JSON {side, direction, price, qty, remaining, book_type, created_ms}."""

    order_id: str
    side: str
    direction: str
    price: int  # own-side price in cents
    qty: int
    remaining: int
    book_type: str
    created_ms: int

    def to_json(self) -> str:
        return json.dumps(
            {"side": self.side, "direction": self.direction, "price": self.price, "qty": self.qty,
             "remaining": self.remaining, "book_type": self.book_type, "created_ms": self.created_ms},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, order_id: str, raw: str | Mapping[str, Any]) -> "OrderEntry":
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        return cls(
            order_id=order_id,
            side=str(data["side"]),
            direction=str(data["direction"]),
            price=int(data["price"]),
            qty=int(data["qty"]),
            remaining=int(data["remaining"]),
            book_type=str(data["book_type"]),
            created_ms=int(data.get("created_ms") or 0),
        )


# Parsed order entries by (order id, stored JSON): an order's value changes only when it fills
# or is replaced, so most cycles read the very texts they read before. OrderEntry is frozen: one
# parse serves every reader of the same text. Bounded: emptied when full.
_ORDERS_PARSED: dict[tuple[str, str], OrderEntry] = {}
_ORDERS_PARSED_MAX = 50_000


def orders_from_hash(raw: Mapping[str, str]) -> dict[str, OrderEntry]:
    """`amm:orders:{m}` as {order_id: OrderEntry}."""
    out = {}
    parsed = _ORDERS_PARSED
    for oid, value in raw.items():
        entry = parsed.get((oid, value))
        if entry is None:
            entry = OrderEntry.from_json(oid, value)
            if isinstance(value, str):
                if len(parsed) >= _ORDERS_PARSED_MAX:
                    parsed.clear()
                parsed[(oid, value)] = entry
        out[oid] = entry
    return out


@dataclass(frozen=True, slots=True)
class FillLeg:
    """The AMM's side of one trade, as the fill script applies it (seed §4.1)."""

    order_id: str
    side: str  # YES / NO (own side)
    direction: str  # BUY / SELL
    own_price: int  # own-side price of the fill (YES-view price, or 100 − it for NO)
    quantity: int
    fee: int  # the fee this leg paid (maker_fee when its order was the maker, else taker_fee)
    book_type: str


@dataclass(frozen=True, slots=True)
class QuoteCycleRead:
    """Everything one quote cycle reads from Redis, from one MULTI/EXEC round trip."""

    market_id: str
    inventory: Inventory
    orders: dict[str, OrderEntry]
    state: dict[str, Any]
    config_version: int | None
    oracle: dict[str, Any] | None
    market: dict[str, Any] | None = None
    read_at_ms: int = field(default_factory=now_ms)


@dataclass(frozen=True, slots=True)
class CycleRead:
    """Everything a runtime quote cycle reads from Redis, in one MULTI/EXEC round trip: the
    seed keys (`quote`), the kept StrategyState, the market's runtime flags, the fills the
    feed applied since the last cycle (taken: the read removes them), and the dead man's switch."""

    quote: QuoteCycleRead
    strategy_blob: str | None  # `amm:strategy:{m}` as stored (`strategy` parses it)
    runtime: dict[str, Any]
    fills: list[dict[str, Any]]
    deadman: dict[str, Any]
    book: dict[str, Any] | None = None  # the book a cycle last read (`amm:book:{m}`)
    push_book: str | None = None  # the WebSocket book feed's (`amm:pushbook:{m}`, raw: see push_book_parse)
    push_alive: str | None = None  # the book feed's heartbeat
    tape: list[dict[str, Any]] = field(default_factory=list)  # `amm:trades:{m}` (not yet seen by a cycle), newest first
    events_alive: int | None = None  # the event-stream feed's heartbeat (ms): the tape is kept

    @property
    def strategy(self) -> dict[str, Any] | None:
        """The kept StrategyState dict (None when there is none). Parsed on demand: a worker
        that wrote this very blob keeps the StrategyState it came from (cycle.py)."""
        return strategy_parse(self.strategy_blob, self.quote.market_id)
