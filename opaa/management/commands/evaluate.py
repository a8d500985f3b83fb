"""``manage.py evaluate --dataset DIR``: retrieval quality on a BEIR-format dataset."""

import argparse
import io
import json
import logging
import signal
import threading
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings

from ingestion.embedding import LOCAL_MODELS
from opaa.evaluation import (
    DatasetError,
    dataset_limit,
    dataset_load,
    dataset_unanswerable_variant,
    evaluation_run,
    report_table,
)
from opaa.evaluation.scoring import llm_methods
from search.llm import LLMConfig
from tenants.models import Organization
from workspaces.rls import organization_scope


def _fusion_weights(value: str) -> list[tuple[float, float]]:
    """``"1:1,1:0.5"`` -> [(1.0, 1.0), (1.0, 0.5)]: (keyword, vector) weight pairs."""
    pairs = []
    for item in value.split(","):
        keyword, sep, vector = item.strip().partition(":")
        try:
            pair = (float(keyword), float(vector))
        except ValueError:
            pair = None
        if not sep or pair is None or min(pair) < 0 or max(pair) == 0:
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} is not KEYWORD:VECTOR with non-negative numbers, not both 0"
            )
        pairs.append(pair)
    return pairs


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


@contextmanager
def _embedding_model(name: str | None):
    """With ``name``, the run's organization embeds with that local model: it is the
    installation's model for the run, and a new organization takes it (nothing to move)."""
    if not name:
        yield
        return
    with override_settings(EMBEDDING_PROVIDER="local", EMBEDDING_MODEL=name):
        yield


# Loggers that write a line or two per indexed document (the task's trace, the upload,
# the indexing); progress lines replace them.
PER_DOCUMENT_LOGGERS = (
    "celery.app.trace",
    "ingestion.uploads",
    "ingestion.indexing",
)


@contextmanager
def _quiet(names):
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _llm_steps(options) -> tuple[LLMConfig | None, list[str]]:
    """The LLM and the LLM methods (``--rewrite``, ``--rerank``) to score, if any."""
    rewrite, rerank = bool(options.get("rewrite")), bool(options.get("rerank"))
    if not (rewrite or rerank):
        return None, []
    url = options.get("llm_url") or settings.LLM_API_BASE
    if not url:
        raise CommandError("--rewrite and --rerank need an LLM: --llm-url or LLM_API_BASE.")
    llm = LLMConfig(
        api_base=url,
        model=options.get("llm_model") or settings.LLM_MODEL,
        api_key=options.get("llm_key") or settings.LLM_API_KEY,
        timeout=settings.LLM_TIMEOUT_S,
    )
    return llm, llm_methods(rewrite=rewrite, rerank=rerank)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts():
    """SIGTERM stops the run as Ctrl-C does: the organization is removed, and the embedded
    servers this process started are stopped when it exits (their atexit hooks)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Command(BaseCommand):
    help = (
        "Index a BEIR-format dataset into a throwaway organization and report nDCG@10, "
        "Recall@10/100, MRR@10 and latency of keyword, vector and hybrid retrieval, overall and "
        "per query category (the queries' metadata.category)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dataset",
            required=True,
            type=Path,
            help="directory with corpus.jsonl, queries.jsonl and qrels/test.tsv",
        )
        parser.add_argument(
            "--limit-corpus",
            type=_positive_int,
            help="index about N documents (the judged ones of the kept queries always stay)",
        )
        parser.add_argument("--limit-queries", type=_positive_int, help="evaluate N queries")
        parser.add_argument("--json", type=Path, dest="json_path", help="also write JSON here")
        parser.add_argument(
            "--per-query",
            type=Path,
            dest="per_query_path",
            help="write one JSON line per query here: its category, and per method its "
            "metrics and the rank of each relevant document (null: not in the top 100)",
        )
        parser.add_argument(
            "--keep", action="store_true", help="keep the evaluation organization afterwards"
        )
        parser.add_argument(
            "--reuse",
            metavar="ORGANIZATION",
            help="score the organization an earlier run kept (its slug, e.g. eval-1a2b3c4d) "
            "again, without indexing: after a change to ranking or answering. Give the same "
            "--dataset, --limit-corpus and --embedding-model as that run",
        )
        parser.add_argument(
            "--fusion-weights",
            type=_fusion_weights,
            default=[],
            help="also score the hybrid with these (keyword:vector) weight pairs, "
            'e.g. "1:0.5,1:2,0.5:1" (the same rankings, fused differently)',
        )
        parser.add_argument(
            "--embedding-model",
            choices=sorted(LOCAL_MODELS),
            help="embed passages and questions with this local model (default: the "
            "installation's EMBEDDING_MODEL)",
        )
        parser.add_argument(
            "--answers",
            action="store_true",
            help="also answer every question (the unanswerable ones too: metadata.answerable "
            "false) as a person without an LLM is answered, and report per confidence label "
            "how many answerable and unanswerable questions ended there",
        )
        parser.add_argument(
            "--rewrite",
            action="store_true",
            help="also score the hybrid with the LLM's query rewrite (other queries and "
            "translations; method hybrid+rewrite): needs an LLM (--llm-url or LLM_API_BASE)",
        )
        parser.add_argument(
            "--rerank",
            action="store_true",
            help="also score the hybrid with LLM reranking of the best passages (method "
            "hybrid+rerank; with --rewrite also hybrid+rewrite+rerank): needs an LLM",
        )
        parser.add_argument(
            "--llm-url",
            help="OpenAI-compatible endpoint for --rewrite/--rerank, e.g. "
            "http://127.0.0.1:11434/v1 (default: LLM_API_BASE)",
        )
        parser.add_argument("--llm-model", help="its model (default: LLM_MODEL)")
        parser.add_argument(
            "--llm-key",
            help="its API key (default: LLM_API_KEY; prefer the environment, where other "
            "users of the machine cannot read it)",
        )
        parser.add_argument(
            "--unanswerable-share",
            type=float,
            default=0.0,
            help="first remove the relevant documents of this share (0-1) of the queries, "
            "which then count as unanswerable (with --answers)",
        )

    def handle(
        self,
        *args,
        dataset,
        limit_corpus,
        limit_queries,
        json_path,
        per_query_path,
        keep,
        fusion_weights,
        answers=False,
        unanswerable_share=0.0,
        reuse=None,
        **options,
    ):
        try:
            loaded = dataset_load(path=dataset)
        except DatasetError as exc:
            raise CommandError(f"{dataset}: {exc}") from exc
        if reuse is not None and not reuse.startswith("eval-"):
            raise CommandError(
                f"--reuse takes an organization an evaluation kept (eval-...), not {reuse!r}."
            )
        if not 0 <= unanswerable_share < 1:
            raise CommandError("--unanswerable-share must be at least 0 and below 1.")
        llm, llm_method_names = _llm_steps(options)
        loaded = dataset_limit(loaded, query_limit=limit_queries)
        if unanswerable_share:
            loaded = dataset_unanswerable_variant(loaded, share=unanswerable_share)
        loaded = dataset_limit(loaded, corpus_limit=limit_corpus)
        quiet = PER_DOCUMENT_LOGGERS if options["verbosity"] < 2 else ()
        try:
            with _sigterm_interrupts():
                # A fresh installation has no tables yet: migrate the public schema, as
                # ``opaa run`` does, before creating the organization in it.
                with redirect_stdout(io.StringIO()):
                    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
                    # A kept organization may predate the code's latest migrations.
                    kept = Organization.objects.filter(slug=reuse).first() if reuse else None
                    if kept is not None:
                        call_command(
                            "migrate_schemas",
                            schema_name=kept.schema_name,
                            interactive=False,
                            verbosity=0,
                        )
                # An operator's tool: it works on the whole throwaway organization it creates.
                embedding_model = _embedding_model(options.get("embedding_model"))
                with _quiet(quiet), organization_scope(), embedding_model:
                    report = evaluation_run(
                        dataset=loaded,
                        keep=keep,
                        progress=self.stderr.write,
                        fusion_weights=fusion_weights,
                        answers=answers,
                        llm=llm,
                        llm_method_names=llm_method_names,
                        reuse=reuse,
                    )
        except Organization.DoesNotExist:
            raise CommandError(f"No organization {reuse!r}: see the slug --keep printed.") from None
        except LookupError as exc:
            raise CommandError(f"{reuse}: {exc}.") from None
        except KeyboardInterrupt:
            raise CommandError("Interrupted.") from None
        self.stdout.write(report_table(report))
        if json_path:
            json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        if per_query_path:
            with per_query_path.open("w", encoding="utf-8") as handle:
                for line in report.per_query_lines():
                    handle.write(line + "\n")
