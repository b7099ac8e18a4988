"""Query-string filters of the AMM's lists (django-filter); a value that is not one of the
choices answers 400 INVALID_INPUT naming the parameter."""
from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from amm.enums import AMMLifecycleState, AMMPhase, DefenseLevel, KillSwitchState, choices
from amm.models import Alert, AlertSeverity, AlertType, AMMInstance, ReconciliationRun, ReconciliationVerdict


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`, anything else a 400 (django-filter's BooleanFilter reads `?x=yes` as
    no filter at all)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[("true", "true"), ("false", "false")],
                         coerce=lambda value: value == "true", **kwargs)


class InstanceFilter(django_filters.FilterSet):
    lifecycle_state = django_filters.ChoiceFilter(choices=choices(AMMLifecycleState))
    phase = django_filters.ChoiceFilter(choices=choices(AMMPhase))
    defense_level = django_filters.ChoiceFilter(choices=choices(DefenseLevel))
    kill_switch = django_filters.ChoiceFilter(choices=choices(KillSwitchState))

    class Meta:
        model = AMMInstance
        fields = ["lifecycle_state", "phase", "defense_level", "kill_switch"]


class AlertFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="market_id", help_text="market id")
    severity = django_filters.ChoiceFilter(choices=AlertSeverity.choices)
    type = django_filters.ChoiceFilter(choices=AlertType.choices)
    acknowledged = StrictBooleanFilter()

    class Meta:
        model = Alert
        fields = ["market", "severity", "type", "acknowledged"]


class ReconciliationRunFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="market_id", help_text="market id")
    verdict = django_filters.ChoiceFilter(choices=ReconciliationVerdict.choices)

    class Meta:
        model = ReconciliationRun
        fields = ["market", "verdict"]
