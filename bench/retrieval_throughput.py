"""Questions per second one node serves at scale: hybrid retrieval by P concurrent clients.

On the organization ``bench/retrieval_scale.py --reuse`` keeps (e.g. 1M chunks), each of
P processes (1, 2, 4, 8 by default) asks the product's hybrid search
(``search.retrieval.hybrid_search``: BM25, the nearest vectors, fusion, coverage and the
passages; the question's vector given, as the embedding model's time is measured
elsewhere) for ``--seconds``, one question after another, cycling through three cases:
the big workspace read by its admin, the big workspace read by one group's member, a
small workspace. Reported per P: questions per second over all processes, p50 / p95
latency, the load average. Answer generation (the LLM) is not part of it.

    OPAA_DATA_DIR=/tmp/opaa-1m .venv/bin/python bench/retrieval_throughput.py \\
        [--clients 1,2,4,8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np
from common import (
    asked_as_in_a_request,
    django_setup,
    django_setup_for_workers,
    load,
    machine,
    progress,
)

QUESTIONS = 60


def questions(seed: int) -> list[tuple[str, list[float]]]:
    """Texts of four Zipfian words and vectors near real chunks (as retrieval_scale's)."""
    import retrieval_scale as rs
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenants.models import Organization
    from workspaces.rls import organization_scope

    rng = np.random.default_rng(seed)
    words = rs.vocabulary(np.random.default_rng(17))
    probabilities = rs.zipf_probabilities()
    organization = Organization.objects.get(slug=rs.SLUG)
    with (
        schema_context(organization.schema_name),
        organization_scope(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT embedding::text FROM ingestion_chunk TABLESAMPLE SYSTEM (1)"
            " WHERE embedding IS NOT NULL LIMIT %s",
            [QUESTIONS],
        )
        sample = np.array([[float(x) for x in row[0][1:-1].split(",")] for row in cursor])
    vectors = rs.unit(sample + rs.NOISE * rng.standard_normal(sample.shape))
    texts = [
        " ".join(words[i] for i in rng.choice(rs.VOCABULARY, rs.QUESTION_WORDS, p=probabilities))
        for _ in range(len(vectors))
    ]
    return [(text, [float(x) for x in vector]) for text, vector in zip(texts, vectors, strict=True)]


def client(number: int, asked: list, seconds: float, start: float, out) -> None:
    """One process: ask until ``start + seconds``; put (latencies in ms) on ``out``."""
    django_setup("bench-scale")
    import retrieval_scale as rs

    import search.retrieval as retrieval
    from search.retrieval import hybrid_search
    from tenants.models import Organization
    from workspaces.models import Workspace
    from workspaces.readers import ReaderScope

    organization = Organization.objects.get(slug=rs.SLUG)
    latencies = []
    with asked_as_in_a_request(organization.schema_name):
        big = Workspace.objects.get(is_default=True)
        small = Workspace.objects.exclude(pk=big.pk).order_by("pk").first()
        group = ReaderScope(principals=("user:reader@bench.example", "group:g00"))
        cases = [
            ([big.pk], ReaderScope.everything([big.pk])),
            ([big.pk], group),
            ([small.pk], group),
        ]
        while time.time() < start:
            time.sleep(0.01)
        i = number * 7
        while time.time() < start + seconds:
            text, vector = asked[i % len(asked)]
            ids, readers = cases[i % len(cases)]
            retrieval.embed_texts = lambda texts, v=vector: [v]
            began = time.perf_counter()
            hybrid_search(text, workspace_ids=ids, readers=readers, k=6)
            latencies.append((time.perf_counter() - began) * 1000)
            i += 1
    out.put(latencies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    # The embedded Postgres and Redis named in the environment, which the clients inherit.
    django_setup_for_workers("bench-scale")
    print(f"machine: {machine()}; load before: {load()}")
    asked = questions(args.seed)
    context = multiprocessing.get_context("spawn")
    print("| clients | questions/s | p50 / p95 ms | questions | load after |")
    for clients in [int(c) for c in args.clients.split(",")]:
        progress(f"{clients} client(s) for {args.seconds:.0f} s")
        out = context.Queue()
        start = time.time() + 20  # time for the processes to set Django up
        processes = [
            context.Process(target=client, args=(n, asked, args.seconds, start, out))
            for n in range(clients)
        ]
        for process in processes:
            process.start()
        latencies = [x for _ in processes for x in out.get()]
        for process in processes:
            process.join()
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"| {clients} | {len(latencies) / args.seconds:.1f}"
            f" | {statistics.median(ordered):.0f} / {p95:.0f} | {len(latencies)} | {load()} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
