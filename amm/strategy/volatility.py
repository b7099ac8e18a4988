"""Volatility σ in cents from the recent fair-price series (SPEC §6, seed §4.3 `sigma_cents`).

Estimator: time-normalised realized volatility with clipped increments.

    σ² = (Σ clip(Δpᵢ, ±VOL_CLIP_CENTS)²) / (t_last − t_first) × VOL_HORIZON_MS

over the samples of the last VOL_WINDOW_MS, then σ is bounded to [1.0, 15.0] cents.

- Dividing by elapsed time (not by the sample count) makes σ independent of how often the
  runtime samples: a ±d random walk with one step every Δt ms gives σ = d·√(H/Δt) whatever
  the cycle length. σ is therefore "cents per √minute" (H = 60 s).
- Clipping each increment at 10 cents keeps one information jump (an oracle step, a market
  re-pricing) from inflating σ for the whole window; jumps are handled by the oracle gap guard
  and the LVR guard instead. (The seed calls its estimator "APV-BVD"; its definition is not
  available, and SPEC §6 allows any robust estimator that is documented and tested.)
- Until the window holds VOL_MIN_SAMPLES samples spanning VOL_MIN_SPAN_MS, σ is the prior
  SIGMA_PRIOR_CENTS: a new market is quoted as moderately volatile, not as flat.

Since issue 13 the strategy reads σ in log-odds, quoted in cents at 50 (`sigma_at50`): the
same number as before for a market near 50, but a 1-cent move at 2 is a large move and the
price-space σ at p is σ × 4·x(1 − x) (binary.py), so σ has a probability's p(1 − p) shape
instead of quoting 1/9 at fair 2 and 43/57 at 50 with the same σ = 3.

Samples are taken at most every 5 s: σ and the phase rules look at minutes, sub-5-second
flicker is noise for them, and 120 samples per window keep the cycle fast and the state small
(the LVR guard compares consecutive cycles itself, not samples).
Samples are kept as two parallel tuples (timestamps ascending, prices) so the state stays
immutable and serialisable and the hot path uses C-level slicing, `bisect`, `map` and `sum`.
"""
from __future__ import annotations

from bisect import bisect_left
from itertools import repeat
from math import log, sqrt
from operator import mul, sub, truediv
from typing import Sequence

SIGMA_MIN_CENTS = 1.0  # SPEC §6 / seed §4.3 range [1.0, 15.0]
SIGMA_MAX_CENTS = 15.0
SIGMA_PRIOR_CENTS = 2.0  # before enough history
VOL_WINDOW_MS = 600_000  # 10 minutes of samples feed σ
VOL_HORIZON_MS = 60_000  # σ is per √minute
VOL_MIN_SPAN_MS = 60_000
VOL_MIN_SAMPLES = 3
VOL_CLIP_CENTS = 10.0
SAMPLE_MIN_SPACING_MS = 5_000  # at most one fair sample per 5 s (120 per σ window) …
MAX_SAMPLES = 600  # … and at most this many kept (spacing grows for long windows)
LOGIT_CENTS_AT_50 = 25.0  # d(price)/d(log-odds) at 50: 100 · ½ · ½ cents
LOGIT_MIN_CENTS = 0.5  # prices are kept inside [0.5, 99.5] before taking log-odds


def bound_sigma(sigma: float) -> float:
    """Clamp to [SIGMA_MIN_CENTS, SIGMA_MAX_CENTS]."""
    return SIGMA_MIN_CENTS if sigma < SIGMA_MIN_CENTS else SIGMA_MAX_CENTS if sigma > SIGMA_MAX_CENTS else sigma


def realized_sigma(
    ts: Sequence[int],
    px: Sequence[float],
    *,
    now_ms: int,
    window_ms: int = VOL_WINDOW_MS,
    horizon_ms: int = VOL_HORIZON_MS,
    clip_cents: float = VOL_CLIP_CENTS,
    min_samples: int = VOL_MIN_SAMPLES,
    min_span_ms: int = VOL_MIN_SPAN_MS,
) -> float | None:
    """Unbounded σ (cents per √horizon) of the samples in (now − window, now]; None when the
    history is too short to say."""
    found = _window(ts, px, now_ms=now_ms, window_ms=window_ms, min_samples=min_samples, min_span_ms=min_span_ms)
    if found is None:
        return None
    window, span = found
    return _rms_per_horizon(list(map(sub, window[1:], window[:-1])), clip_cents, horizon_ms, span)


def _window(ts: Sequence[int], px: Sequence[float], *, now_ms: int, window_ms: int, min_samples: int,
            min_span_ms: int) -> tuple[Sequence[float], int] | None:
    """The prices in (now − window, now] and the time they span; None when too few or too short."""
    start = bisect_left(ts, now_ms - window_ms)
    if len(ts) - start < min_samples:
        return None
    span = ts[-1] - ts[start]
    if span < max(min_span_ms, 1):
        return None
    return px[start:], span


def _rms_per_horizon(diffs: list[float], clip: float, horizon_ms: int, span: int) -> float:
    """√(Σ clipped increments² · horizon / span): the increments' σ per √horizon."""
    if max(diffs) > clip or min(diffs) < -clip:
        diffs = [clip if d > clip else -clip if d < -clip else d for d in diffs]
    return sqrt(sum(map(mul, diffs, diffs)) * horizon_ms / span)


def realized_sigma_at50(
    ts: Sequence[int],
    px: Sequence[float],
    *,
    now_ms: int,
    window_ms: int = VOL_WINDOW_MS,
    horizon_ms: int = VOL_HORIZON_MS,
    clip_cents: float = VOL_CLIP_CENTS,
    min_samples: int = VOL_MIN_SAMPLES,
    min_span_ms: int = VOL_MIN_SPAN_MS,
) -> float | None:
    """`realized_sigma` of the log-odds ln(p / (100 − p)) instead of the price, quoted "in cents
    at 50" (× LOGIT_CENTS_AT_50 = 25, the slope of the price in log-odds at 50), so a 1-cent
    move at 50 counts 1 and a 1-cent move at 2 counts about 12.8 (issue 13: σ in a unit that
    fits a probability). The price-space σ at p is this × 4·x(1 − x) (binary.local_sigma_scale);
    the increment clip applies in the same unit. None when the history is too short."""
    found = _window(ts, px, now_ms=now_ms, window_ms=window_ms, min_samples=min_samples, min_span_ms=min_span_ms)
    if found is None:
        return None
    window, span = found
    if min(window) < LOGIT_MIN_CENTS or max(window) > 100.0 - LOGIT_MIN_CENTS:
        window = [LOGIT_MIN_CENTS if p < LOGIT_MIN_CENTS else 100.0 - LOGIT_MIN_CENTS if p > 100.0 - LOGIT_MIN_CENTS
                  else p for p in window]
    logits = list(map(log, map(truediv, window, map(sub, repeat(100.0), window))))
    diffs = list(map(sub, logits[1:], logits[:-1]))
    return LOGIT_CENTS_AT_50 * _rms_per_horizon(diffs, clip_cents / LOGIT_CENTS_AT_50, horizon_ms, span)


def sigma_at50(ts: Sequence[int], px: Sequence[float], *, now_ms: int, **kwargs: int | float) -> float:
    """`realized_sigma_at50` bounded to [1.0, 15.0] (the seed's `sigma_cents` range, read at 50);
    SIGMA_PRIOR_CENTS while the history is too short. What the strategy reports as σ."""
    raw = realized_sigma_at50(ts, px, now_ms=now_ms, **kwargs)  # type: ignore[arg-type]
    return SIGMA_PRIOR_CENTS if raw is None else bound_sigma(raw)


SigmaMemo = tuple  # (first sample ts in the window, last sample ts, raw σ at 50 or None)


def sigma_at50_memo(
    ts: Sequence[int], px: Sequence[float], *, now_ms: int, memo: SigmaMemo | None = None
) -> tuple[float, SigmaMemo | None]:
    """`sigma_at50` and the memo to keep. σ is re-estimated when a sample is appended (at most
    every 5 s); between appends the memo's value, taken at the last append over the window
    ending there, is the answer (a cycle every second re-reads 120 samples once in five)."""
    if not ts or ts[-1] <= now_ms - VOL_WINDOW_MS:
        return SIGMA_PRIOR_CENTS, None
    last = ts[-1]
    if memo is not None and memo[1] == last:
        raw = memo[2]
    else:
        raw = realized_sigma_at50(ts, px, now_ms=now_ms)
    start = bisect_left(ts, now_ms - VOL_WINDOW_MS)
    return (SIGMA_PRIOR_CENTS if raw is None else bound_sigma(raw)), (ts[start], last, raw)


def sigma_cents(ts: Sequence[int], px: Sequence[float], *, now_ms: int, **kwargs: int | float) -> float:
    """σ bounded to [1.0, 15.0]; SIGMA_PRIOR_CENTS while the history is too short."""
    raw = realized_sigma(ts, px, now_ms=now_ms, **kwargs)  # type: ignore[arg-type]
    return SIGMA_PRIOR_CENTS if raw is None else bound_sigma(raw)


def price_range(ts: Sequence[int], px: Sequence[float], *, since_ms: int) -> tuple[float, int] | None:
    """(max − min of the prices sampled at or after `since_ms`, earliest such timestamp), or None."""
    start = bisect_left(ts, since_ms)
    if start >= len(ts):
        return None
    window = px[start:]
    return max(window) - min(window), ts[start]


def sample_spacing_ms(retention_ms: int) -> int:
    """Minimum spacing between stored samples so that at most MAX_SAMPLES cover the retention."""
    return max(SAMPLE_MIN_SPACING_MS, -(-retention_ms // MAX_SAMPLES))


def append_sample(
    ts: tuple[int, ...],
    px: tuple[float, ...],
    *,
    now_ms: int,
    price: float,
    retention_ms: int,
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """New (ts, px) with `price` appended at `now_ms` (unless the last sample is younger than the
    spacing, or time went backwards) and samples older than `retention_ms` dropped."""
    if ts and now_ms - ts[-1] < sample_spacing_ms(retention_ms):
        return ts, px
    start = bisect_left(ts, now_ms - retention_ms)
    return ts[start:] + (now_ms,), px[start:] + (round(price, 4),)
