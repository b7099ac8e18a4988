"""Auto-reinvest (mint pairs from idle cash) and wind-down (cancel, burn pairs) decisions
(SPEC §5 WINDING_DOWN, §6 "Auto-reinvest mints pairs from idle cash within the budget").

Mint policy: the AMM prefers to back its quotes with shares (SELL YES asks, SELL NO bids).
When the smaller of sellable YES / sellable NO is below one full ladder side
(order_levels × level size), mint the difference, paying 100 cents per pair only from cash
the current ladder does not need, so the mint and the replace are safe in either order:

    pairs = min(target − min(yes_sellable, no_sellable),
                (min(cash_cents, free cash − ladder cash)) // 100,
                (free budget − ladder cash) // 100,
                position_limit − max(yes_volume, no_volume))

and only when `auto_reinvest` is on, the market is quoted, and the defense level is NORMAL or
WIDEN (never add inventory in ONE_SIDE or KILL_SWITCH).

Wind-down (market RESOLVED, lifecycle WINDING_DOWN): cancel every live order, then burn
min(YES, NO) pairs that are free once those cancels release their shares; done when no order
is live and no pair is left to burn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from amm.enums import DefenseLevel, Direction, Side
from amm.strategy.config import StrategyConfig
from amm.strategy.ladder import Capacity
from amm.strategy.types import PAIR_VALUE_CENTS, Inventory, LiveOrder

MINT_ALLOWED_LEVELS = frozenset({DefenseLevel.NORMAL, DefenseLevel.WIDEN})


def mint_pairs(
    *,
    inventory: Inventory,
    capacity: Capacity,
    ladder_cash_cents: int,
    target_per_side: int,
    defense_level: DefenseLevel,
    quoting: bool,
    config: StrategyConfig,
) -> int:
    """How many YES/NO pairs to mint now (module docstring); 0 when none."""
    if not config.auto_reinvest or not quoting or defense_level not in MINT_ALLOWED_LEVELS:
        return 0
    deficit = target_per_side - min(capacity.yes_sellable, capacity.no_sellable)
    if deficit <= 0:
        return 0
    cash = min(inventory.cash_cents, capacity.cash_free - ladder_cash_cents)
    budget = capacity.budget_free - ladder_cash_cents
    room = config.position_limit - max(inventory.yes_volume, inventory.no_volume)
    return max(0, min(deficit, cash // PAIR_VALUE_CENTS, budget // PAIR_VALUE_CENTS, room))


@dataclass(frozen=True, slots=True)
class WindDown:
    """What to do this cycle while winding down: cancel these orders, then burn these pairs."""

    cancel_order_ids: tuple[str, ...]
    burn_pairs: int
    complete: bool


def wind_down(inventory: Inventory, live_orders: Iterable[LiveOrder]) -> WindDown:
    orders: Sequence[LiveOrder] = tuple(live_orders)
    yes = inventory.yes_available + sum(o.remaining for o in orders if o.direction is Direction.SELL and o.side is Side.YES)
    no = inventory.no_available + sum(o.remaining for o in orders if o.direction is Direction.SELL and o.side is Side.NO)
    # Never burn more than is held, whatever the available counters say.
    pairs = max(0, min(yes, no, inventory.yes_volume, inventory.no_volume))
    cancels = tuple(sorted(o.order_id for o in orders))
    return WindDown(cancel_order_ids=cancels, burn_pairs=pairs, complete=not cancels and pairs == 0)
