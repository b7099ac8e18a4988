"""AMM enums (seed §9.1), plain `str` enums so that the pure strategy can use them.

The plugin keeps its own copy of the platform vocabulary it speaks (sides, directions,
book types, order and market statuses) so that `amm/` never imports `exchange/`.
"""
from enum import Enum


class AMMLifecycleState(str, Enum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    EMERGENCY = "EMERGENCY"
    WINDING_DOWN = "WINDING_DOWN"
    STOPPED = "STOPPED"


class AMMPhase(str, Enum):
    EXPLORATION = "EXPLORATION"
    STABILIZATION = "STABILIZATION"


class PhaseTransitionReason(str, Enum):
    TIME_EXPIRED = "TIME_EXPIRED"
    VOLUME_REACHED = "VOLUME_REACHED"
    PRICE_STABLE = "PRICE_STABLE"
    EMERGENCY_ROLLBACK = "EMERGENCY_ROLLBACK"


class DefenseLevel(str, Enum):
    NORMAL = "NORMAL"
    WIDEN = "WIDEN"
    ONE_SIDE = "ONE_SIDE"
    KILL_SWITCH = "KILL_SWITCH"


class KillSwitchState(str, Enum):
    OFF = "OFF"
    ON = "ON"


class AMMOrderState(str, Enum):
    ACTIVE = "ACTIVE"  # platform OPEN
    PARTIALLY_ACTIVE = "PARTIALLY_ACTIVE"  # platform PARTIALLY_FILLED
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REPLACED = "REPLACED"  # platform CANCELLED through an atomic replace


# The platform contract's vocabulary (SPEC §3.6), as the connector speaks it.
class Side(str, Enum):
    YES = "YES"
    NO = "NO"


class Direction(str, Enum):
    BUY = "BUY"
    SELL = "SELL"


class BookType(str, Enum):
    NATIVE_BUY = "NATIVE_BUY"  # BUY YES: YES-view bid at p
    NATIVE_SELL = "NATIVE_SELL"  # SELL YES: YES-view ask at p
    SYNTHETIC_BUY = "SYNTHETIC_BUY"  # SELL NO at q: YES-view bid at 100 - q
    SYNTHETIC_SELL = "SYNTHETIC_SELL"  # BUY NO at q: YES-view ask at 100 - q


def choices(enum_cls: type[Enum]) -> list[tuple[str, str]]:
    """Django `choices` for a plain enum."""
    return [(member.value, member.value) for member in enum_cls]
