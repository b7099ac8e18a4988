"""Startup of one market (seed §7.2, SPEC §5 STARTING): config and platform truth into Redis."""
from __future__ import annotations

from amm.bookkeeping import FillFeed, SyncResult, market_sync
from amm.connector import PlatformClient
from amm.enums import AMMPhase, DefenseLevel, KillSwitchState
from amm.models import AMMInstance, MarketConfig
from amm.services.market_config import config_publish


def market_startup_sync(*, market_id: str, connector: PlatformClient, feed: FillFeed | None = None) -> SyncResult:
    """Publish the durable config to `amm:config`, then load balance, position, open orders
    and market metadata from the platform (`market_sync`), with `amm:state` initialised
    from the instance (phase, defense level, kill switch) and defaults for the rest."""
    instance = AMMInstance.objects.filter(market_id=market_id).first()
    fair = 50
    if instance is not None and MarketConfig.objects.filter(instance=instance).exists():
        config_publish(market_id=market_id)
        fair = instance.config.initial_fair_price_cents
    state_fields = {
        "phase": instance.phase if instance else AMMPhase.EXPLORATION.value,
        "defense_level": instance.defense_level if instance else DefenseLevel.NORMAL.value,
        "kill_switch": instance.kill_switch if instance else KillSwitchState.OFF.value,
    }
    defaults = {
        "fair_price_cents": fair,
        "sigma_cents": 1.0,
        "last_requote_ms": 0,
        "daily_pnl_cents": 0,
        "total_fills_today": 0,
        "lvr_cooldown_until": 0,
    }
    return market_sync(market_id=market_id, connector=connector, feed=feed, state_fields=state_fields,
                       state_defaults=defaults)
