"""`Clearing`: one unit of work on one market, composed of the engine's concerns (SPEC §3.2)."""
from __future__ import annotations

from exchange.services.clearing.flush import Flush
from exchange.services.clearing.ledger import Ledger
from exchange.services.clearing.locking import Locking
from exchange.services.clearing.matching import Matching
from exchange.services.clearing.order_entry import OrderEntry
from exchange.services.clearing.pairs import Pairs
from exchange.services.clearing.settlement import Settlement


class Clearing(Locking, OrderEntry, Matching, Pairs, Ledger, Settlement, Flush):
    """One operation on one market: constructing it takes the locks (`Locking.__init__`);
    `place`, `cancel`, `mint`, `burn`, `settle`, `void` change rows in memory; `flush` writes
    them. Each base is one concern over the shared `ClearingState`; they call one another
    through `self`, and no two define the same name, so none overrides another (checked by
    tests/exchange/services/test_clearing_package.py, with the imports between the modules)."""
