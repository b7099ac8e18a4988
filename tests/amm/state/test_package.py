"""The state package's shape: one inventory type, its own Redis clients, modules that import
their siblings (never the package face, never the host project), and the runtime's read in
one round trip."""
from __future__ import annotations

import ast
from pathlib import Path

import redis
from redis.connection import parse_url

import amm
import amm.state.keys as K
from amm import state
from amm.state.connection import conn_or_default
from amm.strategy import Inventory
from tests.amm.conftest import redis_sends

M = "MKT-T"
STATE = Path(state.__file__).parent
AMM = Path(amm.__file__).parent


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node, [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]


def test_the_modules_import_their_siblings_never_the_package_face():
    submodules = {f"amm.state.{p.stem}" for p in STATE.glob("*.py")}
    offenders = []
    for path in sorted(STATE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node, names in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.module in ("amm", "amm.state"):
                # `from amm import state` / `from amm.state import X`: only a submodule is allowed
                bad = [n for n in names[1:] if n not in submodules]
            else:
                bad = [n for n in names if n == "amm.state"]
            offenders += [f"{path.name}:{node.lineno}: {n}" for n in bad]
    assert offenders == []


def test_no_function_local_imports_in_the_state_package():
    offenders = []
    for path in sorted(STATE.glob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                offenders += [f"{path.name}:{n.lineno}" for n in ast.walk(function)
                              if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert offenders == []


def test_nothing_in_amm_imports_the_host_project():
    offenders = [f"{path.relative_to(AMM.parent)}:{node.lineno}"
                 for path in sorted(AMM.rglob("*.py")) for node, names in _imports(path)
                 if any(n.split(".")[0] == "ammproject" for n in names)]
    assert offenders == []


def test_the_clients_are_the_apps_own_built_once_per_url(settings):
    client = state.get_redis()
    assert client is state.get_redis() and conn_or_default(None) is client
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["decode_responses"] is True and kwargs["health_check_interval"] == 30
    assert kwargs["db"] == parse_url(settings.REDIS_URL).get("db", 0)  # the worker's database (TCP or unix socket URL)
    probe = state.get_redis_probe(0.5)
    assert probe is state.get_redis_probe(0.5) and probe is not client
    assert probe.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    assert probe.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.5
    given = redis.Redis()
    assert conn_or_default(given) is given


def test_the_inventory_is_the_strategys_type_with_the_hashs_fields(market_in_redis):
    assert state.InventoryView is Inventory
    assert tuple(Inventory().as_dict()) == K.INVENTORY_FIELDS
    inv = state.inventory_get(M)
    assert type(inv) is Inventory and inv.exists and inv.updated_at_ms > 0
    assert inv.cash_cents == 100_000 and inv.as_dict()["updated_at_ms"] == inv.updated_at_ms
    assert state.quote_cycle_read(M).inventory == inv
    # the conversion other callers still make keeps the position, not the record's stamp
    again = Inventory.from_mapping(inv.as_dict())
    assert again.as_dict() == {**inv.as_dict(), "updated_at_ms": 0} and again.exists


def test_a_market_redis_does_not_know_has_an_empty_inventory_that_does_not_exist(redis_conn):
    inv = state.inventory_get("M-UNKNOWN")
    assert inv == Inventory(exists=False) and not inv.exists
    assert inv.as_dict() == dict.fromkeys(K.INVENTORY_FIELDS, 0)


def test_runtime_cycle_read_is_one_round_trip_and_takes_the_waiting_fills(market_in_redis, monkeypatch):
    state.fills_push(M, [{"price_cents": 40, "quantity": 3}])
    state.runtime_update(M, resync="test")
    sends = redis_sends(monkeypatch)
    read = state.runtime_cycle_read(M)
    assert len(sends) == 1
    assert read.quote.inventory.exists and read.fills == [{"price_cents": 40, "quantity": 3}]
    assert read.runtime["resync"] == "test" and read.strategy is None and read.book is None
    assert state.runtime_cycle_read(M).fills == []
