"""The live demo's seeding step is repeatable: run twice, it creates everything once; it prints an
operator login for the console."""
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from exchange.enums import AMM_USER_ID
from exchange.models import Account, Market
from tests.ammproject.conftest import admin_login, logged_in


@pytest.mark.django_db
def test_demo_seeding_is_idempotent():
    for _ in range(2):
        call_command("demo_live", "--no-serve", stdout=io.StringIO())
    assert Market.objects.filter(pk="MKT-BTC-100K-2026", status="ACTIVE").count() == 1
    assert Account.objects.get(user_id=AMM_USER_ID).available_balance == 1_000_000  # funded once
    from amm.models import AMMInstance

    assert AMMInstance.objects.filter(market_id="MKT-BTC-100K-2026").count() == 1


def demo_output() -> str:
    out = io.StringIO()
    call_command("demo_live", "--no-serve", stdout=out)
    return out.getvalue()


def test_demo_prints_an_operator_login_that_opens_the_console(live_server, transactional_db, redis_conn):
    output = demo_output()
    login = re.search(r"operator console: user (\S+)  password (\S+)", output)
    assert login and login.group(1) == "operator", output
    assert "/admin/" in output and "/amm/dashboard/" in output
    assert logged_in(admin_login(live_server.url, login.group(1), login.group(2)))
    user = get_user_model().objects.get(username="operator")
    assert user.has_perm("amm.engage_killswitch") and user.has_perm("amm.view_amminstance")
    # Each run prints a new password; the old one no longer opens the console.
    again = re.search(r"password (\S+)", demo_output()).group(1)
    assert again != login.group(2) and not logged_in(admin_login(live_server.url, "operator", login.group(2)))


def test_demo_operator_login_from_the_environment(live_server, transactional_db, redis_conn, settings):
    settings.AMM_DEMO_OPERATOR_USERNAME = "ops_demo"
    settings.AMM_DEMO_OPERATOR_PASSWORD = "demo-password-1"
    output = demo_output()
    assert "user ops_demo  password (AMM_DEMO_OPERATOR_PASSWORD)" in output and "demo-password-1" not in output
    assert logged_in(admin_login(live_server.url, "ops_demo", "demo-password-1"))
