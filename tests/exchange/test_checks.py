"""System checks of the platform's settings (exchange/checks.py), as `manage.py check` runs them."""
import io

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from exchange.enums import AMM_USER_ID

OTHER = "11111111-2222-4333-8444-555555555555"


def errors() -> list:
    return [m for m in run_checks() if m.id == "exchange.E001"]


@pytest.mark.parametrize("users", [[AMM_USER_ID], []], ids=["the_amm", "nobody"])
def test_self_trade_exemption_for_the_amm_or_nobody_passes(settings, users):
    settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS = users
    assert errors() == []


def test_self_trade_exemption_of_another_user_is_an_error(settings):
    """ck_trades_diff_users (SPEC §3.3) lets only the AMM trade with itself: exempting anyone
    else would have the engine match them with themselves and the database refuse it."""
    settings.EXCHANGE_SELF_TRADE_EXEMPT_USERS = [AMM_USER_ID, OTHER]
    (error,) = errors()
    assert error.is_serious() and OTHER in error.msg and AMM_USER_ID not in error.msg
    assert "ck_trades_diff_users" in error.hint and "SPEC §3.3" in error.hint
    with pytest.raises(SystemCheckError, match="exchange.E001"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
