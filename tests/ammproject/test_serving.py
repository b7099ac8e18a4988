"""The production serving form (gunicorn, DEBUG off; tests/amm/runtime/harness.py) serves the
admin styled and keeps the login lockout across its workers."""
from __future__ import annotations

import re

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


# --- the browser middleware runs for every surface but the platform API (ammproject/wsgi.py) ---
def test_the_admin_keeps_csrf_sessions_and_clickjacking_protection(gunicorn, staff_user, redis_conn):
    username, password = staff_user  # redis_conn: no lockout left by another test
    page = httpx.get(f"{gunicorn.url}/admin/login/")
    assert page.headers["x-frame-options"] == "DENY" and "csrftoken" in page.cookies
    refused = httpx.post(f"{gunicorn.url}/admin/login/", data={"username": username, "password": password})
    assert refused.status_code == 403 and "CSRF" in refused.text  # no token: refused
    with httpx.Client(base_url=gunicorn.url, timeout=30) as browser:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get("/admin/login/").text).group(1)
        assert logged_in(browser.post("/admin/login/?next=/admin/", data={
            "username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}))
        home = browser.get("/admin/")  # the session cookie is what logs this request in
        assert home.status_code == 200 and home.headers["x-frame-options"] == "DENY"
        # Under /api/v1/ no cookie authenticates anything (hence no CSRF needed there).
        assert browser.get("/api/v1/account/balance").status_code == 401
        assert browser.post("/api/v1/orders", json={"market_id": "M"}).status_code == 401
    # The AMM's API (staff sessions) and the dashboard keep the whole chain.
    for path in ("/api/amm/v1/instances", "/amm/dashboard/"):
        assert httpx.get(f"{gunicorn.url}{path}").headers["x-frame-options"] == "DENY", path


def test_the_platform_api_runs_without_the_browser_middleware(gunicorn):
    """No cookie, no Vary: Cookie, no clickjacking header under /api/v1/; Content-Length and the
    security headers (CommonMiddleware, SecurityMiddleware) as everywhere."""
    from exchange.services import api_key_issue, user_get_or_create

    user, _ = user_get_or_create(username="serving_api_user")
    key = api_key_issue(user=user)
    for response in (httpx.get(f"{gunicorn.url}/api/v1/account/balance", headers={"Authorization": f"Token {key}"}),
                     httpx.get(f"{gunicorn.url}/api/v1/account/balance")):  # 401
        assert response.status_code in (200, 401)
        assert "set-cookie" not in response.headers and "x-frame-options" not in response.headers
        assert "cookie" not in response.headers.get("vary", "").lower()
        assert response.headers["content-length"] == str(len(response.content))
        assert response.headers["x-content-type-options"] == "nosniff"
