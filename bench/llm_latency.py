"""What the optional LLM steps before the answer (query rewrite, LLM reranking) add to an
answer's latency, against the loopback fake OpenAI server with a fixed delay per call.

Seeds one organization (its own embedded Postgres and Redis under ``OPAA_DATA_DIR``,
default ``.opaa/bench-llm-latency``) with ``sample_corpus/``, starts the fake OpenAI
server of the tests (``tests/fakes/openai_server.py``) with every chat completion held
``--delay`` seconds (a stand-in for the model's own time), and answers each question of
``sample_corpus/questions.json`` four ways in the same run, interleaved per question:
the LLM answer alone (baseline), with the rewrite, with reranking, with both. The answer
cache is off, so every answer is computed. Reported per way: the
median and p95 of the whole answer (``search.services.answer_question``, as the API
calls it) and of retrieval alone, the LLM calls and tokens per question, and the median
added to the baseline. The fake answers instantly besides the delay, so what is measured
is OPAA's own work plus one delay per call; a real model's time per call replaces the
delay (the rewrite writes a few short queries, reranking reads about 20 x 700
characters and writes a list of ids).

    nice -n 10 .venv/bin/python bench/llm_latency.py [--delay 0.5] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import ROOT, django_setup, sample_organization  # bench/

SLUG = "bench-llm-latency"
WAYS = {
    "LLM answer (baseline)": (False, False),
    "+ query rewrite": (True, False),
    "+ LLM rerank": (False, True),
    "+ rewrite + rerank": (True, True),
}


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per LLM call")
    parser.add_argument("--repeat", type=int, default=1, help="ask every question N times")
    args = parser.parse_args()
    django_setup("bench-llm-latency")
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from search.services import answer_question
    from tenants.services import organization_delete
    from tests.fakes.openai_server import FakeOpenAIServer, default_reply
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    def delayed(messages):
        time.sleep(args.delay)
        return default_reply(messages)

    sample = sample_organization(SLUG)
    listed = json.loads((ROOT / "sample_corpus" / "questions.json").read_text())
    questions = [q["question"] for q in listed] * args.repeat
    totals = {way: [] for way in WAYS}
    retrieval = {way: [] for way in WAYS}
    calls = {way: 0 for way in WAYS}
    tokens = {way: 0 for way in WAYS}
    try:
        with (
            FakeOpenAIServer(reply=delayed) as server,
            schema_context(sample.schema),
            organization_scope(),
        ):
            workspace = Workspace.objects.get(pk=sample.workspace_id)
            # Warm-up: the embedding model, the connections, the HTTP client.
            with override_settings(LLM_API_BASE=server.base_url, ANSWER_CACHE_TTL_S=0):
                answer_question(user=sample.owner, workspace=workspace, question="warm up")
            for question in questions:
                for way, (rewrite, rerank) in WAYS.items():
                    before = len(server.chat_requests())
                    with override_settings(
                        LLM_API_BASE=server.base_url,
                        LLM_QUERY_REWRITE=rewrite,
                        LLM_RERANK=rerank,
                        ANSWER_CACHE_TTL_S=0,
                    ):
                        started = time.perf_counter()
                        record = answer_question(
                            user=sample.owner, workspace=workspace, question=question
                        )
                        totals[way].append(time.perf_counter() - started)
                    retrieval[way].append(record.retrieval_ms / 1000)
                    calls[way] += len(server.chat_requests()) - before
                    tokens[way] += record.prompt_tokens + record.completion_tokens
    finally:
        organization_delete(organization=sample.organization)

    count = len(questions)
    baseline = _ms(totals["LLM answer (baseline)"])[0]
    print(f"{count} questions, {args.delay:g} s per LLM call (fake on loopback)\n")
    print(
        f"{'way':<22} {'answer p50':>10} {'p95':>7} {'retrieval p50':>13} {'p95':>7} "
        f"{'added p50':>9} {'calls/q':>7} {'tokens/q':>8}"
    )
    for way in WAYS:
        total_p50, total_p95 = _ms(totals[way])
        retrieval_p50, retrieval_p95 = _ms(retrieval[way])
        print(
            f"{way:<22} {total_p50:>10.0f} {total_p95:>7.0f} {retrieval_p50:>13.0f} "
            f"{retrieval_p95:>7.0f} {total_p50 - baseline:>+9.0f} {calls[way] / count:>7.1f} "
            f"{tokens[way] / count:>8.0f}"
        )


if __name__ == "__main__":
    main()
