"""The platform REST API (SPEC §3.6): one module per area, one class per operation.

Views validate with nested serializers, call one service or selector, and serialize; every
error becomes `{"error": CODE, "detail": text}` in `errors.exception_handler`."""
