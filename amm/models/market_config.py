"""Per-market configuration, durable (SPEC §4 `amm:config:{market_id}`).

The parameter fields are generated from `amm.strategy.config.parameter_specs()`, the single
source of names, defaults, ranges and help text, so model and strategy cannot drift (a
test also checks that no migration is missing). Ranges are validated in `clean()` with the
strategy's own `validate_values`, and the `oracle_*` fields by the adapter they name
(amm/oracle). `version` is bumped by `amm.services.market_config.config_save`
on every save, which then writes `amm:config:{market_id}`.
"""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from amm.models.instance import AMMInstance
from amm.oracle.registry import oracle_config_errors
from amm.strategy.config import ConfigError, StrategyConfig, parameter_choices, parameter_specs, validate_values


class MarketConfig(models.Model):
    instance = models.OneToOneField(AMMInstance, on_delete=models.CASCADE, related_name="config")
    version = models.PositiveBigIntegerField(default=0)
    updated_by = models.CharField(max_length=150, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "amm_market_config"
        verbose_name = "AMM market config"

    def __str__(self) -> str:
        return f"config {self.instance.market_id} v{self.version}"

    @property
    def market_id(self) -> str:
        return self.instance.market_id

    def parameter_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    def as_strategy_config(self) -> StrategyConfig:
        return StrategyConfig(**self.parameter_values())

    def clean(self) -> None:
        values = self.parameter_values()
        errors = validate_values(values)
        if not errors:
            try:
                StrategyConfig(**values)
            except ConfigError as exc:
                errors = exc.errors
        if not errors:  # the oracle adapter named must exist and accept the market's settings

            errors = oracle_config_errors(values)
        if errors:
            raise ValidationError(errors)


def _range_text(lo: Any, hi: Any) -> str:
    if lo is None and hi is None:
        return ""
    return f" [{lo if lo is not None else '-inf'} .. {hi if hi is not None else 'inf'}]"


def _model_field(type_name: str, default: Any, lo: Any, hi: Any, help_text: str,
                 choices: tuple[str, ...] = ()) -> models.Field:
    text = f"{help_text}{_range_text(lo, hi)} (default {default!r})"
    if type_name == "int":
        return models.BigIntegerField(default=default, help_text=text)
    if type_name == "float":
        return models.FloatField(default=default, help_text=text)
    if type_name == "bool":
        return models.BooleanField(default=default, help_text=text)
    if type_name == "str":
        return models.CharField(max_length=500, blank=True, default=default, help_text=text,
                                choices=[(c, c) for c in choices] or None)
    raise TypeError(f"no model field for config parameter type {type_name!r}")


PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in dataclass_fields(StrategyConfig))
_CHOICES = parameter_choices()
for _name, _type, _default, _lo, _hi, _help in parameter_specs():
    MarketConfig.add_to_class(_name, _model_field(_type, _default, _lo, _hi, _help, _CHOICES.get(_name, ())))
