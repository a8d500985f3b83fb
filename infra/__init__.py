"""The floor every app stands on: the Celery app, metrics, outbound guard, crypto, storage layout.

Nothing here imports an app (``tenants``, ``accounts``, ...) or ``opaa``; ``make lint``
checks that (import-linter, contract "infra is the floor").
"""
