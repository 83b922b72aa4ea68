"""Gunicorn settings for `make serve` and production: ``gunicorn -c cadence_site/gunicorn.conf.py``.

Everything comes from the environment: HOST and PORT (or BIND), WEB_CONCURRENCY
workers, GUNICORN_THREADS, GUNICORN_TIMEOUT. Logs (errors and one access line
per request) are JSON lines on stdout, through the same formatter as Django's.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r}: expected a whole number.") from None


wsgi_app = "cadence_site.wsgi:application"

bind = os.environ.get("BIND") or (
    f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
# Gunicorn's rule of thumb is 2 x cores + 1; capped so a big host doesn't open
# more database connections than PostgreSQL allows.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
# A request that takes longer than this is killed and its worker replaced.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (a deploy, Ctrl-C) workers finish the requests they have, up to this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak can't grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Only trust X-Forwarded-* from these addresses (the load balancer); see SECURE_PROXY_SSL_HEADER.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Gunicorn 24+ opens a control socket at one fixed path per user; several servers
# on one machine (tests, a second checkout) would fight over it, and we don't use it.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The formatter reads the atoms, not this text; it only has to name the ones it uses.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)s %({x-request-id}o)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cadence_site.log.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
