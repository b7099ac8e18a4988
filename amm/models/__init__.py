"""AMM models (durable layer): instances and their state machines, per-market config,
alerts, reconciliation runs, the AMM's order history."""
from amm.models.alerts import Alert, AlertSeverity, AlertType, ReconciliationRun, ReconciliationVerdict  # noqa: F401
from amm.models.instance import (  # noqa: F401
    AMMInstance,
    DefenseLevelChange,
    KillSwitchChange,
    LifecycleChange,
    PhaseTransition,
)
from amm.models.market_config import PARAMETER_NAMES, MarketConfig  # noqa: F401
from amm.models.orders import AMMOrder  # noqa: F401
