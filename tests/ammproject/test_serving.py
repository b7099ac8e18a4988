"""The production serving form (gunicorn, DEBUG off; tests/amm/runtime/harness.py) serves the
admin styled and keeps the login lockout across its workers."""
from __future__ import annotations

import httpx
import pytest
from django.contrib.staticfiles import finders

from ammproject.security.login_throttle import login_lock_remaining
from tests.amm.runtime.harness import PlatformServer
from tests.ammproject.conftest import LOCKED_OUT, admin_login, logged_in

pytestmark = pytest.mark.django_db(transaction=True)  # gunicorn reads what the test commits


@pytest.fixture(scope="module")
def gunicorn(django_db_setup):
    """Two sync workers: consecutive requests land on either."""
    server = PlatformServer(workers=2, threads=1, env={
        "LOGIN_THROTTLE_FAILURES": "3", "LOGIN_THROTTLE_LOCKOUT_S": "60"}).start()
    yield server
    server.stop()
    server.cleanup()


def test_admin_stylesheet_is_served_under_gunicorn_with_debug_off(gunicorn):
    response = httpx.get(f"{gunicorn.url}/static/admin/css/base.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    with open(finders.find("admin/css/base.css"), "rb") as source:
        assert response.content == source.read()
    assert httpx.get(f"{gunicorn.url}/static/admin/css/no-such-file.css").status_code == 404


def test_admin_login_page_renders_and_links_its_stylesheet(gunicorn):
    page = httpx.get(f"{gunicorn.url}/admin/login/")
    assert page.status_code == 200
    assert 'href="/static/admin/css/base.css"' in page.text


def test_login_lockout_holds_across_gunicorn_workers(gunicorn, staff_user, redis_conn):
    username, password = staff_user
    for _ in range(3):
        assert not logged_in(admin_login(gunicorn.url, username, "wrong"))
    for _ in range(4):  # whichever worker answers (the lockout's end: test_login_throttle.py)
        refused = admin_login(gunicorn.url, username, password)
        assert not logged_in(refused) and LOCKED_OUT in refused.text
    assert login_lock_remaining(username=username, ip="127.0.0.1") > 0
