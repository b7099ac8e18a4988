"""Order services: place, cancel, cancel-all, atomic replace (SPEC §3.2, §3.6)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from exchange.enums import OPEN_STATUSES, Direction, Side, TimeInForce
from exchange.exceptions import ExchangeError, InvalidInput, NotFound, WrongState
from exchange.models import Order, Trade
from exchange.services.clearing import Clearing, NewOrder, OrderLookup
from exchange.services.fencing import fence_check

MAX_QUANTITY = 10_000_000
MAX_CLIENT_ORDER_ID = 128


@dataclass
class PlaceResult:
    order: Order
    trades: list[Trade]
    created: bool  # False: an idempotent repeat of an earlier request


@dataclass
class ReplaceResult:
    cancelled: list[Order] = field(default_factory=list)
    placed: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    sequence_id: int = 0  # the market book's sequence_id once the replace is done


def order_validate(new: NewOrder, *, field_prefix: str = "") -> None:
    """Checks that need no database: types, enums, ranges (400 with the field at fault)."""

    def bad(name: str, detail: str, code: str = "INVALID_INPUT"):
        raise InvalidInput(detail, code=code, field=f"{field_prefix}{name}")

    if not isinstance(new.client_order_id, str) or not 1 <= len(new.client_order_id) <= MAX_CLIENT_ORDER_ID:
        bad("client_order_id", f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
    if new.side not in Side.values:
        bad("side", f"side must be one of {Side.values}")
    if new.direction not in Direction.values:
        bad("direction", f"direction must be one of {Direction.values}")
    if new.time_in_force not in TimeInForce.values:
        bad("time_in_force", f"time_in_force must be one of {TimeInForce.values}")
    if not isinstance(new.price_cents, int) or isinstance(new.price_cents, bool) or not 1 <= new.price_cents <= 99:
        bad("price_cents", "price_cents must be an integer from 1 to 99", "PRICE_OUT_OF_RANGE")
    if not isinstance(new.quantity, int) or isinstance(new.quantity, bool) or not 1 <= new.quantity <= MAX_QUANTITY:
        bad("quantity", f"quantity must be an integer from 1 to {MAX_QUANTITY}", "INVALID_QUANTITY")


def _same_request(order: Order, market_id: str, new: NewOrder) -> bool:
    return (
        order.market_id == market_id
        and order.original_side == new.side
        and order.original_direction == new.direction
        and order.price_cents == new.price_cents
        and order.quantity == new.quantity
        and order.time_in_force == new.time_in_force
    )


def _repeat(user_id: str, market_id: str, new: NewOrder) -> PlaceResult | None:
    existing = Order.objects.filter(user_id=user_id, client_order_id=new.client_order_id).first()
    if existing is None:
        return None
    if not _same_request(existing, market_id, new):
        raise WrongState(
            f"client_order_id {new.client_order_id!r} was already used for a different order",
            code="DUPLICATE_CLIENT_ORDER_ID",
            field="client_order_id",
        )
    trades = list(Trade.objects.filter(taker_order_id=existing.id).order_by("id"))
    return PlaceResult(order=existing, trades=trades, created=False)


def order_place(*, user_id: str, market_id: str, new: NewOrder, fencing_token: int | None = None) -> PlaceResult:
    """Place one order; idempotent on (user, client_order_id). `fencing_token`: see
    exchange/services/fencing.py (every order call below takes it too)."""
    order_validate(new)
    try:
        # No look-up first: a repeat is rare, and the unique (user, client_order_id) index
        # rejects it at insert; the whole attempt then rolls back and the earlier order is
        # returned (or the request refused, when its content differs).
        with transaction.atomic():
            clearing = Clearing(market_id, users=[user_id], crossing=[new], fence=(user_id, fencing_token))
            clearing.require_active()
            clearing.check_price(new.price_cents)
            order = clearing.place(user_id, new)
            clearing.flush(commit=True)
            return PlaceResult(order=order, trades=list(clearing.trades), created=True)
    except (IntegrityError, ExchangeError) as exc:
        # A repeat of an earlier request is answered from the earlier order even when the
        # market has closed since, or the funds are gone: the order exists, nothing is redone.
        if isinstance(exc, IntegrityError) and "uq_orders_user_client_order_id" not in str(exc):
            raise
        repeat = _repeat(user_id, market_id, new)
        if repeat is None and isinstance(exc, ExchangeError):
            raise
        if repeat is None:
            raise
        return repeat


def _order_uuid(order_id) -> uuid.UUID | None:
    """The order id as a UUID; None when malformed (as unknown as a missing one)."""
    if isinstance(order_id, uuid.UUID):
        return order_id
    try:
        return uuid.UUID(str(order_id))
    except (ValueError, TypeError, AttributeError):
        return None


def _not_found(order_id, field_name: str = "order_id") -> NotFound:
    # Someone else's order answers exactly like a missing one: nothing leaks.
    return NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND", field=field_name)


def order_cancel(*, user_id: str, order_id, fencing_token: int | None = None) -> Order:
    oid = _order_uuid(order_id)
    if oid is None:
        raise _not_found(order_id)
    with transaction.atomic():
        clearing = Clearing(own_order=(user_id, oid), users=[user_id], orders=OrderLookup([oid]))
        (order,) = clearing.read_orders  # read under the market lock
        fence_check(user_id=user_id, market_id=order.market_id, token=fencing_token)
        clearing.cancel(order)
        clearing.flush(commit=True)
        return order


def order_cancel_all(*, user_id: str, market_id: str, fencing_token: int | None = None) -> list[Order]:
    with transaction.atomic():
        clearing = Clearing(market_id, users=[user_id], fence=(user_id, fencing_token))
        cancelled = [clearing.cancel(order) for order in clearing.open_orders(user_id=user_id)]
        clearing.flush(commit=True)
        return cancelled


def user_cancel_everywhere(*, user_id: str) -> int:
    """Cancel a user's open orders in every market, one market per transaction."""
    market_ids = (
        Order.objects.filter(user_id=user_id, status__in=OPEN_STATUSES).values_list("market_id", flat=True).distinct()
    )
    return sum(len(order_cancel_all(user_id=user_id, market_id=mid)) for mid in list(market_ids))


@dataclass
class Replacement:
    old_order_id: str | None
    new: NewOrder | None


def orders_replace(*, user_id: str, market_id: str, replacements: list[Replacement],
                   fencing_token: int | None = None) -> ReplaceResult:
    """Cancel and place many orders atomically: all or nothing (SPEC §3.6).

    Every old order is cancelled first (freeing its funds), then the new orders are placed
    in request order; any failure rolls back everything and names the replacement."""
    if not replacements:
        raise InvalidInput("replacements must not be empty", field="replacements")
    seen_old, seen_coid = set(), set()
    for index, item in enumerate(replacements):
        prefix = f"replacements[{index}]"
        if item.old_order_id is None and item.new is None:
            raise InvalidInput(f"{prefix}: needs old_order_id, new, or both", field=prefix)
        if item.new is not None:
            try:
                order_validate(item.new)
            except ExchangeError as exc:
                raise exc.with_prefix(f"{prefix}.new") from None
            if item.new.client_order_id in seen_coid:
                raise InvalidInput(f"{prefix}: client_order_id repeated within the request",
                                   code="DUPLICATE_CLIENT_ORDER_ID", field=f"{prefix}.new.client_order_id")
            seen_coid.add(item.new.client_order_id)
        if item.old_order_id is not None:
            if str(item.old_order_id) in seen_old:
                raise InvalidInput(f"{prefix}: old_order_id repeated within the request", field=f"{prefix}.old_order_id")
            seen_old.add(str(item.old_order_id))

    news = [(i, item.new) for i, item in enumerate(replacements) if item.new is not None]
    old_ids = [(i, _order_uuid(item.old_order_id)) for i, item in enumerate(replacements)
               if item.old_order_id is not None]
    with transaction.atomic():
        # Read with the locks: the old orders, and any order already using a new client_order_id.
        lookup = OrderLookup([oid for _, oid in old_ids if oid is not None], user_id,
                             [n.client_order_id for _, n in news])
        clearing = Clearing(market_id, users=[user_id], crossing=[n for _, n in news], orders=lookup,
                            fence=(user_id, fencing_token))
        clearing.require_active()
        rows = clearing.read_orders
        by_id = {o.id: o for o in rows}
        olds = []
        for index, oid in old_ids:
            try:
                old = by_id.get(oid)
                if old is None or old.user_id != user_id:
                    raise _not_found(replacements[index].old_order_id)
                if old.market_id != market_id:
                    raise NotFound(f"order {old.id} is not in market {market_id}", code="ORDER_NOT_FOUND")
                if old.status not in OPEN_STATUSES:
                    raise WrongState(f"order {old.id} is {old.status}, no longer open", code="ORDER_NOT_OPEN")
            except ExchangeError as exc:
                raise exc.with_prefix(f"replacements[{index}].old_order_id") from None
            olds.append(old)
        used = {o.client_order_id for o in rows if o.user_id == user_id}
        for index, new in news:
            if new.client_order_id in used:
                raise WrongState(
                    f"replacements[{index}]: client_order_id {new.client_order_id!r} was already used",
                    code="DUPLICATE_CLIENT_ORDER_ID", field=f"replacements[{index}].new.client_order_id")
        result = ReplaceResult()
        for old in olds:
            result.cancelled.append(clearing.cancel(old))
        for index, new in news:
            try:
                result.placed.append(clearing.place(user_id, new))
            except ExchangeError as exc:
                raise exc.with_prefix(f"replacements[{index}].new") from None
        clearing.flush(commit=True)
        result.trades = list(clearing.trades)
        result.sequence_id = clearing.market.sequence_id
        return result

