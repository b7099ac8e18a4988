"""The caller's trades, a gap-free cursor (SPEC §3.6: the MVP fill feed)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from exchange import selectors
from exchange.apis.base import PlatformApi, ResponseSerializer, StrictSerializer, query_params
from exchange.apis.serializers import MarketIdField, TradeSerializer, errors
from exchange.services.trade_feed import MAX_WAIT_MS, trades_wait


class TradeListApi(PlatformApi):
    """The caller's trades after a cursor."""

    class FilterSerializer(StrictSerializer):
        market_id = MarketIdField(required=False)
        since = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**63 - 1,
                                         help_text="the last trade id already seen (next_since of the last page)")
        limit = serializers.IntegerField(required=False, default=500, min_value=1,
                                         max_value=selectors.TRADES_PAGE_MAX)
        wait_ms = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_WAIT_MS,
                                           help_text="when no trade follows `since`, hold the answer up to this "
                                           "long until one of the caller's trades commits (long poll)")

    class OutputSerializer(ResponseSerializer):
        results = TradeSerializer(many=True)
        next_since = serializers.IntegerField(help_text="pass as `since` for the next page")

    @extend_schema(
        operation_id="trades_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **errors()},
        description="The caller's trades with id > since in id order. Every trade appears exactly once across "
        "successive pages, even while trades are being written. With wait_ms, an empty answer waits for the "
        "caller's next trade (up to wait_ms).",
    )
    def get(self, request):
        filters = query_params(TradeListApi.FilterSerializer, request)
        wait_ms = filters.pop("wait_ms")
        look = lambda: selectors.trade_list(user_id=self.user_id, **filters)  # noqa: E731
        page = trades_wait(user_id=self.user_id, wait_ms=wait_ms, look=look, found=lambda p: bool(p.trades)) \
            if wait_ms else look()
        return Response(TradeListApi.OutputSerializer({"results": page.trades, "next_since": page.next_since}).data)
