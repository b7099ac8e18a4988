"""The WSGI application (`gunicorn ammproject.wsgi`, README "Serving").

Django's handler, except that a platform API call (`/api/v1/`) skips the browser middleware:
the API authenticates every call by its `Authorization: Token` header (DRF, never a cookie),
answers JSON and keeps no session, so sessions, CSRF, Django's user, messages and the
clickjacking header have nothing to do there, and they cost about a twentieth of an order
placement's CPU. Every other path (the admin, the dashboard, the AMM's API with its staff
sessions) runs all of settings.MIDDLEWARE as before. With no session and no Django user under
`/api/v1/`, a cookie can authenticate nothing there, so skipping CSRF opens no cross-site
request; a view there that is not CSRF-exempt (every DRF view is) would still get CSRF's
view check (and refuse a write without its cookie).
"""
import os

import django
from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.urls import set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

API_PREFIX = "/api/v1/"
BROWSER_MIDDLEWARE = frozenset({
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
})


class Handler(WSGIHandler):
    """WSGIHandler with a second, shorter middleware chain for API_PREFIX."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async)
        # Built as Django builds its chain (sync: this is WSGI). The view hooks stay the full
        # chain's (only CSRF has one: it returns at once for an exempt view).
        chain = convert_exception_to_response(self._get_response)
        for path in reversed(settings.MIDDLEWARE):
            if path not in BROWSER_MIDDLEWARE:
                chain = convert_exception_to_response(import_string(path)(chain))
        self._api_chain = chain

    def get_response(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return super().get_response(request)
        # BaseHandler.get_response with the API's chain (Django 5.2's, line for line)
        set_urlconf(settings.ROOT_URLCONF)
        response = self._api_chain(request)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does
application = Handler()
