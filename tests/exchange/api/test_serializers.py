"""The flat output plan of ResponseSerializer writes exactly what DRF's own field-by-field
serialization writes, for every shape that uses it (rows made by the engine)."""
from __future__ import annotations

import datetime as dt

import pytest
from rest_framework import serializers

from exchange.apis.serializers import (
    BalanceSerializer,
    MarketSerializer,
    OrderSerializer,
    PositionSerializer,
    TradeSerializer,
)
from exchange.models import Account, Market, Order, Position, Trade
from exchange.services import account_deposit, market_create, order_place, user_get_or_create
from exchange.services.clearing import NewOrder

pytestmark = pytest.mark.django_db


def _drf(serializer_class, instance) -> dict:
    return serializers.Serializer.to_representation(serializer_class(), instance)


def test_flat_plans_equal_drf_for_every_shape():
    maker, _ = user_get_or_create(username="ser_maker")
    taker, _ = user_get_or_create(username="ser_taker")
    for user in (maker, taker):
        account_deposit(user_id=str(user.id), amount_cents=1_000_000)
    market_create(market_id="SER-1", title="t", taker_fee_bps=30,
                  trading_end_at=dt.datetime(2027, 1, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc))
    order_place(user_id=str(maker.id), market_id="SER-1",
                new=NewOrder(client_order_id="m1", side="YES", direction="BUY", price_cents=41, quantity=10))
    order_place(user_id=str(taker.id), market_id="SER-1",
                new=NewOrder(client_order_id="t1", side="NO", direction="BUY", price_cents=60, quantity=4))
    cases = [
        (OrderSerializer, Order.objects.filter(market_id="SER-1")),
        (TradeSerializer, Trade.objects.filter(market_id="SER-1")),
        (BalanceSerializer, Account.objects.filter(user_id__in=[str(maker.id), str(taker.id)])),
        (PositionSerializer, Position.objects.filter(market_id="SER-1")),
        (MarketSerializer, Market.objects.filter(pk="SER-1")),
    ]
    for serializer_class, rows in cases:
        assert serializer_class._flat_plan is not None, serializer_class
        rows = list(rows)
        assert rows, serializer_class
        for row in rows:
            assert serializer_class(row).data == _drf(serializer_class, row), serializer_class
    trade = Trade.objects.get(market_id="SER-1")
    assert trade.buy_realized_pnl is None or trade.sell_realized_pnl is None  # nulls are covered
    assert serializers.Serializer.to_representation(MarketSerializer(), rows[0])["resolution_date"] is None


def test_nested_flat_shapes_equal_drf_one_many_none_and_empty():
    """An output that nests flat shapes (an order and its trades, a page of markets...) is
    written by their plans, as DRF writes it: a nested value, a list, None and []."""
    from exchange.apis.amm import OrdersReplaceApi
    from exchange.apis.markets import MarketListApi
    from exchange.apis.orders import OrderCancelAllApi, OrderListApi, OrderPlaceApi

    maker, _ = user_get_or_create(username="nest_maker")
    taker, _ = user_get_or_create(username="nest_taker")
    for user in (maker, taker):
        account_deposit(user_id=str(user.id), amount_cents=1_000_000)
    market_create(market_id="NEST-1", title="t", taker_fee_bps=30)
    market_create(market_id="NEST-2", title="u")
    order_place(user_id=str(maker.id), market_id="NEST-1",
                new=NewOrder(client_order_id="m1", side="YES", direction="BUY", price_cents=41, quantity=10))
    placed = order_place(user_id=str(taker.id), market_id="NEST-1",
                         new=NewOrder(client_order_id="t1", side="NO", direction="BUY", price_cents=60, quantity=4))
    assert placed.trades
    orders, trades = list(Order.objects.filter(market_id="NEST-1")), list(Trade.objects.filter(market_id="NEST-1"))
    cases = [
        (OrderPlaceApi.OutputSerializer, {"order": placed.order, "trades": placed.trades}),
        (OrderPlaceApi.OutputSerializer, {"order": orders[0], "trades": []}),
        (OrderPlaceApi.OutputSerializer, {"order": None, "trades": trades}),
        (MarketListApi.OutputSerializer, {"results": list(Market.objects.filter(pk__startswith="NEST-"))}),
        (MarketListApi.OutputSerializer, {"results": Market.objects.filter(pk__startswith="NEST-")}),  # a queryset
        (OrderListApi.OutputSerializer, {"results": orders}),
        (OrderCancelAllApi.OutputSerializer, {"cancelled": []}),
        (OrdersReplaceApi.OutputSerializer, {"cancelled": orders[:1], "placed": orders[1:], "trades": trades,
                                             "sequence_id": 7}),
    ]
    for serializer_class, value in cases:
        assert serializer_class._flat_plan is not None, serializer_class
        assert serializer_class(value).data == _drf(serializer_class, value), serializer_class
        assert serializer_class.data_for(value) == _drf(serializer_class, value), serializer_class  # no instance
    related = {"results": Market.objects.get(pk="NEST-1").orders}  # a related manager: its rows
    assert OrderListApi.OutputSerializer(related).data == _drf(OrderListApi.OutputSerializer, related)
    assert len(OrderListApi.OutputSerializer(related).data["results"]) == len(orders)
