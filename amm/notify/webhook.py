"""The alert webhook's HTTP call: one JSON POST, retried with exponential backoff.

Its own module, not amm/connector (that is the platform's HTTP contract only). Retried: a
timeout, a connection error, 5xx, 408 and 429; any other answer is final (a receiver that
refuses the body will refuse it again). Logs name the webhook's host only: a webhook URL
often carries its secret in the path.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

log = logging.getLogger("amm.notify")

BACKOFF_CAP_S = 30.0
RETRYABLE_STATUS = (408, 429)


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    delivered: bool
    attempts: int
    error: str = ""  # the last attempt's failure


def webhook_where(url: str) -> str:
    """The host (and port) of a webhook URL, for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def webhook_client() -> httpx.Client:
    """The sender's client, kept for its life (connections reused across alerts)."""
    return httpx.Client(headers={"User-Agent": "amm-alerts"}, follow_redirects=False)


def webhook_post(url: str, body: dict[str, Any], *, timeout_s: float, retries: int, backoff_s: float,
                 client: httpx.Client, sleep: Callable[[float], None] = time.sleep) -> WebhookOutcome:
    """POST `body` as JSON to `url`: up to 1 + `retries` attempts of at most `timeout_s`
    each, waiting `backoff_s`, then twice as long, ... (capped at BACKOFF_CAP_S) between them."""
    attempts = 1 + max(0, int(retries))
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            response = client.post(url, json=body, timeout=timeout_s)
        except httpx.TimeoutException:
            error = f"timed out after {timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return WebhookOutcome(True, attempt)
            error = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in RETRYABLE_STATUS:
                return WebhookOutcome(False, attempt, f"{error} (not retried)")
        if attempt < attempts:
            delay = min(BACKOFF_CAP_S, backoff_s * 2 ** (attempt - 1))
            log.warning("alert webhook %s: attempt %d/%d failed (%s); retrying in %g s",
                        webhook_where(url), attempt, attempts, error, delay)
            sleep(delay)
    return WebhookOutcome(False, attempts, error)
