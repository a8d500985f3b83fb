"""How well the facts answer the entity set's questions, without a database or a model.

    .venv/bin/python bench/facts_filter.py [--show-misses]

Reads the facts of every page of ``bench/datasets/entities`` as indexing does
(``ingestion.facts.facts_from_text``, ``ingestion.quantities``), parses every judged
question (``search.facts.question_parse``), and keeps, as ``search.facts.facts_match``
does, the pages whose facts satisfy every condition and whose words include every
word group some candidate has. Prints per category how many questions set a condition
and the precision and recall of the kept pages against the judgements: what the facts
step can add to a ranking, independent of the rankers (seconds to run).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from common import ROOT, django_setup

ENTITIES = ROOT / "bench" / "datasets" / "entities"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-misses", action="store_true", help="print each imperfect one")
    args = parser.parse_args()
    django_setup("facts-filter")
    from ingestion.attributes import attribute_normalize
    from ingestion.facts import facts_from_text
    from ingestion.quantities import value_normalize
    from search import facts as search_facts

    pages = {}
    facts = defaultdict(list)
    for line in (ENTITIES / "corpus.jsonl").open():
        page = json.loads(line)
        pages[page["_id"]] = page
        for draft in facts_from_text(page["text"], subject=page["title"]):
            attribute = attribute_normalize(draft.label)
            value = value_normalize(draft.value, attribute=attribute, label=draft.label)
            facts[page["_id"]].append((attribute, value))
    qrels = defaultdict(set)
    for line in (ENTITIES / "qrels" / "test.tsv").open():
        query_id, corpus_id, *_ = line.strip().split("\t")
        if query_id != "query-id":
            qrels[query_id].add(corpus_id)
    totals = defaultdict(lambda: {"n": 0, "parsed": 0, "precision": 0.0, "recall": 0.0})
    for line in (ENTITIES / "queries.jsonl").open():
        query = json.loads(line)
        if query["_id"] not in qrels:
            continue
        row = totals[query["metadata"]["category"]]
        row["n"] += 1
        parsed = search_facts.question_parse(query["text"])
        if parsed is None:
            continue
        candidates = [
            page_id
            for page_id in pages
            if all(
                any(
                    condition.holds(attribute=attribute, kind=v.kind, number=v.number, unit=v.unit)
                    for attribute, v in facts[page_id]
                )
                for condition in parsed.conditions
            )
        ]
        words = {
            page_id: (
                search_facts._words_of([pages[page_id]["text"], pages[page_id]["title"]]),
                pages[page_id]["text"].lower(),
            )
            for page_id in candidates
        }
        known = [
            group
            for group in parsed.terms
            if any(search_facts._matches(group, *words[p]) for p in candidates)
        ]
        kept = {p for p in candidates if all(search_facts._matches(g, *words[p]) for g in known)}
        relevant = qrels[query["_id"]]
        row["parsed"] += 1
        row["precision"] += len(kept & relevant) / max(len(kept), 1)
        row["recall"] += len(kept & relevant) / len(relevant)
        if args.show_misses and kept != relevant:
            print(
                f"{query['metadata']['category']}: {query['text']!r} kept {len(kept)}, "
                f"relevant {len(relevant)}, both {len(kept & relevant)}"
            )
    print("| category | questions | with a condition | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for category, row in sorted(totals.items()):
        parsed = row["parsed"]
        precision = f"{row['precision'] / parsed:.3f}" if parsed else "-"
        recall = f"{row['recall'] / parsed:.3f}" if parsed else "-"
        print(f"| {category} | {row['n']} | {parsed} | {precision} | {recall} |")


if __name__ == "__main__":
    main()
