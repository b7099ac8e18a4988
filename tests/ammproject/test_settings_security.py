"""Production settings: no server on a public SECRET_KEY, and `check --deploy` clean with the
HTTPS switch on. Each case is a fresh process with an environment made for it (settings are
read once per process)."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({name: getattr(settings, name) for name in %r}))
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """`python ARGS` in the project with only `env` (plus PATH and the services' URLs)."""
    from django.conf import settings

    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "ammproject.settings",
            "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)


def production_env(**overrides: str) -> dict[str, str]:
    return {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "amm.example.com",
            "SECURE_HTTPS": "true", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto", **overrides}


def test_without_secret_key_and_with_debug_off_the_settings_refuse_to_load():
    for debug in ({}, {"DEBUG": "false"}):
        result = run(["-c", "import django; django.setup()"], **debug)
        assert result.returncode != 0
        assert "ImproperlyConfigured: SECRET_KEY is not set and DEBUG is off" in result.stderr, result.stderr
    served = run(["-m", "gunicorn", "--check-config", "ammproject.wsgi"])
    assert served.returncode != 0 and "SECRET_KEY is not set" in served.stderr + served.stdout


def test_debug_alone_runs_on_a_development_key():
    result = run(["-c", PRINT_SETTINGS % (["SECRET_KEY"],)], DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "DEBUG-only" in json.loads(result.stdout.splitlines()[-1])["SECRET_KEY"]


def test_check_deploy_is_clean_under_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_without_the_https_switch():
    """The clean run above is the switch's doing, not a check that never runs."""
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 **production_env(SECURE_HTTPS="false"))
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr


def test_the_https_switch_sets_every_https_setting_and_each_can_be_set_alone():
    names = ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
             "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER"]
    on = run(["-c", PRINT_SETTINGS % (names,)], **production_env())
    assert json.loads(on.stdout.splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}
    local = run(["-c", PRINT_SETTINGS % (names,)], SECRET_KEY="k" * 50, SESSION_COOKIE_SECURE="true")
    assert json.loads(local.stdout.splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0, "SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None}
