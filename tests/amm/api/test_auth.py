"""Who may call what: every endpoint refuses anonymous callers (401) and users without its
permission (403, nothing changed); reads need amm.view_amminstance, each write its own."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from amm.models import Alert, AMMInstance, KillSwitchChange, LifecycleChange
from tests.amm.api.conftest import BASE, VIEW, client_for, enable, make_user

pytestmark = pytest.mark.django_db

ENGAGE, RESET, OPERATE, ACK = "amm.engage_killswitch", "amm.reset_killswitch", "amm.operate_instance", "amm.change_alert"

# (method, path, the permission it needs); {m} is an enabled market, {a} an alert
ENDPOINTS = [
    ("get", "/instances", VIEW),
    ("get", "/instances/{m}", VIEW),
    ("get", "/instances/{m}/phase-history", VIEW),
    ("get", "/instances/{m}/defense-history", VIEW),
    ("get", "/instances/{m}/lifecycle-history", VIEW),
    ("get", "/instances/{m}/kill-switch-history", VIEW),
    ("get", "/alerts", VIEW),
    ("get", "/reconciliation-runs", VIEW),
    ("get", "/reports/daily", VIEW),
    ("get", "/reports/pnl/{m}", VIEW),
    ("get", "/reports/mintburn/{m}", VIEW),
    ("post", "/instances/{m}/kill-switch/engage", ENGAGE),
    ("post", "/kill-switch/engage-all", ENGAGE),
    ("post", "/instances/{m}/kill-switch/reset", RESET),
    ("post", "/instances/{m}/resume", OPERATE),
    ("post", "/alerts/{a}/acknowledge", ACK),
]
# reads answered from the database and Redis alone (the others' 200 is in their own tests)
LOCAL_READS = [e for e in ENDPOINTS if e[0] == "get" and "/reports/" not in e[1]]


@pytest.fixture
def world(redis_conn):
    market_id = enable()
    alert = Alert.objects.create(type="SYNC_FAILED", severity="WARNING", market_id=market_id)
    return {"m": market_id, "a": alert.id}


def call(client: APIClient, method: str, path: str, world: dict):
    url = BASE + path.format(**world)
    if method == "post":
        return client.post(url, {"reason": "auth test"}, format="json")
    return client.get(url)


def unchanged(world: dict) -> tuple:
    instance = AMMInstance.objects.get(market_id=world["m"])
    return (instance.kill_switch, instance.lifecycle_state, instance.defense_level, KillSwitchChange.objects.count(),
            LifecycleChange.objects.count(), Alert.objects.get(pk=world["a"]).acknowledged)


@pytest.mark.parametrize("method,path,perm", ENDPOINTS)
def test_anonymous_gets_401_with_the_token_challenge(world, method, path, perm):
    before = unchanged(world)
    response = call(APIClient(), method, path, world)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "NOT_AUTHENTICATED"
    assert response["WWW-Authenticate"] == "Token"
    assert unchanged(world) == before


@pytest.mark.parametrize("method,path,perm", ENDPOINTS)
def test_an_unknown_token_gets_401(world, method, path, perm):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = call(client, method, path, world)
    assert response.status_code == 401 and response.json()["error"] == "INVALID_TOKEN"


@pytest.mark.parametrize("method,path,perm", ENDPOINTS)
def test_without_the_permission_403_and_nothing_changes(world, method, path, perm):
    # a user holding every other permission of the API, not this one
    others = sorted({p for _, _, p in ENDPOINTS} - {perm})
    before = unchanged(world)
    response = call(client_for(make_user(*others, staff=True)), method, path, world)
    assert response.status_code == 403, response.content
    assert response.json() == {"error": "FORBIDDEN", "detail": f"this needs the permission {perm}"}
    assert unchanged(world) == before


@pytest.mark.parametrize("method,path,perm", LOCAL_READS)
def test_with_the_view_permission_200(world, method, path, perm):
    response = call(client_for(make_user(VIEW)), method, path, world)
    assert response.status_code == 200, response.content


def test_a_superuser_holds_every_permission(world):
    client = client_for(make_user(superuser=True))
    assert client.get(f"{BASE}/instances").status_code == 200
    assert client.post(f"{BASE}/alerts/{world['a']}/acknowledge").status_code == 200


def test_an_inactive_user_token_is_refused(world):
    user = make_user(VIEW)
    client = client_for(user)
    user.is_active = False
    user.save()
    assert client.get(f"{BASE}/instances").status_code == 401


def test_staff_session_reads_and_writes_need_the_csrf_token(world):
    user = make_user(VIEW, ACK, staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"{BASE}/instances").status_code == 200
    response = client.post(f"{BASE}/alerts/{world['a']}/acknowledge")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not Alert.objects.get(pk=world["a"]).acknowledged


def test_platform_keys_and_amm_tokens_open_only_their_own_api(world):
    """The platform's `Token <api key>` (its users) and the AMM's DRF token (Django users) share
    the header word, not the key space: each API refuses the other's key."""
    from exchange.services import api_key_issue, user_get_or_create

    trader, _ = user_get_or_create(username="api_auth_trader")
    platform_key = api_key_issue(user=trader)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {platform_key}")
    assert client.get("/api/v1/account/balance").status_code == 200
    response = client.get(f"{BASE}/instances")
    assert response.status_code == 401 and response.json()["error"] == "INVALID_TOKEN"

    amm_client = client_for(make_user(VIEW, superuser=True))
    assert amm_client.get(f"{BASE}/instances").status_code == 200
    response = amm_client.get("/api/v1/account/balance")
    assert response.status_code == 401 and response.json()["error"] == "INVALID_API_KEY"
