"""Platform tables (SPEC §3.1, "DB v2.3"): names as in the seed, money in BIGINT cents.

Constraints that make a corrupt balance impossible live in the database (CHECK), not only
in the engine. The engine (exchange.services) is the only writer.
"""
from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, transition

from exchange.enums import (
    AMM_USER_ID,
    BookSide,
    BookType,
    Direction,
    FrozenAssetType,
    LedgerEntryType,
    MarketStatus,
    OrderStatus,
    Outcome,
    PriceType,
    ReferenceType,
    Side,
    TimeInForce,
    TradeScenario,
)


class User(models.Model):
    """A platform user (trader, the AMM, system accounts). Not a Django staff user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=64, unique=True)
    email = models.CharField(max_length=254, blank=True, default="")
    password_hash = models.CharField(max_length=255, default="!")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)  # may call staff operations of the API
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "users"

    def __str__(self) -> str:
        return self.username


class ApiKey(models.Model):
    """A platform API key (`Authorization: Token <key>`); only its SHA-256 is stored."""

    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_keys"


class Account(models.Model):
    user_id = models.CharField(max_length=64, unique=True)  # UUID string (seed §2.1)
    available_balance = models.BigIntegerField(default=0)
    frozen_balance = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)  # +1 on every atomic change
    # AMM extension (seed §3.3): netting after a trade runs only when TRUE; the AMM is FALSE.
    auto_netting_enabled = models.BooleanField(default=True, db_default=True)

    class Meta:
        db_table = "accounts"
        constraints = [
            models.CheckConstraint(condition=Q(available_balance__gte=0), name="ck_accounts_available_nonneg"),
            models.CheckConstraint(condition=Q(frozen_balance__gte=0), name="ck_accounts_frozen_nonneg"),
        ]


class Market(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    title = models.CharField(max_length=255)
    status = FSMField(default=MarketStatus.ACTIVE, choices=MarketStatus.choices, protected=True)
    min_price_cents = models.SmallIntegerField(default=1)
    max_price_cents = models.SmallIntegerField(default=99)
    maker_fee_bps = models.IntegerField(default=0)
    taker_fee_bps = models.IntegerField(default=0)
    trading_end_at = models.DateTimeField(null=True, blank=True)
    resolution_date = models.DateTimeField(null=True, blank=True)
    reserve_balance = models.BigIntegerField(default=0)
    total_yes_shares = models.BigIntegerField(default=0)
    total_no_shares = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=3, choices=Outcome.choices, null=True, blank=True)
    # Grows with every change of the book; also the time priority of resting orders.
    sequence_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "markets"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_price_cents__gte=1) & Q(max_price_cents__lte=99) & Q(min_price_cents__lte=F("max_price_cents")),
                name="ck_markets_price_band",
            ),
            models.CheckConstraint(
                condition=Q(maker_fee_bps__gte=0, maker_fee_bps__lte=1000, taker_fee_bps__gte=0, taker_fee_bps__lte=1000),
                name="ck_markets_fee_bps",
            ),
            models.CheckConstraint(condition=Q(reserve_balance__gte=0), name="ck_markets_reserve_nonneg"),
            models.CheckConstraint(
                condition=Q(total_yes_shares__gte=0) & Q(total_no_shares__gte=0), name="ck_markets_shares_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return self.id

    # --- lifecycle (SPEC §3.4); side effects live in services.markets ----------------
    @transition(field=status, source=MarketStatus.SUSPENDED, target=MarketStatus.ACTIVE)
    def resume(self) -> None:
        """SUSPENDED -> ACTIVE."""

    @transition(field=status, source=MarketStatus.HALTED, target=MarketStatus.ACTIVE)
    def unhalt(self) -> None:
        """HALTED -> ACTIVE."""

    @transition(field=status, source=MarketStatus.ACTIVE, target=MarketStatus.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(field=status, source=[MarketStatus.ACTIVE, MarketStatus.SUSPENDED], target=MarketStatus.HALTED)
    def halt(self) -> None:
        pass

    @transition(
        field=status,
        source=[MarketStatus.ACTIVE, MarketStatus.SUSPENDED, MarketStatus.HALTED],
        target=MarketStatus.RESOLVED,
    )
    def resolve(self, outcome: str) -> None:
        self.outcome = outcome

    @transition(field=status, source=MarketStatus.RESOLVED, target=MarketStatus.SETTLED)
    def settle(self) -> None:
        pass

    @transition(
        field=status,
        source=[MarketStatus.ACTIVE, MarketStatus.SUSPENDED, MarketStatus.HALTED, MarketStatus.RESOLVED],
        target=MarketStatus.VOIDED,
    )
    def void(self) -> None:
        pass


class MarketEvent(models.Model):
    """Every market status change (the platform's market event stream, MVP: a table)."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=MarketStatus.choices)
    to_status = models.CharField(max_length=16, choices=MarketStatus.choices)
    actor = models.CharField(max_length=64, default="system")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "market_events"


class Position(models.Model):
    user_id = models.CharField(max_length=64)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="positions")
    yes_volume = models.IntegerField(default=0)
    yes_cost_sum = models.BigIntegerField(default=0)
    yes_pending_sell = models.IntegerField(default=0)
    no_volume = models.IntegerField(default=0)
    no_cost_sum = models.BigIntegerField(default=0)
    no_pending_sell = models.IntegerField(default=0)
    # Extension: cumulative realized PnL of this position, fees excluded (for I3 and audit).
    realized_pnl = models.BigIntegerField(default=0)

    class Meta:
        db_table = "positions"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "market"], name="uq_positions_user_market"),
            models.CheckConstraint(
                condition=Q(yes_volume__gte=0) & Q(no_volume__gte=0), name="ck_positions_volume_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(yes_pending_sell__gte=0)
                & Q(no_pending_sell__gte=0)
                & Q(yes_pending_sell__lte=F("yes_volume"))
                & Q(no_pending_sell__lte=F("no_volume")),
                name="ck_positions_pending_within_volume",
            ),
            models.CheckConstraint(
                condition=Q(yes_cost_sum__gte=0) & Q(no_cost_sum__gte=0), name="ck_positions_cost_nonneg"
            ),
        ]

    @property
    def yes_available(self) -> int:
        return self.yes_volume - self.yes_pending_sell

    @property
    def no_available(self) -> int:
        return self.no_volume - self.no_pending_sell


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_order_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=64)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    original_side = models.CharField(max_length=3, choices=Side.choices)
    original_direction = models.CharField(max_length=4, choices=Direction.choices)
    book_type = models.CharField(max_length=16, choices=BookType.choices)
    book_side = models.CharField(max_length=3, choices=BookSide.choices)
    price_cents = models.SmallIntegerField()  # on its own side
    yes_price = models.SmallIntegerField()  # YES-view price (book position)
    quantity = models.IntegerField()
    filled_quantity = models.IntegerField(default=0)
    price_type = models.CharField(max_length=8, choices=PriceType.choices, default=PriceType.LIMIT)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    frozen_asset_type = models.CharField(max_length=10, choices=FrozenAssetType.choices)
    frozen_amount = models.BigIntegerField(default=0)  # still frozen: cents or shares
    priority = models.BigIntegerField()  # market.sequence_id at entry: time priority
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "client_order_id"], name="uq_orders_user_client_order_id"),
            models.CheckConstraint(condition=Q(price_cents__gte=1, price_cents__lte=99), name="ck_orders_price"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ck_orders_quantity_pos"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")), name="ck_orders_filled"
            ),
            models.CheckConstraint(condition=Q(frozen_amount__gte=0), name="ck_orders_frozen_nonneg"),
        ]
        indexes = [
            # The book: open orders by side, price and time (partial index keeps it small).
            models.Index(
                fields=["market", "book_side", "yes_price", "priority"],
                name="ix_orders_book",
                condition=Q(status__in=["OPEN", "PARTIALLY_FILLED"]),
            ),
            models.Index(fields=["user_id", "market", "status"], name="ix_orders_user_market_status"),
        ]

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity


class Trade(models.Model):
    """A fill. `id` is the gap-free cursor of GET /api/v1/trades (see services.clearing)."""

    id = models.BigAutoField(primary_key=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades")
    scenario = models.CharField(max_length=12, choices=TradeScenario.choices)
    buy_order_id = models.UUIDField()
    sell_order_id = models.UUIDField()
    buy_user_id = models.CharField(max_length=64)
    sell_user_id = models.CharField(max_length=64)
    maker_order_id = models.UUIDField()
    taker_order_id = models.UUIDField()
    price_cents = models.SmallIntegerField()  # YES-view
    quantity = models.IntegerField()
    maker_fee = models.BigIntegerField(default=0)
    taker_fee = models.BigIntegerField(default=0)
    buy_realized_pnl = models.BigIntegerField(null=True)
    sell_realized_pnl = models.BigIntegerField(null=True)
    executed_at = models.DateTimeField()

    class Meta:
        db_table = "trades"
        constraints = [
            # Relaxed for the AMM by migration 0004 (SPEC §3.3 step 2, seed option A).
            models.CheckConstraint(
                condition=~Q(buy_user_id=F("sell_user_id")) | Q(buy_user_id=AMM_USER_ID),
                name="ck_trades_diff_users",
            ),
            models.CheckConstraint(condition=Q(price_cents__gte=1, price_cents__lte=99), name="ck_trades_price"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ck_trades_quantity_pos"),
            models.CheckConstraint(condition=Q(maker_fee__gte=0, taker_fee__gte=0), name="ck_trades_fees_nonneg"),
        ]
        indexes = [
            models.Index(fields=["buy_user_id", "id"], name="ix_trades_buy_user"),
            models.Index(fields=["sell_user_id", "id"], name="ix_trades_sell_user"),
            models.Index(fields=["market", "executed_at"], name="ix_trades_market_time"),
        ]


class LedgerEntry(models.Model):
    """One cash movement. Per account: available = Σ amount; frozen = −Σ(FREEZE + UNFREEZE)."""

    id = models.BigAutoField(primary_key=True)
    user_id = models.CharField(max_length=64)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    entry_type = models.CharField(max_length=24, choices=LedgerEntryType.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference_type = models.CharField(max_length=16, choices=ReferenceType.choices)
    reference_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(entry_type__in=[choice.value for choice in LedgerEntryType]),
                name="ck_ledger_entry_type",
            ),
            models.CheckConstraint(
                condition=Q(reference_type__in=[choice.value for choice in ReferenceType]),
                name="ck_ledger_reference_type",
            ),
        ]
        indexes = [
            models.Index(fields=["user_id", "created_at"], name="ix_ledger_user_time"),
            models.Index(fields=["market", "entry_type"], name="ix_ledger_market_type"),
        ]


class PrivilegedOp(models.Model):
    """Idempotency record of the AMM's privileged mint/burn (keyed by request_id)."""

    user_id = models.CharField(max_length=64)
    request_id = models.CharField(max_length=128)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=[("MINT", "MINT"), ("BURN", "BURN")])
    quantity = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "privileged_ops"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "request_id"], name="uq_privileged_ops_request"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ck_privileged_ops_quantity_pos"),
        ]


class CancelAllAfter(models.Model):
    """A user's dead man's switch: at `deadline` the platform cancels all its open orders."""

    user_id = models.CharField(max_length=64, unique=True)
    timeout_ms = models.IntegerField()
    deadline = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "cancel_all_after"


class OutboxEvent(models.Model):
    """One event of the push feeds (docs/push.md), written in the same transaction as the
    change it describes; the relay (`manage.py exchange_relay`) copies committed rows to the
    Redis streams in id order and marks them published. `id` is the event's `event_id`."""

    id = models.BigAutoField(primary_key=True)
    stream = models.CharField(max_length=32)  # trade_events, order_events, market_events, book_events
    type = models.CharField(max_length=16)
    market_id = models.CharField(max_length=64)
    sequence_id = models.BigIntegerField(default=0)  # the market's book sequence after the change (0: market events)
    data = models.JSONField()
    created_at = models.DateTimeField()  # at insert, the transaction's last statement: ~ commit time
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "exchange_outbox"
        indexes = [
            # What the relay reads: the unpublished rows, by id (small, as the relay keeps up).
            models.Index(fields=["id"], name="ix_outbox_unpublished", condition=Q(published_at__isnull=True)),
            # What pruning reads; partial, so that an insert (published_at still NULL) adds nothing to it.
            models.Index(fields=["published_at"], name="ix_outbox_published_at",
                         condition=Q(published_at__isnull=False)),
        ]


class FencingToken(models.Model):
    """The highest fencing token a user's order calls carried in a market (issue 15): an AMM
    host that lost its lease sends a lower one than its successor, and is refused."""

    user_id = models.CharField(max_length=64)
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="+")
    token = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "fencing_tokens"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "market"], name="uq_fencing_tokens_user_market"),
            models.CheckConstraint(condition=Q(token__gte=0), name="ck_fencing_tokens_token_nonneg"),
        ]
