"""Immutable inputs and outputs of the strategy (SPEC §2 units: int cents, int shares).

Everything here is plain data: the runtime builds the inputs from Redis and the platform
API, calls the strategy, and carries out the outputs. Prices are *own-side* cents
(`price_cents`, what the platform stores on the order) unless the name says YES-view.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from amm.enums import BookType, Direction, Side

MARKET_ACTIVE = "ACTIVE"  # platform market status in which the AMM quotes (SPEC §3.4)
PAIR_VALUE_CENTS = 100  # one YES + one NO (SPEC §1)

# (side, direction) -> book type, and book type -> True when it is a YES-view bid (SPEC §3.2).
BOOK_TYPE_OF: dict[tuple[Side, Direction], BookType] = {
    (Side.YES, Direction.BUY): BookType.NATIVE_BUY,
    (Side.YES, Direction.SELL): BookType.NATIVE_SELL,
    (Side.NO, Direction.SELL): BookType.SYNTHETIC_BUY,
    (Side.NO, Direction.BUY): BookType.SYNTHETIC_SELL,
}
IS_BID: dict[BookType, bool] = {
    BookType.NATIVE_BUY: True,
    BookType.SYNTHETIC_BUY: True,
    BookType.NATIVE_SELL: False,
    BookType.SYNTHETIC_SELL: False,
}


def yes_view_price(side: Side, price_cents: int) -> int:
    """YES-view price of an own-side price: YES orders as is, NO orders at 100 − price."""
    return price_cents if side is Side.YES else PAIR_VALUE_CENTS - price_cents


def fee_per_share(price_cents: int, bps: int) -> int:
    """Worst-case fee for one share at `price_cents`: ceil(price × bps / 10000) (SPEC §3.2)."""
    return -(-price_cents * bps // 10_000)


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """Market metadata as the platform returns it (SPEC §3.1 `markets`), times in epoch ms."""

    market_id: str
    min_price_cents: int = 1
    max_price_cents: int = 99
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    trading_end_ms: int | None = None
    resolution_ms: int | None = None
    status: str = MARKET_ACTIVE

    @property
    def worst_fee_bps(self) -> int:
        """max(maker, taker): what a BUY must freeze for fees (it may end up the taker)."""
        return max(self.maker_fee_bps, self.taker_fee_bps)


# The position and cash of `amm:inventory:{market_id}` (SPEC §4); the hash adds `updated_at_ms`.
_POSITION_FIELDS = ("yes_volume", "no_volume", "yes_available", "no_available", "yes_cost_sum_cents",
                    "no_cost_sum_cents", "cash_cents")
_HASH_FIELDS = (*_POSITION_FIELDS, "updated_at_ms")


@dataclass(frozen=True, slots=True)
class Inventory:
    """The AMM's position and cash in one market (SPEC §4 `amm:inventory:{market_id}`): the one
    in-memory inventory, the strategy's input and what amm.state reads from the hash.

    `*_available` exclude shares frozen by open sells; `cash_cents` is available (unfrozen) cash.
    `updated_at_ms` (the hash's last write) and `exists` (False: Redis keeps no inventory for
    the market, it was never synced) describe the record; the strategy reads neither.
    """

    yes_volume: int = 0
    no_volume: int = 0
    yes_available: int = 0
    no_available: int = 0
    yes_cost_sum_cents: int = 0
    no_cost_sum_cents: int = 0
    cash_cents: int = 0
    updated_at_ms: int = 0
    exists: bool = True

    @property
    def skew(self) -> float:
        """q = (YES − NO) / (YES + NO) in [−1, 1], 0 when flat (SPEC §6, seed §4.3)."""
        total = self.yes_volume + self.no_volume
        return (self.yes_volume - self.no_volume) / total if total > 0 else 0.0

    def risk_skew(self, min_inventory: int) -> float:
        """The skew the strategy acts on: (YES − NO) / max(YES + NO, min_inventory). Equal to
        `skew` once the book holds `min_inventory` shares; smaller books are damped, so the
        first fill of a cash-only start is not a ±1 skew (config `skew_min_inventory`)."""
        total = self.yes_volume + self.no_volume
        denominator = total if total > min_inventory else min_inventory
        return (self.yes_volume - self.no_volume) / denominator if denominator > 0 else 0.0

    @property
    def cost_sum_cents(self) -> int:
        """Cash committed to held shares: the 'used' part of the budget."""
        return self.yes_cost_sum_cents + self.no_cost_sum_cents

    def as_dict(self) -> dict[str, int]:
        """The hash's fields as ints, in its order: position, cash, `updated_at_ms`."""
        return {name: getattr(self, name) for name in _HASH_FIELDS}

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "Inventory":
        """The position and cash of an inventory hash or of `as_dict()` (str or bytes keys and
        values); missing fields are 0. `updated_at_ms` is left at 0: an input built from a mapping
        carries the position, and one read at another time compares equal."""
        def get(name: str) -> int:
            value = raw.get(name, raw.get(name.encode(), 0)) if raw else 0
            if isinstance(value, bytes):
                value = value.decode()
            return int(value or 0)

        return cls(**{name: get(name) for name in _POSITION_FIELDS})


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One of the AMM's open orders (SPEC §4 `amm:orders:{market_id}`), own-side price.

    `book_type`, `yes_view_price` and `is_bid` are derived from side and direction."""

    order_id: str
    side: Side
    direction: Direction
    price_cents: int
    remaining: int
    book_type: BookType | None = None
    yes_view_price: int = field(init=False, repr=False, compare=False)
    is_bid: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side):
            object.__setattr__(self, "side", Side(self.side))
        if not isinstance(self.direction, Direction):
            object.__setattr__(self, "direction", Direction(self.direction))
        book_type = BOOK_TYPE_OF[(self.side, self.direction)]
        object.__setattr__(self, "book_type", book_type)
        object.__setattr__(self, "yes_view_price", yes_view_price(self.side, self.price_cents))
        object.__setattr__(self, "is_bid", IS_BID[book_type])

    def cash_frozen(self, fee_bps: int) -> int:
        """Cash this order holds if it is a BUY (price × remaining + worst-case fee), else 0."""
        if self.direction is not Direction.BUY:
            return 0
        return self.remaining * (self.price_cents + fee_per_share(self.price_cents, fee_bps))

    @classmethod
    def from_mapping(cls, order_id: str, raw: Mapping[str, Any]) -> "LiveOrder":
        """From the JSON value of `amm:orders:{market_id}` (`side, direction, price, remaining, …`)."""
        return cls(
            order_id=order_id,
            side=Side(raw["side"]),
            direction=Direction(raw["direction"]),
            price_cents=int(raw.get("price", raw.get("price_cents", 0))),
            remaining=int(raw.get("remaining", raw.get("qty", 0))),
        )


@dataclass(frozen=True, slots=True)
class OracleReading:
    """Latest external probability for the market (SPEC §4 `amm:oracle:{market_id}`), YES-view cents."""

    price_cents: float
    ts_ms: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """One AMM fill (a trade of the fill feed), YES-view price as the platform prints it."""

    price_cents: int
    quantity: int
    ts_ms: int
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One trade of the market by anyone (the platform's trade feed for the market), YES-view
    price: what the order-flow intensity is learned from (intensity.py). A trade that is also
    one of the AMM's `Fill`s (same non-empty `trade_id`) counts once."""

    price_cents: int
    quantity: int
    ts_ms: int
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class DesiredQuote:
    """One order the strategy wants live: own-side `price_cents`, plus its YES-view price.

    `level` is 0 for the best (innermost) level of its side, 1 for the next, …
    """

    side: Side
    direction: Direction
    price_cents: int
    quantity: int
    book_type: BookType
    yes_view_price: int
    level: int = 0

    @property
    def is_bid(self) -> bool:
        return IS_BID[self.book_type]

    def cash_needed(self, fee_bps: int) -> int:
        """Cash a BUY freezes (price × qty + worst-case fee per share); 0 for a SELL."""
        if self.direction is not Direction.BUY:
            return 0
        return self.quantity * (self.price_cents + fee_per_share(self.price_cents, fee_bps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side.value,
            "direction": self.direction.value,
            "price_cents": self.price_cents,
            "quantity": self.quantity,
            "book_type": self.book_type.value,
            "yes_view_price": self.yes_view_price,
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class Replacement:
    """One entry of the platform's atomic replace (SPEC §3.6): cancel `old_order_id` and/or
    place `new`. Exactly one of them may be None (a pure place or a pure cancel)."""

    old_order_id: str | None
    new: DesiredQuote | None

    @property
    def kind(self) -> str:
        """PLACE, CANCEL or REPLACE."""
        if self.old_order_id is None:
            return "PLACE"
        return "CANCEL" if self.new is None else "REPLACE"
