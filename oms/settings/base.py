"""Settings shared by every environment; every difference comes from environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("OMS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-dev-key-change-me-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "axes",
    "rest_framework_api_key",
    # ours
    "oms",
    "inventory",
    "orders",
    "routing",
    "reporting",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "oms.middleware.NulByteMiddleware",
    "oms.cache.RequestCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"
ASGI_APPLICATION = "oms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oms.context_processors.navigation",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL (with Django's native psycopg pool), else a SQLite file under var/.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound on the server, and a statement run five times on a connection is prepared there:
        # PostgreSQL then plans it once per connection instead of on every call (an order create: 1.7 ->
        # 1.3 ms of PostgreSQL CPU; docs/performance.md). DB_SERVER_BINDING=0: bound on the client (Django's
        # default).
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = env_bool("DB_SERVER_BINDING", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "oms.sqlite3"),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: the Celery broker and the cache. Without it, tasks run inline and the cache is local memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "oms.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering fails the call after a few seconds instead of hanging the request.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Inline (no Redis): a failing task is logged, never turned into an error for the request that queued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Keep each worker process's database connection across tasks (Celery would otherwise close it, and with it
# the pool, around every task); oms.celery returns it to the pool after each task, dropping broken ones.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = os.environ.get("TIME_ZONE", "America/Sao_Paulo")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # A safety net for routing messages lost in transit: orders still awaiting routing are picked up.
    "route-pending": {"task": "routing.route_pending", "schedule": 30.0},
    "retry-backorders": {"task": "routing.retry_backorders", "schedule": 300.0},
    "reoptimise-unreleased": {"task": "routing.reoptimise_unreleased", "schedule": 900.0},
    "refresh-demand": {"task": "routing.refresh_demand", "schedule": 600.0},
    "expire-uncollected-pickups": {"task": "orders.expire_uncollected_pickups", "schedule": 3600.0},
    # SLA alerts: a fulfilment past its ship-by time is announced once (timeline entry, `fulfilment.late`).
    "flag-late-fulfilments": {"task": "orders.flag_late_fulfilments", "schedule": 300.0},
    # behind the on-commit settling of a return whose exchange order was cancelled, should that task be lost
    "settle-cancelled-exchanges": {"task": "orders.settle_cancelled_exchanges", "schedule": 900.0},
    # ... and each stock transfer in transit past its expected time (`transfer.overdue`).
    "flag-overdue-transfers": {"task": "inventory.flag_overdue_transfers", "schedule": 900.0},
    # The KPI dashboards read rollups: today's and the last days' (their orders still change) are recomputed.
    "kpi-rollup": {"task": "reporting.rollup", "schedule": 600.0},
    # Replenishment proposals from the last weeks' demand, refreshed every 6 hours for managers to decide.
    "replenishment-propose": {"task": "inventory.replenishment_propose", "schedule": 6 * 3600.0},
    # Demand forecasts from the ledger, once a night (the days before today do not change during the day).
    "forecast-refresh": {"task": "inventory.forecast_refresh", "schedule": crontab(hour=2, minute=15)},
}

# Routing prices the stock later orders will need from recent demand (routing.services.demand): the orders of
# the last HISTORY_DAYS, scaled to the HORIZON_DAYS until stock is replenished; none below MIN_ORDERS orders.
ROUTING_DEMAND_HISTORY_DAYS = int(os.environ.get("ROUTING_DEMAND_HISTORY_DAYS", "28"))
ROUTING_DEMAND_HORIZON_DAYS = float(os.environ.get("ROUTING_DEMAND_HORIZON_DAYS", "7"))
ROUTING_DEMAND_MIN_ORDERS = int(os.environ.get("ROUTING_DEMAND_MIN_ORDERS", "100"))
ROUTING_DEMAND_MAX_AGE = 1800.0  # seconds: an older picture is rebuilt on the decision path (the beat: 600 s)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

# Login throttling: lock a username+IP pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "pt-br")
LANGUAGES = [("pt-br", _("Portuguese (Brazil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy with Django's own middleware: everything from our origin, nothing inline
# except what carries the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["oms.parsers.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "oms.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": "Integration contract of the Order Management System.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

MAILERS: dict[str, dict[str, object]] = {
    "default": {"BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")}
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "oms@localhost")
# Where customers reach this system: links in customer e-mails (the tracking page) start with it.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
if CELERY_TASK_ALWAYS_EAGER:
    # Inline tasks still open the in-memory broker's connection (to check that their arguments serialise),
    # which has no hostname: kombu would warn "No hostname was supplied" on every task.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

# The main navigation: (URL name, label, roles that see it; empty = every signed-in user).
# An entry whose URL does not exist yet is skipped, so apps can add theirs as they grow.
OMS_NAVIGATION: list[tuple[str, object, tuple[str, ...]]] = [
    ("home", _("Dashboard"), ()),
    ("orders:list", _("Orders"), ("customer_service", "manager", "admin")),
    ("fulfilment:queue", _("Work queue"), ("store_staff", "warehouse_staff")),
    (
        "returns:list",
        _("Returns"),
        ("customer_service", "store_staff", "warehouse_staff", "manager", "admin"),
    ),
    ("inventory:stock", _("Stock"), ("store_staff", "warehouse_staff", "manager", "admin")),
    ("routing:promise", _("Delivery promise"), ("customer_service", "manager", "admin")),
    ("routing:whatif", _("Routing what-if"), ("manager", "admin")),
    ("reporting:dashboard", _("KPIs"), ("manager", "admin")),
    ("inventory:replenishment", _("Replenishment"), ("manager", "admin")),
    ("inventory:forecast", _("Forecast"), ("manager", "admin")),
    ("inventory:safety", _("Safety stock"), ("manager", "admin")),
    ("inventory:transfers", _("Transfers"), ("store_staff", "warehouse_staff", "manager", "admin")),
    ("access:users", _("Users & roles"), ("admin",)),
    ("admin:index", _("Admin"), ("admin",)),
]

if DATABASE_URL and os.environ.get("TEST_DATABASE_NAME"):
    # make test points the Celery worker at this database, so the suite must create exactly this one.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

# --- access (login throttling, API rate limits, probe logging): settings owned by the access work ---

INSTALLED_APPS += ["access"]
# After authentication (it needs the user), outermost of the rest: it sees the final status of every view.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "oms.middleware.DeniedProbeMiddleware",
)
# API rate limits per API key, per user (session) and per address (anonymous); "N/second|minute|hour|day".
# A key's default is sized for a channel's peak import (1,000 requests/s); lower it per deployment.
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["oms.throttling.ApiRateThrottle"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "api_key": os.environ.get("API_RATE_PER_KEY", "60000/min"),
    "user": os.environ.get("API_RATE_PER_USER", "1200/min"),
    "anon": os.environ.get("API_RATE_ANON", "60/min"),
}
