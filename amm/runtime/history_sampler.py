"""The dashboard's history sampler (SPEC §9 charts): a periodic job of run_amm, every
AMM_HISTORY_SAMPLE_S, that appends one sample per driven market to `amm:history:{m}` —
one pipelined read and one pipelined write for all of them, off the quote cycle entirely."""
from __future__ import annotations

from amm import state
from amm.conf import amm_settings


def sample_interval_s() -> int:
    return max(1, amm_settings.AMM_HISTORY_SAMPLE_S)


def window_s() -> int:
    return max(1, amm_settings.AMM_HISTORY_WINDOW_S)


def history_sample(market_ids: list[str], *, now_ms: int | None = None) -> int:
    """Append a sample of each market (those Redis keeps state for); returns how many."""
    now_ms = state.now_ms() if now_ms is None else now_ms
    samples = state.history_sample_read(market_ids, now_ms=now_ms)
    keep = state.history_window(window_s=window_s(), sample_s=sample_interval_s())
    state.history_append_many(samples, keep=keep, ttl_s=window_s() + sample_interval_s())
    return len(samples)
