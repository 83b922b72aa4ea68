"""Settings for Cadence Ops.

Everything that differs between a laptop and production comes from the
environment: DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS and the org limit.
The embedded default is a SQLite file in the project folder.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# A development key is only acceptable while DEBUG is on; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "dev-only-insecure-key-set-SECRET_KEY-in-production" if DEBUG else ""
)
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_tasks",
    "django_tasks_db",
    "sharing",
    "trackers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
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
STATIC_ROOT = BASE_DIR / "staticfiles"

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
            "DEFAULT_TIMEOUT": int(os.environ.get("RQ_JOB_TIMEOUT_SECONDS", "3600")),
        }
    }
    # Workers run django-tasks' jobs with its Job class, so `manage.py rqworker default`
    # needs no --job-class.
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}

# Salesforce caps an org at 150,000 active trackers; only active ones count.
CADENCE_ACTIVE_TRACKER_LIMIT = int(os.environ.get("CADENCE_ACTIVE_TRACKER_LIMIT", "150000"))
# Soft-deleted trackers stay restorable this long (getDeleted's window), then are purged.
CADENCE_RECYCLE_BIN_DAYS = int(os.environ.get("CADENCE_RECYCLE_BIN_DAYS", "15"))
# A bulk job whose trackers are still Processing after this long is presumed dead.
CADENCE_PROCESSING_TIMEOUT_SECONDS = int(
    os.environ.get("CADENCE_PROCESSING_TIMEOUT_SECONDS", "600")
)

# Sharing recalculations over more trackers than this run on a worker, not in the request.
SHARING_INLINE_RECALC_MAX_TRACKERS = int(
    os.environ.get("SHARING_INLINE_RECALC_MAX_TRACKERS", "20000")
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
