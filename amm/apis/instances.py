"""AMM instances: their durable state (the database) with their live working state (Redis),
and the histories of their state machines (SPEC §5, §9)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from amm import selectors
from amm.apis.base import AmmApi, AmmListApi, Output, errors
from amm.apis.filters import InstanceFilter
from amm.enums import AMMLifecycleState, AMMPhase, DefenseLevel, KillSwitchState, PhaseTransitionReason, choices
from amm.models import DefenseLevelChange, KillSwitchChange, LifecycleChange, PhaseTransition
from amm.state import INVENTORY_FIELDS
from amm.strategy.config import parameter_specs


# --- live working state (Redis, SPEC §4) --------------------------------------------------------
def _shape(name: str, fields: dict) -> type[Output]:
    """An output shape whose fields come from a declaration elsewhere (Redis keys, strategy config)."""
    return type(name, (Output,), {"__module__": __name__, "__qualname__": name, **fields})


InventoryOutput = _shape("InventoryOutput", {name: serializers.IntegerField() for name in INVENTORY_FIELDS})


class QuoteLevelOutput(Output):
    price_cents = serializers.IntegerField(help_text="YES-view price")
    quantity = serializers.IntegerField(help_text="remaining shares of the AMM's orders at that price")


class LiveOrderOutput(Output):
    order_id = serializers.CharField()
    side = serializers.CharField()
    direction = serializers.CharField()
    price = serializers.IntegerField(help_text="own-side price in cents")
    yes_price_cents = serializers.IntegerField(help_text="YES-view price")
    qty = serializers.IntegerField()
    remaining = serializers.IntegerField()
    book_type = serializers.CharField()
    created_ms = serializers.IntegerField()


class OracleOutput(Output):
    price_cents = serializers.FloatField(required=False)
    ts_ms = serializers.IntegerField(required=False)
    source = serializers.CharField(required=False)


class LiveSummaryOutput(Output):
    synced = serializers.BooleanField(help_text="false until a startup sync wrote the market into Redis")
    inventory = InventoryOutput(allow_null=True)
    open_orders = serializers.IntegerField(help_text="the AMM's live orders in this market")
    best_bid = QuoteLevelOutput(allow_null=True)
    best_ask = QuoteLevelOutput(allow_null=True)
    phase = serializers.CharField(allow_null=True, help_text="as the running loop last published it")
    defense_level = serializers.CharField(allow_null=True)
    kill_switch = serializers.CharField(allow_null=True)
    fair_price_cents = serializers.IntegerField(allow_null=True)
    sigma_cents = serializers.FloatField(allow_null=True)
    inventory_skew = serializers.FloatField(allow_null=True)
    daily_pnl_cents = serializers.IntegerField()
    total_fills_today = serializers.IntegerField()
    last_requote_ms = serializers.IntegerField(allow_null=True)
    last_requote_age_ms = serializers.IntegerField(allow_null=True)
    lvr_cooldown_until = serializers.IntegerField(allow_null=True)
    config_version = serializers.IntegerField(allow_null=True, help_text="the config version in Redis")
    market_status = serializers.CharField(allow_null=True, help_text="the platform's, as last seen")
    emergency_cause = serializers.CharField(allow_null=True)
    last_outcome = serializers.CharField(allow_null=True, help_text="of the last quote cycle")
    cycles = serializers.IntegerField()
    read_at_ms = serializers.IntegerField()


class LiveDetailOutput(LiveSummaryOutput):
    orders = LiveOrderOutput(many=True)
    oracle = OracleOutput(allow_null=True)


# --- durable state (the database) -----------------------------------------------------------------------
class InstanceStateOutput(Output):
    market_id = serializers.CharField()
    lifecycle_state = serializers.ChoiceField(choices=choices(AMMLifecycleState))
    phase = serializers.ChoiceField(choices=choices(AMMPhase))
    defense_level = serializers.ChoiceField(choices=choices(DefenseLevel))
    kill_switch = serializers.ChoiceField(choices=choices(KillSwitchState))
    kill_switch_by = serializers.CharField()
    kill_switch_reason = serializers.CharField()
    kill_switch_changed_at = serializers.DateTimeField(allow_null=True)
    budget_cents = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


_PARAMETER_FIELDS = {"int": serializers.IntegerField, "float": serializers.FloatField,
                     "bool": serializers.BooleanField, "str": serializers.CharField}


# every strategy parameter (amm.strategy.config, the single source of names and meanings)
ConfigParametersOutput = _shape("ConfigParametersOutput", {
    name: _PARAMETER_FIELDS[kind](help_text=help_text) for name, kind, _default, _lo, _hi, help_text in parameter_specs()})


class ConfigOutput(Output):
    version = serializers.IntegerField(help_text="bumped by every save; the loops apply a new one within 30 s")
    updated_by = serializers.CharField()
    updated_at = serializers.DateTimeField()
    parameters = ConfigParametersOutput(source="*")


class InstanceListApi(AmmListApi):
    """AMM instances by market id, each with its live state (one Redis round trip per page)."""

    filterset_class = InstanceFilter

    class OutputSerializer(InstanceStateOutput):
        live = LiveSummaryOutput()

    def get_queryset(self):
        return selectors.instances_list()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        live = selectors.markets_live_view(market_ids=[instance.market_id for instance in page])
        for instance in page:
            instance.live = live[instance.market_id]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(operation_id="amm_instances_list", responses={200: OutputSerializer, **errors()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InstanceDetailApi(AmmApi):
    """One instance: durable state, config, and live state with its orders."""

    class OutputSerializer(InstanceStateOutput):
        created_at = serializers.DateTimeField()
        config = ConfigOutput(source="durable_config", allow_null=True, help_text="the durable config")
        live = LiveDetailOutput()

    @extend_schema(operation_id="amm_instance_detail", responses={200: OutputSerializer, **errors(404)})
    def get(self, request, market_id: str):
        instance = selectors.instance_detail(market_id=market_id)
        instance.durable_config = getattr(instance, "config", None)  # None: an instance without its config
        instance.live = selectors.markets_live_view(market_ids=[market_id])[market_id]
        return Response(InstanceDetailApi.OutputSerializer(instance).data)


# --- histories (SPEC §5: each transition recorded with who, why, when) ----------------------------------------
class _HistoryApi(AmmListApi):
    model: type
    selector = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no market
            return self.model.objects.none()
        market_id = self.kwargs["market_id"]
        selectors.instance_require(market_id=market_id)
        return type(self).selector(market_id=market_id)


class _RecordOutput(Output):
    id = serializers.IntegerField()
    timestamp_ms = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class PhaseHistoryApi(_HistoryApi):
    """Phase transitions of one market, newest first (seed §6.2: from, to, reason, timestamp_ms)."""

    model = PhaseTransition
    selector = staticmethod(selectors.phase_history)

    class OutputSerializer(_RecordOutput):
        from_phase = serializers.ChoiceField(choices=choices(AMMPhase))
        to_phase = serializers.ChoiceField(choices=choices(AMMPhase))
        reason = serializers.ChoiceField(choices=choices(PhaseTransitionReason))

    @extend_schema(operation_id="amm_phase_history", responses={200: OutputSerializer, **errors(404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DefenseHistoryApi(_HistoryApi):
    """Defense level changes of one market, newest first, with who and why."""

    model = DefenseLevelChange
    selector = staticmethod(selectors.defense_history)

    class OutputSerializer(_RecordOutput):
        from_level = serializers.ChoiceField(choices=choices(DefenseLevel))
        to_level = serializers.ChoiceField(choices=choices(DefenseLevel))
        reason = serializers.CharField()
        actor = serializers.CharField()

    @extend_schema(operation_id="amm_defense_history", responses={200: OutputSerializer, **errors(404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LifecycleHistoryApi(_HistoryApi):
    """Lifecycle changes of one market, newest first, with who and why."""

    model = LifecycleChange
    selector = staticmethod(selectors.lifecycle_history)

    class OutputSerializer(_RecordOutput):
        from_state = serializers.ChoiceField(choices=choices(AMMLifecycleState))
        to_state = serializers.ChoiceField(choices=choices(AMMLifecycleState))
        reason = serializers.CharField()
        actor = serializers.CharField()

    @extend_schema(operation_id="amm_lifecycle_history", responses={200: OutputSerializer, **errors(404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class KillSwitchHistoryApi(_HistoryApi):
    """Kill switch changes of one market, newest first, with who and why."""

    model = KillSwitchChange
    selector = staticmethod(selectors.kill_switch_history)

    class OutputSerializer(_RecordOutput):
        from_state = serializers.ChoiceField(choices=choices(KillSwitchState))
        to_state = serializers.ChoiceField(choices=choices(KillSwitchState))
        reason = serializers.CharField()
        actor = serializers.CharField()

    @extend_schema(operation_id="amm_kill_switch_history", responses={200: OutputSerializer, **errors(404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

