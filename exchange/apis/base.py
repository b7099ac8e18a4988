"""What every platform API view shares: auth, a bounded strict JSON parser, strict fields.

Strict because the contract is integer cents: a JSON integer is the only integer (no
`true`, no `"5"`, no `5.0`), a string is the only string, and unknown fields are refused."""
from __future__ import annotations

import copy
import functools
import json
import uuid
from collections.abc import Mapping

from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
    RegexValidator,
)
from django.db.models.manager import BaseManager
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.validators import ProhibitSurrogateCharactersValidator
from rest_framework.views import APIView

from exchange.apis.auth import IsPlatformUser, KeyAuth, PlatformTokenAuthentication
from exchange.apis.ratelimit import rate_limit_hit
from exchange.conf import exchange_settings
from exchange.events.bodies import datetime_text
from exchange.exceptions import InvalidInput
from exchange.services.deadman import deadman_fire_if_expired
from exchange.services.fencing import TOKEN_MAX

FENCING_HEADER = "X-Fencing-Token"
# The header in the schema of every order-changing call.
FENCING_PARAMETER = OpenApiParameter(
    FENCING_HEADER, OpenApiTypes.INT64, OpenApiParameter.HEADER, required=False,
    description="optional fencing token (issue 15): lower than the highest this user's calls carried in the "
    "market -> 409 STALE_FENCING_TOKEN, nothing done; else it becomes that highest")


class BoundedJSONParser(JSONParser):
    """JSON with a size limit (EXCHANGE_MAX_BODY_BYTES); anything unreadable is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = exchange_settings.EXCHANGE_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise ParseError(f"request body exceeds {limit} bytes", code="BODY_TOO_LARGE")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise ParseError(f"request body exceeds {limit} bytes", code="BODY_TOO_LARGE")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"malformed JSON: {exc}", code="MALFORMED_JSON") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class FirstRendererNegotiation(BaseContentNegotiation):
    """The API speaks JSON whatever the Accept header says."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# Base of every platform API class: `Token` auth, JSON in and out, a per-user rate limit
# (exchange/apis/ratelimit.py: `rate_limit_scope`, else read for GET and write otherwise;
# checked after authentication, in DRF's place for throttles). Before serving a
# caller's write, its own dead man's switch fires if its deadline has passed (SPEC §3.6
# cancel-all-after), so a late request never runs ahead of the cancel it was too late to
# prevent (whether it has passed comes with the API key's statement: `KeyAuth`); reads skip
# that check (the sweeper fires within a tick). (Comments, not
# docstrings: the schema shows docstrings.)
class PlatformApi(APIView):
    authentication_classes = [PlatformTokenAuthentication]
    permission_classes = [IsPlatformUser]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRendererNegotiation
    throttle_classes: list = []
    rate_limit_scope: str | None = None

    def check_throttles(self, request):
        scope = self.rate_limit_scope or ("read" if request.method in SAFE_METHODS else "write")
        rate_limit_hit(user_id=self.user_id, scope=scope)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            auth = request.auth  # KeyAuth: the switch was looked at with the key
            if isinstance(auth, KeyAuth) and auth.checked_at is not None:
                deadman_fire_if_expired(user_id=self.user_id, now=auth.checked_at, expired=auth.switch_expired)
            else:
                deadman_fire_if_expired(user_id=self.user_id)

    @property
    def user_id(self) -> str:
        return str(self.request.user.id)

    @property
    def fencing_token(self) -> int | None:
        """The order call's `X-Fencing-Token` (exchange/services/fencing.py), None without one;
        anything but a decimal integer up to 2^63-1 is a 400 before anything is done."""
        raw = self.request.headers.get(FENCING_HEADER)
        if raw is None:
            return None
        raw = raw.strip()
        if not raw.isascii() or not raw.isdigit() or int(raw) > TOKEN_MAX:
            raise InvalidInput(f"{FENCING_HEADER} must be a decimal integer from 0 to {TOKEN_MAX}",
                               field=FENCING_HEADER)
        return int(raw)


# --- strict input fields --------------------------------------------------------------
class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (never a boolean, string or float); out of range -> `range_code`."""

    def __init__(self, *, range_code: str | None = None, **kwargs):
        self.range_code = range_code
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except serializers.ValidationError as exc:
            if self.range_code is None:
                raise
            messages = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise serializers.ValidationError([str(m) for m in messages], code=self.range_code) from None


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


# An input serializer that refuses fields it does not declare (400 UNKNOWN_FIELD; the
# schema says `additionalProperties: false`). Nested serializers get an OpenAPI component
# name from their owner (`OrderPlaceApi.InputSerializer` -> `OrderPlaceInput`).
class StrictSerializer(serializers.Serializer):

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _name_component(cls)
        cls._input_plan = _input_plan(cls)

    @classmethod
    def valid_or_none(cls, data) -> dict | None:
        """What `is_valid()` would validate `data` to, computed without DRF's machinery (a
        tenth of an order placement's CPU) for plain input that is valid beyond doubt; None
        for anything else, which the caller then validates the usual way (the same errors).
        Only shapes of plain strict fields have a plan (`_input_plan`); others answer None."""
        plan = cls._input_plan
        if plan is None or type(data) is not dict or not data.keys() <= plan[1]:
            return None
        out = {}
        for name, check, required, default in plan[0]:
            if name in data:
                value = check(data[name])
                if value is _INVALID:
                    return None
                out[name] = value
            elif required:
                return None
            elif default is not _INVALID:
                out[name] = default
        return out

    def get_fields(self):
        # DRF deep-copies every declared field on each use, which re-runs each field's
        # __init__ (a tenth of an order placement's CPU). A plain field is copied shallowly:
        # bind() sets what belongs to one use on the copy, and its validators, choices and
        # messages are only read. A nested serializer binds children: copied deeply, as DRF does.
        return {name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
                for name, field in self._declared_fields.items()}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, f in self.fields.items() if not f.read_only})
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [serializers.ErrorDetail("unknown field", code="UNKNOWN_FIELD")]}
                )
        return super().to_internal_value(data)


_INVALID = object()


def _input_plan(cls) -> tuple | None:
    """(per field: name, check, required, default; the field names) of a StrictSerializer made
    only of plain strict fields whose every rule is known here, or None. A check answers the
    validated value, or _INVALID for anything it is not sure DRF would accept as it is."""
    if (cls.to_internal_value is not StrictSerializer.to_internal_value
            or cls.run_validation is not serializers.Serializer.run_validation
            or cls.validate is not serializers.Serializer.validate or getattr(cls.Meta, "validators", None)):
        return None  # validation of its own: DRF's way
    plan = []
    for name, field in cls._declared_fields.items():
        check = _input_check(field)
        if check is None or hasattr(cls, f"validate_{name}") or field.read_only or field.source not in (None, name):
            return None
        if field.allow_null:  # null is valid as it is (DRF runs no rule on it)
            check = functools.partial(_none_or, check)
        default = field.default
        if default is not serializers.empty and callable(default):
            return None
        plan.append((name, check, field.required, _INVALID if default is serializers.empty else default))
    return tuple(plan), frozenset(name for name, *_ in plan)


def _input_check(field):
    """The check of one field (see _input_plan), or None when the field has a rule not modelled."""
    kind = type(field)
    if kind is serializers.ListSerializer:  # many=True of a shape with a plan
        lo, hi, child = field.min_length or 0, field.max_length, field.child
        if (field.validators or hi is None or not isinstance(child, StrictSerializer) or child._input_plan is None
                or (not field.allow_empty and lo < 1)):
            return None
        one = child.valid_or_none

        def many(v):
            if type(v) is not list or not lo <= len(v) <= hi:
                return _INVALID
            items = [one(x) for x in v]
            return _INVALID if None in items else items

        return many
    if isinstance(field, StrictSerializer):  # a nested shape with a plan
        if field._input_plan is None or field.validators:
            return None
        one = field.valid_or_none
        return lambda v: _INVALID if (valid := one(v)) is None else valid
    rules = field.validators
    if issubclass(kind, StrictUUIDField) and kind.to_internal_value is StrictUUIDField.to_internal_value:
        return None if rules else _uuid_or_invalid
    if issubclass(kind, StrictIntegerField) and kind.to_internal_value is StrictIntegerField.to_internal_value:
        lo, hi = field.min_value, field.max_value
        if lo is None or hi is None or len(rules) != 2 or not all(
                (type(r) is MinValueValidator and r.limit_value == lo)
                or (type(r) is MaxValueValidator and r.limit_value == hi) for r in rules):
            return None
        return lambda v: v if type(v) is int and lo <= v <= hi else _INVALID
    if issubclass(kind, StrictChoiceField) and kind.to_internal_value is StrictChoiceField.to_internal_value:
        if rules or field.allow_blank:
            return None
        values = dict(field.choice_strings_to_values)
        return lambda v: values[v] if type(v) is str and v in values else _INVALID
    if issubclass(kind, StrictCharField) and kind.to_internal_value is StrictCharField.to_internal_value:
        lo, hi, patterns = field.min_length, field.max_length, []
        if lo is None or lo < 1 or hi is None or field.allow_blank:
            return None
        for rule in rules:
            if type(rule) is RegexValidator and not rule.inverse_match:
                patterns.append(rule.regex)
            elif not ((type(rule) is MinLengthValidator and rule.limit_value == lo)
                      or (type(rule) is MaxLengthValidator and rule.limit_value == hi)
                      or type(rule) in (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)):
                return None
        trim = field.trim_whitespace

        def check(v):
            # printable: no NUL, no surrogate, no whitespace but spaces; trimmed: nothing to trim
            if (type(v) is not str or not lo <= len(v) <= hi or not v.isprintable()
                    or (trim and v.strip() != v) or not all(p.search(v) for p in patterns)):
                return _INVALID
            return v

        return check
    return None


def _none_or(check, value):
    return None if value is None else check(value)


def _uuid_or_invalid(value):
    """StrictUUIDField's value (DRF's own parse of a string) or _INVALID."""
    if type(value) is not str:
        return _INVALID
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return _INVALID


# An output shape (component named like StrictSerializer's). DRF deep-copies every declared
# field each time a serializer is used; a flat shape (orders, trades, balances, positions,
# markets: served many times a second) is written from a per-class plan made once instead,
# with the same conversions (tests/exchange/api/test_serializers.py holds them equal).
class ResponseSerializer(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _name_component(cls)
        cls._flat_plan = _flat_plan(cls)

    def to_representation(self, instance):
        if self._flat_plan is None:
            return super().to_representation(instance)
        return _flat_represent(self._flat_plan, instance)

    @classmethod
    def data_for(cls, instance) -> dict:
        """`cls(instance).data`, without making a serializer when the shape has a flat plan
        (DRF's __init__ and its `data` wrapper cost more than writing a small answer)."""
        if cls._flat_plan is None:
            return cls(instance).data
        return _flat_represent(cls._flat_plan, instance)


def _flat_represent(plan: tuple, instance) -> dict:
    mapping = isinstance(instance, Mapping)
    out = {}
    for name, attr, convert in plan:
        value = instance[attr] if mapping else getattr(instance, attr)
        out[name] = None if value is None else convert(value)
    return out


_FLAT_CONVERTERS = (
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
    (serializers.UUIDField, str),
    (serializers.ChoiceField, str),
    (serializers.DateTimeField, datetime_text),  # DRF's format, cached (often just written by the events)
    (serializers.CharField, str),
)


def _flat_plan(cls) -> tuple | None:
    """(name, attribute, converter) of each declared field, or None when a field is not a
    plain value or a flat shape nested in this one (one or many), that is a method, dotted
    source or custom format, and DRF's way is kept."""
    plan = []
    for name, field in cls._declared_fields.items():
        if field.write_only:
            continue
        source = field.source or name
        convert = next((c for kind, c in _FLAT_CONVERTERS if type(field) is kind), None) or _nested_converter(field)
        if (convert is None or "." in source or source == "*" or getattr(field, "format", None) is not None
                or not field.required):  # DRF leaves an absent optional field out
            return None
        plan.append((name, source, convert))
    return tuple(plan)


def _nested_converter(field):
    """A flat ResponseSerializer nested as one value, or as a list (`many=True`), written by
    its own plan as DRF's ListSerializer would (a related manager's rows, else the iterable)."""
    if isinstance(field, ResponseSerializer) and field._flat_plan is not None:
        return field.to_representation
    child = getattr(field, "child", None)
    if (type(field) is serializers.ListSerializer and isinstance(child, ResponseSerializer)
            and child._flat_plan is not None):
        one = child.to_representation

        def many(value):
            return [one(item) for item in (value.all() if isinstance(value, BaseManager) else value)]

        return many
    return None


def _name_component(cls) -> None:
    if "Meta" in cls.__dict__:
        return
    name = cls.__qualname__.replace("Api.", "").replace(".", "").removesuffix("Serializer")
    cls.Meta = type("Meta", (), {"ref_name": name})


def query_params(serializer_class, request) -> dict:
    """Validated query parameters (unknown ones are ignored, as usual for a query string)."""
    known = serializer_class().fields.keys()
    serializer = serializer_class(data={k: v for k, v in request.query_params.items() if k in known})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """OpenAPI: a StrictSerializer's object refuses unknown properties, as the API does."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
