"""The event stream applied (docs/push.md): the AMM's fills from `trade_events`, market
changes from `market_events`, the books' sequence ids from `book_events` and `trade_events`.

A batch is applied, then acknowledged (the caller acks `acks()` only after `apply` returned):
a consumer that dies in between leaves its batch pending, another claims it, and the fills
apply once because they go through the same path as the REST feed's (FillFeed.apply: the
in-process LRU, then `state.fill_apply`, whose Lua checks and adds the trade id to
`amm:processed:{m}` in the same step).

The fill script also moves the REST feed's trade cursor to the trade id, which keeps the
startup snapshot's guard (a rebuild is refused once a newer fill was applied) and holds
"every AMM trade <= cursor is applied" because `trade_events` carry trades in trade-id order
(the platform inserts trades and their outbox rows under one lock) and a batch is applied in
outbox order, a dead member's claimed batch before anything newer (one feed job reads at a
time; AMM_EVENTS_CLAIM_IDLE_MS is shorter than its lease).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from amm import state
from amm.bookkeeping.snapshot import market_meta
from amm.conf import amm_settings
from amm.connector import Market, ProtocolError, Trade
from amm.connector.events import BOOK_EVENTS, MARKET_EVENTS, TRADE_EVENTS, Batch
from amm.connector.types import iso_to_ms
from amm.runtime.context import RuntimeContext
from amm.runtime.job_requests import request_cycle
from amm.strategy.book import LocalOrderBook

log = logging.getLogger(__name__)


@dataclass
class Applied:
    fills: int = 0  # AMM fills applied (new)
    duplicates: int = 0  # AMM trades already applied (the REST feed's, or a claimed batch's)
    others: int = 0  # trades without the AMM
    status_changes: int = 0
    rejected: int = 0  # entries that broke the contract: acknowledged, not applied
    sequences: dict[str, int] = field(default_factory=dict)
    tapes: dict[str, list[dict]] = field(default_factory=dict)  # driven market -> its public trades, oldest first
    books: int = 0  # pushed books moved by the batch's book deltas


def _is_amm_trade(data, amm_user_id: str) -> bool:
    return amm_user_id in (data.get("buy_user_id"), data.get("sell_user_id"))


def apply_batch(ctx: RuntimeContext, batch: Batch, *, running: set[str], now: int) -> Applied:
    """Apply a batch in stream order: fills, then the latest market body of each driven market
    (a cycle of each whose status changed), the pushed books moved by the batch's deltas
    (books_advance), the books' sequence ids and the tapes; last, the requotes the fills ask
    for (the fast lane, or the front of the queue), so that they read all of it."""
    out = Applied(rejected=len(batch.rejected))
    amm_user_id = ctx.feed.amm_user_id
    markets: dict[str, Market] = {}
    deltas: dict[str, list] = {}  # driven market -> its book deltas, in stream order
    for event in batch.events:
        try:
            if event.stream == TRADE_EVENTS:
                if event.market_id in running:
                    if event.sequence_id:
                        out.sequences[event.market_id] = max(out.sequences.get(event.market_id, 0), event.sequence_id)
                    out.tapes.setdefault(event.market_id, []).append(_public(event.data))
                if not _is_amm_trade(event.data, amm_user_id):
                    out.others += 1
                    continue
                if ctx.feed.apply(Trade.parse(event.data), now=now):
                    out.fills += 1
                else:
                    out.duplicates += 1
            elif event.stream == MARKET_EVENTS:
                market = Market.parse(event.data)
                if market.id in running:
                    markets[market.id] = market  # the newest of the batch wins (stream order)
            elif event.stream == BOOK_EVENTS:
                if event.market_id in running:
                    out.sequences[event.market_id] = max(out.sequences.get(event.market_id, 0), event.sequence_id)
                    deltas.setdefault(event.market_id, []).append(event.data)
        except (ProtocolError, KeyError, ValueError, TypeError) as exc:
            log.error("%s entry %s (event %s) not applied: %r", event.stream, event.entry_id, event.event_id, exc)
            out.rejected += 1
    if markets:
        out.status_changes = len(market_changes_apply(markets, now=now))
    if deltas:
        out.books = books_advance(deltas, now=now)
    if out.sequences or out.tapes:
        state.market_push_refresh(out.sequences.keys(), out.sequences, tapes=out.tapes, now=now)
    if ctx.feed.applied:  # last: the requotes see the books, sequences and tape of this batch
        ctx.feed.wake(running)  # the feed's own set, read every AMM_STATUS_POLL_MS: no round trip
    return out


def books_advance(deltas: dict[str, list], *, now: int, depth: int | None = None) -> int:
    """Move each market's pushed book (`amm:pushbook:{m}`) by the stream's book deltas, so that a
    fill's requote, which the same batch asks for, reads the book after the fill instead of the
    platform's over REST (the WebSocket brings the same delta later, through one more process).

    Only what is exact is written: a chain of deltas from the stored book's sequence (a gap, or
    no stored book, leaves it to the WebSocket feed and REST), and a side stored at its depth cap
    (AMM_BOOK_PUSH_DEPTH) is not moved by the removal of one of its levels (the next level, not
    stored, would come into view). Written only over an older book. Returns the books written."""
    depth = amm_settings.AMM_BOOK_PUSH_DEPTH if depth is None else depth
    moved = {}
    for market_id, stored in state.push_books_get(deltas).items():
        book = _advanced(market_id, stored, deltas[market_id], depth=depth) if stored is not None else None
        if book is not None:
            moved[market_id] = {"sequence_id": book.last_sequence_id, "bids": book.bid_levels()[:depth],
                                "asks": book.ask_levels()[:depth]}
    return state.push_books_write(moved, now=now) if moved else 0


def _advanced(market_id: str, stored: dict, deltas: list, *, depth: int) -> LocalOrderBook | None:
    """The stored book moved by every delta newer than it; None when one of them may not be applied
    exactly (a gap, a removal inside a capped side) or none is newer."""
    book = LocalOrderBook(market_id)
    book.apply_snapshot(stored)
    capped = {side: len(stored[side]) >= depth for side in ("bids", "asks")}
    worst = {"bids": min((p for p, _ in stored["bids"]), default=None),
             "asks": max((p for p, _ in stored["asks"]), default=None)}
    for delta in deltas:
        if int(delta["sequence_id"]) <= book.last_sequence_id:
            continue
        if any(capped[side] and int(qty) <= 0 and _within(side, int(price), worst[side])
               for side in ("bids", "asks") for price, qty in delta.get(side) or ()):
            return None
        if not book.apply_delta(delta):
            return None
    return book if book.last_sequence_id > int(stored["sequence_id"]) else None


def _within(side: str, price: int, worst: int | None) -> bool:
    """The price is among a capped side's stored levels (at or better than the worst stored)."""
    return worst is not None and (price >= worst if side == "bids" else price <= worst)


def _public(data) -> dict:
    """A trade as the public tape shows it (the order book's `recent_trades`: no user ids)."""
    return {"id": int(data["id"]), "price_cents": int(data["price_cents"]), "quantity": int(data["quantity"]),
            "executed_ms": iso_to_ms(data.get("executed_at")) or 0}


def market_changes_apply(markets: dict[str, Market], *, now: int) -> list[str]:
    """Write the markets' bodies to `amm:market:{m}` (as the status watch does) and request a
    cycle of each whose status changed; returns those."""
    known = state.market_status_many(markets)
    metas = {m: {**market_meta(market), "updated_at_ms": now} for m, market in markets.items()}
    state.market_status_write_many(metas)
    changed = [m for m, market in markets.items() if known.get(m) not in (None, market.status)]
    for market_id in changed:
        log.warning("market %s is now %s (market event)", market_id, markets[market_id].status)
        request_cycle(market_id, reason="status", at_front=True)
    return changed
