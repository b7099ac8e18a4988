"""Admin logins over real HTTP (httpx against pytest-django's live server or gunicorn)."""
from __future__ import annotations

import re

import httpx
import pytest


def admin_login(base_url: str, username: str, password: str, *, headers: dict | None = None) -> httpx.Response:
    """Log in through the admin's form as a browser would (CSRF token from the login page);
    a 302 to /admin/ is a success, a 200 re-renders the form with its error."""
    with httpx.Client(base_url=base_url, headers={"Connection": "close", **(headers or {})}, timeout=30) as client:
        page = client.get("/admin/login/")
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return client.post("/admin/login/?next=/admin/", data={
            "username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"})


def logged_in(response: httpx.Response) -> bool:
    return response.status_code == 302 and response.headers["location"] == "/admin/"


LOCKED_OUT = "Too many failed logins for this username from your address"


@pytest.fixture
def staff_user(transactional_db):
    """username, password of a staff login (committed: the server reads it)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ops_anna", password="right-horse-battery", is_staff=True)
    return "ops_anna", "right-horse-battery"
