"""AMM services (writes). What the runtime calls:

- startup: `instance_start` -> `market_startup_sync` -> `instance_start_complete` (RUNNING, or
  EMERGENCY when the kill switch is ON)
- every 5 minutes: `reconcile_market`
- every 30 s: `config_reload`
- every few seconds: `order_journal_flush`
- state machines: `phase_transition`, `defense_level_set`, `instance_kill`,
  `instance_reset_kill_switch`, `instance_resume`, ...
The fill feed and REST-answer recording live in amm.bookkeeping; Redis in amm.state.
"""
from amm.alerts import alert_acknowledge, alert_raise, alert_raise_unless_open  # noqa: F401
from amm.services.instances import (  # noqa: F401
    defense_level_set,
    instance_emergency,
    instance_enable,
    instance_kill,
    instance_reset_kill_switch,
    instance_resume,
    instance_running,
    instance_start,
    instance_start_complete,
    instance_start_failed,
    instance_stop,
    instance_wind_down,
    phase_transition,
)
from amm.services.journal import JournalFlushResult, order_journal_flush  # noqa: F401
from amm.services.market_config import config_publish, config_reload, config_save, config_update  # noqa: F401
from amm.services.market_startup import market_startup_sync  # noqa: F401
from amm.services.reconciliation import reconcile_market  # noqa: F401
