"""Reference BM25 (the ``bm25s`` package) on a BEIR dataset, to compare with OPAA's.

OPAA scores BM25 inside Postgres (``ingestion/index.py``); this runs the reference
implementation on the same corpus with the same parameters (k1=1.2, b=0.75, the
Lucene IDF) and the same kind of text processing (Snowball English stemmer, English
stop words), over whole documents (title + text), and reports the metrics with
the same functions ``manage.py evaluate`` uses.

    .venv/bin/python bench/bm25_reference.py --dataset ../shared/datasets/scifact

Needs the dev extras (bm25s, PyStemmer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import bm25s
    import django
    import Stemmer

    # opaa.evaluation is a Django package (it also runs the real evaluation).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    django.setup()
    from opaa.evaluation import dataset_load, mrr_at_k, ndcg_at_k, recall_at_k

    dataset = dataset_load(path=args.dataset)
    ids = list(dataset.corpus)
    texts = [f"{dataset.corpus[i].title}\n{dataset.corpus[i].text}" for i in ids]
    stemmer = Stemmer.Stemmer("english")
    started = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False))
    index_s = time.perf_counter() - started

    metrics: dict[str, list[float]] = {
        "ndcg@10": [],
        "recall@10": [],
        "recall@100": [],
        "mrr@10": [],
    }
    for query_id, judgments in dataset.qrels.items():
        tokens = bm25s.tokenize(
            [dataset.queries[query_id]], stopwords="en", stemmer=stemmer, show_progress=False
        )
        results, _ = retriever.retrieve(tokens, k=min(100, len(ids)), show_progress=False)
        ranking = [ids[int(i)] for i in results[0]]
        metrics["ndcg@10"].append(ndcg_at_k(ranking, judgments, 10))
        metrics["recall@10"].append(recall_at_k(ranking, judgments, 10))
        metrics["recall@100"].append(recall_at_k(ranking, judgments, 100))
        metrics["mrr@10"].append(mrr_at_k(ranking, judgments, 10))
    summary = {name: round(statistics.mean(values), 4) for name, values in metrics.items()}
    summary.update(queries=len(dataset.qrels), documents=len(ids), index_seconds=round(index_s, 1))
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
