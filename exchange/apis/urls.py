"""Routes of the platform API, mounted at /api/v1/ (SPEC §3.6)."""
from django.urls import path, register_converter

from exchange.apis.accounts import AccountBalanceApi, PositionDetailApi
from exchange.apis.amm import AmmBurnApi, AmmMintApi, OrdersReplaceApi
from exchange.apis.markets import MarketDetailApi, MarketListApi, OrderBookApi
from exchange.apis.orders import OrderApi, OrderCancelAllAfterApi, OrderCancelAllApi, OrdersApi
from exchange.apis.serializers import MARKET_ID_PATTERN
from exchange.apis.staff import StaffDepositApi, StaffMarketCreateApi, StaffMarketStatusApi, StaffWithdrawApi
from exchange.apis.trades import TradeListApi


class MarketIdConverter:
    regex = MARKET_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(MarketIdConverter, "market_id")

urlpatterns = [
    path("account/balance", AccountBalanceApi.as_view(), name="account-balance"),
    path("positions/<market_id:market_id>", PositionDetailApi.as_view(), name="position-detail"),
    path("markets", MarketListApi.as_view(), name="market-list"),
    path("markets/<market_id:market_id>", MarketDetailApi.as_view(), name="market-detail"),
    path("orderbook/<market_id:market_id>", OrderBookApi.as_view(), name="orderbook"),
    path("orders", OrdersApi.as_view(), name="orders"),
    path("orders/cancel-all", OrderCancelAllApi.as_view(), name="orders-cancel-all"),
    path("orders/cancel-all-after", OrderCancelAllAfterApi.as_view(), name="orders-cancel-all-after"),
    path("orders/<str:order_id>", OrderApi.as_view(), name="order"),
    path("trades", TradeListApi.as_view(), name="trades"),
    path("amm/orders/replace", OrdersReplaceApi.as_view(), name="amm-orders-replace"),
    path("amm/mint", AmmMintApi.as_view(), name="amm-mint"),
    path("amm/burn", AmmBurnApi.as_view(), name="amm-burn"),
    path("staff/deposits", StaffDepositApi.as_view(), name="staff-deposit"),
    path("staff/withdrawals", StaffWithdrawApi.as_view(), name="staff-withdraw"),
    path("staff/markets", StaffMarketCreateApi.as_view(), name="staff-market-create"),
    path("staff/markets/<market_id:market_id>/status", StaffMarketStatusApi.as_view(), name="staff-market-status"),
]
