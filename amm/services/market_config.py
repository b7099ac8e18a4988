"""Per-market config: save (validate, bump version, publish to Redis) and hot reload (SPEC §4)."""
from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from amm import state
from amm.exceptions import InvalidInput
from amm.models import PARAMETER_NAMES, AMMInstance, MarketConfig
from amm.strategy.config import ConfigError, StrategyConfig

log = logging.getLogger(__name__)


def config_save(*, config: MarketConfig, actor: str = "system") -> MarketConfig:
    """Validate (ValidationError naming each bad field), bump `version`, save, and write
    `amm:config:{market_id}` once the transaction commits. Every config save goes here
    (the admin's save_model calls it)."""
    config.full_clean()
    with transaction.atomic():
        if config.pk is not None:
            current = MarketConfig.objects.select_for_update().only("version").get(pk=config.pk).version
        else:
            current = 0
        config.version = current + 1
        config.updated_by = actor
        config.save()
        market_id = config.instance.market_id
        mapping, version = config.as_strategy_config().as_redis_mapping(), config.version
        transaction.on_commit(lambda: state.config_write(market_id, mapping, version=version))
    log.info("config %s saved by %s: version %d", market_id, actor, config.version)
    return config


def config_update(*, market_id: str, actor: str = "system", **changes: Any) -> MarketConfig:
    """Change some parameters of a market's config (unknown names raise ValueError)."""
    unknown = set(changes) - set(PARAMETER_NAMES)
    if unknown:
        raise InvalidInput(f"unknown config parameters: {sorted(unknown)}")
    with transaction.atomic():
        config = MarketConfig.objects.select_for_update().select_related("instance").get(instance__market_id=market_id)
        for name, value in changes.items():
            setattr(config, name, value)
        return config_save(config=config, actor=actor)


def config_publish(*, market_id: str) -> int:
    """(Re)write `amm:config:{market_id}` from the durable config; returns its version."""
    config = MarketConfig.objects.select_related("instance").get(instance__market_id=market_id)
    state.config_write(market_id, config.as_strategy_config().as_redis_mapping(), version=config.version)
    return config.version


def config_reload(*, market_id: str, known_version: int | None) -> tuple[int, StrategyConfig] | None:
    """What the runtime calls every 30 s: (version, config) when `amm:config:{m}` holds a
    newer version than `known_version`, else None. A missing hash is republished from the
    database first (Redis was flushed); an invalid one is logged and ignored."""
    version = state.config_version(market_id)
    if version is None:
        if not AMMInstance.objects.filter(market_id=market_id, config__isnull=False).exists():
            return None
        version = config_publish(market_id=market_id)
    if known_version is not None and version <= known_version:
        return None
    raw = state.config_get(market_id)
    try:
        config = StrategyConfig.from_mapping(raw)
    except ConfigError as exc:
        log.error("Redis config of %s (version %s) is invalid; keeping the running config: %s",
                  market_id, version, exc)
        return None
    return version, config
