"""One error body for the AMM's API, the project's: `{"error": CODE, "detail": text}` (plus
`field` when one input field is at fault), as the platform API answers (SPEC §3.6).

The AMM's views use this handler (amm never imports exchange/): it maps the AMM's one error
type (amm.exceptions.AMMError), the platform's answers seen through the connector, and DRF's
own exceptions. Anything else is a bug, left to Django's 500 (JSON under /api/).
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from amm.connector import ConnectorError, PlatformUnavailable
from amm.connector import NotFound as PlatformNotFound
from amm.exceptions import ActionFailed, ActionRefused, AMMError, InstanceNotFound

AMM_STATUS: list[tuple[type, int]] = [
    (ActionRefused, 409),  # illegal now; nothing was changed
    (InstanceNotFound, 404),
    (ActionFailed, 502),  # allowed, but the platform did not answer; nothing was changed: try again
]

# DRF exception -> code; a DRF code in UPPER_CASE (set on purpose) wins.
DRF_CODES: list[tuple[type, str]] = [
    (exceptions.ParseError, "MALFORMED_REQUEST"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.ValidationError, "INVALID_INPUT"),
    (exceptions.AuthenticationFailed, "INVALID_TOKEN"),
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
            sub = path if key in ("non_field_errors", "detail", "__all__") else (f"{path}.{key}" if path else str(key))
            return _first_error(value, sub)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                if value:
                    return _first_error(value, f"{path}[{index}]")
                continue
            return path, str(value), getattr(value, "code", None)
    return path, str(detail), getattr(detail, "code", None)


def _drf_code(exc: exceptions.APIException, drf_code: str | None) -> str:
    if drf_code and drf_code.isupper():
        return drf_code
    for klass, code in DRF_CODES:
        if isinstance(exc, klass):
            return code
    return "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR"


def _amm_error(exc: AMMError) -> Response:
    status = next((code for klass, code in AMM_STATUS if isinstance(exc, klass)), 400)
    return Response(error_body(exc.code, exc.detail), status=status)


def _platform_error(exc: ConnectorError) -> Response:
    """The platform refused or did not answer a read the API made for the caller."""
    if isinstance(exc, PlatformNotFound):
        return Response(error_body(exc.code or "NOT_FOUND", f"platform: {exc.detail}"), status=404)
    code = "PLATFORM_UNAVAILABLE" if isinstance(exc, PlatformUnavailable) else "PLATFORM_ERROR"
    return Response(error_body(code, f"platform: {exc}"), status=502)


def exception_handler(exc, context):
    if isinstance(exc, ConnectorError):  # before AMMError: the platform's answers have their own statuses
        return _platform_error(exc)
    if isinstance(exc, AMMError):
        return _amm_error(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None
    field, message, drf_code = _first_error(exc.detail)
    status = 400 if isinstance(exc, (exceptions.ParseError, exceptions.UnsupportedMediaType)) else exc.status_code
    if field and field not in message:
        message = f"{field}: {message}"
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = "%d" % exc.wait
    return Response(error_body(_drf_code(exc, drf_code), message, field or None), status=status, headers=headers)
