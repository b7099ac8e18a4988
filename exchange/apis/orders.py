"""Orders: list, place (idempotent), detail, cancel, cancel-all, cancel-all-after (SPEC §3.6).

Two operations share each of `/orders` and `/orders/{id}`; each operation is its own class
and the path's class only combines them (`OrdersApi`, `OrderApi`)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from exchange import selectors
from exchange.apis.base import (
    FENCING_PARAMETER,
    PlatformApi,
    ResponseSerializer,
    StrictIntegerField,
    StrictSerializer,
    query_params,
)
from exchange.apis.serializers import MarketIdField, NewOrderSerializer, OrderSerializer, TradeSerializer, errors
from exchange.services import NewOrder, order_cancel, order_cancel_all, order_place
from exchange.services.deadman import MAX_TIMEOUT_MS, deadman_arm


class OrderListApi(PlatformApi):
    """The caller's orders, newest first, filtered by market, statuses and client_order_id."""

    class FilterSerializer(StrictSerializer):
        market_id = MarketIdField(required=False)
        status = serializers.CharField(required=False, max_length=200,
                                       help_text="comma-separated statuses, e.g. OPEN,PARTIALLY_FILLED")
        client_order_id = serializers.CharField(required=False, max_length=128)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=selectors.ORDERS_PAGE_MAX,
                                         default=selectors.ORDERS_PAGE_MAX)

    class OutputSerializer(ResponseSerializer):
        results = OrderSerializer(many=True)

    @extend_schema(operation_id="orders_list", parameters=[FilterSerializer],
                   responses={200: OutputSerializer, **errors()},
                   description="The caller's orders, newest first; filter by market_id, status (comma-separated) "
                   "and client_order_id (resolves the outcome of a request whose answer was lost).")
    def get(self, request):
        filters = query_params(OrderListApi.FilterSerializer, request)
        statuses = [s.strip() for s in filters.pop("status", "").split(",") if s.strip()]
        orders = selectors.order_list(user_id=self.user_id, statuses=statuses or None, **filters)
        return Response(OrderListApi.OutputSerializer({"results": orders}).data)


class OrderPlaceApi(PlatformApi):
    """Place an order; idempotent on client_order_id."""

    class InputSerializer(NewOrderSerializer):
        market_id = MarketIdField()

    class OutputSerializer(ResponseSerializer):
        order = OrderSerializer()
        trades = TradeSerializer(many=True)

    @extend_schema(
        operation_id="order_place",
        request=InputSerializer,
        parameters=[FENCING_PARAMETER],
        responses={201: OutputSerializer, 200: OutputSerializer, **errors(404, 409, 422)},
        description="Place an order. Idempotent on client_order_id: the same request again answers 200 with "
        "the same order; the same id with other content answers 409 DUPLICATE_CLIENT_ORDER_ID.",
    )
    def post(self, request):
        data = OrderPlaceApi.InputSerializer.valid_or_none(request.data)
        if data is None:  # anything but plain valid input: DRF's validation and its errors
            serializer = OrderPlaceApi.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
        market_id = data.pop("market_id")
        result = order_place(user_id=self.user_id, market_id=market_id, new=NewOrder(**data),
                             fencing_token=self.fencing_token)
        body = OrderPlaceApi.OutputSerializer.data_for({"order": result.order, "trades": result.trades})
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class OrdersApi(OrderListApi, OrderPlaceApi):
    """/orders: GET lists (OrderListApi), POST places (OrderPlaceApi)."""


class OrderDetailApi(PlatformApi):
    """One of the caller's orders (another user's answers 404)."""

    @extend_schema(operation_id="order_detail", responses={200: OrderSerializer, **errors(404)},
                   description="One of the caller's orders; another user's order answers 404 like a missing one.")
    def get(self, request, order_id: str):
        return Response(OrderSerializer(selectors.order_get(user_id=self.user_id, order_id=order_id)).data)


class OrderCancelApi(PlatformApi):
    """Cancel one of the caller's open orders."""

    @extend_schema(operation_id="order_cancel", responses={200: OrderSerializer, **errors(404, 409)},
                   parameters=[FENCING_PARAMETER],
                   description="Cancel one of the caller's open orders; answers the cancelled order "
                   "(409 ORDER_NOT_OPEN when it is no longer open).")
    def delete(self, request, order_id: str):
        order = order_cancel(user_id=self.user_id, order_id=order_id, fencing_token=self.fencing_token)
        return Response(OrderSerializer(order).data)


class OrderApi(OrderDetailApi, OrderCancelApi):
    """/orders/{order_id}: GET reads (OrderDetailApi), DELETE cancels (OrderCancelApi)."""


class OrderCancelAllApi(PlatformApi):
    """Cancel every open order of the caller in one market."""

    class InputSerializer(StrictSerializer):
        market_id = MarketIdField()

    class OutputSerializer(ResponseSerializer):
        cancelled = OrderSerializer(many=True)

    @extend_schema(operation_id="orders_cancel_all", request=InputSerializer, parameters=[FENCING_PARAMETER],
                   responses={200: OutputSerializer, **errors(404, 409)})
    def post(self, request):
        serializer = OrderCancelAllApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cancelled = order_cancel_all(user_id=self.user_id, market_id=serializer.validated_data["market_id"],
                                     fencing_token=self.fencing_token)
        return Response(OrderCancelAllApi.OutputSerializer({"cancelled": cancelled}).data)


class OrderCancelAllAfterApi(PlatformApi):
    """The caller's dead man's switch."""

    class InputSerializer(StrictSerializer):
        timeout_ms = StrictIntegerField(min_value=0, max_value=MAX_TIMEOUT_MS, help_text="0 disarms the switch")

    class OutputSerializer(ResponseSerializer):
        timeout_ms = serializers.IntegerField()
        deadline = serializers.DateTimeField(allow_null=True, help_text="when the orders will be cancelled; "
                                             "null when disarmed")

    @extend_schema(
        operation_id="orders_cancel_all_after",
        request=InputSerializer,
        responses={200: OutputSerializer, **errors()},
        description="Dead man's switch: unless called again within timeout_ms, every open order of the caller "
        "is cancelled by the platform. 0 disarms it.",
    )
    def post(self, request):
        serializer = OrderCancelAllAfterApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        timeout_ms = serializer.validated_data["timeout_ms"]
        switch = deadman_arm(user_id=self.user_id, timeout_ms=timeout_ms)
        body = {"timeout_ms": timeout_ms, "deadline": switch.deadline if switch else None}
        return Response(OrderCancelAllAfterApi.OutputSerializer(body).data)
