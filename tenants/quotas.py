"""Plan limits, enforced where the usage happens: the one module that decides.

Services call an ``*_admit`` function before they do the thing that counts; it raises
``QuotaExceeded`` when the organization's plan does not allow it:

- **402 Payment Required** for a plan limit (members, documents, storage, sources,
  upload size, LLM tokens this month): waiting does not help, a bigger plan does;
- **429 Too Many Requests** for the per-day rate (questions per day), with
  ``Retry-After`` until midnight UTC.

The body names the limit, the usage, what the plan allows and the plan. It is an
``infra.errors.ApplicationError``: the API answers it as JSON, the portal with the
quota page (or the same JSON to its scripts). An organization without a plan
(on-premises, or made by an operator) has no limits; per-organization overrides in
``Organization.quota_overrides`` win over the plan's values.

Hot counters live in Redis (atomic ``INCR``, seeded from the durable ``UsageDay``
rows when a key is missing, e.g. after a Redis restart); levels (documents, storage,
members, sources) are counted in the organization's schema when they are checked, by the
apps that own those rows (``tenants.usage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_redis import get_redis_connection
from django_tenants.utils import get_public_schema_name

from infra.errors import ApplicationError
from infra.schema import schema_current
from tenants.models import LIMITS, Organization, UsageDay
from tenants.usage import level_count

LABELS = {
    "members": gettext_lazy("members"),
    "documents": gettext_lazy("documents"),
    "storage_bytes": gettext_lazy("storage (bytes)"),
    "questions_per_day": gettext_lazy("questions per day"),
    "llm_tokens_per_month": gettext_lazy("LLM tokens per month"),
    "sources": gettext_lazy("connected sources"),
    "max_upload_bytes": gettext_lazy("upload size (bytes)"),
}


class QuotaExceeded(ApplicationError):
    """A plan limit (402) or the per-day rate (429) was hit; the message says which.

    The body (API and portal scripts alike) is ``payload``: ``detail``, ``code``
    ("quota_exceeded"), ``limit``, ``usage``, ``allowed`` and ``plan``; a browser gets
    the quota page.
    """

    status_code = 402
    code = "quota_exceeded"
    template_name = "tenants/quota_exceeded.html"

    def __init__(
        self, *, limit: str, usage: int, allowed: int, plan: str, status_code: int = 402
    ) -> None:
        self.limit = limit
        values = {"limit": LABELS[limit], "usage": usage, "allowed": allowed, "plan": plan}
        if status_code == 429:
            message = _(
                "Your organization's plan limit on %(limit)s is reached: %(usage)s used of "
                "%(allowed)s allowed on the %(plan)s plan. The count starts again at midnight UTC."
            )
        else:
            message = _(
                "Your organization's plan limit on %(limit)s is exceeded: %(usage)s used of "
                "%(allowed)s allowed on the %(plan)s plan. "
                "Ask your organization's owner to change the plan."
            )
        message = message % values
        payload = {
            "detail": message,
            "code": self.code,
            "limit": limit,
            "usage": usage,
            "allowed": allowed,
            "plan": plan,
        }
        super().__init__(message, status_code=status_code, payload=payload)

    @property
    def retry_after(self) -> int | None:
        """Seconds until the per-day count starts again (429 only)."""
        if self.status_code != 429:
            return None
        now = timezone.now()
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        return max(1, int((midnight - now).total_seconds()))

    def page_context(self) -> dict:
        return {"quota": self.payload, "status": self.status_code}


@dataclass(frozen=True)
class Limits:
    plan: str
    values: dict[str, int | None]

    def __getitem__(self, name: str) -> int | None:
        return self.values[name]


def limits_for(organization: Organization) -> Limits:
    """The organization's limits: its plan's values, with its overrides applied.

    Read from the database each time (one query): a plan an operator changed applies
    at once, also to a worker holding an older copy of the organization.
    """
    organization = (
        Organization.objects.select_related("plan").filter(pk=organization.pk).first()
        or organization
    )
    plan = organization.plan
    if plan is None:
        values: dict[str, int | None] = dict.fromkeys(LIMITS)
        name = "unlimited"
    else:
        values = {limit: getattr(plan, limit) for limit in LIMITS}
        name = plan.name
    for limit, value in (organization.quota_overrides or {}).items():
        if limit in values and (value is None or isinstance(value, int)):
            values[limit] = value
    return Limits(plan=name, values=values)


def organization_current() -> Organization | None:
    """The organization whose schema is active; None in the public schema."""
    if schema_current() == get_public_schema_name():
        return None
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    # schema_context() sets a stand-in tenant that carries only the schema's name.
    return Organization.objects.filter(schema_name=schema_current()).first()


def _check(limits: Limits, limit: str, usage: int, *, status_code: int = 402) -> None:
    """Raise unless ``usage`` (after the action) stays within ``limit``."""
    allowed = limits[limit]
    if allowed is not None and usage > allowed:
        raise QuotaExceeded(
            limit=limit, usage=usage, allowed=allowed, plan=limits.plan, status_code=status_code
        )


# --- hot counters (Redis) ------------------------------------------------------------


def _today() -> date:
    return timezone.now().date()


def _questions_key(organization_id: int, day: date) -> str:
    return f"opaa:quota:{organization_id}:questions:{day:%Y%m%d}"


def _tokens_key(organization_id: int, day: date) -> str:
    return f"opaa:quota:{organization_id}:llm_tokens:{day:%Y%m}"


# Kept a little past their period so a request at the boundary still finds its key.
_DAY_TTL = 2 * 24 * 3600
_MONTH_TTL = 32 * 24 * 3600


def _seeded(key: str, ttl: int, durable) -> None:
    """Create ``key`` from the durable record when Redis does not have it (NX: a racing
    request that already created it wins, and its count is kept)."""
    redis = get_redis_connection("default")
    if not redis.exists(key):
        redis.set(key, int(durable()), ex=ttl, nx=True)


def _questions_today_durable(organization_id: int, day: date) -> int:
    row = UsageDay.objects.filter(organization_id=organization_id, day=day).first()
    return row.questions if row else 0


def _tokens_month_durable(organization_id: int, day: date) -> int:
    rows = UsageDay.objects.filter(
        organization_id=organization_id, day__gte=day.replace(day=1), day__lte=day
    )
    return rows.aggregate(total=Sum("llm_tokens"))["total"] or 0


def questions_today(organization: Organization) -> int:
    day = _today()
    key = _questions_key(organization.pk, day)
    _seeded(key, _DAY_TTL, lambda: _questions_today_durable(organization.pk, day))
    return int(get_redis_connection("default").get(key) or 0)


def llm_tokens_this_month(organization: Organization) -> int:
    day = _today()
    key = _tokens_key(organization.pk, day)
    _seeded(key, _MONTH_TTL, lambda: _tokens_month_durable(organization.pk, day))
    return int(get_redis_connection("default").get(key) or 0)


def llm_tokens_add(organization: Organization, tokens: int) -> None:
    """Count ``tokens`` against this month's allowance (called once a question is answered)."""
    if tokens <= 0:
        return
    day = _today()
    key = _tokens_key(organization.pk, day)
    _seeded(key, _MONTH_TTL, lambda: _tokens_month_durable(organization.pk, day))
    get_redis_connection("default").incrby(key, tokens)


# --- admission checks, called by the services ---------------------------------------


def question_admit() -> None:
    """Admit one question of the current organization, or raise ``QuotaExceeded``.

    LLM tokens this month are a plan limit (402); questions per day are a rate (429),
    counted with one atomic INCR so concurrent requests cannot both take the last slot.
    A refused question is not counted.
    """
    organization = organization_current()
    if organization is None:
        return
    limits = limits_for(organization)
    tokens_allowed = limits["llm_tokens_per_month"]
    if tokens_allowed is not None:
        used = llm_tokens_this_month(organization)
        if used >= tokens_allowed:
            raise QuotaExceeded(
                limit="llm_tokens_per_month", usage=used, allowed=tokens_allowed, plan=limits.plan
            )
    day = _today()
    key = _questions_key(organization.pk, day)
    _seeded(key, _DAY_TTL, lambda: _questions_today_durable(organization.pk, day))
    redis = get_redis_connection("default")
    count = redis.incr(key)
    allowed = limits["questions_per_day"]
    if allowed is not None and count > allowed:
        redis.decr(key)
        raise QuotaExceeded(
            limit="questions_per_day",
            usage=count - 1,
            allowed=allowed,
            plan=limits.plan,
            status_code=429,
        )


def documents_level() -> tuple[int, int]:
    """(documents, stored bytes) of the current organization, all workspaces."""
    # Limits are the organization's: each counter counts over every workspace, not only
    # those of the person whose request asks (row-level security would show only theirs).
    return level_count("documents"), level_count("storage_bytes")


def upload_limit() -> int | None:
    """The current organization's upload size limit in bytes, if its plan (or an
    override) sets one; None: the deployment's ``MAX_UPLOAD_BYTES`` applies."""
    organization = organization_current()
    if organization is None:
        return None
    return limits_for(organization)["max_upload_bytes"]


def document_admit(*, size: int, new_document: bool = True) -> None:
    """Admit a stored file of ``size`` bytes, or raise ``QuotaExceeded`` (402).

    ``new_document`` False: it replaces a document (a new version), so the count of
    documents does not grow.
    """
    organization = organization_current()
    if organization is None:
        return
    limits = limits_for(organization)
    _check(limits, "max_upload_bytes", size)
    if limits["documents"] is None and limits["storage_bytes"] is None:
        return
    documents, stored = documents_level()
    _check(limits, "documents", documents + int(new_document))
    _check(limits, "storage_bytes", stored + size)


def members_count() -> int:
    """People of the current organization: active accounts, not counting service accounts
    (a service account belongs to an API token, not to a person)."""
    return level_count("members")


def member_admit() -> None:
    """Admit one more person (an account about to be created), or raise ``QuotaExceeded``."""
    organization = organization_current()
    if organization is None:
        return
    limits = limits_for(organization)
    if limits["members"] is not None:
        _check(limits, "members", members_count() + 1)


def sources_count() -> int:
    """Connected sources of the current organization, in every workspace."""
    return level_count("sources")


def source_admit() -> None:
    """Admit one more connected source, or raise ``QuotaExceeded`` (402)."""
    organization = organization_current()
    if organization is None:
        return

    limits = limits_for(organization)
    if limits["sources"] is not None:
        _check(limits, "sources", sources_count() + 1)


def usage_levels(organization: Organization) -> dict[str, int]:
    """Current usage against each limit (inside the organization's schema)."""
    documents, stored = documents_level()

    return {
        "members": members_count(),
        "documents": documents,
        "storage_bytes": stored,
        "questions_per_day": questions_today(organization),
        "llm_tokens_per_month": llm_tokens_this_month(organization),
        "sources": sources_count(),
        "max_upload_bytes": 0,
    }
