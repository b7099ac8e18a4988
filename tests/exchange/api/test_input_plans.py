"""StrictSerializer.valid_or_none (the input fast path of POST /orders): for any input it either
answers None (the view then validates the usual way) or exactly what DRF's is_valid() validates
the input to; and it answers for plain valid input, so the fast path is taken."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.apis.amm import AmmPrivilegedApi
from exchange.apis.orders import OrderCancelAllAfterApi, OrderCancelAllApi, OrderPlaceApi
from exchange.apis.serializers import NewOrderSerializer

SHAPES = [OrderPlaceApi.InputSerializer, NewOrderSerializer, OrderCancelAllApi.InputSerializer,
          OrderCancelAllAfterApi.InputSerializer, AmmPrivilegedApi.InputSerializer]
ORDER = {"market_id": "M-1", "client_order_id": "c-1", "side": "YES", "direction": "BUY", "price_cents": 10,
         "quantity": 1}


def drf(shape, data):
    serializer = shape(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


def assert_agrees(shape, data):
    fast = shape.valid_or_none(data)
    if fast is not None:
        expected = drf(shape, data)
        assert expected is not None, (shape, data)
        assert fast == expected and [type(v) for v in fast.values()] == [type(expected[k]) for k in fast], (shape, data)


def test_every_shape_of_plain_fields_has_a_plan():
    for shape in SHAPES:
        assert shape._input_plan is not None, shape


@pytest.mark.parametrize("data", [
    ORDER,
    {**ORDER, "time_in_force": "IOC"},
    {**ORDER, "client_order_id": "x" * 128, "price_cents": 99, "quantity": 10_000_000, "side": "NO",
     "direction": "SELL"},
    {**ORDER, "market_id": "a.B_c-9" * 9 + "z"},
    {**ORDER, "client_order_id": " "},  # not trimmed: a space is an id like any other
])
def test_plain_valid_orders_take_the_fast_path(data):
    assert OrderPlaceApi.InputSerializer.valid_or_none(data) == drf(OrderPlaceApi.InputSerializer, data)
    assert OrderPlaceApi.InputSerializer.valid_or_none(data) is not None


@pytest.mark.parametrize("change", [
    {"market_id": " M-1"}, {"market_id": "M 1"}, {"market_id": ""}, {"market_id": "m" * 65}, {"market_id": 5},
    {"client_order_id": ""}, {"client_order_id": "x" * 129}, {"client_order_id": "a\x00b"},
    {"client_order_id": "a\ud800b"}, {"client_order_id": "a\tb"}, {"client_order_id": 7}, {"client_order_id": None},
    {"side": "yes"}, {"side": ""}, {"side": None}, {"side": 1}, {"direction": "HOLD"},
    {"price_cents": 0}, {"price_cents": 100}, {"price_cents": True}, {"price_cents": 10.0}, {"price_cents": "10"},
    {"quantity": 0}, {"quantity": 10_000_001}, {"quantity": False}, {"time_in_force": "FOK"},
    {"time_in_force": None}, {"extra": 1},
])
def test_anything_but_plain_valid_input_goes_to_drf(change):
    data = {**ORDER, **change}
    assert OrderPlaceApi.InputSerializer.valid_or_none(data) is None, data
    assert_agrees(OrderPlaceApi.InputSerializer, data)


@pytest.mark.parametrize("data", [None, [], [ORDER], "x", 5, {k: v for k, v in ORDER.items() if k != "quantity"}])
def test_not_an_order_goes_to_drf(data):
    assert OrderPlaceApi.InputSerializer.valid_or_none(data) is None


values = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**64), st.floats(allow_nan=False), st.text(max_size=70),
                   st.sampled_from(["YES", "NO", "BUY", "SELL", "GTC", "IOC", "M-1", " M-1", "a\x00", "\ud800"]),
                   st.lists(st.integers(), max_size=2))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(shape=st.sampled_from(SHAPES), data=st.data())
def test_any_input_is_validated_as_drf_would(shape, data):
    names = sorted(shape._input_plan[1]) + ["extra"]
    base = data.draw(st.booleans())
    body = dict(ORDER) if base else {}
    body.update(data.draw(st.dictionaries(st.sampled_from(names), values, max_size=len(names))))
    if data.draw(st.booleans()):
        body = {k: v for k, v in body.items() if k in shape._input_plan[1]}
    assert_agrees(shape, body)


# --- the atomic replace: a list of shapes, each with a nullable id and a nullable nested order ---
NEW = {k: v for k, v in ORDER.items() if k != "market_id"}
OLD = "7a1e5c2e-0000-4000-a000-000000000001"


def test_the_replace_shapes_have_plans():
    from exchange.apis.amm import OrdersReplaceApi, ReplacementSerializer

    assert ReplacementSerializer._input_plan is not None and OrdersReplaceApi.InputSerializer._input_plan is not None


@pytest.mark.parametrize("replacements", [
    [{"old_order_id": None, "new": NEW}],
    [{"new": NEW}, {"old_order_id": OLD}, {"old_order_id": OLD.replace("-", "").upper(), "new": None}],
    [{"old_order_id": None, "new": {**NEW, "client_order_id": f"c-{i}"}} for i in range(40)],
    [{"old_order_id": None, "new": None}],  # valid input: the service refuses it, with its own error
])
def test_plain_valid_replaces_take_the_fast_path(replacements):
    from exchange.apis.amm import OrdersReplaceApi

    data = {"market_id": "M-1", "replacements": replacements}
    assert OrdersReplaceApi.InputSerializer.valid_or_none(data) is not None
    assert_agrees(OrdersReplaceApi.InputSerializer, data)


@pytest.mark.parametrize("replacements", [
    [], [{"new": NEW}] * 41, {"new": NEW}, [None], [[]], [{"new": NEW, "extra": 1}], [{"old_order_id": "nope"}],
    [{"old_order_id": 5}], [{"old_order_id": OLD, "new": {**NEW, "quantity": 0}}], [{"new": {**NEW, "x": 1}}],
    [{"new": "order"}], [{"new": NEW}, {"new": {**NEW, "side": "MAYBE"}}],
])
def test_anything_but_a_plain_valid_replace_goes_to_drf(replacements):
    from exchange.apis.amm import OrdersReplaceApi

    data = {"market_id": "M-1", "replacements": replacements}
    assert OrdersReplaceApi.InputSerializer.valid_or_none(data) is None


items = st.fixed_dictionaries({}, optional={
    "old_order_id": st.one_of(st.none(), st.just(OLD), st.uuids().map(str), st.text(max_size=40), st.integers()),
    "new": st.one_of(st.none(), st.just(NEW), st.dictionaries(st.sampled_from(sorted(NEW) + ["extra"]), values)
                     .map(lambda d: {**NEW, **d})),
    "extra": st.integers(),
})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(replacements=st.one_of(st.lists(items, max_size=42), values), market=st.sampled_from(["M-1", " M", 3]))
def test_any_replace_is_validated_as_drf_would(replacements, market):
    from exchange.apis.amm import OrdersReplaceApi

    assert_agrees(OrdersReplaceApi.InputSerializer, {"market_id": market, "replacements": replacements})
