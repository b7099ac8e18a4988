"""Clearing rules that need no database (SPEC §3.2): where an order sits in the book, what a fee
is, when two prices cross, which scenario a match is and which cash entry each party gets; and
`NewOrder`, the request the engine takes."""
from __future__ import annotations

from dataclasses import dataclass

from exchange.enums import BookSide, BookType, Direction, LedgerEntryType as E, Side, TimeInForce, TradeScenario

SCENARIOS = {
    (BookType.NATIVE_BUY, BookType.NATIVE_SELL): TradeScenario.TRANSFER_YES,
    (BookType.NATIVE_BUY, BookType.SYNTHETIC_SELL): TradeScenario.MINT,
    (BookType.SYNTHETIC_BUY, BookType.NATIVE_SELL): TradeScenario.BURN,
    (BookType.SYNTHETIC_BUY, BookType.SYNTHETIC_SELL): TradeScenario.TRANSFER_NO,
}
# Cash entry type of a party by scenario and its own direction.
CASH_ENTRY = {
    TradeScenario.TRANSFER_YES: {Direction.BUY: E.TRANSFER_PAYMENT, Direction.SELL: E.TRANSFER_RECEIPT},
    TradeScenario.TRANSFER_NO: {Direction.BUY: E.TRANSFER_PAYMENT, Direction.SELL: E.TRANSFER_RECEIPT},
    TradeScenario.MINT: {Direction.BUY: E.MINT_COST},
    TradeScenario.BURN: {Direction.SELL: E.BURN_REVENUE},
}


def classify(side: str, direction: str, price_cents: int) -> tuple[str, str, int]:
    """(book_type, book_side, YES-view price) of a user order (SPEC §3.2 table)."""
    if side == Side.YES:
        if direction == Direction.BUY:
            return BookType.NATIVE_BUY, BookSide.BID, price_cents
        return BookType.NATIVE_SELL, BookSide.ASK, price_cents
    if direction == Direction.SELL:
        return BookType.SYNTHETIC_BUY, BookSide.BID, 100 - price_cents
    return BookType.SYNTHETIC_SELL, BookSide.ASK, 100 - price_cents


def fee_for(notional: int, bps: int) -> int:
    """ceil(notional × bps / 10000) in integer arithmetic (SPEC §3.2)."""
    return -(-notional * bps // 10_000)


def crosses(bid_price: int, ask_price: int) -> bool:
    return bid_price >= ask_price


@dataclass
class NewOrder:
    """A validated order request (the engine re-checks what depends on the market)."""

    client_order_id: str
    side: str
    direction: str
    price_cents: int
    quantity: int
    time_in_force: str = TimeInForce.GTC
