"""AMM selectors (reads) for the runtime, the admin, the monitoring API and the commands."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Iterable

from django.db import connection
from django.db.models import QuerySet

from amm import state
from amm.enums import BookType, Side
from amm.exceptions import InstanceNotFound
from amm.models import (
    Alert,
    AMMInstance,
    AMMOrder,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    MarketConfig,
    PhaseTransition,
    ReconciliationRun,
)
from amm.state import InventoryView, OrderEntry
from amm.strategy.config import StrategyConfig
from amm.strategy.types import yes_view_price


def instance_get(*, market_id: str) -> AMMInstance:
    return AMMInstance.objects.get(market_id=market_id)


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What a quote cycle reads of its instance (the durable source of its lifecycle)."""

    market_id: str
    lifecycle_state: str
    phase: str
    defense_level: str
    kill_switch: str
    phase_changed_at_ms: int
    version: str = ""  # the row's version (`instance_version_of` its updated_at)
    config_version: int | None = None  # its MarketConfig's version (None: no config)


_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def instance_version_of(updated_at: datetime) -> str:
    """The row's version as `amm:runtime:{m}` mirrors it: its `updated_at` in µs (every save
    sets it: auto_now), exact (no float)."""
    return str((updated_at - _EPOCH) // timedelta(microseconds=1))


_INSTANCE_VIEW_SQL = ("SELECT i.market_id, i.lifecycle_state, i.phase, i.defense_level, i.kill_switch, "
                      "i.phase_changed_at_ms, i.updated_at, c.version "
                      f"FROM {AMMInstance._meta.db_table} i LEFT JOIN {MarketConfig._meta.db_table} c "
                      "ON c.instance_id = i.id WHERE i.market_id = %s")


def instance_views(*, market_ids: list[str]) -> dict[str, InstanceView]:
    """`instance_view` of many markets in one statement (a batch of periodic cycles)."""
    if not market_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_INSTANCE_VIEW_SQL.replace("WHERE i.market_id = %s", "WHERE i.market_id = ANY(%s)"),
                       [list(market_ids)])
        rows = cursor.fetchall()
    views = {}
    for row in rows:
        *head, updated_at, config_version = row
        views[head[0]] = InstanceView(*head, version=instance_version_of(updated_at), config_version=config_version)
    return views


def instance_view(*, market_id: str) -> InstanceView | None:
    """One plain SQL statement (the ORM costs more than the query): the cycle's read of its
    instance, with the row's version and its config's (amm/runtime/instance_cache.py)."""
    with connection.cursor() as cursor:
        cursor.execute(_INSTANCE_VIEW_SQL, [market_id])
        row = cursor.fetchone()
    if not row:
        return None
    *head, updated_at, config_version = row
    return InstanceView(*head, version=instance_version_of(updated_at), config_version=config_version)


def instances_list(*, lifecycle_state: str | None = None) -> QuerySet[AMMInstance]:
    qs = AMMInstance.objects.select_related("config").order_by("market_id")
    return qs.filter(lifecycle_state=lifecycle_state) if lifecycle_state else qs


def config_get(*, market_id: str) -> StrategyConfig:
    """The durable config of a market as the strategy's StrategyConfig."""
    return MarketConfig.objects.get(instance__market_id=market_id).as_strategy_config()


def phase_history(*, market_id: str) -> QuerySet[PhaseTransition]:
    return PhaseTransition.objects.filter(market_id=market_id)


def defense_history(*, market_id: str) -> QuerySet[DefenseLevelChange]:
    return DefenseLevelChange.objects.filter(market_id=market_id)


def lifecycle_history(*, market_id: str) -> QuerySet[LifecycleChange]:
    return LifecycleChange.objects.filter(market_id=market_id)


def kill_switch_history(*, market_id: str) -> QuerySet[KillSwitchChange]:
    return KillSwitchChange.objects.filter(market_id=market_id)


OPERATOR_STOP_PREFIX = "operator stop: "  # the LifecycleChange reason of amm.runtime.operator.stop


def emergency_cause_recorded(*, market_id: str) -> str:
    """Why the market last entered EMERGENCY, from its lifecycle history: SUSPENDED, HALTED
    (the market's status), KILL_SWITCH (the operator's or the defense stack's switch) or
    OPERATOR (anything else). Redis keeps the live cause; this is the durable one."""
    change = (LifecycleChange.objects.filter(market_id=market_id, to_state="EMERGENCY")
              .order_by("-timestamp_ms", "-id").first())
    reason = (change.reason if change else "").upper()
    for cause in ("SUSPENDED", "HALTED"):
        if reason == f"MARKET {cause}":
            return cause
    return "KILL_SWITCH" if "KILL" in reason else "OPERATOR"


def stopped_by_operator(*, market_id: str) -> bool:
    """Did an operator's `stop` (not a run_amm shutdown, a wind-down or a failed start) put
    the market in STOPPED last? run_amm then leaves it stopped until an operator starts it."""
    change = (LifecycleChange.objects.filter(market_id=market_id, to_state="STOPPED")
              .order_by("-timestamp_ms", "-id").first())
    return bool(change and change.reason.startswith(OPERATOR_STOP_PREFIX))


def alerts_list(*, market_id: str | None = None) -> QuerySet[Alert]:
    """Alerts newest first, open or acknowledged: every market's, or one market's."""
    qs = Alert.objects.all()
    return qs.filter(market_id=market_id) if market_id else qs


def alerts_open(*, market_id: str | None = None) -> QuerySet[Alert]:
    qs = Alert.objects.filter(acknowledged=False)
    return qs.filter(market_id=market_id) if market_id else qs


def reconciliation_runs(*, market_id: str | None = None) -> QuerySet[ReconciliationRun]:
    qs = ReconciliationRun.objects.all()
    return qs.filter(market_id=market_id) if market_id else qs


def order_history(*, market_id: str | None = None, state_in: list[str] | None = None) -> QuerySet[AMMOrder]:
    """The AMM's orders as flushed from the journal (audit; lags the journal by one flush)."""
    qs = AMMOrder.objects.all()
    if market_id:
        qs = qs.filter(market_id=market_id)
    if state_in:
        qs = qs.filter(state__in=state_in)
    return qs


# --- live figures from Redis (SPEC §4, §9): one pipelined round trip for any number of markets ---
BID_BOOK_TYPES = frozenset({BookType.NATIVE_BUY.value, BookType.SYNTHETIC_BUY.value})  # YES-view bids


@dataclass(frozen=True, slots=True)
class Quote:
    """One of the AMM's own quotes, YES-view (a NO order at q shows at 100 − q)."""

    price_cents: int
    quantity: int


@dataclass(frozen=True, slots=True)
class LiveOrder:
    order_id: str
    quote: str  # "bid" | "ask", YES-view
    yes_price_cents: int
    side: str
    direction: str
    book_type: str
    price: int  # own-side price, as in amm:orders
    qty: int
    remaining: int
    created_ms: int


def best_quotes(orders: Iterable[OrderEntry]) -> tuple[Quote | None, Quote | None]:
    """The AMM's own best bid and best ask, YES-view, with the remaining size at that price."""
    bid: Quote | None = None
    ask: Quote | None = None
    for order in orders:
        price = yes_view_price(Side(order.side), order.price)
        if order.book_type in BID_BOOK_TYPES:
            if bid is None or price > bid.price_cents:
                bid = Quote(price, order.remaining)
            elif price == bid.price_cents:
                bid = Quote(price, bid.quantity + order.remaining)
        elif ask is None or price < ask.price_cents:
            ask = Quote(price, order.remaining)
        elif price == ask.price_cents:
            ask = Quote(price, ask.quantity + order.remaining)
    return bid, ask


@dataclass(frozen=True)
class MarketLive:
    """A market's Redis working state as operators read it: the figures at a glance (fair
    price, own best quotes, skew, PnL today) and the inventory, live orders and state
    behind them. `synced` is False for a market never synced (no `amm:inventory`)."""

    market_id: str
    synced: bool
    inventory: InventoryView
    orders: list[LiveOrder]
    state: dict[str, Any]
    config_version: int | None
    oracle: dict[str, Any] | None
    market: dict[str, Any] | None
    best_bid: Quote | None
    best_ask: Quote | None

    @property
    def fair_price_cents(self) -> int | None:
        return self.state.get("fair_price_cents")

    @property
    def inventory_skew(self) -> float | None:
        return self.state.get("inventory_skew")

    @property
    def daily_pnl_cents(self) -> int | None:
        return self.state.get("daily_pnl_cents")

    @property
    def market_status(self) -> str | None:
        return (self.market or {}).get("status")

    def as_dict(self) -> dict[str, Any]:
        return {
            "inventory": self.inventory.as_dict() if self.synced else None,
            "orders": [asdict(order) for order in self.orders],
            "state": self.state,
            "config_version": self.config_version,
            "oracle": self.oracle,
            "market": self.market,
            "fair_price_cents": self.fair_price_cents,
            "best_bid": asdict(self.best_bid) if self.best_bid else None,
            "best_ask": asdict(self.best_ask) if self.best_ask else None,
            "inventory_skew": self.inventory_skew,
            "daily_pnl_cents": self.daily_pnl_cents,
        }


def _live_order(order: OrderEntry) -> LiveOrder:
    return LiveOrder(
        order_id=order.order_id, quote="bid" if order.book_type in BID_BOOK_TYPES else "ask",
        yes_price_cents=yes_view_price(Side(order.side), order.price), side=order.side,
        direction=order.direction, book_type=order.book_type, price=order.price, qty=order.qty,
        remaining=order.remaining, created_ms=order.created_ms,
    )


def _market_live(read: state.QuoteCycleRead) -> MarketLive:
    orders = sorted((_live_order(o) for o in read.orders.values()),
                    key=lambda o: (o.quote != "ask", -o.yes_price_cents if o.quote == "bid" else o.yes_price_cents))
    bid, ask = best_quotes(read.orders.values())
    return MarketLive(
        market_id=read.market_id, synced=read.inventory.exists, inventory=read.inventory, orders=orders,
        state=read.state, config_version=read.config_version, oracle=read.oracle, market=read.market,
        best_bid=bid, best_ask=ask,
    )


def markets_live(*, market_ids: Iterable[str]) -> dict[str, MarketLive]:
    """The live figures of many markets (an admin page, the monitoring API): ONE pipelined
    Redis round trip whatever their number (each market's keys read together)."""
    return {m: _market_live(read) for m, read in state.quote_cycle_read_many(market_ids).items()}


def market_live_view(*, market_id: str) -> dict:
    """Redis working state of one market (for the admin / monitoring): one round trip."""
    return markets_live(market_ids=[market_id])[market_id].as_dict()


# --- monitoring (the API, the admin) -----------------------------------------------------------
def instance_detail(*, market_id: str) -> AMMInstance:
    """An instance with its durable config (InstanceNotFound for an unknown market)."""
    instance = AMMInstance.objects.select_related("config").filter(market_id=market_id).first()
    if instance is None:
        raise InstanceNotFound(f"no AMM instance for market {market_id!r}")
    return instance


def instance_require(*, market_id: str) -> None:
    """InstanceNotFound unless the market has an AMM instance (histories of unknown markets)."""
    if not AMMInstance.objects.filter(market_id=market_id).exists():
        raise InstanceNotFound(f"no AMM instance for market {market_id!r}")


def _best(level: dict[str, int] | None) -> dict[str, int] | None:
    return None if level is None else {"price_cents": level["price"], "quantity": level["qty"]}


def _live_view(live: dict[str, Any], read_at_ms: int) -> dict[str, Any]:
    st, runtime = live["state"], live["runtime"]
    orders = [{**order, "yes_price_cents": yes_view_price(Side(order["side"]), int(order["price"]))}
              for order in live["orders"]]
    last_requote = int(st.get("last_requote_ms") or 0)
    return {
        "synced": live["inventory"] is not None,
        "inventory": live["inventory"],
        "orders": orders,
        "open_orders": len(orders),
        "best_bid": _best(live["best_bid"]),
        "best_ask": _best(live["best_ask"]),
        "phase": st.get("phase") or None,
        "defense_level": st.get("defense_level") or None,
        "kill_switch": st.get("kill_switch") or None,
        "fair_price_cents": st.get("fair_price_cents"),
        "sigma_cents": st.get("sigma_cents"),
        "inventory_skew": st.get("inventory_skew"),
        "daily_pnl_cents": int(st.get("daily_pnl_cents") or 0),
        "total_fills_today": int(st.get("total_fills_today") or 0),
        "last_requote_ms": last_requote or None,
        "last_requote_age_ms": read_at_ms - last_requote if last_requote else None,
        "lvr_cooldown_until": st.get("lvr_cooldown_until") or None,
        "config_version": live["config_version"],
        "market_status": (live["market"] or {}).get("status") or None,
        "oracle": live["oracle"],
        "emergency_cause": runtime.get("emergency_cause") or None,
        "last_outcome": runtime.get("last_outcome") or None,
        "cycles": int(runtime.get("cycles") or 0),
        "read_at_ms": read_at_ms,
    }


def markets_live_view(*, market_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The Redis working state of many markets as plain values (inventory, live orders with
    their YES-view prices, best quotes, fair price, PnL and fills today, last requote and its
    age, config version, market status, runtime flags): one Redis round trip for them all."""
    lives = state.markets_live_read(list(dict.fromkeys(market_ids)))
    read_at_ms = state.now_ms()
    return {market_id: _live_view(live, read_at_ms) for market_id, live in lives.items()}
