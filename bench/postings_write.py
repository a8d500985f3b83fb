"""What writing and deleting a document's postings costs at scale.

On the organization ``bench/retrieval_scale.py --reuse`` keeps (e.g. 1M chunks), writes
``--documents`` documents of ten chunks each (text of the bench's Zipfian vocabulary)
through the product's ``chunks_write`` (chunks, their words, the postings appended to
their words' lists), each in its own transaction, then deletes them one by one (the
trigger removing their postings); in the big workspace (half the chunks) and, as the
baseline in the same run, in a small one (1,000 chunks). Reported: p50 / p95 ms per
document written and deleted, and the load.

    OPAA_DATA_DIR=/tmp/opaa-1m .venv/bin/python bench/postings_write.py [--documents 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import django_setup, load, machine, progress

CHUNKS = 10
WORDS = 120


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    django_setup("bench-scale")
    import retrieval_scale as rs
    from django.db import transaction
    from django_tenants.utils import schema_context

    from ingestion.chunking import ChunkDraft
    from ingestion.index import chunks_write
    from ingestion.models import Chunk, Document
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    print(f"machine: {machine()}; load before: {load()}")
    rng = np.random.default_rng(args.seed)
    words = rs.vocabulary(np.random.default_rng(17))
    probabilities = rs.zipf_probabilities()
    organization = Organization.objects.get(slug=rs.SLUG)
    print("| workspace | chunks in it | write p50 / p95 ms | delete p50 / p95 ms |")
    with schema_context(organization.schema_name), organization_scope():
        big = Workspace.objects.get(is_default=True)
        small = Workspace.objects.exclude(pk=big.pk).order_by("pk").first()
        for name, workspace in (("big", big), ("small", small)):
            progress(f"{name}: writing and deleting {args.documents} documents")
            written, deleted, ids = [], [], []
            for n in range(args.documents):
                drafts = [
                    ChunkDraft(
                        ordinal=i,
                        text=" ".join(
                            words[w] for w in rng.choice(rs.VOCABULARY, WORDS, p=probabilities)
                        ),
                        heading_path=(),
                        token_count=WORDS,
                    )
                    for i in range(CHUNKS)
                ]
                started = time.perf_counter()
                with transaction.atomic():
                    document = Document.objects.create(
                        workspace=workspace,
                        title=f"postings bench {n}",
                        original_filename=f"postings-bench-{n}.txt",
                        storage_key=f"bench/postings/{n}",
                        mime_type="text/plain",
                        size_bytes=0,
                        sha256=f"{n:064x}",
                        language="english",
                        status="searchable",
                    )
                    chunks_write(document=document, drafts=drafts, vectors=[None] * CHUNKS)
                written.append((time.perf_counter() - started) * 1000)
                ids.append(document.pk)
            for pk in ids:
                started = time.perf_counter()
                with transaction.atomic():
                    Document.objects.filter(pk=pk).delete()
                deleted.append((time.perf_counter() - started) * 1000)

            def p(values):
                ordered = sorted(values)
                p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
                return f"{statistics.median(ordered):.0f} / {p95:.0f}"

            size = Chunk.objects.filter(workspace=workspace).count()
            print(f"| {name} | {size:,} | {p(written)} | {p(deleted)} |", flush=True)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
