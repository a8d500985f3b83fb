"""The HNSW breadth (hnsw.ef_search) against recall at scale, on a loaded
``bench/retrieval_scale.py`` organization (``--reuse``'s data directory).

Takes ``N`` query vectors near random chunks of the big and the first small workspace
(as the scale bench does), the exact top 10 over the big workspace for an admin (or,
with ``READERS=group``, for a reader of one group), and
for each breadth in ``EFS`` times ``vector_ranking`` (k = 50) and its recall@10: mean,
minimum, and how many questions found none of the true ten.

    OPAA_DATA_DIR=/tmp/opaa-1m N=100 EFS=400,600,800,1000 .venv/bin/python bench/vector_breadth.py
    OPAA_DATA_DIR=/tmp/opaa-1m N=100 EFS=600,800 READERS=group \
        .venv/bin/python bench/vector_breadth.py
"""

import os
import statistics
import time

import numpy as np
import retrieval_scale as rs  # bench/
from common import django_setup

django_setup("bench-scale")
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

import ingestion.index as index  # noqa: E402
from ingestion.models import Chunk  # noqa: E402
from tenants.models import Organization  # noqa: E402
from workspaces.models import Workspace  # noqa: E402
from workspaces.readers import ReaderScope  # noqa: E402
from workspaces.rls import organization_scope  # noqa: E402

org = Organization.objects.get(slug=rs.SLUG)
rng = np.random.default_rng(5)
with schema_context(org.schema_name), organization_scope():
    big = Workspace.objects.get(is_default=True)
    # The same questions in every run: Postgres' random() seeded in this session.
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [5 / 1000])
    sample = list(
        Chunk.objects.filter(
            workspace_id__in=[
                big.pk,
                Workspace.objects.exclude(pk=big.pk).order_by("pk").first().pk,
            ]
        )
        .order_by("?")
        .values_list("embedding", flat=True)[: int(os.environ.get("N", "40"))]
    )
    vecs = rs.unit(np.array(sample) + rs.NOISE * rng.standard_normal((len(sample), 384)))
    # READERS=group: a reader of the unrestricted chunks and one group's (20% are
    # restricted, to one of 20 groups), whose filter the index scan must get past.
    if os.environ.get("READERS") == "group":
        readers = ReaderScope(principals=("user:reader@bench.example", "group:g00"))
    else:
        readers = ReaderScope.everything([big.pk])
    truth = [
        [
            r.chunk_id
            for r in index.vector_ranking(
                v, workspace_ids=[big.pk], readers=readers, limit=10, exact=True
            )
        ]
        for v in vecs
    ]
    for ef in [int(x) for x in os.environ.get("EFS", "400,1000").split(",")]:
        saved, index.HNSW_EF_PER_RESULT = index.HNSW_EF_PER_RESULT, 0
        with override_settings(HNSW_EF_SEARCH=ef):
            ms, rec = [], []
            for v, t in zip(vecs, truth, strict=True):
                s = time.perf_counter()
                got = index.vector_ranking(v, workspace_ids=[big.pk], readers=readers, limit=50)
                ms.append((time.perf_counter() - s) * 1000)
                rec.append(len({r.chunk_id for r in got[:10]} & set(t)) / 10)
        index.HNSW_EF_PER_RESULT = saved
        print(
            f"ef {ef}: p50 {rs.percentile(ms, 0.5):.1f} p95 {rs.percentile(ms, 0.95):.1f}"
            f" recall@10 {statistics.mean(rec):.4f} min {min(rec):.2f}"
            f" none of the ten {sum(r == 0 for r in rec)}",
            flush=True,
        )
