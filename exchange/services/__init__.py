"""Platform services: every write goes through here (views and commands stay thin)."""
from exchange.services.bootstrap import system_users_ensure  # noqa: F401
from exchange.services.accounts import (  # noqa: F401
    account_auto_netting_check,
    account_auto_netting_set,
    account_deposit,
    account_withdraw,
    api_key_issue,
    user_by_name,
    user_for_api_key,
    user_get_or_create,
)
from exchange.services.clearing import NewOrder  # noqa: F401
from exchange.services.markets import market_create, market_schedule_set, market_set_status  # noqa: F401
from exchange.services.orders import (  # noqa: F401
    PlaceResult,
    Replacement,
    ReplaceResult,
    order_cancel,
    order_cancel_all,
    order_place,
    orders_replace,
    user_cancel_everywhere,
)
from exchange.services.privileged import amm_burn, amm_mint  # noqa: F401
