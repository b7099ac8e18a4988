"""One readable line per market (SPEC §3.7 amm_status, run_amm's live status): lifecycle,
phase, defense, kill switch, fair price, the AMM's best quotes, inventory, PnL, last
requote age. Reads Redis and the database only."""
from __future__ import annotations

from amm import state
from amm.models import AMMInstance
from amm.selectors import best_quotes


def _best(orders) -> tuple[str, str]:
    fmt = lambda quote: f"{quote.price_cents}x{quote.quantity}" if quote else "-"  # noqa: E731
    bid, ask = best_quotes(orders.values())
    return fmt(bid), fmt(ask)


def status_line(market_id: str, *, instance=None, now_ms: int | None = None,
                read: state.QuoteCycleRead | None = None) -> str:
    now_ms = now_ms if now_ms is not None else state.now_ms()
    instance = instance or AMMInstance.objects.filter(market_id=market_id).first()
    read = read or state.quote_cycle_read(market_id)
    st = read.state or {}
    inv = read.inventory
    bid, ask = _best(read.orders)
    last = int(st.get("last_requote_ms") or 0)
    age = f"{(now_ms - last) / 1000:.1f}s ago" if last else "never"
    lifecycle = instance.lifecycle_state if instance else "NO-INSTANCE"
    phase = st.get("phase") or (instance.phase if instance else "-")
    defense = st.get("defense_level") or (instance.defense_level if instance else "-")
    kill = instance.kill_switch if instance else (st.get("kill_switch") or "-")
    market_status = (read.market or {}).get("status") or "?"
    return (f"{market_id:<20} {lifecycle:<12} {phase:<13} {defense:<11} kill={kill:<3} mkt={market_status:<9} "
            f"fair={st.get('fair_price_cents', '-')!s:>3} bid={bid:<8} ask={ask:<8} orders={len(read.orders):<2} "
            f"YES={inv.yes_volume} NO={inv.no_volume} cash={inv.cash_cents} "
            f"pnl={st.get('daily_pnl_cents', 0)} fills={st.get('total_fills_today', 0)} requote {age}")


INSTANCE_FIELDS = ("market_id", "lifecycle_state", "phase", "defense_level", "kill_switch")  # what a line shows
SUMMARY_FIELDS = ["total_fills_today", "daily_pnl_cents", "last_requote_ms", "defense_level"]


def status_lines(market_ids: list[str] | None = None, *, max_lines: int | None = None) -> list[str]:
    """One line per market; with more markets than `max_lines`, a summary line and then only
    the markets that want attention (not RUNNING, kill switch on, defense up, requote late)."""
    rows = AMMInstance.objects.order_by("market_id").only(*INSTANCE_FIELDS)
    if market_ids:
        rows = rows.filter(market_id__in=market_ids)
    instances = {i.market_id: i for i in rows}
    ids = market_ids or sorted(instances)
    now = state.now_ms()
    if max_lines is None or len(ids) <= max_lines:
        reads = state.quote_cycle_read_many(ids)
        return [status_line(m, instance=instances.get(m), now_ms=now, read=reads[m]) for m in ids]
    # The summary needs four fields of each market, not its whole read (at 600 markets, every
    # few seconds, the whole read cost run_amm about a tenth of its CPU): those are read for
    # the lines shown.
    states = state.state_fields_many(ids, SUMMARY_FIELDS)
    lifecycles: dict[str, int] = {}
    attention, fills, pnl, oldest = [], 0, 0, 0
    for m in ids:
        instance, st = instances.get(m), states[m]
        lifecycle = instance.lifecycle_state if instance else "NO-INSTANCE"
        lifecycles[lifecycle] = lifecycles.get(lifecycle, 0) + 1
        fills += int(st.get("total_fills_today") or 0)
        pnl += int(st.get("daily_pnl_cents") or 0)
        age = now - int(st.get("last_requote_ms") or now)
        oldest = max(oldest, age)
        if (lifecycle != "RUNNING" or (instance and instance.kill_switch == "ON")
                or (st.get("defense_level") or "NORMAL") != "NORMAL" or age > LATE_MS):
            attention.append(m)
    summary = (f"{len(ids)} markets: " + ", ".join(f"{n} {lc}" for lc, n in sorted(lifecycles.items()))
               + f"; fills today {fills}, pnl today {pnl}; oldest requote {oldest / 1000:.1f}s ago; "
               f"{len(attention)} want attention")
    shown = attention[:max_lines]
    more = [f"... and {len(attention) - len(shown)} more"] if len(attention) > len(shown) else []
    reads = state.quote_cycle_read_many(shown)
    return [summary, *(status_line(m, instance=instances.get(m), now_ms=now, read=reads[m]) for m in shown), *more]


LATE_MS = 5_000  # a requote older than this wants attention
