"""Settings for Cadence Ops.

Everything that differs between a laptop and production comes from the
environment (README, "Deploying to production"). ``CADENCE_ENV=production``
is the one switch: DEBUG defaults to off, SECRET_KEY is required, HTTPS,
HSTS and secure cookies are on and static files are served compressed and
fingerprinted by whitenoise. The embedded default is a SQLite file in the
project folder and a development key, so `make run` and `make test` need no
environment at all.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ImproperlyConfigured(f"{name}={value!r}: use true or false.")
    return word in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


CADENCE_ENV = os.environ.get("CADENCE_ENV", "development").strip().lower()
if CADENCE_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"CADENCE_ENV={CADENCE_ENV!r}: use 'production' or 'development' (the default)."
    )
PRODUCTION = CADENCE_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
# A development key is only acceptable while DEBUG is on; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "dev-only-insecure-key-set-SECRET_KEY-in-production" if DEBUG and not PRODUCTION else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment in production (CADENCE_ENV=production) "
        "or when DEBUG is off; make one with: python -c "
        "'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_tasks",
    "django_tasks_db",
    "sharing",
    "trackers",
]

MIDDLEWARE = [
    "cadence_site.middleware.RequestIdMiddleware",
    "cadence_site.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cadence_site.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "cadence_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "cadence_site.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE takes the
    # write lock at BEGIN so two writers queue instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_SQLITE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "sharing.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `manage.py collectstatic` (make serve runs it) copies every asset here; git ignores it.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves collected files with content hashes in their names and
    # gzip/brotli copies, cached for a year; development serves the source tree.
    "staticfiles": {
        "BACKEND": "cadence_site.storage.StaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production whitenoise serves straight from static/ and the apps, as runserver does.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sharing.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cadence Ops API",
    "DESCRIPTION": "Sales-cadence trackers, faithful to Salesforce's ActionCadenceTracker.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Interactive docs from vendored assets under static/, never a CDN.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui-dist/favicon-32x32.png",
}

# Background work through the django-tasks API. The default queue lives in the database
# (`manage.py db_worker` runs it; `make run` starts one). TASKS_BACKEND=rq (or the dotted
# path) with REDIS_URL moves it to Redis, run by `manage.py rqworker default`.
TASKS_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
}
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "").strip() or "database"
TASKS_BACKEND = TASKS_BACKENDS.get(TASKS_BACKEND.lower(), TASKS_BACKEND)
if "." not in TASKS_BACKEND:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"Unknown TASKS_BACKEND {TASKS_BACKEND!r}: use "
        + " or ".join(f"{alias!r} ({path})" for alias, path in TASKS_BACKENDS.items())
        + ", or a backend's dotted path."
    )
TASKS = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
if TASKS_BACKEND == "django_tasks_rq.RQBackend":
    if not os.environ.get("REDIS_URL"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "TASKS_BACKEND=rq needs REDIS_URL, e.g. redis://127.0.0.1:6379/0."
        )
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {
        "default": {
            "URL": os.environ["REDIS_URL"],
            # RQ's default (180 s) would kill a long bulk job; the job restores what it
            # had not finished, but it should not be cut short in the first place.
            "DEFAULT_TIMEOUT": env_int("RQ_JOB_TIMEOUT_SECONDS", 3600),
        }
    }
    # Workers run django-tasks' jobs with its Job class, so `manage.py rqworker default`
    # needs no --job-class.
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}

# Salesforce caps an org at 150,000 active trackers; only active ones count.
CADENCE_ACTIVE_TRACKER_LIMIT = env_int("CADENCE_ACTIVE_TRACKER_LIMIT", 150000)
# Soft-deleted trackers stay restorable this long (getDeleted's window), then are purged.
CADENCE_RECYCLE_BIN_DAYS = env_int("CADENCE_RECYCLE_BIN_DAYS", 15)
# A bulk job whose trackers are still Processing after this long is presumed dead.
CADENCE_PROCESSING_TIMEOUT_SECONDS = env_int("CADENCE_PROCESSING_TIMEOUT_SECONDS", 600)
# How long the Overview's figures may be reused (seconds); the page shows their age and
# a refresh link. 0 counts on every view.
CADENCE_OVERVIEW_MAX_AGE = env_int("CADENCE_OVERVIEW_MAX_AGE", 60)
# Trackers a bulk job finishes per transaction (and per heartbeat). 2,000 takes a
# removal of 10,000 in 5 transactions rather than 20, a quarter less worker time, while
# a chunk still holds SQLite's write lock for only about a third of a second.
CADENCE_BULK_CHUNK_SIZE = env_int("CADENCE_BULK_CHUNK_SIZE", 2000)
if CADENCE_BULK_CHUNK_SIZE < 1:
    # 0 would finish no tracker and call the job done, leaving them all in Processing.
    raise ImproperlyConfigured(
        f"CADENCE_BULK_CHUNK_SIZE={CADENCE_BULK_CHUNK_SIZE}: must be at least 1."
    )

# Sharing recalculations over more trackers than this run on a worker, not in the request.
SHARING_INLINE_RECALC_MAX_TRACKERS = env_int("SHARING_INLINE_RECALC_MAX_TRACKERS", 20000)

# Security. Django's defaults already send X-Frame-Options: DENY, nosniff,
# Referrer-Policy: same-origin and HttpOnly session cookies; production adds HTTPS.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie (forms carry the token), so it can be HttpOnly too.
CSRF_COOKIE_HTTPONLY = PRODUCTION
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
# Behind a TLS-terminating proxy, name the header it sets (X-Forwarded-Proto) so
# request.is_secure() tells https from http. Only set it when the proxy always
# sets or overwrites that header: a client could send it otherwise.
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_ssl_header.upper().replace("-", "_"),
        "https",
    )
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SILENCED_SYSTEM_CHECKS = []
if PRODUCTION and not SECURE_SSL_REDIRECT:
    # Switched off on purpose: the proxy in front redirects http to https itself,
    # which `check --deploy` cannot see.
    SILENCED_SYSTEM_CHECKS.append("security.W008")
if PRODUCTION and SECURE_HSTS_SECONDS and not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")  # preload is opt-in per domain

# Content-Security-Policy (django-csp): scripts and styles only from our own
# static files, no inline code. NONCE adds a per-request nonce only to responses
# whose template used request.csp_nonce: the Swagger UI page's inline config.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login throttling (sharing.login): this many failed logins for one username
# from one address within the window lock that pair out for LOGIN_LOCKOUT_SECONDS.
# Counted in the database, so it holds across every gunicorn process and host.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
# How many proxies in front append to X-Forwarded-For; 0 trusts only REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# One JSON object per line on stdout (cadence_site.log), level from LOG_LEVEL.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r}: use DEBUG, INFO, WARNING or ERROR.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "cadence_site.log.RequestIdFilter"}},
    "formatters": {"json": {"()": "cadence_site.log.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    # Django's own loggers print once, as JSON, instead of through its plain console handler.
    "loggers": {"django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False}},
}
