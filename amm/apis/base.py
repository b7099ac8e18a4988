"""What every AMM API view shares: authentication, permissions, JSON in and out, the AMM's
error handler, pagination, and serializers named after their API class in the schema.

Authentication: a DRF token (`Authorization: Token <key>`, table authtoken_token, Django auth
users) or the admin's session (CSRF-checked on writes). The platform API (/api/v1/) uses the
same header word with its own keys and users; the two never meet: each view names its own
authentication classes, so a platform key here is an unknown token (401) and a DRF token
there an unknown API key. Without credentials: 401 (`WWW-Authenticate: Token`); with them
but without the permission: 403.
"""
from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from amm.apis.errors import exception_handler
from amm.conf import amm_settings

VIEW_PERMISSION = "amm.view_amminstance"


def HasPerm(perm: str) -> type[BasePermission]:  # noqa: N802 - a class factory, used like a class
    """A permission class: an authenticated, active user holding the Django permission `perm`
    (superusers hold every one). Anonymous -> 401, lacking it -> 403."""

    class _HasPerm(BasePermission):
        message = f"this needs the permission {perm}"

        def has_permission(self, request, view) -> bool:
            user = request.user
            if not (user and user.is_authenticated):
                raise NotAuthenticated("send 'Authorization: Token <key>' (manage.py amm_api_token) "
                                       "or log in to the admin")
            return bool(user.is_active and user.has_perm(perm))

    _HasPerm.__name__ = _HasPerm.__qualname__ = f"HasPerm_{perm.replace('.', '_')}"
    _HasPerm.perm = perm
    return _HasPerm


CanView = HasPerm(VIEW_PERMISSION)


class FirstRendererNegotiation(BaseContentNegotiation):
    """The API speaks JSON whatever the Accept header says."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M` (AMM_API_PAGE_SIZE rows by default, AMM_API_MAX_PAGE_SIZE at most)."""

    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.page_size = amm_settings.AMM_API_PAGE_SIZE
        self.max_page_size = amm_settings.AMM_API_MAX_PAGE_SIZE


class _AmmApiMixin:
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [CanView]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRendererNegotiation
    throttle_classes: list = []

    def get_exception_handler(self):
        return exception_handler

    @property
    def actor(self) -> str:
        """Who did it, for the audit records (`api:<username>`, 150 characters at most)."""
        return f"api:{self.request.user.get_username()}"[:150]


# Base of the AMM's single-object and action views. (Comments, not docstrings: the schema
# shows docstrings.)
class AmmApi(_AmmApiMixin, APIView):
    pass


# Base of the AMM's lists: a selector's queryset (get_queryset), django-filter's filterset
# (filterset_class), page-number pagination, OutputSerializer per row.
class AmmListApi(_AmmApiMixin, generics.ListAPIView):
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]

    def get_serializer_class(self):
        return self.OutputSerializer


def _name_component(cls) -> None:
    """OpenAPI component name from the owner: `InstanceListApi.OutputSerializer` -> `InstanceListOutput`."""
    if "Meta" in cls.__dict__:
        return
    name = cls.__qualname__.replace("Api.", "").replace(".", "").removesuffix("Serializer")
    cls.Meta = type("Meta", (), {"ref_name": name})


# An output shape; its schema component is named after its API class. (Comments, not
# docstrings, on these bases: the schema shows a serializer's docstring, inherited too.)
class Output(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _name_component(cls)


# An input body that refuses fields it does not declare (400 UNKNOWN_FIELD).
class Input(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _name_component(cls)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, f in self.fields.items() if not f.read_only})
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [serializers.ErrorDetail("unknown field", code="UNKNOWN_FIELD")]})
        return super().to_internal_value(data)


class ReasonInput(Input):
    reason = serializers.CharField(max_length=1000, help_text="why (required; recorded with who and when)")


class ErrorOutput(Output):
    error = serializers.CharField(help_text="stable error code, e.g. ACTION_REFUSED")
    detail = serializers.CharField(help_text="what went wrong, for humans")
    field = serializers.CharField(required=False, help_text="the input field at fault, when there is one")

    class Meta:
        ref_name = "AmmError"  # the platform's schema has its own "Error"


def errors(*codes: int) -> dict:
    """The error responses of an operation, for @extend_schema(responses=...)."""
    return {code: ErrorOutput for code in (400, 401, 403, *codes)}


def query_params(serializer_class, request) -> dict:
    """Validated query parameters (unknown ones are ignored, as usual for a query string)."""
    known = serializer_class().fields.keys()
    serializer = serializer_class(data={k: v for k, v in request.query_params.items() if k in known})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
