"""The evaluation matrix: ``manage.py evaluate`` on every evaluation set, one after another.

    OPAA_DATA_DIR=/tmp/opaa-matrix .venv/bin/python bench/evaluation_matrix.py \\
        --out /tmp/matrix [--sets entities,german-long,scifact] [--scifact-corpus 1000] \\
        [--embedding-model multilingual-e5-small] [--answers]
    .venv/bin/python bench/evaluation_matrix.py --out /tmp/matrix --table-only

Runs the command exactly as an operator would (its own throwaway organization per set,
removed afterwards), keeps each set's report (``<set>.json``), per-query results
(``<set>.per-query.jsonl``) and printed table (``<set>.txt``) in ``--out``, and prints
the matrix as Markdown: nDCG@10 of keyword / vector / hybrid per set and per query
category. The synthetic sets are read from ``bench/datasets/`` (``build.py`` writes
them); SciFact from ``../shared/datasets/scifact``, its corpus limited to
``--scifact-corpus`` abstracts (every judged one stays) to keep the run short.
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
METHODS = ("keyword", "vector", "hybrid")


def set_run(
    name: str,
    *,
    out: Path,
    scifact_corpus: int | None,
    embedding_model: str | None = None,
    answers: bool = False,
) -> None:
    from django.core.management import call_command

    arguments = ["evaluate", "--dataset", str(SETS[name])]
    if embedding_model:
        arguments += ["--embedding-model", embedding_model]
    if answers:
        arguments.append("--answers")
    arguments += ["--json", str(out / f"{name}.json")]
    arguments += ["--per-query", str(out / f"{name}.per-query.jsonl")]
    if name == "scifact" and scifact_corpus:
        arguments += ["--limit-corpus", str(scifact_corpus)]
    table = io.StringIO()
    started = time.perf_counter()
    call_command(*arguments, stdout=table, stderr=sys.stderr)
    (out / f"{name}.txt").write_text(table.getvalue() + "\n")
    print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def _cells(by_method: dict) -> str:
    figures = [by_method[m]["ndcg_at_10"] for m in METHODS]
    best = max(figures)
    cells = [f"**{value:.3f}**" if value == best else f"{value:.3f}" for value in figures]
    # The fusion bar of issue 13: hybrid at most 0.01 below its better single ranker.
    cells.append(f"{by_method['hybrid']['ndcg_at_10'] - max(figures[:2]):+.3f}")
    return " | ".join(cells)


def matrix_markdown(out: Path, names: list[str]) -> str:
    """nDCG@10 per set and category; the best method of each row in bold, and how far
    the hybrid is above (+) or below (-) the better of keyword and vector."""
    lines = [
        "| set / category | queries | keyword | vector | hybrid | hybrid - best single |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        path = out / f"{name}.json"
        if not path.is_file():
            continue
        report = json.loads(path.read_text())
        lines.append(
            f"| **{name}** ({report['corpus_size']} docs) | {report['query_count']} | "
            f"{_cells(report['methods'])} |"
        )
        for category in sorted(report.get("categories", {})):
            size = report["category_sizes"][category]
            lines.append(f"| — {category} | {size} | {_cells(report['categories'][category])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the reports")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument(
        "--scifact-corpus",
        type=int,
        default=1000,
        help="index about N SciFact abstracts (0: all 5,183)",
    )
    parser.add_argument(
        "--embedding-model",
        help="passed to manage.py evaluate (default: the installation's EMBEDDING_MODEL)",
    )
    parser.add_argument(
        "--answers",
        action="store_true",
        help="also answer every question and report the confidence labels (evaluate --answers)",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the matrix from the reports already in --out",
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = set(names) - set(SETS)
    if unknown:
        parser.error(f"unknown sets: {', '.join(sorted(unknown))}; known: {', '.join(SETS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        django_setup("evaluation-matrix")
        from django.core.management import call_command

        # The evaluation creates an organization: the public schema must exist first.
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        for name in names:
            set_run(
                name,
                out=args.out,
                scifact_corpus=args.scifact_corpus or None,
                embedding_model=args.embedding_model,
                answers=args.answers,
            )
    print(matrix_markdown(args.out, names))


if __name__ == "__main__":
    main()
