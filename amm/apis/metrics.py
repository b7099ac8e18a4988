"""`GET /api/amm/v1/metrics`: the Prometheus scrape (amm/prometheus_metrics.py says what and why).

Who may read it: a staff session with `amm.view_amminstance` (an operator looking), or a
scraper sending `Authorization: Bearer <AMM_METRICS_TOKEN>` (unset: no token is accepted).
No credentials: 401; credentials without that permission: 403. Errors use the API's one
body, `{"error": CODE, "detail": text}`. A dependency down answers 503.
"""
from __future__ import annotations

import hmac
import logging

import redis
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from amm.conf import amm_settings
from amm.prometheus_metrics import metrics_exposition

log = logging.getLogger(__name__)

PERMISSION = "amm.view_amminstance"


def _error(status: int, code: str, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _refused(request: HttpRequest) -> JsonResponse | None:
    """None when the request may read the metrics, else the 401/403 answer."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        expected = amm_settings.AMM_METRICS_TOKEN or ""
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(token.strip().encode(), expected.encode()):
            return None
        return _error(401, "INVALID_TOKEN", "the metrics token is not valid" if expected
                      else "token access to the metrics is off (AMM_METRICS_TOKEN is unset)",
                      **{"WWW-Authenticate": 'Bearer realm="amm-metrics"'})
    user = request.user
    if not user.is_authenticated:
        return _error(401, "NOT_AUTHENTICATED", "log in as staff or send a bearer token",
                      **{"WWW-Authenticate": 'Bearer realm="amm-metrics"'})
    if not (user.is_staff and user.has_perm(PERMISSION)):
        return _error(403, "FORBIDDEN", f"staff with {PERMISSION} only")
    return None


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here", Allow="GET, HEAD")
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        body, content_type = metrics_exposition(accept=request.headers.get("Accept", ""))
    except (redis.RedisError, DatabaseError) as exc:
        log.error("metrics scrape failed: %s", exc)
        return _error(503, "UNAVAILABLE", f"a dependency is down: {type(exc).__name__}")
    return HttpResponse(body, content_type=content_type)
