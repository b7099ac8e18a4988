"""Local YES-view order book (seed §5.2, SPEC §4 in-process structures).

The runtime keeps one `LocalOrderBook` per market, fed by `GET /api/v1/orderbook` snapshots
(MVP) or SNAPSHOT/DELTA push messages (Phase 2). The strategy only reads it.

Message shapes (SPEC §3.6): a snapshot is `{sequence_id, bids: [[price, qty]], asks: [[price, qty]]}`;
a delta carries the same keys where each `[price, qty]` is the level's new *total* quantity
(0 removes the level), and `prev_sequence_id`, the sequence before it (docs/push.md: one
committed transaction can move the sequence by more than one). A delta applies when its
`prev_sequence_id` is the book's last `sequence_id`; one not above it is old (ignored); any
other is a gap: the book is marked stale and ignores deltas until the next snapshot (SPEC §3.6
"a gap forces a resnapshot").
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from amm.strategy.types import PAIR_VALUE_CENTS, LiveOrder

DEPTH_LEVELS = 3  # bid_depth_3 / ask_depth_3 (seed §5.2)


class LocalOrderBook:
    """Aggregated YES-view levels {price_cents: quantity} with cached derived metrics."""

    __slots__ = ("market_id", "last_sequence_id", "bids", "asks", "stale", "_bid_levels", "_ask_levels")

    def __init__(
        self,
        market_id: str = "",
        bids: Mapping[int, int] | Iterable[Sequence[int]] | None = None,
        asks: Mapping[int, int] | Iterable[Sequence[int]] | None = None,
        sequence_id: int = 0,
    ) -> None:
        self.market_id = market_id
        self.last_sequence_id = sequence_id
        self.bids: dict[int, int] = _levels(bids)
        self.asks: dict[int, int] = _levels(asks)
        self.stale = False  # True after a sequence gap, until the next snapshot
        self._bid_levels: list[tuple[int, int]] | None = None
        self._ask_levels: list[tuple[int, int]] | None = None

    # --- updates -------------------------------------------------------------------------
    def apply_snapshot(self, msg: Mapping[str, Any]) -> None:
        """Replace the whole book; clears the stale flag."""
        self.bids = _levels(msg.get("bids"))
        self.asks = _levels(msg.get("asks"))
        self.last_sequence_id = int(msg.get("sequence_id", self.last_sequence_id) or 0)
        self.stale = False
        self._bid_levels = self._ask_levels = None

    def apply_delta(self, msg: Mapping[str, Any]) -> bool:
        """Apply a delta. Returns False (and marks the book stale) on a sequence gap; an old or
        repeated sequence id is ignored (True). While stale, deltas are ignored (False).
        Without `prev_sequence_id` a delta is taken to move the sequence by one."""
        seq = int(msg["sequence_id"])
        prev = int(msg.get("prev_sequence_id", seq - 1))
        if self.stale:
            return False
        if seq <= self.last_sequence_id:
            return True
        if prev != self.last_sequence_id:
            self.stale = True
            return False
        for book, key in ((self.bids, "bids"), (self.asks, "asks")):
            for price, qty in msg.get(key) or ():
                price, qty = int(price), int(qty)
                if qty > 0:
                    book[price] = qty
                else:
                    book.pop(price, None)
        self.last_sequence_id = seq
        self._bid_levels = self._ask_levels = None
        return True

    @property
    def needs_snapshot(self) -> bool:
        return self.stale

    # --- derived metrics -------------------------------------------------------------------
    def bid_levels(self) -> list[tuple[int, int]]:
        """[(price, qty)] best first (descending)."""
        if self._bid_levels is None:
            self._bid_levels = sorted(self.bids.items(), reverse=True)
        return self._bid_levels

    def ask_levels(self) -> list[tuple[int, int]]:
        """[(price, qty)] best first (ascending)."""
        if self._ask_levels is None:
            self._ask_levels = sorted(self.asks.items())
        return self._ask_levels

    @property
    def best_bid(self) -> int | None:
        levels = self.bid_levels()
        return levels[0][0] if levels else None

    @property
    def best_ask(self) -> int | None:
        levels = self.ask_levels()
        return levels[0][0] if levels else None

    @property
    def mid_price(self) -> float | None:
        bid, ask = self.best_bid, self.best_ask
        return (bid + ask) / 2 if bid is not None and ask is not None else None

    @property
    def spread(self) -> int | None:
        bid, ask = self.best_bid, self.best_ask
        return ask - bid if bid is not None and ask is not None else None

    @property
    def bid_depth_3(self) -> int:
        return sum(q for _, q in self.bid_levels()[:DEPTH_LEVELS])

    @property
    def ask_depth_3(self) -> int:
        return sum(q for _, q in self.ask_levels()[:DEPTH_LEVELS])

    def get_vwap(self, side: str, depth: int) -> float | None:
        """Volume-weighted price of the best `depth` levels of "bid" or "ask" (None if empty)."""
        levels = (self.bid_levels() if side.lower().startswith("b") else self.ask_levels())[:depth]
        volume = sum(q for _, q in levels)
        return sum(p * q for p, q in levels) / volume if volume else None

    def micro_price(self) -> float | None:
        """Size-weighted mid of the top of book (see `micro_price`)."""
        bids, asks = self.bid_levels(), self.ask_levels()
        if not bids or not asks:
            return None
        return micro_price(bids[0][0], bids[0][1], asks[0][0], asks[0][1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "market_id": self.market_id,
            "sequence_id": self.last_sequence_id,
            "bids": [list(level) for level in self.bid_levels()],
            "asks": [list(level) for level in self.ask_levels()],
        }

    def __repr__(self) -> str:
        return f"LocalOrderBook({self.market_id!r}, bid={self.best_bid}, ask={self.best_ask}, seq={self.last_sequence_id})"


def micro_price(bid: int, bid_qty: int, ask: int, ask_qty: int) -> float:
    """Micro-price (Stoikov): the mid tilted toward the thinner side,
    (bid·ask_qty + ask·bid_qty) / (bid_qty + ask_qty); plain mid when both sizes are 0."""
    total = bid_qty + ask_qty
    if total <= 0:
        return (bid + ask) / 2
    return (bid * ask_qty + ask * bid_qty) / total


def own_yes_view_levels(live_orders: Iterable[LiveOrder]) -> tuple[dict[int, int], dict[int, int]]:
    """The AMM's own resting quantity per YES-view price: (bids, asks)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for order in live_orders:
        target = bids if order.is_bid else asks
        price = order.yes_view_price
        target[price] = target.get(price, 0) + order.remaining
    return bids, asks


def external_top(
    book: LocalOrderBook | None, live_orders: Iterable[LiveOrder] = ()
) -> tuple[int | None, int, int | None, int]:
    """Best bid/ask of the book *without the AMM's own orders*: (bid, bid_qty, ask, ask_qty).

    The micro-price must come from other traders; a book that only holds the AMM's quotes
    would otherwise feed the AMM's own fair price back to itself. A stale book gives nothing.
    """
    if book is None or book.stale:
        return None, 0, None, 0
    own_bids, own_asks = own_yes_view_levels(live_orders)
    bid, bid_qty = _first_external(book.bid_levels(), own_bids)
    ask, ask_qty = _first_external(book.ask_levels(), own_asks)
    return bid, bid_qty, ask, ask_qty


def external_micro_price(book: LocalOrderBook | None, live_orders: Iterable[LiveOrder] = ()) -> float | None:
    """L2 of the fair price: micro-price of the external top of book; None if a side is empty
    or the external book is crossed/locked (inconsistent snapshot)."""
    bid, bid_qty, ask, ask_qty = external_top(book, live_orders)
    if bid is None or ask is None or bid >= ask:
        return None
    return micro_price(bid, bid_qty, ask, ask_qty)


def _first_external(levels: list[tuple[int, int]], own: dict[int, int]) -> tuple[int | None, int]:
    if not own:
        return (levels[0][0], levels[0][1]) if levels else (None, 0)
    for price, qty in levels:
        rest = qty - own.get(price, 0)
        if rest > 0:
            return price, rest
    return None, 0


def _levels(raw: Mapping[int, int] | Iterable[Sequence[int]] | None) -> dict[int, int]:
    if not raw:
        return {}
    items = raw.items() if isinstance(raw, Mapping) else raw
    out: dict[int, int] = {}
    for price, qty in items:
        price, qty = int(price), int(qty)
        if qty > 0 and 0 < price < PAIR_VALUE_CENTS:
            out[price] = qty
    return out
