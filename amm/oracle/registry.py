"""Adapter names -> adapters: the built-ins plus `amm_settings.AMM_ORACLE_ADAPTERS`
(name -> dotted class path), one instance per name and process."""
from __future__ import annotations

import threading
from typing import Any, Mapping

from django.utils.module_loading import import_string

from amm.conf import amm_settings
from amm.oracle.base import FeedConfig, OracleAdapter, OracleMisconfigured

BUILTIN_ADAPTERS = {
    "http_json": "amm.oracle.http_json.HttpJsonOracle",
    "sim": "amm.oracle.http_json.SimOracle",
}

_instances: dict[tuple[str, str], OracleAdapter] = {}
_lock = threading.Lock()


def adapter_paths() -> dict[str, str]:
    """Every adapter name and its class path (settings override a built-in of the same name)."""
    return {**BUILTIN_ADAPTERS, **dict(amm_settings.AMM_ORACLE_ADAPTERS or {})}


def adapter_get(name: str) -> OracleAdapter:
    """The adapter registered as `name` (built on first use); OracleMisconfigured when the
    name is unknown or its class cannot be loaded."""
    path = adapter_paths().get(name)
    if path is None:
        raise OracleMisconfigured(f"no oracle adapter named {name!r} (known: {', '.join(sorted(adapter_paths()))})")
    key = (name, path)
    with _lock:
        adapter = _instances.get(key)
        if adapter is None:
            try:
                cls = import_string(path)
            except ImportError as exc:
                raise OracleMisconfigured(f"oracle adapter {name!r}: cannot import {path}: {exc}") from None
            if not (isinstance(cls, type) and issubclass(cls, OracleAdapter)):
                raise OracleMisconfigured(f"oracle adapter {name!r}: {path} is not an OracleAdapter")
            adapter = _instances[key] = cls(name=name)
        return adapter


def adapters_close() -> None:
    """Close every adapter built so far (tests, shutdown); the next use builds them again."""
    with _lock:
        adapters = list(_instances.values())
        _instances.clear()
    for adapter in adapters:
        adapter.close()


def oracle_config_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """Config field -> message for a market config's oracle settings (MarketConfig.clean):
    a blank adapter needs nothing; a named one must exist and accept the other fields."""
    name = str(values.get("oracle_adapter") or "").strip()
    if not name:
        return {}
    try:
        adapter = adapter_get(name)
    except OracleMisconfigured as exc:
        return {"oracle_adapter": exc.detail}
    defaults = FeedConfig()
    config = FeedConfig(
        adapter=name,
        url_template=str(values.get("oracle_url_template", defaults.url_template) or ""),
        json_path=str(values.get("oracle_json_path", defaults.json_path) or ""),
        ts_json_path=str(values.get("oracle_ts_json_path", defaults.ts_json_path) or ""),
        unit=str(values.get("oracle_unit", defaults.unit) or ""),
    )
    return adapter.config_errors(config)
