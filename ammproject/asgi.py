"""The ASGI application: HTTP to Django, `ws/v1/...` to the platform's push feeds (docs/push.md).

Served by uvicorn (README "Serving"): `uvicorn ammproject.asgi:application ...`."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
django_http = get_asgi_application()  # sets Django up before the consumers' models are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from exchange.push.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_http, "websocket": URLRouter(websocket_urlpatterns)})
