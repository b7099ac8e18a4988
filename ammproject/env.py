"""The one place that reads the process environment (HackSoft: one environment reader)."""
from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse


class ImproperlyConfiguredEnv(ValueError):
    pass


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfiguredEnv(f"{name}={value!r} is not an integer") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = env_str(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Turn postgresql://user:pass@host:port/name?host=/socket/dir into Django's DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfiguredEnv(f"DATABASE_URL scheme {parsed.scheme!r} is not PostgreSQL")
    query = parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or ""])[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or "") or "postgres",
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
    }


def env_map(name: str, default: dict[str, str] | None = None) -> dict[str, str]:
    """`NAME=key=value,key2=value2` -> {key: value, key2: value2}."""
    value = env_str(name)
    if value is None:
        return dict(default or {})
    result: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ImproperlyConfiguredEnv(f"{name}: {item!r} is not key=value")
        result[key.strip()] = val.strip()
    return result


def env_values(defaults: dict) -> dict:
    """The settings of `defaults` (name -> default) that the environment sets, each parsed
    by its default's type; unset ones are left out (the app's own default applies)."""
    readers = {bool: env_bool, int: env_int, list: env_list, dict: env_map}
    values = {}
    for name, default in defaults.items():
        if env_str(name) is None:
            continue
        reader = readers.get(type(default))
        values[name] = reader(name, default) if reader else env_str(name, default)
    return values
