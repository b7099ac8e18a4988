"""The caller's balance and positions (SPEC §3.6)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from exchange import selectors
from exchange.apis.base import PlatformApi
from exchange.apis.serializers import BalanceSerializer, PositionSerializer, errors


class AccountBalanceApi(PlatformApi):
    """The caller's cash: available, frozen by open orders, and the account version."""

    @extend_schema(operation_id="account_balance", responses={200: BalanceSerializer, **errors()})
    def get(self, request):
        account = selectors.account_balance_get(user_id=self.user_id)
        return Response(BalanceSerializer(account).data)


class PositionDetailApi(PlatformApi):
    """The caller's position in a market (zeros when it holds none)."""

    @extend_schema(operation_id="position_detail", responses={200: PositionSerializer, **errors(404)})
    def get(self, request, market_id: str):
        position = selectors.position_get(user_id=self.user_id, market_id=market_id)
        return Response(PositionSerializer(position).data)
