"""Databases and multi-tenancy: one Postgres schema per organization (django-tenants)."""

from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from opaa.settings.env import DATA_DIR, env


def database_url() -> str:
    """``DATABASE_URL`` when set; otherwise the embedded Postgres under ``OPAA_DATA_DIR``."""
    url = env.str("DATABASE_URL", default="")
    if url:
        return url
    if not env.bool("OPAA_EMBEDDED_SERVICES", default=True):
        raise ImproperlyConfigured("Set DATABASE_URL (embedded services are disabled).")
    from opaa.embedded import postgres_start

    return postgres_start(DATA_DIR / "pg", database=env.str("OPAA_DATABASE_NAME", default="opaa"))


_db = env.db_url_config(database_url())
# A Unix-socket directory arrives percent-encoded in the URL's host part.
_db["HOST"] = unquote(_db.get("HOST") or "")
_db["ENGINE"] = "django_tenants.postgresql_backend"
_db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

# Apps whose tables live in the public schema: organizations and their domains, and the
# platform operators' own accounts (accounts is in both lists: each schema has users).
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    # django.contrib.admin, with every admin action recorded in the audit log.
    "accounts.admin_apps.AuditedAdminConfig",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
]
# Apps whose tables exist once per organization schema: everything an organization owns.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    # django.contrib.admin, with every admin action recorded in the audit log.
    "accounts.admin_apps.AuditedAdminConfig",
    "accounts",
    "workspaces",
    "ingestion",
    "search",
    "sso",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organization"
TENANT_DOMAIN_MODEL = "tenants.Domain"
ROOT_URLCONF = "opaa.urls"
PUBLIC_SCHEMA_URLCONF = "opaa.urls_public"
# A host that matches no organization gets the public site (health, operators' admin).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = True

# Where organizations are reached: <slug>.<ORGANIZATION_DOMAIN_SUFFIX>.
ORGANIZATION_DOMAIN_SUFFIX = env.str("ORGANIZATION_DOMAIN_SUFFIX", default="localhost")

# The managed service (tenants.signup, tenants.pool, tenants.quotas; docs/managed-service.md).
# Spare, pre-migrated organization schemas kept ready by beat, so a signup is instant;
# 0 turns the pool off (an installation without public signup needs none).
ORGANIZATION_POOL_SIZE = env.int("ORGANIZATION_POOL_SIZE", default=0)
# Public signup at the platform address (/signup/); off unless this is the managed service.
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=False)
# Signups allowed from one client address per hour.
SIGNUP_RATE_PER_HOUR = env.int("SIGNUP_RATE_PER_HOUR", default=5)
# How long the email verification link of a signup stays valid.
SIGNUP_VERIFY_MAX_AGE_S = env.int("SIGNUP_VERIFY_MAX_AGE_S", default=3 * 24 * 3600)
