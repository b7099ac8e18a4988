"""The push feeds in production (docs/push.md, README "Serving"), beside the WSGI server:
`gunicorn -c ammproject/gunicorn_asgi.conf.py`, uvicorn workers serving ammproject.asgi.

A load balancer sends `/ws/` here and everything else to `gunicorn ammproject.wsgi`.
Environment: ASGI_BIND (127.0.0.1:8001), ASGI_WORKERS (the cores: a worker is one event loop,
holding its connections and one reader of the event streams), GUNICORN_LOG_LEVEL."""
import multiprocessing

from ammproject.env import env_int, env_str

wsgi_app = "ammproject.asgi:application"
worker_class = "ammproject.uvicorn_worker.AsgiWorker"
bind = env_str("ASGI_BIND", "127.0.0.1:8001")
workers = env_int("ASGI_WORKERS", multiprocessing.cpu_count())
timeout = 30
graceful_timeout = 10
keepalive = 5
errorlog = "-"
loglevel = env_str("GUNICORN_LOG_LEVEL", "info")
proc_name = "amm-platform-push"
