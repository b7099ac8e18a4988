"""`amm:history:{m}`: a capped list of compact samples per market for the dashboard's charts.

The sampler (amm.runtime.history_sampler, a periodic job of run_amm, never the quote cycle) reads
every driven market in one round trip (`history_sample_read`) and appends one sample each
in another (`history_append_many`: RPUSH + LTRIM + EXPIRE). A sample is one short string
(keys.HISTORY_FIELDS joined by "|") of about 40 bytes: an hour at 10 s is 360 of them,
15–17 KB of Redis memory per market (Redis 7.0, tests/amm/state/test_history.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from math import ceil
from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.state.codec import parse_fields, parse_int
from amm.state.connection import conn_or_default
from amm.state.live import LIVE_COMMANDS, best_quotes, live_parse, live_queue

SEP = K.HISTORY_SEPARATOR


def _opt(value: str) -> int | None:
    return int(value) if value else None


@dataclass(frozen=True, slots=True)
class HistorySample:
    """One point of a market's history (prices in cents, YES-view; skew in [−1, 1])."""

    ts_s: int
    fair: int | None
    bid: int | None
    ask: int | None
    yes: int
    no: int
    skew: float | None
    pnl: int | None

    def encode(self) -> str:
        skew_milli = None if self.skew is None else round(self.skew * 1000)
        values = (self.ts_s, self.fair, self.bid, self.ask, self.yes, self.no, skew_milli, self.pnl)
        return SEP.join("" if v is None else str(v) for v in values)

    @classmethod
    def decode(cls, raw: str) -> "HistorySample":
        ts, fair, bid, ask, yes, no, skew, pnl = (raw.split(SEP) + [""] * len(K.HISTORY_FIELDS))[:8]
        return cls(ts_s=int(ts), fair=_opt(fair), bid=_opt(bid), ask=_opt(ask), yes=int(yes or 0),
                   no=int(no or 0), skew=None if skew == "" else int(skew) / 1000, pnl=_opt(pnl))


def history_window(*, window_s: int, sample_s: int) -> int:
    """How many samples cover `window_s` at one per `sample_s` (the list's cap)."""
    return max(1, ceil(window_s / max(1, sample_s)))


# --- the sampler's read and write -----------------------------------------------------------------
_SAMPLE_STATE_FIELDS = ("fair_price_cents", "inventory_skew", "daily_pnl_cents")
_SAMPLE_INVENTORY_FIELDS = ("yes_volume", "no_volume")


def history_sample_read(market_ids: Iterable[str], *, now_ms: int,
                        conn: redis.Redis | None = None) -> dict[str, HistorySample]:
    """A sample of every market named, from one round trip; a market Redis keeps no state
    for (never synced, or forgotten) gets none."""
    ids = list(market_ids)
    if not ids:
        return {}
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hmget(K.state_key(market_id), _SAMPLE_STATE_FIELDS)
        pipe.hmget(K.inventory_key(market_id), _SAMPLE_INVENTORY_FIELDS)
        pipe.hvals(K.orders_key(market_id))
    results = pipe.execute()
    ts_s = now_ms // 1000
    samples: dict[str, HistorySample] = {}
    for i, market_id in enumerate(ids):
        (fair, skew, pnl), (yes, no), orders = results[3 * i:3 * i + 3]
        if fair is None and yes is None:
            continue
        bid, ask = best_quotes(json.loads(raw) for raw in orders)
        samples[market_id] = HistorySample(
            ts_s=ts_s, fair=None if fair in (None, "") else parse_int(fair), bid=bid[0] if bid else None,
            ask=ask[0] if ask else None, yes=parse_int(yes), no=parse_int(no),
            skew=None if skew in (None, "") else float(skew), pnl=None if pnl in (None, "") else parse_int(pnl))
    return samples


def history_append_many(samples: Mapping[str, HistorySample], *, keep: int, ttl_s: int,
                        conn: redis.Redis | None = None) -> None:
    """Append one sample per market, keep the newest `keep`, expire a market no longer
    sampled after `ttl_s`: one round trip."""
    if not samples:
        return
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id, sample in samples.items():
        key = K.history_key(market_id)
        pipe.rpush(key, sample.encode())
        pipe.ltrim(key, -int(keep), -1)
        pipe.expire(key, int(ttl_s))
    pipe.execute()


# --- reads for the dashboard -------------------------------------------------------------------------
def _history_queue(pipe, market_id: str, *, since_s: int | None, now_s: int, sample_s: int) -> None:
    """LRANGE the samples after `since_s` (all when None): the newest ones only, so a page
    that already holds the hour asks for a few samples, not the whole list."""
    if since_s is None:
        pipe.lrange(K.history_key(market_id), 0, -1)
    else:
        newest = max(1, ceil((now_s - since_s) / max(1, sample_s)) + 2)
        pipe.lrange(K.history_key(market_id), -newest, -1)


def thin_step(count: int, points: int | None) -> int:
    """Keep every step-th sample so that `count` samples become at most `points`."""
    return 1 if not points or count <= points else ceil(count / points)


def _history_parse(raw: list[str], since_s: int | None) -> list[HistorySample]:
    samples = [HistorySample.decode(item) for item in raw]
    return samples if since_s is None else [s for s in samples if s.ts_s > since_s]


def history_columns(raw: list[str], *, since_s: int | None = None, step: int = 1) -> dict[str, list]:
    """Samples as columns (what a chart plots): t (s), fair / bid / ask (cents, None when
    none), yes / no (shares), skew (−1…1), pnl (cents); those after `since_s`, every
    `step`-th ending with the newest. One tight loop: the dashboard's first answer decodes
    tens of thousands of samples, and an object per sample costs ten times more."""
    if step > 1:
        raw = raw[::-1][::step][::-1]
    t: list = []
    fair: list = []
    bid: list = []
    ask: list = []
    yes: list = []
    no: list = []
    skew: list = []
    pnl: list = []
    for item in raw:
        f = item.split(SEP)
        if len(f) < 8:
            f += [""] * (8 - len(f))
        ts = int(f[0])
        if since_s is not None and ts <= since_s:
            continue
        t.append(ts)
        fair.append(int(f[1]) if f[1] else None)
        bid.append(int(f[2]) if f[2] else None)
        ask.append(int(f[3]) if f[3] else None)
        yes.append(int(f[4]) if f[4] else 0)
        no.append(int(f[5]) if f[5] else 0)
        skew.append(int(f[6]) / 1000 if f[6] else None)
        pnl.append(int(f[7]) if f[7] else None)
    return {"t": t, "fair": fair, "bid": bid, "ask": ask, "yes": yes, "no": no, "skew": skew, "pnl": pnl}


def history_get(market_id: str, *, since_s: int | None = None, conn: redis.Redis | None = None) -> list[HistorySample]:
    """A market's samples, oldest first (those after `since_s` when given)."""
    return _history_parse(conn_or_default(conn).lrange(K.history_key(market_id), 0, -1), since_s)


def markets_dashboard_read(market_ids: list[str], *, history_since_s: int | None, now_ms: int, sample_s: int,
                           history_points: int | None = None,
                           conn: redis.Redis | None = None) -> tuple[dict[str, dict], dict[str, Any]]:
    """`markets_live_read` of every market plus its history (each live view gets "history":
    `history_columns` of the samples after `history_since_s` when given, thinned to at most
    `history_points` evenly spaced samples ending with the newest when given; "history_step":
    the kept spacing in samples) and the run heartbeat (`amm:run`): one round trip whatever
    the number of markets."""
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=False)
    pipe.hgetall(K.RUN)
    for market_id in ids:
        live_queue(pipe, market_id)
        _history_queue(pipe, market_id, since_s=history_since_s, now_s=now_ms // 1000, sample_s=sample_s)
    results = pipe.execute()
    run = parse_fields(results[0], K.RUN_FIELDS)
    n = LIVE_COMMANDS + 1
    out: dict[str, dict] = {}
    for i, market_id in enumerate(ids):
        chunk = results[1 + n * i:1 + n * i + n]
        view = live_parse(chunk[:LIVE_COMMANDS])
        raw = chunk[LIVE_COMMANDS]
        step = thin_step(len(raw), history_points)
        view["history"] = history_columns(raw, since_s=history_since_s, step=step)
        view["history_step"] = step
        out[market_id] = view
    return out, run
