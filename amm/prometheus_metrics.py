"""Prometheus metrics of the AMM (issue 11, SPEC §9): `metrics_exposition()` renders them,
`GET /api/amm/v1/metrics` serves them (amm/apis/metrics.py).

Why computed at scrape time, not with prometheus-client's multiprocess mode: the AMM runs
in many processes (run_amm's scheduler, N RQ workers, gunicorn workers, workers on other
machines sharing Redis), and everything a gauge would say is already shared state — the
lifecycle, phase, defense level and kill switch in PostgreSQL, the inventory, quotes, PnL
and fills in Redis. Multiprocess mode would have every process write mmap files into one
local directory (nothing for a worker on another machine; stale files of dead workers;
gauges needing a per-metric aggregation mode) and would only repeat what the shared state
says. So a custom Collector reads the shared state when scraped, into a fresh
CollectorRegistry per scrape (no metric object outlives a request).

The two counters no state holds — fills applied and the quote cycle's latency histogram —
are kept in Redis (amm/state/keys.py, "metrics extensions"), incremented inside commands the
hot path already sends (the fill script, `cycle_commit`'s MULTI), so every process's cycles
add up in one place at no extra round trip.

Cost per scrape, whatever the number of markets: two SQL queries (the instances with each one's
latest reconciliation run, alerts counted by type and severity) and one Redis round trip
(`state.metrics_read`).
"""
from __future__ import annotations

import json
from typing import Iterator

from django.db import connection
from django.db.models import Count, Q
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from amm import state
from amm.enums import AMMLifecycleState, AMMPhase, BookType, DefenseLevel, KillSwitchState, Side
from amm.models import Alert, AlertSeverity, AlertType, AMMInstance, ReconciliationRun, ReconciliationVerdict
from amm.strategy.types import yes_view_price

BID_BOOK_TYPES = (BookType.NATIVE_BUY.value, BookType.SYNTHETIC_BUY.value)
RECON_DIFF_FIELDS = ("yes_volume", "no_volume", "yes_available", "no_available", "yes_cost_sum", "no_cost_sum",
                     "cash", "cash_total")  # amm.services.reconciliation._diffs
ALWAYS_OUTCOMES = ("quoted", "unchanged")  # histograms present from the first scrape on


def _states(enum_cls, current: str) -> dict[str, bool]:
    states = {member.value: member.value == current for member in enum_cls}
    if current and current not in states:  # a value this code does not know still shows
        states[current] = True
    return states


def _best_quotes(orders) -> dict[str, tuple[int, int | None]]:
    """YES-view side -> (live orders, best price): the highest bid, the lowest ask."""
    bids = [yes_view_price(Side(o.side), o.price) for o in orders.values() if o.book_type in BID_BOOK_TYPES]
    asks = [yes_view_price(Side(o.side), o.price) for o in orders.values() if o.book_type not in BID_BOOK_TYPES]
    return {"bid": (len(bids), max(bids, default=None)), "ask": (len(asks), min(asks, default=None))}


# Every instance with its latest reconciliation run: one index probe per market
# (ix_amm_recon_latest), however long the runs' history grows.
_INSTANCES_SQL = f"""
SELECT i.market_id, i.lifecycle_state, i.phase, i.defense_level, i.kill_switch,
       r.verdict, r.rebuilt, r.finished_at, r.diffs
FROM {AMMInstance._meta.db_table} i
LEFT JOIN LATERAL (
    SELECT run.verdict, run.rebuilt, run.finished_at, run.diffs FROM {ReconciliationRun._meta.db_table} run
    WHERE run.market_id = i.market_id ORDER BY run.started_at DESC, run.id DESC LIMIT 1
) r ON TRUE
ORDER BY i.market_id"""


class AmmCollector(Collector):
    """Reads PostgreSQL and Redis once per `collect()` (module docstring)."""

    def __init__(self, *, now_ms: int | None = None) -> None:
        self.now_ms = now_ms

    def collect(self) -> Iterator[Metric]:
        with connection.cursor() as cursor:
            cursor.execute(_INSTANCES_SQL)
            rows = cursor.fetchall()
        instances = [row[:5] for row in rows]
        runs = [(row[0], *row[5:]) for row in rows if row[5] is not None]
        alerts = list(Alert.objects.values_list("type", "severity").annotate(
            total=Count("id"), open=Count("id", filter=Q(acknowledged=False))).order_by())
        read = state.metrics_read([row[0] for row in instances])
        now_ms = self.now_ms if self.now_ms is not None else read.read_at_ms
        yield from self._machines(instances)
        yield from self._markets(read, now_ms)
        yield from self._cycles(read)
        yield from self._alerts(alerts)
        yield from self._reconciliation(runs)

    # --- the state machines (PostgreSQL, their source of truth) --------------------------------
    @staticmethod
    def _machines(instances) -> Iterator[Metric]:
        lifecycle = StateSetMetricFamily("amm_lifecycle", "AMM lifecycle state (seed §6.1)", labels=["market_id"])
        phase = StateSetMetricFamily("amm_phase", "Strategy phase (seed §6.2)", labels=["market_id"])
        defense = StateSetMetricFamily("amm_defense_level", "Defense level (seed §6.3)", labels=["market_id"])
        kill = StateSetMetricFamily("amm_kill_switch", "Kill switch state (seed §9.1)", labels=["market_id"])
        for market_id, lifecycle_state, phase_value, level, kill_switch in instances:
            lifecycle.add_metric([market_id], _states(AMMLifecycleState, lifecycle_state))
            phase.add_metric([market_id], _states(AMMPhase, phase_value))
            defense.add_metric([market_id], _states(DefenseLevel, level))
            kill.add_metric([market_id], _states(KillSwitchState, kill_switch))
        yield from (lifecycle, phase, defense, kill)

    # --- quotes, inventory, PnL (Redis) ------------------------------------------------------
    @staticmethod
    def _markets(read: state.MetricsRead, now_ms: int) -> Iterator[Metric]:
        live = GaugeMetricFamily("amm_quotes_live", "The AMM's live orders per YES-view side",
                                 labels=["market_id", "side"])
        best = GaugeMetricFamily("amm_quote_best_price_cents", "The AMM's best YES-view price per side "
                                 "(highest bid, lowest ask); absent when that side has no order",
                                 labels=["market_id", "side"])
        spread = GaugeMetricFamily("amm_quote_spread_cents", "The AMM's best ask minus best bid (YES view); "
                                   "absent unless both sides quote", labels=["market_id"])
        skew = GaugeMetricFamily("amm_inventory_skew", "Inventory skew in [-1, 1] as the last cycle computed it",
                                 labels=["market_id"])
        shares = GaugeMetricFamily("amm_inventory_shares", "Shares held (amm:inventory yes_volume / no_volume)",
                                   labels=["market_id", "share"])
        cash = GaugeMetricFamily("amm_cash_cents", "Available cash as mirrored into the market's inventory "
                                 "(the account's available balance)", labels=["market_id"])
        pnl = GaugeMetricFamily("amm_daily_pnl_cents", "Realized PnL today (daily_pnl_cents)", labels=["market_id"])
        fills_today = GaugeMetricFamily("amm_fills_today", "Fills today (total_fills_today)", labels=["market_id"])
        fills = CounterMetricFamily("amm_fills", "Fills applied by the fill feed", labels=["market_id"])
        fair = GaugeMetricFamily("amm_fair_price_cents", "Fair price of the last cycle", labels=["market_id"])
        age = GaugeMetricFamily("amm_last_requote_age_seconds", "Seconds since the quotes were last confirmed "
                                "or replaced; absent before the first", labels=["market_id"])
        for market_id, m in read.markets.items():
            quotes = _best_quotes(m.orders)
            for side, (count, price) in quotes.items():
                live.add_metric([market_id, side], count)
                if price is not None:
                    best.add_metric([market_id, side], price)
            if quotes["bid"][1] is not None and quotes["ask"][1] is not None:
                spread.add_metric([market_id], quotes["ask"][1] - quotes["bid"][1])
            st = m.state
            if st.get("inventory_skew") not in (None, ""):
                skew.add_metric([market_id], float(st["inventory_skew"]))
            if st.get("fair_price_cents") not in (None, ""):
                fair.add_metric([market_id], float(st["fair_price_cents"]))
            if m.inventory.exists:
                shares.add_metric([market_id, "YES"], m.inventory.yes_volume)
                shares.add_metric([market_id, "NO"], m.inventory.no_volume)
                cash.add_metric([market_id], m.inventory.cash_cents)
            pnl.add_metric([market_id], int(st.get("daily_pnl_cents") or 0))
            fills_today.add_metric([market_id], int(st.get("total_fills_today") or 0))
            fills.add_metric([market_id], read.fills_total.get(market_id, 0))
            last = int(st.get("last_requote_ms") or 0)
            if last > 0:
                age.add_metric([market_id], max(0, now_ms - last) / 1000)
        yield from (live, best, spread, skew, shares, cash, pnl, fills_today, fills, fair, age)

    @staticmethod
    def _cycles(read: state.MetricsRead) -> Iterator[Metric]:
        histogram = HistogramMetricFamily("amm_quote_cycle_duration_seconds", "Quote cycle latency, from its start "
                                          "(lease wait included) to its last write, by outcome",
                                          labels=["outcome"])
        for outcome in sorted(set(ALWAYS_OUTCOMES) | set(read.cycle_latency)):
            h = read.cycle_latency.get(outcome) or state.LatencyHistogram.empty(outcome)
            histogram.add_metric([outcome], h.buckets, h.sum_s)
        yield histogram

    # --- alerts and reconciliation (PostgreSQL) -------------------------------------------------
    @staticmethod
    def _alerts(rows) -> Iterator[Metric]:
        counts = {(t, s): (0, 0) for t in AlertType.values for s in AlertSeverity.values}
        counts.update({(t, s): (total, open_) for t, s, total, open_ in rows})
        open_family = GaugeMetricFamily("amm_alerts_open", "Alerts not acknowledged", labels=["type", "severity"])
        total_family = CounterMetricFamily("amm_alerts", "Alerts recorded", labels=["type", "severity"])
        for (alert_type, severity), (total, open_) in sorted(counts.items()):
            open_family.add_metric([alert_type, severity], open_)
            total_family.add_metric([alert_type, severity], total)
        yield from (open_family, total_family)

    @staticmethod
    def _reconciliation(runs) -> Iterator[Metric]:
        verdict = StateSetMetricFamily("amm_reconciliation_verdict", "Verdict of the market's latest "
                                       "reconciliation run (seed §7.3)", labels=["market_id"])
        diff = GaugeMetricFamily("amm_reconciliation_diff", "Redis vs platform difference found by the latest "
                                 "reconciliation run (shares or cents)", labels=["market_id", "field"])
        rebuilt = GaugeMetricFamily("amm_reconciliation_rebuilt", "1 when the latest reconciliation rebuilt Redis "
                                    "from the platform", labels=["market_id"])
        finished = GaugeMetricFamily("amm_reconciliation_last_run_timestamp_seconds", "When the latest "
                                     "reconciliation run finished (Unix time)", labels=["market_id"])
        for market_id, verdict_value, was_rebuilt, finished_at, diffs in runs:
            diffs = json.loads(diffs) if isinstance(diffs, str) else diffs  # Django loads jsonb as text
            verdict.add_metric([market_id], _states(ReconciliationVerdict, verdict_value))
            for name in RECON_DIFF_FIELDS:  # a run that could not read the platform has none
                value = (diffs or {}).get(name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    diff.add_metric([market_id, name], value)
            rebuilt.add_metric([market_id], 1 if was_rebuilt else 0)
            finished.add_metric([market_id], finished_at.timestamp())
        yield from (verdict, diff, rebuilt, finished)


def metrics_exposition(*, accept: str = "", now_ms: int | None = None) -> tuple[bytes, str]:
    """(body, content type) of one scrape: a fresh registry holding one collector, in the
    exposition format the scraper's Accept header asks for (text by default)."""
    registry = CollectorRegistry(auto_describe=False)  # no describe(): collecting twice would double the reads
    registry.register(AmmCollector(now_ms=now_ms))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
