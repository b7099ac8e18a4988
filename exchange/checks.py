"""Django system checks for the platform's settings (run by `manage.py check` and at startup)."""
from __future__ import annotations

from django.core.checks import CheckMessage, Error

from exchange.conf import exchange_settings
from exchange.enums import AMM_USER_ID


def self_trade_exempt_users_check(app_configs=None, **kwargs) -> list[CheckMessage]:
    """EXCHANGE_SELF_TRADE_EXEMPT_USERS may list only the AMM: the engine lets a listed user
    match itself, but the trades constraint (ck_trades_diff_users, SPEC §3.3) allows a
    self-trade for the AMM only, so any other user's self-match is refused by the database
    (every such order a 500)."""
    others = sorted({str(user_id) for user_id in exchange_settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS} - {AMM_USER_ID})
    if not others:
        return []
    return [Error(
        f"EXCHANGE_SELF_TRADE_EXEMPT_USERS lists users other than the AMM: {', '.join(others)}",
        hint=(f"Only the AMM ({AMM_USER_ID}) may be exempt: the trades constraint ck_trades_diff_users "
              "(SPEC §3.3) allows self-trades for the AMM only, so the database would refuse these users' "
              "self-matches. Remove them from the setting."),
        obj="settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS",
        id="exchange.E001",
    )]
