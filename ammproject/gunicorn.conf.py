"""Production serving (SPEC §3.7): `gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi`.

Environment: GUNICORN_BIND (127.0.0.1:8000), GUNICORN_WORKERS (2 × cores + 1),
GUNICORN_THREADS (4: gthread workers with keep-alive, so a trade feed's long poll holds a
thread, not a whole worker; 1: sync workers), GUNICORN_TIMEOUT.
Each worker runs the dead man's switch sweeper thread (exchange.services.deadman)."""
import multiprocessing

from ammproject.env import env_int, env_str

wsgi_app = "ammproject.wsgi"
bind = env_str("GUNICORN_BIND", "127.0.0.1:8000")
workers = env_int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = env_int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
timeout = env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 10
keepalive = 5
accesslog = env_str("GUNICORN_ACCESS_LOG")  # unset: no access log (it costs throughput)
errorlog = "-"
loglevel = env_str("GUNICORN_LOG_LEVEL", "info")
proc_name = "amm-platform"


def post_worker_init(worker):
    """Django is loaded in this worker now: start its sweeper for good (SPEC §3.6)."""
    from exchange.conf import exchange_settings
    from exchange.services.deadman import deadman_sweeper_ensure

    if exchange_settings.EXCHANGE_DEADMAN_SWEEPER:
        deadman_sweeper_ensure(persistent=True)


def worker_exit(server, worker):
    from exchange.services.deadman import deadman_sweeper_stop

    deadman_sweeper_stop()
