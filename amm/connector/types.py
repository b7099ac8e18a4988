"""The platform's answers as small immutable dataclasses (SPEC §3.6 bodies).

Parsing is strict about the fields the AMM relies on (a missing one is a ProtocolError)
and lenient about extras. Money and quantities are int; times keep the platform's ISO
text and an epoch-ms integer.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from amm.connector.errors import ProtocolError


class Fence(Protocol):
    """What an order call is sent under (amm.runtime.lease.Lease): the market lease's fencing
    token, sent as `X-Fencing-Token`, and whether the lease is still valid by the caller's own
    clock (checked before every attempt: a lapsed lease sends nothing)."""

    fencing_token: int | None

    def valid(self) -> bool: ...


def optional_int(raw: Mapping[str, Any], name: str) -> int | None:
    """An integer field a platform may leave out (None then); a present one must be an integer."""
    return None if raw.get(name) is None else _int(raw, name, 0)


def _int(raw: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = raw.get(name, default)
    if value is None:
        if default is None and name not in raw:
            raise ProtocolError(f"platform answer lacks {name!r}", body=dict(raw))
        return 0 if default is None else default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ProtocolError(f"{name!r} is not an integer: {value!r}", body=dict(raw))
    try:
        return int(value)
    except ValueError as exc:
        raise ProtocolError(f"{name!r} is not an integer: {value!r}", body=dict(raw)) from exc


def _opt_int(raw: Mapping[str, Any], name: str) -> int | None:
    value = raw.get(name)
    return None if value is None else _int(raw, name)


def _str(raw: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if value is None:
        raise ProtocolError(f"platform answer lacks {name!r}", body=dict(raw))
    return str(value)


def iso_to_ms(value: str | None) -> int | None:
    """Epoch milliseconds of an ISO-8601 time (naive times are UTC); None stays None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProtocolError(f"not an ISO time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Balance:
    user_id: str
    available_balance: int
    frozen_balance: int
    version: int

    @property
    def total_cents(self) -> int:
        return self.available_balance + self.frozen_balance

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Balance":
        return cls(
            user_id=_str(raw, "user_id", ""),
            available_balance=_int(raw, "available_balance"),
            frozen_balance=_int(raw, "frozen_balance", 0),
            version=_int(raw, "version", 0),
        )


@dataclass(frozen=True, slots=True)
class Position:
    market_id: str
    yes_volume: int = 0
    yes_cost_sum: int = 0
    yes_pending_sell: int = 0
    no_volume: int = 0
    no_cost_sum: int = 0
    no_pending_sell: int = 0

    @property
    def yes_available(self) -> int:
        return self.yes_volume - self.yes_pending_sell

    @property
    def no_available(self) -> int:
        return self.no_volume - self.no_pending_sell

    @classmethod
    def parse(cls, raw: Mapping[str, Any], market_id: str = "") -> "Position":
        return cls(
            market_id=str(raw.get("market_id") or market_id),
            **{name: _int(raw, name, 0) for name in (
                "yes_volume", "yes_cost_sum", "yes_pending_sell", "no_volume", "no_cost_sum", "no_pending_sell")},
        )


@dataclass(frozen=True, slots=True)
class Market:
    id: str
    status: str
    title: str = ""
    min_price_cents: int = 1
    max_price_cents: int = 99
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    trading_end_at: str | None = None
    resolution_date: str | None = None
    reserve_balance: int = 0
    total_yes_shares: int = 0
    total_no_shares: int = 0
    outcome: str | None = None
    sequence_id: int | None = None  # the order book's sequence_id, when the platform reports it

    @property
    def trading_end_ms(self) -> int | None:
        return iso_to_ms(self.trading_end_at)

    @property
    def resolution_ms(self) -> int | None:
        return iso_to_ms(self.resolution_date)

    @property
    def worst_fee_bps(self) -> int:
        return max(self.maker_fee_bps, self.taker_fee_bps)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Market":
        return cls(
            id=_str(raw, "id", raw.get("market_id")),
            status=_str(raw, "status"),
            title=str(raw.get("title") or ""),
            min_price_cents=_int(raw, "min_price_cents", 1),
            max_price_cents=_int(raw, "max_price_cents", 99),
            maker_fee_bps=_int(raw, "maker_fee_bps", 0),
            taker_fee_bps=_int(raw, "taker_fee_bps", 0),
            trading_end_at=raw.get("trading_end_at"),
            resolution_date=raw.get("resolution_date"),
            reserve_balance=_int(raw, "reserve_balance", 0),
            total_yes_shares=_int(raw, "total_yes_shares", 0),
            total_no_shares=_int(raw, "total_no_shares", 0),
            outcome=raw.get("outcome"),
            sequence_id=optional_int(raw, "sequence_id"),
        )


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    client_order_id: str
    market_id: str
    side: str
    direction: str
    book_type: str
    price_cents: int
    quantity: int
    filled_quantity: int
    remaining_quantity: int
    status: str
    time_in_force: str = "GTC"
    created_at: str | None = None

    @property
    def created_ms(self) -> int | None:
        return iso_to_ms(self.created_at)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "OPEN", "PARTIALLY_FILLED")

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Order":
        quantity = _int(raw, "quantity")
        filled = _int(raw, "filled_quantity", 0)
        return cls(
            id=_str(raw, "id"),
            client_order_id=str(raw.get("client_order_id") or ""),
            market_id=_str(raw, "market_id"),
            side=_str(raw, "side"),
            direction=_str(raw, "direction"),
            book_type=_str(raw, "book_type"),
            price_cents=_int(raw, "price_cents"),
            quantity=quantity,
            filled_quantity=filled,
            remaining_quantity=_int(raw, "remaining_quantity", quantity - filled),
            status=_str(raw, "status"),
            time_in_force=str(raw.get("time_in_force") or "GTC"),
            created_at=raw.get("created_at"),
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """A fill as the platform prints it: YES-view price, bid/ask owners, maker/taker fees."""

    id: int
    market_id: str
    scenario: str
    price_cents: int
    quantity: int
    buy_order_id: str
    sell_order_id: str
    buy_user_id: str
    sell_user_id: str
    maker_order_id: str
    taker_order_id: str
    maker_fee: int = 0
    taker_fee: int = 0
    buy_realized_pnl: int | None = None
    sell_realized_pnl: int | None = None
    executed_at: str | None = None

    @property
    def executed_ms(self) -> int | None:
        return iso_to_ms(self.executed_at)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Trade":
        return cls(
            id=_int(raw, "id"),
            market_id=_str(raw, "market_id"),
            scenario=_str(raw, "scenario"),
            price_cents=_int(raw, "price_cents"),
            quantity=_int(raw, "quantity"),
            buy_order_id=_str(raw, "buy_order_id"),
            sell_order_id=_str(raw, "sell_order_id"),
            buy_user_id=_str(raw, "buy_user_id"),
            sell_user_id=_str(raw, "sell_user_id"),
            maker_order_id=_str(raw, "maker_order_id"),
            taker_order_id=_str(raw, "taker_order_id"),
            maker_fee=_int(raw, "maker_fee", 0),
            taker_fee=_int(raw, "taker_fee", 0),
            buy_realized_pnl=_opt_int(raw, "buy_realized_pnl"),
            sell_realized_pnl=_opt_int(raw, "sell_realized_pnl"),
            executed_at=raw.get("executed_at"),
        )


@dataclass(frozen=True, slots=True)
class TradesPage:
    results: list[Trade]
    next_since: int


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """Answer of POST /orders. `resolved`: the answer was lost and the order was found by
    asking the platform (its immediate trades are then unknown here; the fill feed has them)."""

    order: Order
    trades: list[Trade] = field(default_factory=list)
    created: bool | None = None
    resolved: bool = False


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """Answer of POST /amm/orders/replace (all or nothing). When `resolved`, the answer was
    lost and the platform was asked: `cancelled` is then empty and `cancelled_ids` holds the
    old order ids the committed replace cancelled."""

    cancelled: list[Order] = field(default_factory=list)
    placed: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    resolved: bool = False
    cancelled_ids: tuple[str, ...] = ()
    sequence_id: int | None = None  # the book's sequence_id once the replace was done (None: not told)

    @property
    def all_cancelled_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.cancelled) or self.cancelled_ids


@dataclass(frozen=True, slots=True)
class PrivilegedResult:
    """Answer of POST /amm/mint|burn."""

    market_id: str
    quantity: int
    balance: Balance | None
    position: Position | None
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class TapeTrade:
    """One trade of a market's public tape (anyone's): YES-view price."""

    id: int
    price_cents: int
    quantity: int
    executed_ms: int


@dataclass(frozen=True, slots=True)
class OrderBook:
    market_id: str
    sequence_id: int
    bids: list[tuple[int, int]]  # (YES-view price, quantity), best first
    asks: list[tuple[int, int]]
    recent_trades: tuple[TapeTrade, ...] = ()  # the market's last trades, newest first (a platform may omit them)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "OrderBook":
        def levels(name: str) -> list[tuple[int, int]]:
            return [(int(price), int(qty)) for price, qty in raw.get(name) or []]

        return cls(
            market_id=_str(raw, "market_id"),
            sequence_id=_int(raw, "sequence_id", 0),
            bids=levels("bids"),
            asks=levels("asks"),
            recent_trades=tuple(TapeTrade(id=_int(t, "id", 0), price_cents=_int(t, "price_cents", 0),
                                          quantity=_int(t, "quantity", 0), executed_ms=_int(t, "executed_ms", 0))
                                for t in raw.get("recent_trades") or ()),
        )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The order-placing fields of POST /orders and of a replace's `new` (SPEC §3.6)."""

    client_order_id: str
    side: str
    direction: str
    price_cents: int
    quantity: int
    time_in_force: str = "GTC"

    def as_body(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "side": str(getattr(self.side, "value", self.side)),
            "direction": str(getattr(self.direction, "value", self.direction)),
            "price_cents": int(self.price_cents),
            "quantity": int(self.quantity),
            "time_in_force": self.time_in_force,
        }


@dataclass(frozen=True, slots=True)
class Replacement:
    """One item of a replace: cancel `old_order_id`, place `new`, or both."""

    old_order_id: str | None = None
    new: OrderRequest | None = None
