"""`ws/v1/...` routes (docs/push.md), mounted by ammproject.asgi."""
from django.urls import re_path

from exchange.apis.serializers import MARKET_ID_PATTERN
from exchange.push.consumers import OrderBookConsumer, TradesConsumer

websocket_urlpatterns = [
    re_path(rf"^ws/v1/orderbook/(?P<market_id>{MARKET_ID_PATTERN})$", OrderBookConsumer.as_asgi()),
    re_path(rf"^ws/v1/trades/(?P<market_id>{MARKET_ID_PATTERN})$", TradesConsumer.as_asgi()),
]
