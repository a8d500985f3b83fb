"""Celery tasks of the managed service (beat, public schema): thin wrappers."""

from infra.celery import app
from tenants import metering, pool, signup


@app.task(ignore_result=True)
def pool_replenish() -> int:
    """Beat, every minute: top the provisioning pool up to ``ORGANIZATION_POOL_SIZE``.

    Running it twice at once is harmless: a Redis lock lets one run create spares, the
    other returns at once. A worker killed mid-creation leaves at most one spare whose
    schema is not fully migrated; claiming it applies the missing migrations first.
    """
    return pool.pool_replenish()


@app.task(ignore_result=True)
def usage_measure_all() -> int:
    """Beat, every five minutes: measure each organization's usage for today.

    Idempotent: a second run writes the same rows.
    """
    return metering.usage_measure_all()


@app.task(ignore_result=True)
def signups_expired_delete() -> int:
    """Beat, hourly: delete organizations whose verification link expired unused.

    Idempotent: a second run finds nothing left to delete.
    """
    return signup.signups_expired_delete()
