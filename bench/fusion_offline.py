"""Fusion methods compared offline on the rankings ``bench/fusion_dump.py`` wrote.

    .venv/bin/python bench/fusion_offline.py /tmp/fus/entities.json /tmp/fus/german-long.json ...

Re-fuses every question's two dumped rankings and prints nDCG@10 per set and category:
keyword, vector, reciprocal-rank fusion (k 60, 1:1: OPAA's fusion before issue 13),
``before`` (``search.fusion.score_fusion`` without coverage: the product before the
coverage factor), ``product`` (with each candidate's coverage of the question, computed
from the dump's term statistics as ``ingestion.coverage`` computes it in the database),
and the coverage factor at other strengths ``beta`` (``fused * (1 - beta * (best -
own))``; the product's is 1). Then each method's worst row against the better single
ranker (issue 13's bar: at least -0.01 everywhere), and the generalisation check:
``beta`` chosen on the first file's set, its figures on the others. Pure Python, seconds.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import defaultdict
from pathlib import Path
from statistics import fmean

import django
from common import ROOT  # noqa: F401 - puts the project on sys.path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
django.setup()  # no database is used

from ingestion.index import Ranked  # noqa: E402
from search.fusion import reciprocal_rank_fusion, score_fusion  # noqa: E402
from search.relevance import documents_from_chunks, ndcg_at_k  # noqa: E402

BETAS = (0.25, 0.5, 0.75, 1.0)


def dump_coverage(query: dict) -> dict[int, float]:
    """Each dumped candidate's share of the question's idf-weighted words: the dump's
    document frequencies over the collection (words no chunk has count at the highest
    idf), the words each candidate holds, as ``ingestion.coverage`` computes them."""
    n = query["terms"]["n"]
    idf = {
        lexeme: math.log(1 + (n - df + 0.5) / (df + 0.5))
        for lexeme, df in query["terms"]["df"].items()
    }
    total = sum(idf.values())
    if not total:
        return {}
    chunk_ids = {c for c, _ in query["keyword"]} | {c for c, _ in query["vector"]}
    return {
        c: sum(idf.get(lexeme, 0.0) for lexeme in query["matched"].get(str(c), [])) / total
        for c in chunk_ids
    }


def tempered(kw: list[Ranked], vec: list[Ranked], coverage: dict[int, float], beta: float):
    """``score_fusion`` without coverage, then ``fused * (1 - beta * (best - own))``."""
    fused = {r.chunk_id: r.score for r in score_fusion(kw, vec)}
    if coverage:
        best = max(coverage.get(c, 0.0) for c in fused)
        fused = {c: v * (1 - beta * (best - coverage.get(c, 0.0))) for c, v in fused.items()}
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(c, v) for c, v in ordered]


def methods() -> dict:
    found = {
        "rrf": lambda q, kw, vec: reciprocal_rank_fusion(kw, vec, k=60),
        "before": lambda q, kw, vec: score_fusion(kw, vec),
        "product": lambda q, kw, vec: score_fusion(kw, vec, coverage=dump_coverage(q)),
    }
    for beta in BETAS:
        found[f"beta {beta:g}"] = lambda q, kw, vec, beta=beta: tempered(
            kw, vec, dump_coverage(q), beta
        )
    return found


def scored(path: Path) -> dict[str, dict[str, list[float]]]:
    """category ("" for the whole set) -> method -> nDCG@10 per question."""
    data = json.loads(path.read_text())
    chunk_documents = {int(k): v for k, v in data["chunk_documents"].items()}
    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for query in data["queries"]:
        kw = [Ranked(c, s) for c, s in query["keyword"]]
        vec = [Ranked(c, s) for c, s in query["vector"]]
        runs = {"keyword": kw, "vector": vec}
        runs.update({name: fuse(query, kw, vec) for name, fuse in methods().items()})
        for method, ranked in runs.items():
            docs = documents_from_chunks(ranked, chunk_documents=chunk_documents, limit=100)
            value = ndcg_at_k(docs, query["qrels"], 10)
            table[""][method].append(value)
            if query["category"]:
                table[query["category"]][method].append(value)
    return table


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    columns = ["keyword", "vector", *methods()]
    worst: dict[str, float] = dict.fromkeys(columns[2:], 1.0)
    overall: dict[str, dict[str, float]] = {}
    print(f"{'set / category':<34} {'n':>4} " + " ".join(f"{c[:10]:>10}" for c in columns))
    for path in paths:
        name = path.name.split(".")[0]
        for category, by_method in sorted(scored(path).items()):
            means = {m: fmean(v) for m, v in by_method.items()}
            if not category:
                overall[name] = means
            best = max(means["keyword"], means["vector"])
            label = f"{name} {category}" if category else name
            print(
                f"{label:<34} {len(by_method['keyword']):>4} "
                + " ".join(f"{means[c]:>10.3f}" for c in columns)
            )
            for method in worst:
                worst[method] = min(worst[method], means[method] - best)
    print("worst row - better single: " + ", ".join(f"{m} {w:+.3f}" for m, w in worst.items()))
    first, *others = list(overall)
    chosen = max(BETAS, key=lambda beta: overall[first][f"beta {beta:g}"])
    print(f"beta chosen on {first}: {chosen:g}")
    for name in others:
        figures = ", ".join(f"{b:g}: {overall[name][f'beta {b:g}']:.3f}" for b in BETAS)
        print(f"  {name}: chosen {overall[name][f'beta {chosen:g}']:.3f} (all: {figures})")


if __name__ == "__main__":
    main()
