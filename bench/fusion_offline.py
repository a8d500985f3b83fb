"""Fusion methods compared offline on the rankings ``bench/fusion_dump.py`` wrote.

    .venv/bin/python bench/fusion_offline.py /tmp/fus/entities.json /tmp/fus/german-long.json ...

Re-fuses every question's two dumped rankings and prints nDCG@10 per set and category:
keyword, vector, reciprocal-rank fusion (k 60, 1:1: OPAA's fusion before issue 13),
and the score fusion of ``search.fusion`` with the per-question confidence weights mixed
in by ``lambda`` (1: equal weights, i.e. plain normalised-score fusion; 0: the weights
are the confidences alone, the product's choice). Then each method's worst row against
the better single ranker (issue 13's bar: at least -0.01 everywhere), and the
generalisation check: ``lambda`` chosen on the first file's set, its figures on the
others. Pure Python, seconds.
"""

from __future__ import annotations

import json
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
from search.fusion import (  # noqa: E402
    DEPTH,
    confidence,
    normalised,
    reciprocal_rank_fusion,
    score_fusion,
)
from search.relevance import documents_from_chunks, ndcg_at_k  # noqa: E402

LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def mixed_fusion(keyword: list[Ranked], vector: list[Ranked], mix: float) -> list[Ranked]:
    """``score_fusion`` with each weight ``mix + (1 - mix) * confidence``."""
    a, b = normalised(keyword, depth=DEPTH), normalised(vector, depth=DEPTH)
    wa = (mix + (1 - mix) * confidence(a)) if a else 0.0
    wb = (mix + (1 - mix) * confidence(b)) if b else 0.0
    fused = {c: wa * a.get(c, 0.0) + wb * b.get(c, 0.0) for c in a.keys() | b.keys()}
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], -(pair[0] in a), pair[0]))
    return [Ranked(chunk_id, score) for chunk_id, score in ordered]


def methods() -> dict:
    found = {
        "rrf": lambda kw, vec: reciprocal_rank_fusion(kw, vec, k=60),
        "product": lambda kw, vec: score_fusion(kw, vec),
    }
    for mix in LAMBDAS:
        found[f"lambda {mix:g}"] = lambda kw, vec, mix=mix: mixed_fusion(kw, vec, mix)
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
        runs.update({name: fuse(kw, vec) for name, fuse in methods().items()})
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
    chosen = max(LAMBDAS, key=lambda mix: overall[first][f"lambda {mix:g}"])
    print(f"lambda chosen on {first}: {chosen:g}")
    for name in others:
        figures = ", ".join(f"{mix:g}: {overall[name][f'lambda {mix:g}']:.3f}" for mix in LAMBDAS)
        print(f"  {name}: chosen {overall[name][f'lambda {chosen:g}']:.3f} (all: {figures})")


if __name__ == "__main__":
    main()
