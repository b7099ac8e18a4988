"""The AMM operators: the group (complete after migrate), `operator_ensure` and `amm_operator`."""
from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from ammproject.security.operators import OPERATOR_GROUP, operator_ensure, operator_group_ensure
from tests.ammproject.conftest import admin_login, logged_in

CONSOLE_PERMISSIONS = {
    "amm.view_amminstance", "amm.operate_instance", "amm.engage_killswitch", "amm.reset_killswitch",
    "amm.view_marketconfig", "amm.change_marketconfig", "amm.view_alert", "amm.change_alert",
    "amm.view_reconciliationrun", "amm.view_killswitchchange", "amm.view_ammorder",
    "exchange.view_market", "exchange.view_order", "exchange.view_trade", "exchange.view_account",
    "exchange.view_position", "exchange.view_ledgerentry",
}


def group_permissions() -> set[str]:
    group = Group.objects.get(name=OPERATOR_GROUP)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.django_db
def test_migrate_leaves_the_operators_group_with_the_console_permissions():
    """The test database was migrated: post_migrate made the group (no call here)."""
    granted = group_permissions()
    assert CONSOLE_PERMISSIONS <= granted
    assert all(p.split(".")[0] in ("amm", "exchange") for p in granted)
    assert not {p for p in granted if p.split(".")[1].startswith(("add_", "delete_"))}
    assert "amm.change_amminstance" not in granted  # state moves only through the operator actions
    views = {f"exchange.view_{m}" for m in ("user", "market", "order", "trade", "account", "position",
                                             "ledgerentry", "privilegedop", "cancelallafter", "marketevent")}
    assert views <= granted


@pytest.mark.django_db
def test_the_group_is_completed_and_what_an_administrator_added_stays():
    group = Group.objects.get(name=OPERATOR_GROUP)
    group.permissions.remove(Permission.objects.get(codename="engage_killswitch"))
    extra = Permission.objects.get(content_type__app_label="auth", codename="view_user")
    group.permissions.add(extra)
    operator_group_ensure()
    assert "amm.engage_killswitch" in group_permissions() and "auth.view_user" in group_permissions()
    assert Group.objects.filter(name=OPERATOR_GROUP).count() == 1


@pytest.mark.django_db
def test_operator_ensure_makes_a_staff_login_with_the_operator_permissions():
    login = operator_ensure(username="olga")
    assert login.created and login.password
    user = get_user_model().objects.get(username="olga")
    assert user.is_staff and user.is_active and not user.is_superuser
    assert user.check_password(login.password)
    assert all(user.has_perm(p) for p in CONSOLE_PERMISSIONS)
    assert not user.has_perm("amm.delete_amminstance") and not user.has_perm("exchange.change_account")


@pytest.mark.django_db
def test_operator_ensure_again_keeps_the_password_unless_asked():
    first = operator_ensure(username="olga")
    again = operator_ensure(username="olga")
    user = get_user_model().objects.get(username="olga")
    assert not again.created and again.password is None and user.check_password(first.password)
    fresh = operator_ensure(username="olga", new_password=True)
    user.refresh_from_db()
    assert fresh.password and fresh.password != first.password and user.check_password(fresh.password)
    operator_ensure(username="olga", password="chosen-one")
    user.refresh_from_db()
    assert user.check_password("chosen-one") and user.groups.filter(name=OPERATOR_GROUP).count() == 1


@pytest.mark.django_db
def test_operator_ensure_keeps_an_existing_superuser_a_superuser():
    get_user_model().objects.create_superuser("root", password="root-password")
    operator_ensure(username="root")
    user = get_user_model().objects.get(username="root")
    assert user.is_superuser and user.check_password("root-password") and user.groups.filter(name=OPERATOR_GROUP)


def run(*args) -> str:
    out = io.StringIO()
    call_command("amm_operator", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    return re.search(r"^password: (\S+)", output, re.M).group(1)


def test_amm_operator_prints_a_password_that_opens_the_console(live_server, transactional_db, redis_conn):
    output = run("olga")
    assert "created" in output and "/admin/" in output and "/amm/dashboard/" in output
    assert logged_in(admin_login(live_server.url, "olga", printed_password(output)))
    assert "password" not in run("olga")  # printed once: a second run keeps it and shows nothing


def test_amm_operator_takes_the_password_from_the_environment(live_server, transactional_db, redis_conn,
                                                              monkeypatch):
    monkeypatch.setenv("AMM_OPERATOR_PASSWORD", "from-the-env-1")
    output = run("olga", "--password-from-env")
    assert "from-the-env-1" not in output and "set from AMM_OPERATOR_PASSWORD" in output
    assert logged_in(admin_login(live_server.url, "olga", "from-the-env-1"))
    monkeypatch.setenv("OPS_PW", "another-env-2")
    run("olga", "--password-from-env", "OPS_PW")
    assert logged_in(admin_login(live_server.url, "olga", "another-env-2"))


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["bad name!"], "valid username"),
    (["x" * 151], "at most 150"),
    (["olga", "--password-from-env", "AMM_TEST_UNSET_VARIABLE"], "AMM_TEST_UNSET_VARIABLE is not set"),
])
def test_amm_operator_refuses_bad_input_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not get_user_model().objects.exists()
