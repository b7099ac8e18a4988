"""The fill feed (MVP, seed §4.1 / §7.1): poll `GET /api/v1/trades?since=` and apply each
AMM fill to Redis exactly once.

Path of a fill: connector parses the Trade -> `trade_legs` finds the AMM's side(s) ->
`amm.state.fill_apply` (one Lua script) moves inventory, cash, cost basis and the order's
remaining, and adds the trade id to `amm:processed:{m}` in the same step.

Exactly once, across polls, duplicates and restarts:
- the Lua script refuses a trade id already in `amm:processed:{m}` (24 h TTL) — the truth;
- an in-process LRU of 100,000 ids (seed §5.3) skips known ids before any Redis call;
- the cursor `amm:cursor:trades` only moves forward and is advanced after a page is applied
  (and by the fill script itself), so a crash repeats at most a page, which dedup absorbs.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from amm import state
from amm.clock import now_ms
from amm.conf import amm_settings
from amm.connector import PlatformClient, Trade
from amm.constants import AMM_USER_ID, PROCESSED_SET_MAX
from amm.enums import BookType, Direction, Side
from amm.state import FillLeg

log = logging.getLogger(__name__)

# The trade's scenario fixes both book types (SPEC §3.2 table): (bid, ask).
SCENARIO_BOOK_TYPES = {
    "TRANSFER_YES": (BookType.NATIVE_BUY, BookType.NATIVE_SELL),
    "MINT": (BookType.NATIVE_BUY, BookType.SYNTHETIC_SELL),
    "BURN": (BookType.SYNTHETIC_BUY, BookType.NATIVE_SELL),
    "TRANSFER_NO": (BookType.SYNTHETIC_BUY, BookType.SYNTHETIC_SELL),
}
# Book type -> the user's own (side, direction).
BOOK_TYPE_SIDE = {
    BookType.NATIVE_BUY: (Side.YES, Direction.BUY),  # buys YES at P
    BookType.NATIVE_SELL: (Side.YES, Direction.SELL),  # sells YES at P
    BookType.SYNTHETIC_BUY: (Side.NO, Direction.SELL),  # sells NO at 100 − P
    BookType.SYNTHETIC_SELL: (Side.NO, Direction.BUY),  # buys NO at 100 − P
}


class ProcessedEventSet:
    """LRU of processed trade ids (seed §5.3); Redis `amm:processed:{m}` is the durable backup."""

    def __init__(self, max_size: int = PROCESSED_SET_MAX) -> None:
        self._set: OrderedDict[str, None] = OrderedDict()
        self._max_size = max_size

    def __len__(self) -> int:
        return len(self._set)

    def contains(self, event_id: str | int) -> bool:
        key = str(event_id)
        if key in self._set:
            self._set.move_to_end(key)
            return True
        return False

    def add(self, event_id: str | int) -> None:
        self._set[str(event_id)] = None
        self._set.move_to_end(str(event_id))
        while len(self._set) > self._max_size:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        self._set.popitem(last=False)


def _leg(trade: Trade, order_id: str, book_type: BookType) -> FillLeg:
    side, direction = BOOK_TYPE_SIDE[book_type]
    own_price = trade.price_cents if side is Side.YES else 100 - trade.price_cents
    fee = trade.maker_fee if order_id == trade.maker_order_id else trade.taker_fee
    return FillLeg(order_id=order_id, side=side.value, direction=direction.value, own_price=own_price,
                   quantity=trade.quantity, fee=fee, book_type=book_type.value)


def trade_legs(trade: Trade, *, amm_user_id: str = AMM_USER_ID) -> list[FillLeg]:
    """The AMM's leg(s) of a trade: the ask leg first, then the bid leg (the platform's order,
    which matters when the AMM trades with itself and a sell releases cost before a buy)."""
    bid_type, ask_type = SCENARIO_BOOK_TYPES[trade.scenario]
    legs = []
    if trade.sell_user_id == amm_user_id:
        legs.append(_leg(trade, trade.sell_order_id, ask_type))
    if trade.buy_user_id == amm_user_id:
        legs.append(_leg(trade, trade.buy_order_id, bid_type))
    return legs


@dataclass(frozen=True)
class PollResult:
    fetched: int
    applied: int
    duplicates: int
    cursor: int
    pages: int


class FillFeed:
    """One per process: holds the LRU. `poll()` drains the feed from the Redis cursor."""

    def __init__(
        self,
        *,
        connector: PlatformClient,
        amm_user_id: str = AMM_USER_ID,
        processed: ProcessedEventSet | None = None,
        page_limit: int | None = None,
        conn=None,
    ) -> None:
        
        self.connector = connector
        self.amm_user_id = amm_user_id
        self.processed = processed if processed is not None else ProcessedEventSet()
        self.page_limit = page_limit or amm_settings.AMM_FILL_POLL_LIMIT
        self.conn = conn

    def apply(self, trade: Trade, *, now: int | None = None) -> bool:
        """Apply one trade unless already processed; True when it changed Redis."""
        if self.processed.contains(trade.id):
            return False
        legs = trade_legs(trade, amm_user_id=self.amm_user_id)
        if not legs:
            log.warning("trade %s of the feed has no AMM leg (buy %s, sell %s)", trade.id,
                        trade.buy_user_id, trade.sell_user_id)
        applied = state.fill_apply(trade.market_id, trade_id=trade.id, legs=legs,
                                   now=now if now is not None else now_ms(), conn=self.conn)
        self.processed.add(trade.id)
        return applied

    def poll(self, *, now: int | None = None, max_pages: int | None = None, wait_ms: int = 0) -> PollResult:
        """Fetch and apply every trade after the cursor (up to `max_pages` pages); with
        `wait_ms`, the first page may wait that long for the next trade (a long poll)."""
        cursor = state.trade_cursor_get(conn=self.conn)
        fetched = applied = duplicates = pages = 0
        while max_pages is None or pages < max_pages:
            hold = {"wait_ms": wait_ms} if wait_ms and not pages else {}
            page = self.connector.trades_list(since=cursor, limit=self.page_limit, **hold)
            pages += 1
            for trade in page.results:
                fetched += 1
                if self.apply(trade, now=now):
                    applied += 1
                else:
                    duplicates += 1
            last = max([cursor, page.next_since] + [t.id for t in page.results])
            if last > cursor:
                cursor = state.trade_cursor_advance(last, conn=self.conn)
            if len(page.results) < self.page_limit:
                break
        if applied:
            log.info("fill feed: %d new fills applied (%d duplicates), cursor %d", applied, duplicates, cursor)
        return PollResult(fetched=fetched, applied=applied, duplicates=duplicates, cursor=cursor, pages=pages)
