"""What BM25's first question costs in a large scope, before its readable chunks are kept.

On the organization ``bench/retrieval_scale.py --reuse`` keeps, with every kept set
dropped first (Redis and this process): one question for a member of one group (the
scope's chunks read, then the chunks the member is not named on), then the same for
members of two other groups and for the workspace's admin (the scope's chunks kept
already), each followed by a second question (everything kept). Reported: ms of each.

    OPAA_DATA_DIR=/tmp/opaa-1m .venv/bin/python bench/bm25_first_question.py
"""

from __future__ import annotations

import time

from common import django_setup, load, machine

QUESTION = "bekbek chosil"


def main() -> None:
    django_setup("bench-scale")
    import retrieval_scale as rs
    from django.core.cache import cache
    from django_tenants.utils import schema_context

    import ingestion.index as index
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope
    from workspaces.rls import organization_scope

    print(f"machine: {machine()}; load before: {load()}")
    organization = Organization.objects.get(slug=rs.SLUG)
    with schema_context(organization.schema_name), organization_scope():
        big = Workspace.objects.get(is_default=True)
        cache.clear()
        index._KEPT.clear()
        askers = [
            ("member of g00, scope not kept", ("user:a@bench.example", "group:g00"), None),
            ("member of g01, scope kept", ("user:b@bench.example", "group:g01"), None),
            ("admin, scope kept", (), big.pk),
            ("member of g02, scope kept", ("user:c@bench.example", "group:g02"), None),
        ]
        print("| asker | first question | second |")
        print("|---|--:|--:|")
        for name, principals, admin_of in askers:
            readers = (
                ReaderScope.everything([admin_of])
                if admin_of
                else ReaderScope(principals=principals)
            )
            times = []
            for _ in range(2):
                started = time.perf_counter()
                index.bm25_ranking(QUESTION, workspace_ids=[big.pk], readers=readers, limit=50)
                times.append((time.perf_counter() - started) * 1000)
            print(f"| {name} | {times[0]:.0f} ms | {times[1]:.0f} ms |", flush=True)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
