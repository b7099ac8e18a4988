"""The one table mapping the platform's order statuses to the AMM's view (seed §2.3, §6.4).

REPLACED has no platform status of its own: the platform says CANCELLED and the AMM knows
it cancelled the order through an atomic replace. REJECTED orders never lived: the caller
logs them and raises an alert. NEW is transient (the AMM does not see it) and reads as ACTIVE.
"""
from __future__ import annotations

from amm.enums import AMMOrderState

PLATFORM_TO_AMM: dict[str, AMMOrderState | None] = {
    "NEW": AMMOrderState.ACTIVE,
    "OPEN": AMMOrderState.ACTIVE,
    "PARTIALLY_FILLED": AMMOrderState.PARTIALLY_ACTIVE,
    "FILLED": AMMOrderState.FILLED,
    "CANCELLED": AMMOrderState.CANCELLED,
    "REJECTED": None,
}

OPEN_STATUSES = ("OPEN", "PARTIALLY_FILLED")  # what `GET /orders?status=` asks for live orders
REJECTED = "REJECTED"


def amm_order_state(platform_status: str) -> AMMOrderState | None:
    """AMMOrderState of a platform status; None for REJECTED. Unknown statuses raise KeyError."""
    return PLATFORM_TO_AMM[platform_status]


def is_live(platform_status: str) -> bool:
    """True while the order rests on the book (tracked in `amm:orders`)."""
    return amm_order_state(platform_status) in (AMMOrderState.ACTIVE, AMMOrderState.PARTIALLY_ACTIVE)
