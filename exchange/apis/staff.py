"""Staff operations over the API (SPEC §3.6: deposits, withdrawals, market lifecycle).

Only platform users with `is_staff` (`manage.py exchange_user NAME --staff`) reach them; a
trader's key answers 403 STAFF_ONLY. The same services back the admin and the commands."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from exchange.apis.auth import IsPlatformStaff
from exchange.apis.base import PlatformApi, StrictCharField, StrictChoiceField, StrictIntegerField, StrictSerializer
from exchange.apis.serializers import BalanceSerializer, MarketIdField, MarketSerializer, errors
from exchange.enums import MarketStatus, Outcome
from exchange.services import (
    account_deposit,
    account_withdraw,
    market_create,
    market_set_status,
    user_by_name,
)
from exchange.services.accounts import MAX_AMOUNT_CENTS


class _StaffApi(PlatformApi):
    permission_classes = [IsPlatformStaff]

    @property
    def actor(self) -> str:
        """Who did it, for the ledger reference / market event (both 64 characters at most)."""
        return f"api:{self.request.user.username}"[:64]


class _CashInputSerializer(StrictSerializer):
    username = StrictCharField(min_length=1, max_length=64)
    amount_cents = StrictIntegerField(min_value=1, max_value=MAX_AMOUNT_CENTS)
    reference = StrictCharField(required=False, default="", allow_blank=True, max_length=64)


class StaffDepositApi(_StaffApi):
    """Staff: credit a user's account (ledger DEPOSIT)."""

    class InputSerializer(_CashInputSerializer):
        pass

    @extend_schema(operation_id="staff_deposit", request=InputSerializer,
                   responses={200: BalanceSerializer, **errors(403, 404)})
    def post(self, request):
        serializer = StaffDepositApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_by_name(data["username"])
        account = account_deposit(user_id=str(user.id), amount_cents=data["amount_cents"],
                                  reference=data["reference"] or self.actor)
        return Response(BalanceSerializer(account).data)


class StaffWithdrawApi(_StaffApi):
    """Staff: debit a user's available cash (ledger WITHDRAWAL)."""

    class InputSerializer(_CashInputSerializer):
        pass

    @extend_schema(operation_id="staff_withdraw", request=InputSerializer,
                   responses={200: BalanceSerializer, **errors(403, 404, 422)})
    def post(self, request):
        serializer = StaffWithdrawApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_by_name(data["username"])
        account = account_withdraw(user_id=str(user.id), amount_cents=data["amount_cents"],
                                   reference=data["reference"] or self.actor)
        return Response(BalanceSerializer(account).data)


class StaffMarketCreateApi(_StaffApi):
    """Staff: create an ACTIVE market."""

    class InputSerializer(StrictSerializer):
        market_id = MarketIdField()
        title = StrictCharField(min_length=1, max_length=255)
        maker_fee_bps = StrictIntegerField(min_value=0, max_value=1000, default=0)
        taker_fee_bps = StrictIntegerField(min_value=0, max_value=1000, default=0)
        min_price_cents = StrictIntegerField(min_value=1, max_value=99, default=1)
        max_price_cents = StrictIntegerField(min_value=1, max_value=99, default=99)
        trading_end_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        resolution_date = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(operation_id="staff_market_create", request=InputSerializer,
                   responses={201: MarketSerializer, **errors(403, 409)})
    def post(self, request):
        serializer = StaffMarketCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        market = market_create(**serializer.validated_data)
        return Response(MarketSerializer(market).data, status=status.HTTP_201_CREATED)


class StaffMarketStatusApi(_StaffApi):
    """Staff: move a market through its lifecycle (SPEC §3.4)."""

    class InputSerializer(StrictSerializer):
        status = StrictChoiceField(choices=MarketStatus.choices)
        outcome = StrictChoiceField(choices=Outcome.choices, required=False, allow_null=True, default=None,
                                    help_text="required with RESOLVED")

    @extend_schema(operation_id="staff_market_status", request=InputSerializer,
                   responses={200: MarketSerializer, **errors(403, 404, 409)})
    def post(self, request, market_id: str):
        serializer = StaffMarketStatusApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        market = market_set_status(market_id=market_id, actor=self.actor,
                                   **serializer.validated_data)
        return Response(MarketSerializer(market).data)
