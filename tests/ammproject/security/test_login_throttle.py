"""Admin login throttling (ammproject.security.login_throttle): failed logins per username and
client address, counted in Redis; past the limit even the right password is refused until the
lockout ends."""
from __future__ import annotations

import pytest

from ammproject.security.login_throttle import login_lock_remaining
from tests.amm.runtime.harness import wait_until
from tests.ammproject.conftest import LOCKED_OUT, admin_login, logged_in


@pytest.fixture
def throttle(settings, redis_conn):
    """3 failures lock out for 60 s: long enough to hold through any test that does not wait
    for its end (those shorten it to SHORT_LOCKOUT_S)."""
    settings.LOGIN_THROTTLE_FAILURES = 3
    settings.LOGIN_THROTTLE_WINDOW_S = 60
    settings.LOGIN_THROTTLE_LOCKOUT_S = 60
    return settings


SHORT_LOCKOUT_S = 5  # a few logins fit in it on a loaded machine; the wait for its end stays short


def lockout_ended(username: str) -> None:
    wait_until(lambda: login_lock_remaining(username=username, ip="127.0.0.1") == 0, timeout=SHORT_LOCKOUT_S + 10,
               message="the lockout to end")


def test_after_n_failed_logins_the_right_password_is_refused_until_the_lockout_ends(live_server, staff_user,
                                                                                     throttle):
    throttle.LOGIN_THROTTLE_LOCKOUT_S = SHORT_LOCKOUT_S
    username, password = staff_user
    for attempt in range(3):
        response = admin_login(live_server.url, username, f"wrong-{attempt}")
        assert response.status_code == 200 and not logged_in(response)
    assert LOCKED_OUT in response.text  # the third failure already says so
    refused = admin_login(live_server.url, username, password)
    assert not logged_in(refused) and LOCKED_OUT in refused.text
    assert 0 < login_lock_remaining(username=username, ip="127.0.0.1") <= SHORT_LOCKOUT_S

    lockout_ended(username)
    assert logged_in(admin_login(live_server.url, username, password))


def test_failures_below_the_limit_only_say_the_login_is_wrong(live_server, staff_user, throttle):
    username, password = staff_user
    response = admin_login(live_server.url, username, "wrong")
    assert "Please enter the correct username and password" in response.text and LOCKED_OUT not in response.text
    assert logged_in(admin_login(live_server.url, username, password))


def test_a_successful_login_forgets_earlier_failures(live_server, staff_user, throttle):
    username, password = staff_user
    for _ in range(2):
        admin_login(live_server.url, username, "wrong")
    assert logged_in(admin_login(live_server.url, username, password))
    for _ in range(2):
        admin_login(live_server.url, username, "wrong")
    assert logged_in(admin_login(live_server.url, username, password))  # 4 failures, never 3 in a row


def test_the_lockout_is_per_username_and_address(live_server, staff_user, throttle, django_user_model):
    """Behind a proxy (LOGIN_THROTTLE_IP_HEADER) each client address counts apart; another
    username from the locked address is not locked."""
    throttle.LOGIN_THROTTLE_IP_HEADER = "X-Real-IP"
    username, password = staff_user
    django_user_model.objects.create_user("ops_ben", password="ben-password", is_staff=True)
    attacker = {"X-Real-IP": "203.0.113.7"}
    for _ in range(3):
        admin_login(live_server.url, username, "guess", headers=attacker)
    assert LOCKED_OUT in admin_login(live_server.url, username, password, headers=attacker).text
    assert logged_in(admin_login(live_server.url, username, password, headers={"X-Real-IP": "198.51.100.2"}))
    assert logged_in(admin_login(live_server.url, "ops_ben", "ben-password", headers=attacker))
    # A client cannot pick its own address: the proxy's (last) entry counts.
    forged = {"X-Real-IP": "192.0.2.1, 203.0.113.7"}
    assert LOCKED_OUT in admin_login(live_server.url, username, password, headers=forged).text


def test_attempts_while_locked_out_are_not_counted(live_server, staff_user, throttle):
    """The lockout runs from the last allowed failure; once it ends the pair has its full
    allowance again (a refused attempt did not count towards the next lockout)."""
    throttle.LOGIN_THROTTLE_LOCKOUT_S = SHORT_LOCKOUT_S
    username, password = staff_user
    for _ in range(3):
        admin_login(live_server.url, username, "wrong")
    assert LOCKED_OUT in admin_login(live_server.url, username, "wrong").text
    lockout_ended(username)
    for _ in range(2):
        assert LOCKED_OUT not in admin_login(live_server.url, username, "wrong").text
    assert logged_in(admin_login(live_server.url, username, password))
