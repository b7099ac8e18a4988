"""Platform enums (seed §9.2; DB v2.3 §4.1)."""
from django.db import models


class MarketStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    HALTED = "HALTED"
    RESOLVED = "RESOLVED"
    SETTLED = "SETTLED"
    VOIDED = "VOIDED"


class Outcome(models.TextChoices):
    YES = "YES"
    NO = "NO"


class Side(models.TextChoices):  # OriginalSide
    YES = "YES"
    NO = "NO"


class Direction(models.TextChoices):  # OrderDirection
    BUY = "BUY"
    SELL = "SELL"


class BookType(models.TextChoices):
    NATIVE_BUY = "NATIVE_BUY"  # BUY YES at p: YES-view bid at p
    NATIVE_SELL = "NATIVE_SELL"  # SELL YES at p: YES-view ask at p
    SYNTHETIC_BUY = "SYNTHETIC_BUY"  # SELL NO at q: YES-view bid at 100 - q
    SYNTHETIC_SELL = "SYNTHETIC_SELL"  # BUY NO at q: YES-view ask at 100 - q


class BookSide(models.TextChoices):
    BID = "BID"
    ASK = "ASK"


class TradeScenario(models.TextChoices):
    MINT = "MINT"
    TRANSFER_YES = "TRANSFER_YES"
    TRANSFER_NO = "TRANSFER_NO"
    BURN = "BURN"


class FrozenAssetType(models.TextChoices):
    CASH = "CASH"
    YES_SHARES = "YES_SHARES"
    NO_SHARES = "NO_SHARES"


class OrderStatus(models.TextChoices):
    NEW = "NEW"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class PriceType(models.TextChoices):
    LIMIT = "LIMIT"


class TimeInForce(models.TextChoices):
    GTC = "GTC"
    IOC = "IOC"


class LedgerEntryType(models.TextChoices):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    ORDER_FREEZE = "ORDER_FREEZE"
    ORDER_UNFREEZE = "ORDER_UNFREEZE"
    MINT_COST = "MINT_COST"
    MINT_RESERVE_IN = "MINT_RESERVE_IN"
    BURN_REVENUE = "BURN_REVENUE"
    BURN_RESERVE_OUT = "BURN_RESERVE_OUT"
    TRANSFER_PAYMENT = "TRANSFER_PAYMENT"
    TRANSFER_RECEIPT = "TRANSFER_RECEIPT"
    FEE = "FEE"
    # Settlement and voiding (what SPEC §3.1 leaves to "whatever settlement needs").
    SETTLEMENT_PAYOUT = "SETTLEMENT_PAYOUT"
    SETTLEMENT_RESERVE_OUT = "SETTLEMENT_RESERVE_OUT"
    VOID_REFUND = "VOID_REFUND"
    VOID_RESERVE_OUT = "VOID_RESERVE_OUT"


class ReferenceType(models.TextChoices):
    ORDER = "ORDER"
    TRADE = "TRADE"
    AMM_MINT = "AMM_MINT"
    AMM_BURN = "AMM_BURN"
    NETTING = "NETTING"
    SETTLEMENT = "SETTLEMENT"
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"


AMM_USER_ID = "00000000-0000-4000-a000-000000000001"  # seed §3.1 (the platform knows its AMM)

# System users (fixed ids so that every environment agrees).
RESERVE_USER_ID = "00000000-0000-4000-a000-0000000000e1"  # custody of minted pairs (no account)
FEE_USER_ID = "00000000-0000-4000-a000-0000000000e2"  # receives every FEE
