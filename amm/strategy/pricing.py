"""Three-layer fair price (SPEC §6, seed §5.1): L1 oracle anchor, L2 micro-price of the
external book, L3 post-fill price; blended by phase and clamped to the market's price band.

Blend: fair = Σ wᵢ·Lᵢ / Σ wᵢ over the layers that are usable, with the phase weights of
PHASE_WEIGHTS (EXPLORATION leans on L1/L3, STABILIZATION on L2 — SPEC §6) and L3's weight
multiplied by its time decay. With no usable layer the previous fair price is kept, and a new
market starts from `initial_fair_price_cents`. L2's weight is scaled by the depth of the
external top of book (min(bid size, ask size) / `order_size`, at most 1); what a thin book
loses goes to the previous fair price, so a one-lot quote cannot set the fair price.

Oracle guards (config `oracle_*`), and their documented effects:

| status      | when                                                        | L1 weight | defense |
|-------------|-------------------------------------------------------------|-----------|---------|
| ABSENT      | no reading                                                  | 0         | none    |
| STALE       | now − reading.ts > oracle_stale_ms                          | 0         | none    |
| JUMP        | a new reading differs from the previous one by > max(oracle_gap_cents, 4·σ·√Δt) (σ the binary's expected volatility, see below); it stays distrusted until a later reading within the gap confirms it | 0 | at least WIDEN |
| DEVIATION   | |oracle − L2| > oracle_deviation_cents (only when L2 exists and the external top of book holds ≥ ORACLE_BOOK_MIN_CONFIDENCE × order_size a side) | 0 | at least WIDEN |
| OK          | otherwise                                                   | phase w₁  | none    |

The jump gap grows with the volatility the market is expected to have (issue 13): σ is the
larger of the realized σ and the pm-AMM's expiry σ 100·φ(Φ⁻¹(p))/√(T − t) at the previous fair
(binary.expected_sigma_cents), per √minute, over the Δt between the two readings. Far from
the end it is `oracle_gap_cents` as before; in the last minutes of a binary, whose price
legitimately moves many cents a second, an oracle that follows it is not distrusted each
time (the defense flipped NORMAL/WIDEN on every reading in the simulator's resolution
scenario, and the fair price lagged the truth by 15+ cents while the oracle was ignored).

A stale oracle is simply absent; a jumping or disagreeing oracle means real uncertainty
about the price, so the defense stack widens (defense.py) while the oracle is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from amm.enums import AMMPhase
from amm.strategy.config import StrategyConfig
from amm.strategy.types import Fill, OracleReading

# (w_oracle, w_micro, w_post_fill) by phase — SPEC §6 "Exploration leans on L1/L3, stabilization on L2".
PHASE_WEIGHTS: dict[AMMPhase, tuple[float, float, float]] = {
    AMMPhase.EXPLORATION: (0.5, 0.2, 0.3),
    AMMPhase.STABILIZATION: (0.25, 0.5, 0.25),
}
POST_FILL_HALF_LIFE_MS = 120_000  # L3: fills lose half their weight every 2 minutes

ORACLE_OK = "OK"
ORACLE_ABSENT = "ABSENT"
ORACLE_STALE = "STALE"
ORACLE_JUMP = "JUMP"
ORACLE_DEVIATION = "DEVIATION"
ORACLE_DISTRUST = frozenset({ORACLE_JUMP, ORACLE_DEVIATION})  # statuses that raise defense
# DEVIATION compares the oracle with L2 only when the external top of book is at least this
# deep (micro_depth_factor): a book too thin to set the fair price is too thin to overrule the
# oracle, and a one-lot quote far from it flipped the defense to WIDEN and back every few
# cycles (issue 13: NORMAL/WIDEN 40–80 times in 10 minutes).
ORACLE_BOOK_MIN_CONFIDENCE = 0.5
JUMP_SIGMAS = 4.0  # a reading further than this many expected σ (and oracle_gap_cents) from the last is a JUMP


@dataclass(frozen=True, slots=True)
class OracleMemory:
    """What persists about the oracle between cycles: the latest reading and whether it jumped."""

    price: float | None = None
    ts_ms: int | None = None
    jump: bool = False


@dataclass(frozen=True, slots=True)
class OracleCheck:
    status: str
    price: float | None

    @property
    def usable(self) -> bool:
        return self.status == ORACLE_OK

    @property
    def distrusted(self) -> bool:
        return self.status in ORACLE_DISTRUST


def oracle_remember(
    prev: OracleMemory, reading: OracleReading | None, config: StrategyConfig, expected_sigma_cents: float = 0.0
) -> OracleMemory:
    """Record a reading. A *new* reading (other timestamp or price) is a jump when it differs
    from the previous reading by more than `jump_gap_cents` (at least `oracle_gap_cents`); the same
    reading keeps its flag. `expected_sigma_cents` is the binary's expected volatility per
    √minute (binary.expected_sigma_cents), 0 for the seed's fixed gap."""
    if reading is None:
        return prev
    price = float(reading.price_cents)
    if prev.ts_ms == reading.ts_ms and prev.price == price:
        return prev
    jump = False
    if prev.price is not None:
        move = abs(price - prev.price)
        if move > config.oracle_gap_cents:
            dt_ms = reading.ts_ms - prev.ts_ms if prev.ts_ms is not None else 0
            jump = move > jump_gap_cents(config.oracle_gap_cents, expected_sigma_cents, dt_ms)
    return OracleMemory(price=price, ts_ms=reading.ts_ms, jump=jump)


def jump_gap_cents(gap_cents: float, expected_sigma_cents: float, dt_ms: int) -> float:
    """max(oracle_gap_cents, JUMP_SIGMAS·σ·√Δt): a move the binary's own volatility over the
    time between the two readings explains is not a jump (σ per √minute, Δt in minutes)."""
    if expected_sigma_cents <= 0.0 or dt_ms <= 0:
        return gap_cents
    explained = JUMP_SIGMAS * expected_sigma_cents * (dt_ms / 60_000.0) ** 0.5
    return explained if explained > gap_cents else gap_cents


def oracle_check(memory: OracleMemory, *, now_ms: int, book_price: float | None, config: StrategyConfig) -> OracleCheck:
    """Classify the remembered reading (see the module table)."""
    if memory.price is None or memory.ts_ms is None:
        return OracleCheck(ORACLE_ABSENT, None)
    if now_ms - memory.ts_ms > config.oracle_stale_ms:
        return OracleCheck(ORACLE_STALE, memory.price)
    if memory.jump:
        return OracleCheck(ORACLE_JUMP, memory.price)
    if book_price is not None and abs(memory.price - book_price) > config.oracle_deviation_cents:
        return OracleCheck(ORACLE_DEVIATION, memory.price)
    return OracleCheck(ORACLE_OK, memory.price)


@dataclass(frozen=True, slots=True)
class PostFillMemory:
    """L3 state: time-decayed, quantity-weighted mean of fill prices (YES-view)."""

    price: float | None = None
    ts_ms: int | None = None  # time of the latest fill folded in
    weight: float = 0.0  # decayed quantity behind `price`


def decay(age_ms: float, half_life_ms: float = POST_FILL_HALF_LIFE_MS) -> float:
    """0.5 ** (age / half_life), 1 for a non-positive age."""
    return 1.0 if age_ms <= 0 else 0.5 ** (age_ms / half_life_ms)


def post_fill_update(prev: PostFillMemory, fills: Iterable[Fill], half_life_ms: float = POST_FILL_HALF_LIFE_MS) -> PostFillMemory:
    """Fold fills (in any order) into the decayed mean: older weight decays by its age at each fill."""
    price, ts, weight = prev.price, prev.ts_ms, prev.weight
    for fill in sorted(fills, key=lambda f: f.ts_ms):
        if fill.quantity <= 0:
            continue
        kept = weight * decay(fill.ts_ms - ts, half_life_ms) if ts is not None and price is not None else 0.0
        total = kept + fill.quantity
        price = ((price or 0.0) * kept + fill.price_cents * fill.quantity) / total
        weight = total
        ts = fill.ts_ms if ts is None else max(ts, fill.ts_ms)
    if price is prev.price and ts == prev.ts_ms:
        return prev
    return PostFillMemory(price=price, ts_ms=ts, weight=weight)


@dataclass(frozen=True, slots=True)
class FairPrice:
    """The blended fair price and how it was made (weights normalised to sum 1 over used layers)."""

    raw: float  # clamped to the band, unrounded: what the reservation price uses
    cents: int  # rounded, in [min_price, max_price]: what is reported
    oracle: float | None
    micro: float | None
    post_fill: float | None
    w_oracle: float
    w_micro: float
    w_post_fill: float
    oracle_status: str
    source: str  # "LAYERS", "PREVIOUS" or "INITIAL"


def micro_depth_factor(bid_qty: int, ask_qty: int, full_depth: int) -> float:
    """Confidence in L2 from the external top-of-book sizes: min(bid, ask) / full_depth, ≤ 1.
    A one-share quote cannot move the fair price by itself (see blend_fair)."""
    if full_depth <= 0:
        return 1.0
    thin = bid_qty if bid_qty < ask_qty else ask_qty
    return 1.0 if thin >= full_depth else max(0.0, thin / full_depth)


def blend_fair(
    *,
    phase: AMMPhase,
    oracle: OracleCheck,
    micro: float | None,
    post_fill: PostFillMemory,
    now_ms: int,
    previous: float | None,
    initial: float,
    lo: int,
    hi: int,
    micro_confidence: float = 1.0,
) -> FairPrice:
    """Blend the usable layers by phase weight (L3 × decay), clamp to [lo, hi].

    L2 gets its phase weight × `micro_confidence` (micro_depth_factor); the part of its weight
    a thin book loses goes to the previous fair price (or the initial price), so a thin book
    nudges the fair price over several cycles instead of setting it."""
    w1, w2, w3 = PHASE_WEIGHTS[phase]
    l1 = oracle.price if oracle.usable else None
    l3 = post_fill.price
    w1 = w1 if l1 is not None else 0.0
    w_prior = 0.0
    if micro is None:
        w2 = 0.0
    elif micro_confidence < 1.0:
        w_prior = w2 * (1.0 - max(0.0, micro_confidence))
        w2 -= w_prior
    w3 = w3 * decay(now_ms - post_fill.ts_ms) if l3 is not None and post_fill.ts_ms is not None else 0.0
    total = w1 + w2 + w3
    if total > 1e-9:
        prior = previous if previous is not None else float(initial)
        raw = ((l1 or 0.0) * w1 + (micro or 0.0) * w2 + (l3 or 0.0) * w3 + prior * w_prior) / (total + w_prior)
        norm = total + w_prior
        w1, w2, w3 = w1 / norm, w2 / norm, w3 / norm
        source = "LAYERS"
    else:
        raw, source = (previous, "PREVIOUS") if previous is not None else (float(initial), "INITIAL")
        w1 = w2 = w3 = 0.0
    raw = lo if raw < lo else hi if raw > hi else raw
    cents = int(raw + 0.5)
    cents = lo if cents < lo else hi if cents > hi else cents
    return FairPrice(raw, cents, oracle.price, micro, l3, w1, w2, w3, oracle.status, source)
