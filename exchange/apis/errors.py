"""One error body for the whole API: `{"error": CODE, "detail": text}` (SPEC §3.6).

`exception_handler` (REST_FRAMEWORK["EXCEPTION_HANDLER"]) maps the platform's one error type
(exchange.exceptions.ExchangeError) and DRF's own exceptions to that body; `field` is added
when one input field is at fault. Unknown exceptions are left to Django (a 500), whose
handler answers the same body for /api/ paths, as does the 404 of an unknown /api/ path.
"""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from exchange.exceptions import ExchangeError, RateLimited

logger = logging.getLogger(__name__)

# DRF exception -> (status, code); a DRF code in UPPER_CASE (set by our fields) wins.
DRF_CODES: list[tuple[type, str]] = [
    (exceptions.ParseError, "MALFORMED_REQUEST"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.ValidationError, "INVALID_INPUT"),
    (exceptions.AuthenticationFailed, "INVALID_API_KEY"),
    (exceptions.NotAuthenticated, "NOT_AUTHENTICATED"),
    (exceptions.PermissionDenied, "FORBIDDEN"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.Throttled, "RATE_LIMITED"),
]


def error_body(code: str, detail: str, field: str | None = None) -> dict:
    body = {"error": code, "detail": detail}
    if field:
        body["field"] = field
    return body


def _first_error(detail, path: str = "") -> tuple[str, str, str | None]:
    """(field path, message, DRF code) of the first error in a nested DRF error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int) or str(key).isdigit():  # a list serializer's item
                sub = f"{path}[{key}]"
            elif key in ("non_field_errors", "detail"):
                sub = path
            else:
                sub = f"{path}.{key}" if path else str(key)
            return _first_error(value, sub)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)) and value:
                return _first_error(value, f"{path}[{index}]")
            if not isinstance(value, (dict, list)):
                return path, str(value), getattr(value, "code", None)
    return path, str(detail), getattr(detail, "code", None)


def _code(exc: exceptions.APIException, drf_code: str | None) -> str:
    if drf_code and drf_code.isupper():
        return drf_code
    for klass, code in DRF_CODES:
        if isinstance(exc, klass):
            return code
    return "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR"


def exception_handler(exc, context):
    if isinstance(exc, ExchangeError):
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited) else None
        return Response(error_body(exc.code, exc.detail, exc.field), status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 (JSON for /api/ paths, see server_error)
    field, message, drf_code = _first_error(exc.detail)
    if isinstance(exc, (exceptions.ParseError, exceptions.UnsupportedMediaType)):
        status = 400  # SPEC §3.6: a body we cannot read is invalid input
    else:
        status = exc.status_code
    if field and field not in message:
        message = f"{field}: {message}"
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = "%d" % exc.wait
    return Response(error_body(_code(exc, drf_code), message, field or None), status=status, headers=headers)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """handler404: the API's error body under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("NOT_FOUND", f"no such endpoint: {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: the API's error body under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("INTERNAL_ERROR", "internal server error"), status=500)
    return defaults.server_error(request)
