"""Settings shared by every environment. Concern-specific parts live beside this file."""

from opaa.logconfig import logging_config, structlog_configure
from opaa.settings.env import BASE_DIR, DATA_DIR, env

from .access import *  # noqa: F403
from .answers import *  # noqa: F403
from .connectors import *  # noqa: F403
from .oidc import *  # noqa: F403
from .storage import *  # noqa: F403
from .tenancy import *  # noqa: F403
from .workers import *  # noqa: F403

SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

MIDDLEWARE = [
    # /healthz, /readyz, /metrics answer on any host (probes and scrapers use IPs).
    "opaa.observability.OperationalEndpointsMiddleware",
    # Request id, log context, request log line and latency histogram (opaa/observability.py).
    "opaa.observability.RequestContextMiddleware",
    # A NUL character in the path, query, form or JSON body: 400 before any view runs.
    "opaa.request_guard.NulCharacterMiddleware",
    # The language from the browser (Accept-Language), early so that every page, even a
    # suspended organization's 403, is in it; a signed-in person's own setting wins
    # further down (accounts.language.UserLanguageMiddleware).
    "django.middleware.locale.LocaleMiddleware",
    # Picks the organization (schema) from the request's host.
    "django_tenants.middleware.main.TenantMainMiddleware",
    # A suspended or unconfirmed organization answers 403; plan limits render as 402/429.
    "tenants.middleware.OrganizationStatusMiddleware",
    # An ApplicationError a portal view let through (a plan limit, a refused upload):
    # its status with its page, or the same JSON as the API to the portal's scripts.
    "infra.errors.ApplicationErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.language.UserLanguageMiddleware",
    # Row-level security: statements see only the caller's workspaces (workspaces.rls).
    "workspaces.rls.middleware.RowLevelSecurityMiddleware",
    # DEBUG on (make run): the product's 404 page for all but the developer (opaa/debug_page.py).
    "opaa.debug_page.ProductNotFoundMiddleware",
    # Redis, the broker or the storage of originals down: 503 with Retry-After instead of
    # a 500 (infra/unavailable.py).
    "infra.unavailable.ServiceUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "opaa.wsgi.application"
ASGI_APPLICATION = "opaa.asgi.application"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "search:ask"
LOGOUT_REDIRECT_URL = "accounts:login"

# German and English (docs/i18n.md): the person's setting, else the browser's
# Accept-Language, else English. Catalogues in locale/, compiled by `make install`.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API tokens (Authorization: Bearer opaa_...) first; its WWW-Authenticate header
        # makes an anonymous call a 401, not a 403.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "opaa.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OPAA API",
    "DESCRIPTION": "Ask your organization's documents and get answers with cited sources.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Two choice sets have fields named "status": each gets a stable name of its own.
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "ingestion.models.DocumentStatus",
        "SyncRunStatusEnum": "ingestion.models.SyncStatus",
    },
    # The API docs pages (/api/docs/, /api/redoc/) serve Swagger UI and ReDoc from our own
    # static files; no validator badge (it would call validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Upload limit for one file; the request body limit is set a little above it so the
# view can answer with a clear 413 instead of Django's generic 400.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# With DEBUG on (make run), Django's technical error page goes only to a staff user on
# loopback and never shows connection strings or passwords (opaa/debug_page.py).
DEFAULT_EXCEPTION_REPORTER = "opaa.debug_page.DeveloperOnlyExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "opaa.debug_page.SecretsHiddenFilter"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json": one JSON object per line (production); "console": aligned text for people.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
structlog_configure()

# /metrics: allowed with "Authorization: Bearer <METRICS_TOKEN>", or from a client
# address in METRICS_ALLOWED_NETWORKS (CIDRs); with neither set, nobody may read it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
