"""Databases and multi-tenancy: one Postgres schema per organization (django-tenants)."""

from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from opaa.settings.env import DATA_DIR, env


def database_urls() -> tuple[str, str]:
    """The application's and the schema owner's database URLs (docs/security.md).

    ``DATABASE_URL`` is the application's role (web, workers): it reads and writes rows,
    owns no table and is subject to row-level security. ``DATABASE_OWNER_URL`` is the
    role that owns the schemas and tables: migrations and organization schema creation
    and removal use it. Unset, the application's role does both (a single-role install:
    policies still filter every query, but that role could switch them off). Without
    ``DATABASE_URL`` the embedded Postgres under ``OPAA_DATA_DIR`` gives one of each.
    """
    url = env.str("DATABASE_URL", default="")
    if url:
        return url, env.str("DATABASE_OWNER_URL", default="") or url
    if not env.bool("OPAA_EMBEDDED_SERVICES", default=True):
        raise ImproperlyConfigured("Set DATABASE_URL (embedded services are disabled).")
    from opaa.embedded import postgres_start

    return postgres_start(DATA_DIR / "pg", database=env.str("OPAA_DATABASE_NAME", default="opaa"))


_app_url, _owner_url = database_urls()
_db = env.db_url_config(_app_url)
_owner = env.db_url_config(_owner_url)
if (_owner.get("NAME"), _owner.get("HOST")) != (_db.get("NAME"), _db.get("HOST")):
    raise ImproperlyConfigured("DATABASE_OWNER_URL must name the same server and database.")
# A Unix-socket directory arrives percent-encoded in the URL's host part.
_db["HOST"] = unquote(_db.get("HOST") or "")
# django-tenants' backend, plus row-level security: every statement on a table with a
# workspace_id runs in a transaction that carries the caller's workspaces (workspaces.rls).
_db["ENGINE"] = "workspaces.rls.backend"
# A persistent connection belongs to the thread that opened it and is reused by that
# thread's next request for up to CONN_MAX_AGE seconds. gunicorn's gthread workers reuse
# a fixed set of threads, so a process holds at most one per thread; a Celery pool
# process keeps its own from task to task the same way (infra/celery.py;
# docs/deployment.md, "Database connections"). A server
# that starts a thread per request must not keep them: the development settings turn
# this off unless it is set explicitly.
_db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
# Threads per process, each with one more database connection, that run a read beside
# the thread that asks for it: a question's keyword search beside its vector search
# (workspaces.rls.parallel; at 1M chunks hybrid retrieval's p50 / p95 went from 53-60 /
# 70-84 ms to 33-35 / 41-50 ms, bench/RESULTS.md).
# 0: one after the other on the thread's own connection.
DATABASE_PARALLEL_READS = env.int("DATABASE_PARALLEL_READS", default=2)
# Which process holds a connection, as pg_stat_activity shows it (opaa run and the
# image's gunicorn name theirs opaa-web, opaa-worker, opaa-beat); the URL's own
# ?application_name= wins.
_db.setdefault("OPTIONS", {}).setdefault(
    "application_name", env.str("DATABASE_APPLICATION_NAME", default="opaa")
)
# Credentials of the schema owner, used only inside ``workspaces.rls.schema_owner_connection``.
_db["OWNER"] = {"USER": _owner.get("USER", ""), "PASSWORD": _owner.get("PASSWORD", "")}
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# Migrations run connected as the schema owner; row-level security policies and the
# application role's grants are applied after each (workspaces.rls.policies).
GET_EXECUTOR_FUNCTION = "workspaces.rls.roles.migration_executor"

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
    # Swagger UI and ReDoc as static files: the API docs load nothing from outside.
    "drf_spectacular_sidecar",
    # The top: management commands and cross-app wiring (opaa/apps.py); no models.
    "opaa",
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
    "analytics",
    "chat",
    "mcp_server",
    "opaa",
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
