"""Market creation and lifecycle (SPEC §3.4): django-fsm transitions plus their side effects.

On SUSPENDED / HALTED / RESOLVED / VOIDED every open order is cancelled (a passive cancel
the AMM must notice); SETTLED pays 100 cents per winning share; VOIDED refunds at cost.
"""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django_fsm import can_proceed

from exchange.enums import MarketStatus, Outcome
from exchange.events.bodies import market_body
from exchange.events.outbox import MARKET_EVENTS, outbox_write
from exchange.exceptions import InvalidInput, NotFound, WrongState
from exchange.models import Market, MarketEvent, Order, Position
from exchange.services.clearing import Clearing
from exchange.signals import market_status_changed

CANCELS_ORDERS = {MarketStatus.SUSPENDED, MarketStatus.HALTED, MarketStatus.RESOLVED, MarketStatus.VOIDED}


def market_create(
    *,
    market_id: str,
    title: str,
    maker_fee_bps: int = 0,
    taker_fee_bps: int = 0,
    min_price_cents: int = 1,
    max_price_cents: int = 99,
    trading_end_at: dt.datetime | None = None,
    resolution_date: dt.datetime | None = None,
) -> Market:
    if not market_id or len(market_id) > 64 or not all(c.isalnum() or c in "-_." for c in market_id):
        raise InvalidInput("market id must be 1-64 letters, digits, '-', '_' or '.'", field="market_id")
    for name, value in (("maker_fee_bps", maker_fee_bps), ("taker_fee_bps", taker_fee_bps)):
        if not 0 <= value <= 1000:
            raise InvalidInput(f"{name} must be from 0 to 1000", field=name)
    if not 1 <= min_price_cents <= max_price_cents <= 99:
        raise InvalidInput("price band must satisfy 1 <= min <= max <= 99", field="min_price_cents")
    if Market.objects.filter(pk=market_id).exists():
        raise WrongState(f"market {market_id} already exists", code="MARKET_EXISTS", field="market_id")
    with transaction.atomic():
        market = Market.objects.create(
            id=market_id, title=title, maker_fee_bps=maker_fee_bps, taker_fee_bps=taker_fee_bps,
            min_price_cents=min_price_cents, max_price_cents=max_price_cents,
            trading_end_at=trading_end_at, resolution_date=resolution_date,
        )
        outbox_write([(MARKET_EVENTS, market.id, 0, market_body(market))])
    return market


def market_set_status(*, market_id: str, status: str, outcome: str | None = None, actor: str = "system") -> Market:
    """Move a market through its state machine; illegal moves raise WrongState and change nothing."""
    if status not in MarketStatus.values:
        raise InvalidInput(f"status must be one of {MarketStatus.values}", field="status")
    if status == MarketStatus.RESOLVED and outcome not in Outcome.values:
        raise InvalidInput("RESOLVED needs an outcome of YES or NO", field="outcome")
    with transaction.atomic():
        clearing = Clearing(market_id)
        market = clearing.market
        source = market.status
        transition = _transition_for(market, status)
        if transition is None or not can_proceed(transition):
            raise WrongState(f"market {market_id} cannot go from {source} to {status}", code="ILLEGAL_TRANSITION")
        holders = set(Position.objects.filter(market=market).values_list("user_id", flat=True))
        with_orders = set(
            Order.objects.filter(market=market, status__in=["OPEN", "PARTIALLY_FILLED"]).values_list("user_id", flat=True)
        )
        touched = with_orders | (holders if status in (MarketStatus.SETTLED, MarketStatus.VOIDED) else set())
        clearing.lock_accounts(touched)
        clearing.load_positions(touched)
        if status in CANCELS_ORDERS:
            for order in clearing.open_orders():
                clearing.cancel(order)
        if status == MarketStatus.SETTLED:
            clearing.settle(market.outcome)
        elif status == MarketStatus.VOIDED:
            clearing.void()
        # the transition runs before the flush, so the flush's market event shows the new status
        if status == MarketStatus.RESOLVED:
            transition(outcome)
        else:
            transition()
        clearing.flush()
        market.save(update_fields=["status", "outcome", "updated_at"])
        MarketEvent.objects.create(market=market, from_status=source, to_status=status, actor=actor)
        transaction.on_commit(
            lambda: market_status_changed.send(
                sender=Market, market_id=market_id, from_status=source, to_status=status, actor=actor
            )
        )
        return market


def market_schedule_set(
    *, market_id: str, trading_end_at: dt.datetime | None, resolution_date: dt.datetime | None
) -> Market:
    """Move an open market's trading end and resolution date (staff; the simulator sets its
    markets' schedule once the AMM is quoting them). Participants read it from the market."""
    for name, value in (("trading_end_at", trading_end_at), ("resolution_date", resolution_date)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} must carry a time zone", field=name)
    if trading_end_at and resolution_date and resolution_date < trading_end_at:
        raise InvalidInput("resolution_date must not precede trading_end_at", field="resolution_date")
    with transaction.atomic():
        market = Market.objects.select_for_update().filter(pk=market_id).first()
        if market is None:
            raise NotFound(f"market {market_id} not found", field="market_id")
        if market.status not in (MarketStatus.ACTIVE, MarketStatus.SUSPENDED, MarketStatus.HALTED):
            raise WrongState(f"market {market_id} is {market.status}: its schedule is fixed", code="ILLEGAL_TRANSITION")
        market.trading_end_at, market.resolution_date = trading_end_at, resolution_date
        market.save(update_fields=["trading_end_at", "resolution_date", "updated_at"])
        outbox_write([(MARKET_EVENTS, market.id, 0, market_body(market))])
    return market


def _transition_for(market: Market, status: str):
    if status == MarketStatus.ACTIVE:
        return market.resume if market.status == MarketStatus.SUSPENDED else market.unhalt
    return {
        MarketStatus.SUSPENDED: market.suspend,
        MarketStatus.HALTED: market.halt,
        MarketStatus.RESOLVED: market.resolve,
        MarketStatus.SETTLED: market.settle,
        MarketStatus.VOIDED: market.void,
    }.get(status)
