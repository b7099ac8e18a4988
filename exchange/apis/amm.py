"""The AMM's calls: atomic replace (its own rate limit scope) and privileged mint/burn (SPEC §3.6)."""
from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from exchange.apis.auth import IsPlatformUser
from exchange.apis.base import (
    FENCING_PARAMETER,
    PlatformApi,
    ResponseSerializer,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
    StrictUUIDField,
)
from exchange.apis.serializers import (
    BalanceSerializer,
    MarketIdField,
    NewOrderSerializer,
    OrderSerializer,
    PositionSerializer,
    TradeSerializer,
    errors,
)
from exchange.conf import exchange_settings
from exchange.services import NewOrder, Replacement, amm_burn, amm_mint, orders_replace
from exchange.services.orders import MAX_QUANTITY

logger = logging.getLogger(__name__)

class ReplacementSerializer(StrictSerializer):
    """One replacement of an atomic replace: cancel `old_order_id`, place `new` (either may be null)."""

    old_order_id = StrictUUIDField(required=False, allow_null=True, default=None,
                                   help_text="the open order to cancel, or null")
    new = NewOrderSerializer(required=False, allow_null=True, default=None, help_text="the order to place, or null")


class OrdersReplaceApi(PlatformApi):
    """Atomic replace of one or many of the caller's orders in a market."""

    rate_limit_scope = "replace"

    class InputSerializer(StrictSerializer):
        market_id = MarketIdField()
        replacements = ReplacementSerializer(many=True, min_length=1, max_length=exchange_settings.EXCHANGE_MAX_REPLACEMENTS)

    class OutputSerializer(ResponseSerializer):
        cancelled = OrderSerializer(many=True)
        placed = OrderSerializer(many=True)
        trades = TradeSerializer(many=True)
        sequence_id = serializers.IntegerField(
            help_text="the market book's sequence_id once the replace is done (the order book's and the "
            "push feeds'): a book older than it does not show this replace yet")

    @extend_schema(
        operation_id="orders_replace",
        request=InputSerializer,
        parameters=[FENCING_PARAMETER],
        responses={200: OutputSerializer, **errors(404, 409, 422, 429)},
        description="Cancel and place many orders atomically: all or nothing. A failure names the replacement "
        "at fault (`field` = replacements[i]...). Rate-limited per user over a 60 s window (429, Retry-After).",
    )
    def post(self, request):
        data = OrdersReplaceApi.InputSerializer.valid_or_none(request.data)
        if data is None:  # anything but plain valid input: DRF's validation and its errors
            serializer = OrdersReplaceApi.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        replacements = [
            Replacement(
                old_order_id=str(item["old_order_id"]) if item["old_order_id"] else None,
                new=NewOrder(**item["new"]) if item["new"] else None,
            )
            for item in data["replacements"]
        ]
        result = orders_replace(user_id=self.user_id, market_id=data["market_id"], replacements=replacements,
                                fencing_token=self.fencing_token)
        body = {"cancelled": result.cancelled, "placed": result.placed, "trades": result.trades,
                "sequence_id": result.sequence_id}
        return Response(OrdersReplaceApi.OutputSerializer.data_for(body))


class CanMintBurn(IsPlatformUser):
    """Only EXCHANGE_MINT_BURN_USERS (the AMM); checked before the body is even read."""

    message = "mint and burn are reserved to the market maker"
    code = "NOT_PRIVILEGED"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and str(request.user.id) in exchange_settings.EXCHANGE_MINT_BURN_USERS


class AmmPrivilegedApi(PlatformApi):
    """Mint or burn pairs (the services enforce the same rule as CanMintBurn)."""

    permission_classes = [CanMintBurn]

    class InputSerializer(StrictSerializer):
        market_id = MarketIdField()
        quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY, range_code="INVALID_QUANTITY")
        request_id = StrictCharField(min_length=1, max_length=64, trim_whitespace=False,
                                     help_text="idempotency key: the same request again changes nothing")

    class OutputSerializer(ResponseSerializer):
        market_id = serializers.CharField()
        quantity = serializers.IntegerField()
        balance = BalanceSerializer(source="account")
        position = PositionSerializer()

    service = None

    def handle_privileged(self, request):
        serializer = AmmPrivilegedApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = type(self).service(user_id=self.user_id, fencing_token=self.fencing_token, **serializer.validated_data)
        return Response(AmmPrivilegedApi.OutputSerializer(result).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


PRIVILEGED_RESPONSES = {201: AmmPrivilegedApi.OutputSerializer, 200: AmmPrivilegedApi.OutputSerializer,
                         **errors(403, 404, 409, 422)}


class AmmMintApi(AmmPrivilegedApi):
    """Privileged mint of YES+NO pairs."""

    service = staticmethod(amm_mint)

    @extend_schema(operation_id="amm_mint", request=AmmPrivilegedApi.InputSerializer, responses=PRIVILEGED_RESPONSES,
                   parameters=[FENCING_PARAMETER],
                   description="Privileged: mint `quantity` YES+NO pairs for 100 cents each (cost split 50/50). "
                   "Idempotent on request_id (201 first, 200 on a repeat).")
    def post(self, request):
        return self.handle_privileged(request)


class AmmBurnApi(AmmPrivilegedApi):
    """Privileged burn of YES+NO pairs."""

    service = staticmethod(amm_burn)

    @extend_schema(operation_id="amm_burn", request=AmmPrivilegedApi.InputSerializer, responses=PRIVILEGED_RESPONSES,
                   parameters=[FENCING_PARAMETER],
                   description="Privileged: burn `quantity` YES+NO pairs back into 100 cents each. "
                   "Idempotent on request_id (201 first, 200 on a repeat).")
    def post(self, request):
        return self.handle_privileged(request)
