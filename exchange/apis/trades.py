"""The caller's trades, a gap-free cursor (SPEC §3.6: the MVP fill feed)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from exchange import selectors
from exchange.apis.base import PlatformApi, ResponseSerializer, StrictSerializer, query_params
from exchange.apis.serializers import MarketIdField, TradeSerializer, errors


class TradeListApi(PlatformApi):
    """The caller's trades after a cursor."""

    class FilterSerializer(StrictSerializer):
        market_id = MarketIdField(required=False)
        since = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**63 - 1,
                                         help_text="the last trade id already seen (next_since of the last page)")
        limit = serializers.IntegerField(required=False, default=500, min_value=1,
                                         max_value=selectors.TRADES_PAGE_MAX)

    class OutputSerializer(ResponseSerializer):
        results = TradeSerializer(many=True)
        next_since = serializers.IntegerField(help_text="pass as `since` for the next page")

    @extend_schema(
        operation_id="trades_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors()},
        description="The caller's trades with id > since in id order. Every trade appears exactly once across "
        "successive pages, even while trades are being written.",
    )
    def get(self, request):
        filters = query_params(TradeListApi.FilterSerializer, request)
        page = selectors.trade_list(user_id=self.user_id, **filters)
        return Response(TradeListApi.OutputSerializer({"results": page.trades, "next_since": page.next_since}).data)
