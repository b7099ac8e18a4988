"""gunicorn's worker for the ASGI app: uvicorn with its fast parts (uvloop's event loop,
httptools' HTTP parser, the websockets library's sans-I/O protocol); bench/fanout.py measured
them against daphne (README "Serving")."""
from uvicorn_worker import UvicornWorker


class AsgiWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "ws": "websockets-sansio", "lifespan": "off",
                     "ws_ping_interval": 20.0, "ws_ping_timeout": 20.0}
