"""Bookkeeping: keep Redis equal to the platform's truth (seed §7).

- `fills.FillFeed.poll()` — the fill feed (exactly once).
- `sync.market_sync()` — startup sync / rebuild from a quiet snapshot.
- `responses.*_record()` — REST answers of order calls and mint/burn into Redis.
Reconciliation (which also writes the database) is amm.services.reconciliation.
"""
from amm.bookkeeping.fills import FillFeed, PollResult, ProcessedEventSet, trade_legs  # noqa: F401
from amm.bookkeeping.responses import (  # noqa: F401
    cancel_all_record,
    cancel_record,
    orders_placed_record,
    place_result_record,
    privileged_record,
    replace_result_record,
)
from amm.bookkeeping.snapshot import (  # noqa: F401
    PlatformSnapshot,
    SyncError,
    SyncResult,
    market_sync,
    platform_snapshot,
)
