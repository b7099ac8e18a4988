"""The clearing engine: one unit of work per market operation (SPEC §3.2).

Follow an order: `Clearing(market_id, users=..., crossing=...)` locks the market row (which
serializes everything that touches that market's book and positions) and, in the same round
trip, the accounts the operation may touch in ONE sorted statement: the callers' and the
counterparties', read with their positions (`lock_accounts` does this step alone). Then
`place`, `cancel`, `settle`... mutate rows in memory, and `flush` writes everything in bulk.

Lock order, always: market -> accounts (sorted by user_id, one statement) -> positions of
that market. No operation locks two markets, so two operations can never deadlock. The fee
account is not among the accounts: trades credit it at flush, after taking the trade-feed
lock (see `Flush._fee_credit`).

Freezing: a BUY freezes `remaining × (price + fee_per_share)` where fee_per_share is the
worst-case fee of one share (max of maker and taker bps, rounded up); a fill unfreezes its
share of that and pays the actual price and fee; the excess goes back to available.
A SELL freezes shares (`*_pending_sell`).

The hot path speaks SQL directly (`reads`, `flush`), on the ORM's own connection and
transaction: compiling ORM queries cost more than running them. Rows become model instances
(`Model.from_db`) so callers get the usual Order and Trade objects.

One operation's state is one `ClearingState`; each concern is a mixin over it, and
`engine.Clearing` composes them. In the order an order meets them:
  - rules:       classify, fee_for, crosses, SCENARIOS, CASH_ENTRY, NewOrder (no database)
  - reads:       the statements that lock and read (market, accounts with positions, orders,
                 book pages, open orders), OrderLookup, BOOK_PAGE
  - state:       ClearingState: the rows of one operation and its changes, in memory
  - locking:     Locking: the constructor's locks and reads, lock_accounts, load_positions
  - order_entry: OrderEntry: require_active, check_price, place, cancel, open_orders
  - matching:    Matching: the crossing book, match, execute, each party's fill
  - ledger:      Ledger: cash (freeze/unfreeze), reserve, shares and cost basis, fees owed,
                 each cash and reserve move with its ledger line
  - pairs:       Pairs: auto-netting after a fill; the AMM's mint and burn
  - settlement:  Settlement: settle, void
  - flush:       Flush: trades under the trade-feed lock (TRADE_FEED_LOCK_KEY), then every
                 other change in one statement
  - engine:      Clearing
Names with a leading underscore are private to this package.
"""
from exchange.services.clearing.engine import Clearing
from exchange.services.clearing.flush import TRADE_FEED_LOCK_KEY
from exchange.services.clearing.reads import BOOK_PAGE, OrderLookup
from exchange.services.clearing.rules import CASH_ENTRY, SCENARIOS, NewOrder, classify, crosses, fee_for

__all__ = [
    "BOOK_PAGE",
    "CASH_ENTRY",
    "SCENARIOS",
    "TRADE_FEED_LOCK_KEY",
    "Clearing",
    "NewOrder",
    "OrderLookup",
    "classify",
    "crosses",
    "fee_for",
]
