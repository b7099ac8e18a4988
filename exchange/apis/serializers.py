"""Output shapes shared by several calls; field names are the contract (SPEC §3.6)."""
from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from exchange.apis.base import (
    ResponseSerializer,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictSerializer,
)
from exchange.enums import BookType, Direction, MarketStatus, OrderStatus, Outcome, Side, TimeInForce, TradeScenario
from exchange.services.orders import MAX_CLIENT_ORDER_ID, MAX_QUANTITY


class ErrorSerializer(ResponseSerializer):
    error = serializers.CharField(help_text="stable error code, e.g. INSUFFICIENT_FUNDS")
    detail = serializers.CharField(help_text="what went wrong, for humans")
    field = serializers.CharField(required=False, help_text="the input field at fault, when there is one")


class OrderSerializer(ResponseSerializer):
    id = serializers.UUIDField()
    client_order_id = serializers.CharField()
    market_id = serializers.CharField()
    side = serializers.ChoiceField(source="original_side", choices=Side.choices)
    direction = serializers.ChoiceField(source="original_direction", choices=Direction.choices)
    book_type = serializers.ChoiceField(choices=BookType.choices)
    price_cents = serializers.IntegerField(help_text="on the order's own side")
    quantity = serializers.IntegerField()
    filled_quantity = serializers.IntegerField()
    remaining_quantity = serializers.IntegerField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices)
    created_at = serializers.DateTimeField()


class TradeSerializer(ResponseSerializer):
    id = serializers.IntegerField(help_text="monotonic: the cursor of GET /trades?since=")
    market_id = serializers.CharField()
    scenario = serializers.ChoiceField(choices=TradeScenario.choices)
    price_cents = serializers.IntegerField(help_text="YES-view price")
    quantity = serializers.IntegerField()
    buy_order_id = serializers.UUIDField()
    sell_order_id = serializers.UUIDField()
    buy_user_id = serializers.CharField()
    sell_user_id = serializers.CharField()
    maker_order_id = serializers.UUIDField()
    taker_order_id = serializers.UUIDField()
    maker_fee = serializers.IntegerField()
    taker_fee = serializers.IntegerField()
    buy_realized_pnl = serializers.IntegerField(allow_null=True)
    sell_realized_pnl = serializers.IntegerField(allow_null=True)
    executed_at = serializers.DateTimeField()


class BalanceSerializer(ResponseSerializer):
    user_id = serializers.CharField()
    available_balance = serializers.IntegerField()
    frozen_balance = serializers.IntegerField()
    version = serializers.IntegerField()


class PositionSerializer(ResponseSerializer):
    market_id = serializers.CharField()
    yes_volume = serializers.IntegerField()
    yes_cost_sum = serializers.IntegerField()
    yes_pending_sell = serializers.IntegerField()
    no_volume = serializers.IntegerField()
    no_cost_sum = serializers.IntegerField()
    no_pending_sell = serializers.IntegerField()
    yes_available = serializers.IntegerField()
    no_available = serializers.IntegerField()
    realized_pnl = serializers.IntegerField()


class MarketSerializer(ResponseSerializer):
    id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=MarketStatus.choices)
    min_price_cents = serializers.IntegerField()
    max_price_cents = serializers.IntegerField()
    maker_fee_bps = serializers.IntegerField()
    taker_fee_bps = serializers.IntegerField()
    trading_end_at = serializers.DateTimeField(allow_null=True)
    resolution_date = serializers.DateTimeField(allow_null=True)
    reserve_balance = serializers.IntegerField()
    total_yes_shares = serializers.IntegerField()
    total_no_shares = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_null=True)
    sequence_id = serializers.IntegerField()


class NewOrderSerializer(StrictSerializer):
    """The order-placing fields (POST /orders without market_id; replace's `new`)."""

    client_order_id = StrictCharField(min_length=1, max_length=MAX_CLIENT_ORDER_ID, trim_whitespace=False)
    side = StrictChoiceField(choices=Side.choices)
    direction = StrictChoiceField(choices=Direction.choices)
    price_cents = StrictIntegerField(min_value=1, max_value=99, range_code="PRICE_OUT_OF_RANGE")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY, range_code="INVALID_QUANTITY")
    time_in_force = StrictChoiceField(choices=TimeInForce.choices, default=TimeInForce.GTC)


MARKET_ID_PATTERN = r"[A-Za-z0-9._-]{1,64}"  # what market_create accepts


class MarketIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(min_length=1, max_length=64, **kwargs)
        self.validators.append(RegexValidator(f"^{MARKET_ID_PATTERN}$", "not a valid market id"))


def errors(*codes: int) -> dict:
    """The error responses of an operation, for @extend_schema(responses=...)."""
    return {code: ErrorSerializer for code in (400, 401, 429, *codes)}  # 429: exchange/apis/ratelimit.py
