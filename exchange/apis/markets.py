"""Market metadata and the YES-view order book (SPEC §3.6); readable by any platform user."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from exchange import selectors
from exchange.apis.base import PlatformApi, ResponseSerializer, StrictSerializer, query_params
from exchange.apis.serializers import MarketSerializer, errors
from exchange.enums import MarketStatus


class MarketListApi(PlatformApi):
    """Every market with its status, fees, dates, reserve and share totals."""

    class FilterSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=MarketStatus.choices, required=False)

    class OutputSerializer(ResponseSerializer):
        results = MarketSerializer(many=True)

    @extend_schema(operation_id="markets_list", parameters=[FilterSerializer],
                   responses={200: OutputSerializer, **errors()})
    def get(self, request):
        filters = query_params(MarketListApi.FilterSerializer, request)
        markets = selectors.market_list(**filters)
        return Response(MarketListApi.OutputSerializer({"results": markets}).data)


class MarketDetailApi(PlatformApi):
    """One market's metadata."""

    @extend_schema(operation_id="market_detail", responses={200: MarketSerializer, **errors(404)})
    def get(self, request, market_id: str):
        return Response(MarketSerializer(selectors.market_get(market_id=market_id)).data)


class TapeTradeSerializer(ResponseSerializer):
    """One trade of a market's public tape: no order or user."""

    id = serializers.IntegerField()
    price_cents = serializers.IntegerField(help_text="YES-view price")
    quantity = serializers.IntegerField()
    executed_ms = serializers.IntegerField(help_text="executed_at in ms since the epoch")


class OrderBookApi(PlatformApi):
    """YES-view aggregated levels (bids descending, asks ascending) and the book's sequence_id."""

    class FilterSerializer(StrictSerializer):
        depth = serializers.IntegerField(min_value=1, max_value=selectors.ORDERBOOK_DEPTH_MAX, default=20,
                                         help_text="levels per side")
        trades = serializers.IntegerField(min_value=0, max_value=selectors.RECENT_TRADES_MAX, default=0,
                                          help_text="also the market's last N trades (`recent_trades`, a public tape)")

    class OutputSerializer(ResponseSerializer):
        market_id = serializers.CharField()
        sequence_id = serializers.IntegerField(help_text="grows with every change of the book")
        bids = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField(), min_length=2,
                                                                 max_length=2),
                                     help_text="[[yes_price_cents, quantity]], best (highest) first")
        asks = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField(), min_length=2,
                                                                 max_length=2),
                                     help_text="[[yes_price_cents, quantity]], best (lowest) first")
        recent_trades = TapeTradeSerializer(many=True, required=False,
                                            help_text="with ?trades=N: the market's last N trades, anyone's, newest first")

    @extend_schema(operation_id="orderbook_detail", parameters=[FilterSerializer],
                   responses={200: OutputSerializer, **errors(404)})
    def get(self, request, market_id: str):
        filters = query_params(OrderBookApi.FilterSerializer, request)
        book = selectors.orderbook_get(market_id=market_id, **filters)
        body = OrderBookApi.OutputSerializer(book).data
        if not filters["trades"]:
            body.pop("recent_trades")  # asked for only: the book's answer stays as it was for everyone else
        return Response(body)

