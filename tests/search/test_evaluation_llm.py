"""``manage.py evaluate --rewrite --rerank``: the hybrid with the LLM's query rewrite and
reranking scored beside the other methods, against the loopback fake OpenAI server; an
LLM that fails scores exactly as the hybrid without it."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from search.prompts import QUERY_REWRITE_PROMPT, RERANK_PROMPT
from tests.fakes.openai_server import FakeOpenAIServer, system_prompt

BEIR_MINI = Path(__file__).resolve().parents[1] / "data" / "beir_mini"
METRICS = ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")
QUERIES = 4


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction: the command creates schemas."""
    with django_db_blocker.unblock():
        yield


def _evaluate(tmp_path, *flags: str) -> tuple[dict, list[dict], str]:
    report_path, rows_path, out = tmp_path / "report.json", tmp_path / "rows.jsonl", StringIO()
    call_command(
        "evaluate",
        "--dataset",
        str(BEIR_MINI),
        "--limit-queries",
        str(QUERIES),
        "--limit-corpus",
        "16",
        "--json",
        str(report_path),
        "--per-query",
        str(rows_path),
        *flags,
        stdout=out,
        stderr=StringIO(),
    )
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    return json.loads(report_path.read_text()), rows, out.getvalue()


def test_evaluate_scores_the_hybrid_with_rewrite_and_rerank(committed_db, tmp_path):
    with FakeOpenAIServer(api_key="sk-eval") as server:
        report, rows, table = _evaluate(
            tmp_path,
            "--rewrite",
            "--rerank",
            "--llm-url",
            server.base_url,
            "--llm-model",
            "fake-judge",
            "--llm-key",
            "sk-eval",
        )
        prompts = [system_prompt(r.body["messages"]) for r in server.chat_requests()]
    methods = ("hybrid+rewrite", "hybrid+rerank", "hybrid+rewrite+rerank")
    assert set(methods) <= set(report["methods"])
    for method in methods:
        for metric in METRICS:
            assert 0.0 <= report["methods"][method][metric] <= 1.0
        assert report["methods"][method]["latency_p50_ms"] > 0
        assert method in table
    # One rewrite per query, shared by the two methods that use it; one rerank each.
    assert prompts.count(QUERY_REWRITE_PROMPT) == QUERIES
    assert prompts.count(RERANK_PROMPT) == 2 * QUERIES
    assert report["llm_usage"]["hybrid+rewrite"]["calls"] == QUERIES
    assert report["llm_usage"]["hybrid+rewrite+rerank"]["calls"] == 2 * QUERIES
    assert all(row["methods"]["hybrid+rerank"]["llm_prompt_tokens"] > 0 for row in rows)
    assert "LLM calls" in table


def test_an_llm_that_fails_scores_as_the_hybrid(committed_db, tmp_path):
    with FakeOpenAIServer() as server, override_settings(LLM_API_BASE=server.base_url):
        server.fail_status = 500
        report, _rows, _table = _evaluate(tmp_path, "--rewrite", "--rerank")
    hybrid = report["methods"]["hybrid"]
    for method in ("hybrid+rewrite", "hybrid+rerank", "hybrid+rewrite+rerank"):
        for metric in METRICS:
            assert report["methods"][method][metric] == hybrid[metric]


def test_rewrite_and_rerank_need_an_llm(committed_db):
    with override_settings(LLM_API_BASE=""), pytest.raises(CommandError, match="need an LLM"):
        call_command(
            "evaluate",
            "--dataset",
            str(BEIR_MINI),
            "--rerank",
            stdout=StringIO(),
            stderr=StringIO(),
        )
