"""Avellaneda–Stoikov terms (SPEC §6; Avellaneda & Stoikov 2008, "High-frequency trading in a
limit order book", eqs. (29)–(30)).

Two modes share the same two functions:

- *A-S mode* (the paper, `bench/as_paper.py`): q is the raw inventory in shares, σ the price
  volatility per unit time, τ = T − t the remaining horizon. Quotes r ± δ/2.
- *Project mode* (the AMM): q is the inventory skew in [−1, 1] (since issue 13 the net
  exposure against its limit, exposure.py), σ²·τ becomes V, the binary's price variance over
  the holding horizon (binary.py: realized σ in a p(1 − p) shape, growing to the settlement
  jump as the end nears), γ is continuous across the lifetime tiers (`gamma_at`), and the
  reservation shift |r − s| is capped by `max_reservation_shift_cents`. The seed's
  τ = h/(h + κ) is still computed and reported; the pm-AMM's √(T − t) shrink of the quoted
  size is relative to `expiry_size_horizon_ms` (binary.expiry_size_factor), not to κ.

The arithmetic uses only +, −, ×, / and ** on q, σ, τ and s, so the bench can pass numpy
arrays for s and q (one call prices 1,000 paths).
"""
from __future__ import annotations

import math
from typing import Any

from amm.strategy.config import StrategyConfig

MS_PER_HOUR = 3_600_000
SHORT_TIER_HOURS = 7 * 24  # ends within 7 days (inclusive) -> gamma_short  (config help, seed §4.4)
MID_TIER_HOURS = 30 * 24  # ends within 30 days (inclusive) -> gamma_mid; later -> gamma_long
TIER_BLEND = 2.0  # gamma_at: γ blends between tiers from boundary / 2 to boundary × 2
_BLEND_SHORT = (SHORT_TIER_HOURS / TIER_BLEND, SHORT_TIER_HOURS * TIER_BLEND)
_BLEND_MID = (MID_TIER_HOURS / TIER_BLEND, MID_TIER_HOURS * TIER_BLEND)
_BLEND_LOG_SPAN = math.log(TIER_BLEND * TIER_BLEND)


def hours_remaining(trading_end_ms: int | None, now_ms: int) -> float | None:
    """Hours from now to the end of trading, ≥ 0; None when the market has no end date."""
    if trading_end_ms is None:
        return None
    return max(0.0, (trading_end_ms - now_ms) / MS_PER_HOUR)


def gamma_for(config: StrategyConfig, hours: float | None) -> float:
    """Risk aversion γ by lifetime tier: h ≤ 7 days short, h ≤ 30 days mid, else long.
    A market without an end date is long-lived."""
    if hours is None or hours > MID_TIER_HOURS:
        return config.gamma_long
    if hours > SHORT_TIER_HOURS:
        return config.gamma_mid
    return config.gamma_short


def gamma_at(config: StrategyConfig, hours: float | None) -> float:
    """γ continuous in time to the end (issue 13: no jump at a tier boundary). Deep inside a
    tier γ is that tier's value (`gamma_for`); within a factor TIER_BLEND of a boundary
    (3.5–14 days around 7, 15–60 days around 30) it moves linearly in log-hours from one
    tier's value to the next, passing their mean at the boundary itself."""
    if hours is None or hours >= _BLEND_MID[1]:
        return config.gamma_long
    if hours <= _BLEND_SHORT[0]:
        return config.gamma_short
    if hours < _BLEND_SHORT[1]:
        t = math.log(hours / _BLEND_SHORT[0]) / _BLEND_LOG_SPAN
        return config.gamma_short + (config.gamma_mid - config.gamma_short) * t
    if hours <= _BLEND_MID[0]:
        return config.gamma_mid
    t = math.log(hours / _BLEND_MID[0]) / _BLEND_LOG_SPAN
    return config.gamma_mid + (config.gamma_long - config.gamma_mid) * t


def time_factor(hours: float | None, kappa: float) -> float:
    """τ(h) = h / (h + κ) in [0, 1): 0 at the end of trading, → 1 far from it; 1 with no end."""
    if hours is None:
        return 1.0
    hours = max(0.0, hours)
    return hours / (hours + kappa) if hours + kappa > 0 else 0.0


def reservation_price(s: Any, q: Any, gamma: float, sigma: Any, tau: Any, max_shift: float | None = None) -> Any:
    """r = s − q·γ·σ²·τ (A-S eq. 29), the shift optionally capped to ±max_shift (project mode)."""
    shift = q * gamma * sigma**2 * tau
    if max_shift is not None:
        shift = max(-max_shift, min(max_shift, shift))
    return s - shift


def spread_term(gamma: float, k: float) -> float:
    """(2/γ)·ln(1 + γ/k): the part of the optimal spread that does not depend on σ or time
    (the paper's "spread" column); its γ → 0 limit is 2/k."""
    if gamma <= 1e-12:
        return 2.0 / k
    return (2.0 / gamma) * math.log1p(gamma / k)


def optimal_spread(gamma: float, sigma: Any, tau: Any, k: float) -> Any:
    """δᵃ + δᵇ = γ·σ²·τ + (2/γ)·ln(1 + γ/k) (A-S eq. 30)."""
    return gamma * sigma**2 * tau + spread_term(gamma, k)


def as_quotes(s: Any, q: Any, gamma: float, sigma: Any, tau: Any, k: float, max_shift: float | None = None) -> tuple[Any, Any]:
    """(bid, ask) = r ∓ δ/2 around the reservation price, as floats (A-S mode quotes)."""
    r = reservation_price(s, q, gamma, sigma, tau, max_shift)
    half = optimal_spread(gamma, sigma, tau, k) / 2
    return r - half, r + half
