"""Client order ids: `amm_{market_id}_{side}_{direction}_{timestamp_ms}_{seq}` (SPEC §2)."""
from __future__ import annotations

import hashlib
import itertools
import threading

# The platform keeps a mint/burn's request id as its ledger reference (DB v2.3
# ledger_entries.reference_id VARCHAR(64)): a longer one is refused.
REQUEST_ID_MAX = 64


def bounded_request_id(request_id: str) -> str:
    """`request_id` itself, or, when longer than the platform keeps (a long market id), a
    digest of it of the same meaning: deterministic, so a retry still names the same
    operation and the platform executes it once."""
    if len(request_id) <= REQUEST_ID_MAX:
        return request_id
    return "amm_" + hashlib.sha256(request_id.encode()).hexdigest()[:40]


class ClientOrderIdGenerator:
    """Per-process sequence; the timestamp is passed in (time is an input, STYLE).

    One market's quote cycles never overlap (SPEC §7), so (market, side, direction, ms, seq)
    is unique per AMM user even with several worker processes."""

    def __init__(self, start: int = 0) -> None:
        self._seq = itertools.count(start)
        self._lock = threading.Lock()

    def next(self, *, market_id: str, side: str, direction: str, timestamp_ms: int) -> str:
        with self._lock:
            seq = next(self._seq)
        side = str(getattr(side, "value", side))
        direction = str(getattr(direction, "value", direction))
        return f"amm_{market_id}_{side}_{direction}_{int(timestamp_ms)}_{seq}"

    def request_id(self, *, market_id: str, kind: str, timestamp_ms: int) -> str:
        """An idempotency key for a privileged mint/burn, in the same shape."""
        with self._lock:
            seq = next(self._seq)
        return bounded_request_id(f"amm_{market_id}_{kind}_{int(timestamp_ms)}_{seq}")


def parse_client_order_id(client_order_id: str) -> dict[str, str] | None:
    """The parts of an AMM client order id (market ids may contain '_'), or None."""
    if not client_order_id.startswith("amm_"):
        return None
    parts = client_order_id[4:].rsplit("_", 4)
    if len(parts) != 5:
        return None
    market_id, side, direction, ts, seq = parts
    if side not in ("YES", "NO") or direction not in ("BUY", "SELL") or not ts.isdigit() or not seq.isdigit():
        return None
    return {"market_id": market_id, "side": side, "direction": direction, "timestamp_ms": ts, "seq": seq}
