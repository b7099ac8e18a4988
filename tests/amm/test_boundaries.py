"""SPEC §1: `amm/` never imports `exchange/`; STYLE: only amm/connector knows the platform's
HTTP (amm/oracle speaks to the oracle sources, never to the platform) and only amm/state
knows `amm:*` keys."""
from __future__ import annotations

import ast
from pathlib import Path

AMM = Path(__file__).resolve().parents[2] / "amm"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_amm_never_imports_exchange():
    offenders = [str(p.relative_to(AMM)) for p in AMM.rglob("*.py")
                 if any(n == "exchange" or n.startswith("exchange.") for n in imports(p))]
    assert offenders == []


HTTP_PACKAGES = {"connector", "oracle", "notify"}  # the platform's HTTP; the oracle sources' (SPEC §6); the alert webhook


def test_only_the_connector_the_oracle_adapters_and_the_alert_webhook_speak_http():
    offenders = [str(p.relative_to(AMM)) for p in AMM.rglob("*.py")
                 if "httpx" in imports(p) and not HTTP_PACKAGES & set(p.relative_to(AMM).parts[:1])]
    assert offenders == []


def test_only_the_connector_speaks_websocket():
    offenders = [str(p.relative_to(AMM)) for p in AMM.rglob("*.py")
                 if "websockets" in imports(p) and p.relative_to(AMM).parts[0] != "connector"]
    assert offenders == []


def test_the_oracle_adapters_never_reach_the_platform():
    offenders = [str(p.relative_to(AMM)) for p in (AMM / "oracle").rglob("*.py")
                 if any(n == "amm.connector" or n.startswith("amm.connector.") for n in imports(p))]
    assert offenders == []


def test_only_the_state_package_names_amm_keys():
    offenders = []
    for path in AMM.rglob("*.py"):
        if {"state", "strategy", "migrations"} & set(path.relative_to(AMM).parts[:1]):
            continue
        text = path.read_text()
        if '"amm:' in text or "'amm:" in text or 'f"amm:' in text:
            offenders.append(str(path.relative_to(AMM)))
    assert offenders == []
