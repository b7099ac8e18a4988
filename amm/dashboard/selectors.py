"""What the dashboard shows: one row per AMM market, attention first, and a summary.

Two SQL queries (the instances; open alerts counted per market and severity) and one Redis
round trip (amm.state.markets_dashboard_read) whatever the number of markets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from amm import state
from amm.conf import amm_settings
from amm.enums import AMMLifecycleState as L
from amm.enums import DefenseLevel as D
from amm.enums import KillSwitchState as KS
from amm.models import Alert, AMMInstance
from amm.models.alerts import AlertSeverity
from amm.runtime.history_sampler import sample_interval_s, window_s

HISTORY_POINTS = 120  # the first answer's points per market (a chart is ~300 px wide): 30 s apart over an hour
SKEW_WATCH = 0.6  # |skew| worth watching: defense widens at 0.80 (SPEC §5), this comes before it

# Attention ranks, most urgent first: a row sorts by its most urgent flag (SPEC §5 kill switch
# and defense levels, open CRITICAL alerts, then a loop that stopped requoting, then drift).
RANK_KILL_SWITCH = 0
RANK_EMERGENCY = 1
RANK_DEFENSE_KILL = 2
RANK_CRITICAL_ALERT = 3
RANK_ONE_SIDE = 4
RANK_WIDEN = 5
RANK_STALE = 6  # not requoted lately, never quoted, no Redis state, re-sync pending, rate-limited
RANK_SKEW = 7
RANK_WARNING_ALERT = 8
RANK_OK = 9
RANK_IDLE = 10  # STOPPED: nothing to watch

LEVELS = ((RANK_CRITICAL_ALERT, "critical"), (RANK_STALE, "warning"), (RANK_WARNING_ALERT, "watch"),
          (RANK_OK, "ok"), (RANK_IDLE, "idle"))


@dataclass(frozen=True, slots=True)
class Flag:
    code: str
    label: str  # a short badge
    rank: int
    detail: str = ""  # the longer story (a tooltip)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "rank": self.rank, "detail": self.detail}


def level_of(rank: int) -> str:
    return next(name for upto, name in LEVELS if rank <= upto)


def attention_flags(row: dict[str, Any], *, stale_ms: int) -> list[Flag]:
    """Why a market wants an operator's eyes, most urgent first (empty: nothing)."""
    flags: list[Flag] = []
    lifecycle = row["lifecycle"]
    if row["kill_switch"] == KS.ON.value:
        flags.append(Flag("kill_switch", "KILL SWITCH", RANK_KILL_SWITCH, row.get("kill_switch_reason") or ""))
    if lifecycle == L.EMERGENCY.value:
        cause = row.get("emergency_cause") or ""
        flags.append(Flag("emergency", "EMERGENCY", RANK_EMERGENCY, f"emergency: {cause}" if cause else ""))
    if row["defense"] == D.KILL_SWITCH.value:
        flags.append(Flag("defense_kill", "DEFENSE KILL", RANK_DEFENSE_KILL, "defense level KILL_SWITCH"))
    if row["alerts_critical"]:
        flags.append(Flag("critical_alerts", f"{row['alerts_critical']} CRITICAL", RANK_CRITICAL_ALERT,
                          "open CRITICAL alerts"))
    if row["defense"] == D.ONE_SIDE.value:
        flags.append(Flag("one_side", "ONE SIDE", RANK_ONE_SIDE, "defense level ONE_SIDE: quoting one side"))
    elif row["defense"] == D.WIDEN.value:
        flags.append(Flag("widen", "WIDEN", RANK_WIDEN, "defense level WIDEN: spread widened"))
    driven = lifecycle in (L.RUNNING.value, L.EMERGENCY.value, L.WINDING_DOWN.value)
    if driven and not row["has_state"]:
        flags.append(Flag("no_state", "NO STATE", RANK_STALE, "Redis keeps no inventory for this market"))
    elif lifecycle == L.RUNNING.value:
        age = row["requote_age_ms"]
        if age is None:
            flags.append(Flag("stale", "NOT QUOTED", RANK_STALE, "RUNNING and never requoted"))
        elif age > stale_ms:
            flags.append(Flag("stale", f"STALE {age // 1000}s", RANK_STALE, f"last requote {age // 1000} s ago"))
    if row["resync"]:
        flags.append(Flag("resync", "RESYNC", RANK_STALE, "a re-sync from the platform is pending"))
    if row["rate_limited"]:
        flags.append(Flag("rate_limited", "RATE LIMITED", RANK_STALE, "the platform rate-limited the AMM"))
    if row["skew"] is not None and abs(row["skew"]) >= SKEW_WATCH:
        flags.append(Flag("skew", f"SKEW {row['skew']:+.2f}", RANK_SKEW, f"|skew| ≥ {SKEW_WATCH}"))
    if row["alerts_warning"]:
        flags.append(Flag("warning_alerts", f"{row['alerts_warning']} WARNING", RANK_WARNING_ALERT,
                          "open WARNING alerts"))
    flags.sort(key=lambda f: f.rank)
    return flags


def attention_key(row: dict[str, Any]) -> tuple:
    """Sort key: most urgent flag, then the larger |skew|, then the larger loss, then the id."""
    return (row["rank"], -abs(row["skew"] or 0.0), row["pnl_cents"] or 0, row["market_id"])


def _alert_counts() -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Open (unacknowledged) alerts per market and severity, and their totals: one query."""
    per_market: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    rows = (Alert.objects.filter(acknowledged=False).order_by().values("market_id", "severity")
            .annotate(n=Count("id")))
    for row in rows:
        per_market.setdefault(row["market_id"], {})[row["severity"]] = row["n"]
        totals[row["severity"]] = totals.get(row["severity"], 0) + row["n"]
    return per_market, totals


def market_row(instance: dict[str, Any], live: dict[str, Any], alerts: dict[str, int], *, now_ms: int,
               stale_ms: int, sample_s: int) -> dict[str, Any]:
    """One market's figures (cents, shares) and its attention flags."""
    st = live["state"]
    inv = live["inventory"] or {}
    runtime = live["runtime"]
    bid, ask = live["best_bid"], live["best_ask"]
    last_requote = int(st.get("last_requote_ms") or 0)
    defense = instance["defense_level"]
    if defense != D.KILL_SWITCH.value:  # the cycle's live level (the database records changes)
        defense = st.get("defense_level") or defense
    skew = st.get("inventory_skew")
    row = {
        "id": instance["id"],
        "market_id": instance["market_id"],
        "lifecycle": instance["lifecycle_state"],
        "phase": st.get("phase") or instance["phase"],
        "defense": defense,
        "kill_switch": instance["kill_switch"],
        "kill_switch_reason": instance["kill_switch_reason"],
        "market_status": (live["market"] or {}).get("status"),
        "has_state": live["inventory"] is not None,
        "fair": st.get("fair_price_cents"),
        "sigma": st.get("sigma_cents"),
        "bid": bid["price"] if bid else None,
        "bid_qty": bid["qty"] if bid else None,
        "ask": ask["price"] if ask else None,
        "ask_qty": ask["qty"] if ask else None,
        "orders": len(live["orders"]),
        "yes": inv.get("yes_volume", 0),
        "no": inv.get("no_volume", 0),
        "yes_available": inv.get("yes_available", 0),
        "no_available": inv.get("no_available", 0),
        "cash_cents": inv.get("cash_cents"),
        "skew": None if skew is None else round(float(skew), 4),
        "pnl_cents": st.get("daily_pnl_cents"),
        "fills_today": st.get("total_fills_today") or 0,
        "budget_cents": instance["config__budget_limit_cents"],
        "last_requote_ms": last_requote or None,
        "requote_age_ms": now_ms - last_requote if last_requote else None,
        "last_outcome": runtime.get("last_outcome"),
        "emergency_cause": runtime.get("emergency_cause"),
        "resync": bool(runtime.get("resync") or runtime.get("resync_full")),
        "rate_limited": int(runtime.get("retry_after_ms") or 0) > now_ms,
        "alerts_critical": alerts.get(AlertSeverity.CRITICAL.value, 0),
        "alerts_warning": alerts.get(AlertSeverity.WARNING.value, 0),
        "history": {"step_s": sample_s * live["history_step"], **live["history"]},  # columns: t, fair, bid, ...
    }
    flags = attention_flags(row, stale_ms=stale_ms)
    idle = row["lifecycle"] == L.STOPPED.value
    row["rank"] = flags[0].rank if flags else (RANK_IDLE if idle else RANK_OK)
    row["level"] = level_of(row["rank"])
    row["flags"] = [f.as_dict() for f in flags]
    return row


_INSTANCE_FIELDS = ("id", "market_id", "lifecycle_state", "phase", "defense_level", "kill_switch",
                    "kill_switch_reason", "config__budget_limit_cents")


def dashboard_data(*, history_since_s: int | None = None, history_points: int | None = None,
                   now_ms: int | None = None) -> dict[str, Any]:
    """Every AMM market's row (attention first) with its history (samples after
    `history_since_s`, the whole window when None; at most `history_points` of them per
    market when given), a summary and the loop's heartbeat."""
    now_ms = state.now_ms() if now_ms is None else now_ms
    stale_ms = amm_settings.AMM_DASHBOARD_STALE_MS
    sample_s = sample_interval_s()
    instances = list(AMMInstance.objects.order_by("market_id").values(*_INSTANCE_FIELDS))
    alerts, alert_totals = _alert_counts()
    ids = [i["market_id"] for i in instances]
    live, run = state.markets_dashboard_read(ids, history_since_s=history_since_s, history_points=history_points,
                                             now_ms=now_ms, sample_s=sample_s)
    rows = [market_row(i, live[i["market_id"]], alerts.get(i["market_id"], {}), now_ms=now_ms, stale_ms=stale_ms,
                       sample_s=sample_s) for i in instances]
    rows.sort(key=attention_key)
    return {
        "now_ms": now_ms,
        "sample_s": sample_s,
        "window_s": window_s(),
        "stale_ms": stale_ms,
        "summary": _summary(rows, alert_totals, run, now_ms=now_ms),
        "markets": rows,
    }


def _summary(rows: list[dict[str, Any]], alert_totals: dict[str, int], run: dict[str, Any], *,
             now_ms: int) -> dict[str, Any]:
    lifecycles: dict[str, int] = {}
    levels: dict[str, int] = {}
    for row in rows:
        lifecycles[row["lifecycle"]] = lifecycles.get(row["lifecycle"], 0) + 1
        levels[row["level"]] = levels.get(row["level"], 0) + 1
    scheduler_ms = int(run.get("scheduler_ms") or 0)
    return {
        "markets": len(rows),
        "lifecycles": lifecycles,
        "levels": levels,
        "attention": sum(levels.get(name, 0) for name in ("critical", "warning")),
        "pnl_cents": sum(r["pnl_cents"] or 0 for r in rows),
        "fills_today": sum(r["fills_today"] for r in rows),
        "orders": sum(r["orders"] for r in rows),
        "alerts_critical": alert_totals.get(AlertSeverity.CRITICAL.value, 0),
        "alerts_warning": alert_totals.get(AlertSeverity.WARNING.value, 0),
        "scheduler_age_ms": now_ms - scheduler_ms if scheduler_ms else None,  # run_amm's heartbeat
    }
