"""Platform invariants I1–I5 and the per-account rules (SPEC §3.5), checkable at any time.

Each check is one SQL aggregate that returns only the offending rows, so a clean database
answers quickly however large it is. `invariants_check()` returns human-readable
violations (empty when everything holds).
"""
from __future__ import annotations

from django.db import connection

from exchange.enums import RESERVE_USER_ID

SHARE_PAYMENTS = ("TRANSFER_PAYMENT", "MINT_COST")
SHARE_RECEIPTS = ("TRANSFER_RECEIPT", "BURN_REVENUE", "SETTLEMENT_PAYOUT", "VOID_REFUND")

CHECKS: list[tuple[str, str, str]] = [
    (
        "I1 share balance",
        """
        SELECT m.id, COALESCE(SUM(p.yes_volume), 0), COALESCE(SUM(p.no_volume), 0), m.total_yes_shares, m.total_no_shares
        FROM markets m LEFT JOIN positions p ON p.market_id = m.id
        GROUP BY m.id
        HAVING NOT (COALESCE(SUM(p.yes_volume), 0) = COALESCE(SUM(p.no_volume), 0)
                    AND COALESCE(SUM(p.yes_volume), 0) = m.total_yes_shares
                    AND m.total_yes_shares = m.total_no_shares)
        """,
        "market {0}: Σyes={1} Σno={2} total_yes={3} total_no={4}",
    ),
    (
        "I2 custody",
        "SELECT id, reserve_balance, total_yes_shares FROM markets WHERE reserve_balance <> total_yes_shares * 100",
        "market {0}: reserve {1} <> 100 × {2} shares",
    ),
    (
        "I3 cost conservation",
        f"""
        WITH cost AS (
            SELECT market_id, SUM(yes_cost_sum + no_cost_sum) AS cost, SUM(realized_pnl) AS realized
            FROM positions GROUP BY market_id
        ), cash AS (
            SELECT market_id,
                   -SUM(CASE WHEN entry_type IN {SHARE_PAYMENTS} THEN amount ELSE 0 END) AS paid,
                   SUM(CASE WHEN entry_type IN {SHARE_RECEIPTS} THEN amount ELSE 0 END) AS received
            FROM ledger_entries WHERE market_id IS NOT NULL AND user_id <> %(reserve)s GROUP BY market_id
        )
        SELECT m.id, COALESCE(cost.cost, 0), COALESCE(cash.paid, 0), COALESCE(cash.received, 0), COALESCE(cost.realized, 0)
        FROM markets m LEFT JOIN cost ON cost.market_id = m.id LEFT JOIN cash ON cash.market_id = m.id
        WHERE COALESCE(cost.cost, 0) <> COALESCE(cash.paid, 0) - COALESCE(cash.received, 0) + COALESCE(cost.realized, 0)
        """,
        "market {0}: Σcost {1} <> paid {2} − received {3} + realized {4}",
    ),
    (
        "I4 global zero-sum",
        """
        SELECT a.total, r.total, d.total FROM
            (SELECT COALESCE(SUM(available_balance + frozen_balance), 0) AS total FROM accounts) a,
            (SELECT COALESCE(SUM(reserve_balance), 0) AS total FROM markets) r,
            (SELECT COALESCE(SUM(amount), 0) AS total FROM ledger_entries WHERE entry_type IN ('DEPOSIT', 'WITHDRAWAL')) d
        WHERE a.total + r.total <> d.total
        """,
        "accounts {0} + reserves {1} <> deposits − withdrawals {2}",
    ),
    (
        "I5 reserve consistency",
        """
        SELECT m.id, m.reserve_balance, COALESCE(SUM(l.amount), 0)
        FROM markets m LEFT JOIN ledger_entries l ON l.market_id = m.id AND l.user_id = %(reserve)s
        GROUP BY m.id HAVING m.reserve_balance <> COALESCE(SUM(l.amount), 0)
        """,
        "market {0}: reserve {1} <> Σ reserve ledger {2}",
    ),
    (
        "account available = Σ ledger",
        """
        SELECT a.user_id, a.available_balance, COALESCE(SUM(l.amount), 0)
        FROM accounts a LEFT JOIN ledger_entries l ON l.user_id = a.user_id
        GROUP BY a.user_id, a.available_balance HAVING a.available_balance <> COALESCE(SUM(l.amount), 0)
        """,
        "user {0}: available {1} <> Σ ledger {2}",
    ),
    (
        "account frozen = −Σ(FREEZE + UNFREEZE)",
        """
        SELECT a.user_id, a.frozen_balance, -COALESCE(SUM(l.amount), 0)
        FROM accounts a LEFT JOIN ledger_entries l
             ON l.user_id = a.user_id AND l.entry_type IN ('ORDER_FREEZE', 'ORDER_UNFREEZE')
        GROUP BY a.user_id, a.frozen_balance HAVING a.frozen_balance <> -COALESCE(SUM(l.amount), 0)
        """,
        "user {0}: frozen {1} <> −Σ freeze entries {2}",
    ),
    (
        "account frozen = cash frozen by open orders",
        """
        SELECT a.user_id, a.frozen_balance, COALESCE(SUM(o.frozen_amount), 0)
        FROM accounts a LEFT JOIN orders o ON o.user_id = a.user_id AND o.frozen_asset_type = 'CASH'
             AND o.status IN ('OPEN', 'PARTIALLY_FILLED')
        GROUP BY a.user_id, a.frozen_balance HAVING a.frozen_balance <> COALESCE(SUM(o.frozen_amount), 0)
        """,
        "user {0}: frozen {1} <> Σ open buy orders' frozen cash {2}",
    ),
    (
        "pending_sell = remaining of open sells",
        """
        SELECT p.user_id, p.market_id, p.yes_pending_sell, p.no_pending_sell, COALESCE(y.q, 0), COALESCE(n.q, 0)
        FROM positions p
        LEFT JOIN (SELECT user_id, market_id, SUM(quantity - filled_quantity) q FROM orders
                   WHERE frozen_asset_type = 'YES_SHARES' AND status IN ('OPEN', 'PARTIALLY_FILLED')
                   GROUP BY user_id, market_id) y ON y.user_id = p.user_id AND y.market_id = p.market_id
        LEFT JOIN (SELECT user_id, market_id, SUM(quantity - filled_quantity) q FROM orders
                   WHERE frozen_asset_type = 'NO_SHARES' AND status IN ('OPEN', 'PARTIALLY_FILLED')
                   GROUP BY user_id, market_id) n ON n.user_id = p.user_id AND n.market_id = p.market_id
        WHERE p.yes_pending_sell <> COALESCE(y.q, 0) OR p.no_pending_sell <> COALESCE(n.q, 0)
        """,
        "user {0} market {1}: pending yes/no {2}/{3} <> open sells {4}/{5}",
    ),
    (
        "open orders' frozen amount matches their remainder",
        """
        SELECT id, frozen_asset_type, frozen_amount, quantity - filled_quantity FROM orders
        WHERE status IN ('OPEN', 'PARTIALLY_FILLED') AND (
              (frozen_asset_type <> 'CASH' AND frozen_amount <> quantity - filled_quantity)
           OR (frozen_asset_type = 'CASH' AND frozen_amount < price_cents * (quantity - filled_quantity)))
        """,
        "order {0}: {1} frozen {2} does not cover remaining {3}",
    ),
    (
        "open buys freeze exactly remaining × (price + worst-case fee per share)",
        """
        SELECT o.id, o.frozen_amount, (o.quantity - o.filled_quantity) * (o.price_cents
               + CEIL(o.price_cents * GREATEST(m.maker_fee_bps, m.taker_fee_bps) / 10000.0)::bigint)
        FROM orders o JOIN markets m ON m.id = o.market_id
        WHERE o.status IN ('OPEN', 'PARTIALLY_FILLED') AND o.frozen_asset_type = 'CASH'
          AND o.frozen_amount <> (o.quantity - o.filled_quantity) * (o.price_cents
               + CEIL(o.price_cents * GREATEST(m.maker_fee_bps, m.taker_fee_bps) / 10000.0)::bigint)
        """,
        "order {0}: frozen {1} <> {2}",
    ),
    (
        "closed orders hold nothing",
        "SELECT id, status, frozen_amount FROM orders WHERE status NOT IN ('OPEN', 'PARTIALLY_FILLED') AND frozen_amount <> 0",
        "order {0}: {1} but still holds {2} frozen",
    ),
    (
        "no negative available",
        """
        SELECT 'account', user_id, available_balance FROM accounts WHERE available_balance < 0 OR frozen_balance < 0
        UNION ALL
        SELECT 'position', user_id || '/' || market_id, LEAST(yes_volume - yes_pending_sell, no_volume - no_pending_sell)
        FROM positions WHERE yes_volume < yes_pending_sell OR no_volume < no_pending_sell
        """,
        "{0} {1}: negative available {2}",
    ),
]


def invariants_check() -> list[str]:
    """Every violation of SPEC §3.5, named; [] when the platform is consistent."""
    violations: list[str] = []
    with connection.cursor() as cursor:
        for name, sql, template in CHECKS:
            cursor.execute(sql, {"reserve": RESERVE_USER_ID})
            for row in cursor.fetchall():
                violations.append(f"{name}: {template.format(*row)}")
    return violations
