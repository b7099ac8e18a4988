"""Order entry (SPEC §3.2): check, fund and place an order (it matches at once, then rests or,
if IOC, gives back its remainder), cancel one, list the open ones."""
from __future__ import annotations

import uuid

from exchange.enums import (
    OPEN_STATUSES,
    Direction,
    FrozenAssetType,
    MarketStatus,
    OrderStatus,
    ReferenceType as R,
    Side,
    TimeInForce,
)
from exchange.exceptions import Insufficient, InvalidInput, WrongState
from exchange.models import Order
from exchange.services.clearing.reads import _open_orders
from exchange.services.clearing.rules import NewOrder, classify, fee_for
from exchange.services.clearing.state import ClearingState


class OrderEntry(ClearingState):
    """Funds an order through `Ledger` and matches it through `Matching`."""

    def require_active(self) -> None:
        if self.market.status != MarketStatus.ACTIVE:
            raise WrongState(
                f"market {self.market.id} is {self.market.status}, not ACTIVE", code="MARKET_NOT_ACTIVE"
            )

    def check_price(self, price_cents: int, field: str = "price_cents") -> None:
        lo, hi = self.market.min_price_cents, self.market.max_price_cents
        if not lo <= price_cents <= hi:
            raise InvalidInput(
                f"price_cents {price_cents} outside the market's band [{lo}, {hi}]",
                code="PRICE_OUT_OF_RANGE",
                field=field,
            )

    def fee_per_share(self, price_cents: int) -> int:
        return fee_for(price_cents, max(self.market.maker_fee_bps, self.market.taker_fee_bps))

    def place(self, user_id: str, new: NewOrder) -> Order:
        """Fund, match (price-time, maker price), rest or cancel the remainder (IOC)."""
        self.check_price(new.price_cents)
        book_type, book_side, yes_price = classify(new.side, new.direction, new.price_cents)
        order = Order(
            id=uuid.uuid4(),
            client_order_id=new.client_order_id,
            user_id=user_id,
            market=self.market,
            original_side=new.side,
            original_direction=new.direction,
            book_type=book_type,
            book_side=book_side,
            price_cents=new.price_cents,
            yes_price=yes_price,
            quantity=new.quantity,
            time_in_force=new.time_in_force,
            status=OrderStatus.OPEN,
            priority=self._next_sequence(),
            created_at=self.now,
            updated_at=self.now,
        )
        if new.direction == Direction.BUY:
            order.frozen_asset_type = FrozenAssetType.CASH
            order.frozen_amount = new.quantity * (new.price_cents + self.fee_per_share(new.price_cents))
            self._freeze(user_id, order.frozen_amount, order)
        else:
            position = self.positions[user_id]
            if new.side == Side.YES:
                available, order.frozen_asset_type = position.yes_available, FrozenAssetType.YES_SHARES
            else:
                available, order.frozen_asset_type = position.no_available, FrozenAssetType.NO_SHARES
            if available < new.quantity:
                raise Insufficient(
                    f"sell of {new.quantity} {new.side} needs that many available shares, position has {available}",
                    code="INSUFFICIENT_SHARES",
                )
            self._pending(position, new.side, new.quantity)
            order.frozen_amount = new.quantity
        self.orders[order.id] = order
        self._new_order_ids.add(order.id)
        self._match(order)
        if order.remaining_quantity > 0 and order.time_in_force == TimeInForce.IOC:
            self._release(order)
            order.status = OrderStatus.CANCELLED
        return order

    def cancel(self, order: Order) -> Order:
        if order.status not in OPEN_STATUSES:
            raise WrongState(f"order {order.id} is {order.status}, no longer open", code="ORDER_NOT_OPEN")
        self.orders.setdefault(order.id, order)
        self._release(order)
        order.status = OrderStatus.CANCELLED
        order.updated_at = self.now
        self._next_sequence()
        return order

    def open_orders(self, *, user_id: str | None = None) -> list[Order]:
        """Open orders of this market (optionally one user's), in-memory versions first."""
        result = [self.orders.get(row.id, row) for row in _open_orders(self.market.id, user_id)]
        seen = {o.id for o in result}
        result += [o for oid, o in self.orders.items() if oid not in seen and o.status in OPEN_STATUSES
                   and (user_id is None or o.user_id == user_id)]
        return [o for o in result if o.status in OPEN_STATUSES]

    def _release(self, order: Order) -> None:
        """Give back what an order still holds frozen (cancel, IOC remainder)."""
        if order.frozen_asset_type == FrozenAssetType.CASH:
            self._unfreeze(order.user_id, order.frozen_amount, R.ORDER, str(order.id))
        else:
            self._pending(self.positions_for(order.user_id), order.original_side, -order.frozen_amount)
        order.frozen_amount = 0
