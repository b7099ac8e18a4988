"""Issue 11's settings refuse bad values when the settings load (a clear error, nothing runs)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import ammproject.settings as s; print(s.AMM_ALERT_WEBHOOK_MIN_SEVERITY)"],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, message", [
    ({"AMM_METRICS_TOKEN": "short"}, "AMM_METRICS_TOKEN must be at least 16 characters"),
    ({"AMM_ALERT_WEBHOOK_URL": "ftp://hooks.example/x"}, "AMM_ALERT_WEBHOOK_URL must be an http:// or https:// URL"),
    ({"AMM_ALERT_WEBHOOK_MIN_SEVERITY": "LOUD"}, "AMM_ALERT_WEBHOOK_MIN_SEVERITY must be INFO, WARNING or CRITICAL"),
    ({"AMM_ALERT_WEBHOOK_TIMEOUT_MS": "0"}, "AMM_ALERT_WEBHOOK_TIMEOUT_MS must be > 0"),
    ({"AMM_ALERT_WEBHOOK_RETRIES": "-1"}, "_RETRIES and _BACKOFF_MS >= 0"),
])
def test_a_bad_value_is_refused_by_name(env, message):
    result = load_settings(**env)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-500:]


def test_good_values_load():
    result = load_settings(AMM_METRICS_TOKEN="0123456789abcdef", AMM_ALERT_WEBHOOK_URL="https://hooks.example/x",
                           AMM_ALERT_WEBHOOK_MIN_SEVERITY="warning")
    assert result.returncode == 0 and result.stdout.strip() == "WARNING", result.stderr[-500:]
