"""`manage.py amm_api_token USERNAME`: prints the operator's DRF token (created once), which
opens the monitoring API; --rotate replaces it."""
import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.amm.api.conftest import VIEW, make_user

pytestmark = pytest.mark.django_db


def token(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("amm_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().splitlines()[-1], err.getvalue()


def status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/amm/v1/instances").status_code


def test_prints_a_token_that_opens_the_api_and_the_same_one_again():
    make_user(VIEW, username="olga")
    key, warning = token("olga")
    assert len(key) == 40 and warning == ""
    assert status(key) == 200
    assert token("olga")[0] == key


def test_rotate_replaces_the_token():
    make_user(VIEW, username="olga")
    old, _ = token("olga")
    new, _ = token("olga", "--rotate")
    assert new != old and status(new) == 200 and status(old) == 401


def test_warns_when_the_user_cannot_read_and_refuses_unknown_users():
    make_user(username="nobody_special")
    key, warning = token("nobody_special")
    assert "lacks amm.view_amminstance" in warning and status(key) == 403
    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("amm_api_token", "ghost", stdout=io.StringIO())
