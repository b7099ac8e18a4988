"""The AMM's own order history, for audit (seed §6.4).

Written in batches from the `amm:journal` stream by amm.services.journal
(`order_journal_flush`), never on the quoting hot path. `journal_id` is the last stream
entry applied to the row, which makes a repeated flush a no-op.
"""
from __future__ import annotations

from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition

from amm.enums import AMMOrderState as S
from amm.enums import BookType, Direction, Side, choices

LIVE = [S.ACTIVE.value, S.PARTIALLY_ACTIVE.value]


class AMMOrder(FSMModelMixin, models.Model):
    order_id = models.CharField(max_length=64, unique=True)
    client_order_id = models.CharField(max_length=128, blank=True, default="", db_index=True)
    market_id = models.CharField(max_length=64)
    side = models.CharField(max_length=3, choices=choices(Side))
    direction = models.CharField(max_length=4, choices=choices(Direction))
    book_type = models.CharField(max_length=16, choices=choices(BookType))
    price_cents = models.SmallIntegerField()
    quantity = models.IntegerField(default=0)  # 0 until the placement event is flushed
    filled_quantity = models.IntegerField(default=0)  # from the fill feed, exactly once
    remaining = models.IntegerField(default=0)
    state = FSMField(default=S.ACTIVE.value, choices=choices(S), protected=True)
    platform_status = models.CharField(max_length=16, blank=True, default="")
    created_ms = models.BigIntegerField(default=0)
    journal_id = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "amm_order"
        ordering = ["-created_ms", "-id"]
        indexes = [models.Index(fields=["market_id", "state", "created_ms"], name="ix_amm_order_market_state")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.side} {self.direction} {self.price_cents}x{self.quantity} {self.state}"

    @transition(field=state, source=S.ACTIVE.value, target=S.PARTIALLY_ACTIVE.value)
    def partially_fill(self) -> None:
        pass

    @transition(field=state, source=LIVE, target=S.FILLED.value)
    def fill(self) -> None:
        self.remaining = 0

    @transition(field=state, source=LIVE, target=S.CANCELLED.value)
    def cancel(self) -> None:
        """Own cancel or a passive cancel by the platform."""

    @transition(field=state, source=LIVE, target=S.REPLACED.value)
    def replace(self) -> None:
        """Cancelled through an atomic replace."""
