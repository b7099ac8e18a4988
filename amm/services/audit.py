"""Audit reports (seed §2.4, §8.3, §8.4, SPEC §8).

The AMM reads the platform through its API: trades come from the fill feed
(`GET /api/v1/trades`), markets and positions from their endpoints. The one exception,
documented and switchable (settings AMM_AUDIT_LEDGER_SQL, AMM_AUDIT_DATABASE), is the
ledger cross-check: the contract has no ledger endpoint, so `ledger_flows` reads the
platform's `ledger_entries` table (SPEC §3.1) with a read-only SQL query.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections

from amm.bookkeeping.fills import trade_legs
from amm.clock import now_ms
from amm.conf import amm_settings
from amm.connector import ConnectorError, PlatformClient, Trade
from amm.constants import AMM_USER_ID
from amm.models import AlertSeverity, AlertType
from amm.alerts import alert_raise

SCENARIOS = ("MINT", "TRANSFER_YES", "TRANSFER_NO", "BURN")
TRADE_CASH_ENTRIES = ("TRANSFER_PAYMENT", "TRANSFER_RECEIPT", "MINT_COST", "BURN_REVENUE", "FEE")
LEDGER_TABLE = "ledger_entries"


def day_bounds(day: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a day in the configured time zone (TIME_ZONE), as aware datetimes."""
    tz = ZoneInfo(settings.TIME_ZONE)
    day = day or dt.datetime.now(tz).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def amm_trades(
    connector: PlatformClient, *, market_id: str | None = None, start: dt.datetime | None = None,
    end: dt.datetime | None = None, since: int = 0, page_limit: int = 1000,
) -> list[Trade]:
    """The AMM's trades from the feed (all pages), optionally within [start, end)."""
    out: list[Trade] = []
    cursor = since
    while True:
        page = connector.trades_list(since=cursor, market_id=market_id, limit=page_limit)
        for trade in page.results:
            ms = trade.executed_ms
            if start is not None and ms is not None and ms < start.timestamp() * 1000:
                continue
            if end is not None and ms is not None and ms >= end.timestamp() * 1000:
                continue
            out.append(trade)
        if not page.results or page.next_since <= cursor:
            break
        cursor = page.next_since
        if len(page.results) < page_limit:
            break
    return out


@dataclass
class ScenarioStats:
    scenario: str
    trade_count: int = 0
    total_quantity: int = 0
    fees_paid_cents: int = 0
    realized_pnl_cents: int = 0
    cash_flow_cents: int = 0  # what these fills moved in the AMM's available cash (fees included)


def daily_stats(trades: Iterable[Trade], *, amm_user_id: str = AMM_USER_ID) -> list[ScenarioStats]:
    """seed §2.4: per scenario, trade count, quantity, fees the AMM paid, its realized PnL."""
    rows = {s: ScenarioStats(s) for s in SCENARIOS}
    for trade in trades:
        row = rows.setdefault(trade.scenario, ScenarioStats(trade.scenario))
        row.trade_count += 1
        row.total_quantity += trade.quantity
        for leg in trade_legs(trade, amm_user_id=amm_user_id):
            row.fees_paid_cents += leg.fee
            notional = leg.own_price * leg.quantity
            row.cash_flow_cents += (-notional if leg.direction == "BUY" else notional) - leg.fee
        if trade.buy_user_id == amm_user_id and trade.buy_realized_pnl is not None:
            row.realized_pnl_cents += trade.buy_realized_pnl
        if trade.sell_user_id == amm_user_id and trade.sell_realized_pnl is not None:
            row.realized_pnl_cents += trade.sell_realized_pnl
    return list(rows.values())


@dataclass
class DailyReport:
    market_id: str | None  # None: every market
    start: dt.datetime
    end: dt.datetime
    scenarios: list[ScenarioStats]
    total: ScenarioStats


def daily_report(connector: PlatformClient, *, market_id: str | None = None,
                 day: dt.date | None = None) -> DailyReport:
    """seed §2.4 for one day in TIME_ZONE (default today): `daily_stats` of the AMM's trades of
    that day, and their total (what `amm_report_daily` prints and the API answers)."""
    start, end = day_bounds(day)
    scenarios = daily_stats(amm_trades(connector, market_id=market_id, start=start, end=end))
    total = ScenarioStats("TOTAL", **{name: sum(getattr(s, name) for s in scenarios) for name in (
        "trade_count", "total_quantity", "fees_paid_cents", "realized_pnl_cents", "cash_flow_cents")})
    return DailyReport(market_id=market_id, start=start, end=end, scenarios=scenarios, total=total)


def ledger_flows(
    *, market_id: str | None, start: dt.datetime, end: dt.datetime, amm_user_id: str = AMM_USER_ID
) -> dict[tuple[str, str], int] | None:
    """Σ amount of the AMM's ledger entries by (entry_type, reference_type) in [start, end),
    read-only SQL on the platform's `ledger_entries` (None when disabled)."""
    if not amm_settings.AMM_AUDIT_LEDGER_SQL:
        return None
    sql = (f"SELECT entry_type, reference_type, COALESCE(SUM(amount), 0) FROM {LEDGER_TABLE} "
           "WHERE user_id = %s AND created_at >= %s AND created_at < %s")
    params: list[Any] = [amm_user_id, start, end]
    if market_id is not None:
        sql += " AND market_id = %s"
        params.append(market_id)
    sql += " GROUP BY entry_type, reference_type"
    with connections[amm_settings.AMM_AUDIT_DATABASE].cursor() as cursor:
        cursor.execute(sql, params)
        return {(entry_type, ref): int(total) for entry_type, ref, total in cursor.fetchall()}


@dataclass
class PnlReport:
    market_id: str
    start: dt.datetime
    end: dt.datetime
    scenarios: list[ScenarioStats]
    total_trades: int
    total_volume: int
    realized_pnl_cents: int
    total_fees_cents: int
    trade_cash_flow_cents: int  # from the trades: −buys + sells − fees
    ledger: dict[tuple[str, str], int] | None = None
    ledger_trade_flow_cents: int | None = None  # the same flows in the ledger (reference TRADE)
    net_ledger_flow_cents: int | None = None  # seed §8.3 net_ledger_flow (every entry)
    ledger_matches: bool | None = None
    notes: list[str] = field(default_factory=list)


def pnl_report(connector: PlatformClient, *, market_id: str, day: dt.date | None = None) -> PnlReport:
    """seed §8.3: end-of-day totals, scenario mix, realized PnL, fees, and the ledger cross-check
    (the cash the day's fills moved, from the trades, equals the ledger's TRADE entries)."""
    start, end = day_bounds(day)
    trades = amm_trades(connector, market_id=market_id, start=start, end=end)
    scenarios = daily_stats(trades)
    report = PnlReport(
        market_id=market_id, start=start, end=end, scenarios=scenarios,
        total_trades=sum(s.trade_count for s in scenarios), total_volume=sum(s.total_quantity for s in scenarios),
        realized_pnl_cents=sum(s.realized_pnl_cents for s in scenarios),
        total_fees_cents=sum(s.fees_paid_cents for s in scenarios),
        trade_cash_flow_cents=sum(s.cash_flow_cents for s in scenarios),
    )
    ledger = ledger_flows(market_id=market_id, start=start, end=end)
    if ledger is None:
        report.notes.append("ledger cross-check disabled (AMM_AUDIT_LEDGER_SQL=false)")
        return report
    report.ledger = ledger
    report.ledger_trade_flow_cents = sum(v for (et, ref), v in ledger.items()
                                         if ref == "TRADE" and et in TRADE_CASH_ENTRIES)
    report.net_ledger_flow_cents = sum(ledger.values())
    report.ledger_matches = report.ledger_trade_flow_cents == report.trade_cash_flow_cents
    return report


@dataclass
class MintBurnCheck:
    market_id: str
    ok: bool
    checks: list[tuple[str, bool, str]]  # (name, ok, detail)


def mintburn_report(connector: PlatformClient, *, market_id: str) -> MintBurnCheck:
    """seed §8.4 over the whole history: every privileged mint/burn moved the AMM's cash and
    the reserve by exactly 100 per pair in opposite directions (ledger), and the market's
    custody holds (reserve = 100 × shares, YES shares = NO shares, via the API)."""
    checks: list[tuple[str, bool, str]] = []
    market = connector.market_get(market_id)
    checks.append(("YES shares = NO shares", market.total_yes_shares == market.total_no_shares,
                   f"{market.total_yes_shares} / {market.total_no_shares}"))
    checks.append(("reserve = 100 × shares", market.reserve_balance == 100 * market.total_yes_shares,
                   f"{market.reserve_balance} vs {100 * market.total_yes_shares}"))
    if amm_settings.AMM_AUDIT_LEDGER_SQL:
        sql = (f"SELECT reference_type, reference_id, entry_type, user_id, amount FROM {LEDGER_TABLE} "
               "WHERE market_id = %s AND reference_type IN ('AMM_MINT', 'AMM_BURN') ORDER BY id")
        with connections[amm_settings.AMM_AUDIT_DATABASE].cursor() as cursor:
            cursor.execute(sql, [market_id])
            rows = cursor.fetchall()
        ops: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for ref_type, ref_id, entry_type, user_id, amount in rows:
            who = "own" if user_id == AMM_USER_ID else "reserve"
            ops[(ref_type, ref_id)][f"{who}:{entry_type}"] += int(amount)
        bad = []
        for (ref_type, ref_id), flows in ops.items():
            if ref_type == "AMM_MINT":
                paid, reserved = -flows.get("own:MINT_COST", 0), flows.get("reserve:MINT_RESERVE_IN", 0)
            else:
                paid, reserved = flows.get("own:BURN_REVENUE", 0), -flows.get("reserve:BURN_RESERVE_OUT", 0)
            if paid != reserved or paid <= 0 or paid % 100:
                bad.append(f"{ref_type} {ref_id}: amm {paid} reserve {reserved}")
        mints = sum(1 for (ref, _) in ops if ref == "AMM_MINT")
        burns = len(ops) - mints
        checks.append((f"ledger pairs of {mints} mints / {burns} burns", not bad, "; ".join(bad) or "all 100/pair"))
    else:
        checks.append(("ledger pairs", True, "skipped (AMM_AUDIT_LEDGER_SQL=false)"))
    return MintBurnCheck(market_id=market_id, ok=all(ok for _, ok, _ in checks), checks=checks)


def amm_mint_verified(
    connector: PlatformClient, *, market_id: str, quantity: int, request_id: str, kind: str = "MINT"
):
    """Mint (or burn) and verify seed §8.4 at once: the AMM's YES and NO volume, the market's
    reserve and share totals each moved by exactly the quantity (×100 for the reserve).
    Raises the mint's own errors; an inconsistency is alerted (MINT_BURN_INCONSISTENT) and
    returned as (result, False). Only meaningful while no fill of the AMM lands meanwhile."""
    before_pos, before_mkt = connector.position_get(market_id), connector.market_get(market_id)
    call = connector.amm_mint if kind == "MINT" else connector.amm_burn
    result = call(market_id=market_id, quantity=quantity, request_id=request_id)
    after_pos, after_mkt = connector.position_get(market_id), connector.market_get(market_id)
    sign = 1 if kind == "MINT" else -1
    deltas = {
        "yes_delta_ok": after_pos.yes_volume - before_pos.yes_volume == sign * quantity,
        "no_delta_ok": after_pos.no_volume - before_pos.no_volume == sign * quantity,
        "reserve_delta_ok": after_mkt.reserve_balance - before_mkt.reserve_balance == sign * 100 * quantity,
        "shares_delta_ok": after_mkt.total_yes_shares - before_mkt.total_yes_shares == sign * quantity,
    }
    ok = all(deltas.values())
    if not ok:
        alert_raise(type=AlertType.MINT_BURN_INCONSISTENT, severity=AlertSeverity.CRITICAL, market_id=market_id,
                    payload={"kind": kind, "quantity": quantity, "request_id": request_id, **deltas,
                             "at_ms": now_ms()})
    return result, ok


__all__ = ["ConnectorError", "amm_mint_verified", "amm_trades", "daily_report", "daily_stats", "day_bounds",
           "ledger_flows", "mintburn_report", "pnl_report"]
