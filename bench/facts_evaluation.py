"""Questions about attributes and numbers: the matrix's sets with and without the facts step.

    OPAA_DATA_DIR=/tmp/opaa-facts-eval nice -n 10 .venv/bin/python bench/facts_evaluation.py \\
        --out /tmp/facts-eval [--sets entities] [--limit-corpus N] [--limit-queries N]
    .venv/bin/python bench/facts_evaluation.py --out /tmp/facts-eval --table-only

Runs ``manage.py evaluate`` as ``bench/evaluation_matrix.py`` does (its own throwaway
organization per set; ingestion now also writes the facts table) and adds one method,
``hybrid+facts``. The evaluation's hybrid is what ``search.retrieval.hybrid_search``
ranks: the score fusion, then ``search.facts.facts_promote``. Here "hybrid" is the score
fusion alone (the ranking before this work) and "hybrid+facts" the evaluation's own
hybrid (after it), on the same index, the same questions and in the same run. Prints
nDCG@10 and Recall@10 per set and category; keeps ``<set>.json`` and
``<set>.per-query.jsonl`` in ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from common import ROOT, django_setup

SETS = {
    "entities": ROOT / "bench" / "datasets" / "entities",
    "german-long": ROOT / "bench" / "datasets" / "german-long",
    "scifact": ROOT.parent / "shared" / "datasets" / "scifact",
}
METHODS = ("keyword", "vector", "hybrid", "hybrid+facts")


def facts_method_add() -> None:
    """Make the evaluation's "hybrid" the score fusion alone and add ``hybrid+facts``,
    the evaluation's own hybrid (its latency covers both rankings again, the fusion and
    the facts step)."""
    from django.conf import settings

    from opaa.evaluation import scoring
    from search.fusion import score_fusion

    product_hybrid = scoring._hybrid

    def fusion_only(text, keyword, vector, workspace_ids):
        weights = (settings.FUSION_KEYWORD_WEIGHT, settings.FUSION_VECTOR_WEIGHT)
        return score_fusion(keyword, vector, weights=weights)

    def hybrid_facts(text, workspace_ids):
        keyword = scoring._keyword(text, workspace_ids)
        vector = scoring._vector(text, workspace_ids)
        return product_hybrid(text, keyword, vector, workspace_ids)

    scoring._hybrid = fusion_only

    scoring.RANKERS["hybrid+facts"] = hybrid_facts
    scoring.METHODS = (*scoring.METHODS, "hybrid+facts")


def set_run(name: str, *, out: Path, limit_corpus: int | None, limit_queries: int | None) -> None:
    from django.core.management import call_command

    arguments = ["evaluate", "--dataset", str(SETS[name])]
    arguments += ["--json", str(out / f"{name}.json")]
    arguments += ["--per-query", str(out / f"{name}.per-query.jsonl")]
    if limit_corpus:
        arguments += ["--limit-corpus", str(limit_corpus)]
    if limit_queries:
        arguments += ["--limit-queries", str(limit_queries)]
    table = io.StringIO()
    started = time.perf_counter()
    call_command(*arguments, stdout=table, stderr=sys.stderr)
    (out / f"{name}.txt").write_text(table.getvalue() + "\n")
    print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _row(label: str, size: int, by_method: dict) -> str:
    cells = [
        f"{by_method[m]['ndcg_at_10']:.3f} / {by_method[m]['recall_at_10']:.3f}"
        if m in by_method
        else "-"
        for m in METHODS
    ]
    return f"| {label} | {size} | " + " | ".join(cells) + " |"


def table(out: Path, names: list[str]) -> str:
    lines = [
        "| set / category | queries | " + " | ".join(METHODS) + " |",
        "|---|---:|" + "---:|" * len(METHODS),
    ]
    for name in names:
        path = out / f"{name}.json"
        if not path.is_file():
            continue
        report = json.loads(path.read_text())
        lines.append(_row(f"**{name}**", report["query_count"], report["methods"]))
        for category in sorted(report.get("categories", {})):
            size = report["category_sizes"][category]
            lines.append(_row(f"— {category}", size, report["categories"][category]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the reports")
    parser.add_argument("--sets", default="entities", help="comma-separated set names")
    parser.add_argument("--limit-corpus", type=int, help="index about N documents per set")
    parser.add_argument("--limit-queries", type=int, help="evaluate N queries per set")
    parser.add_argument("--table-only", action="store_true", help="print the table from --out")
    args = parser.parse_args()
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = set(names) - set(SETS)
    if unknown:
        parser.error(f"unknown sets: {', '.join(sorted(unknown))}; known: {', '.join(SETS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        django_setup("facts-evaluation")
        from django.core.management import call_command

        facts_method_add()
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        for name in names:
            set_run(
                name, out=args.out, limit_corpus=args.limit_corpus, limit_queries=args.limit_queries
            )
    print("nDCG@10 / Recall@10\n")
    print(table(args.out, names))


if __name__ == "__main__":
    main()
