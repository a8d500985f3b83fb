"""Ingestion throughput: generated documents through the real upload and indexing pipeline.

Generates N documents from a seed (a mix of Markdown, HTML, DOCX and PDF, 1-5 pages
of about 450 words each, from a vocabulary of a few thousand made-up words), uploads
them with ``document_upload`` into a throwaway organization and indexes each one in
this process as the worker would (``opaa.evaluation.run``'s helpers), timing every stage
of ``document_index`` with ``index_stage_timings``. Then it embeds the very same chunk
texts with the bare embedding model (the provider alone, no pipeline around it): the
baseline. The organization, its schema and its stored originals are removed afterwards.

    .venv/bin/python bench/ingestion.py --documents 200 --seed 42 [--json out.json]

Runs against its own embedded Postgres (``OPAA_DATA_DIR``, default
``.opaa/bench-ingestion``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import sys
import textwrap
import time
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FORMATS = ("md", "html", "docx", "pdf")
STAGES = ("fetch", "parse", "chunk", "embed", "language", "write")
WORDS_PER_PAGE = 450
MAX_PAGES = 5


# --- Generated documents ------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: list[str]


@dataclass(frozen=True)
class GeneratedDocument:
    filename: str
    title: str
    pages: list[list[Section]]


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Made-up words of 1-4 syllables: varied enough that chunks differ like real text."""
    onsets = ["", "b", "br", "c", "ch", "d", "f", "g", "gr", "h", "k", "l", "m", "n", "p"]
    onsets += ["pl", "r", "s", "st", "t", "tr", "v", "w", "z", "sh", "th"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"]
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add(
            "".join(
                rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                for _ in range(syllables)
            )
        )
    return sorted(words)


FUNCTION_WORDS = ["the", "of", "and", "to", "in", "is", "for", "that", "with", "as", "on", "by"]


def _sentence(rng: random.Random, vocabulary: list[str]) -> str:
    # Zipf-like: a few words are common, most are rare, as in real prose.
    words = [
        rng.choice(FUNCTION_WORDS)
        if rng.random() < 0.3
        else vocabulary[min(int(rng.paretovariate(0.8)) - 1, len(vocabulary) - 1)]
        if rng.random() < 0.5
        else rng.choice(vocabulary)
        for _ in range(rng.randint(8, 22))
    ]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, vocabulary: list[str]) -> str:
    return " ".join(_sentence(rng, vocabulary) for _ in range(rng.randint(3, 6)))


def documents_generate(*, count: int, seed: int) -> list[GeneratedDocument]:
    """``count`` documents, the same ones for the same seed; formats in turn."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    documents = []
    for number in range(count):
        title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(2, 5))).title()
        pages = []
        for _ in range(rng.randint(1, MAX_PAGES)):
            sections, words = [], 0
            while words < WORDS_PER_PAGE:
                heading = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 4)))
                paragraphs = [_paragraph(rng, vocabulary) for _ in range(rng.randint(1, 3))]
                words += sum(len(p.split()) for p in paragraphs)
                sections.append(Section(heading.capitalize(), paragraphs))
            pages.append(sections)
        extension = FORMATS[number % len(FORMATS)]
        documents.append(GeneratedDocument(f"doc-{number:04d}.{extension}", title, pages))
    return documents


def _markdown(document: GeneratedDocument) -> bytes:
    lines = [f"# {document.title}", ""]
    for section in (s for page in document.pages for s in page):
        lines += [f"## {section.heading}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
    return "\n".join(lines).encode()


def _html(document: GeneratedDocument) -> bytes:
    body = [f"<h1>{document.title}</h1>"]
    for section in (s for page in document.pages for s in page):
        body.append(f"<h2>{section.heading}</h2>")
        body += [f"<p>{paragraph}</p>" for paragraph in section.paragraphs]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{document.title}</title>"
        f"</head><body><nav><a href='/'>Home</a></nav><main>{''.join(body)}</main>"
        "<footer>Generated for the ingestion benchmark</footer></body></html>"
    )
    return page.encode()


def _docx(document: GeneratedDocument) -> bytes:
    import docx

    word = docx.Document()
    word.core_properties.title = document.title
    word.add_heading(document.title, level=0)
    for number, page in enumerate(document.pages):
        if number:
            word.add_page_break()
        for section in page:
            word.add_heading(section.heading, level=1)
            for paragraph in section.paragraphs:
                word.add_paragraph(paragraph)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _pdf(document: GeneratedDocument) -> bytes:
    """A PDF with one page per generated page: Helvetica text lines, a title in /Info."""
    from tests.fakes.pdf import make_pdf

    pages = [
        [
            line
            for section in page
            for line in [
                section.heading,
                *(wrapped for text in section.paragraphs for wrapped in textwrap.wrap(text, 95)),
                "",
            ]
        ]
        for page in document.pages
    ]
    return make_pdf(
        pages, info={"Title": document.title}, font_size=9, leading=11, origin=(50, 760)
    )


RENDERERS = {"md": _markdown, "html": _html, "docx": _docx, "pdf": _pdf}


def document_bytes(document: GeneratedDocument) -> bytes:
    return RENDERERS[document.filename.rsplit(".", 1)[1]](document)


# --- The run --------------------------------------------------------------------------


@dataclass
class IngestionReport:
    documents: int
    seed: int
    documents_failed: int
    pages: int
    bytes: int
    chunks: int
    wall_s: float
    documents_per_s: float
    chunks_per_s: float
    stage_s: dict[str, float]  # every stage of document_index, plus "other" (the rest)
    stage_share: dict[str, float]  # of wall_s
    baseline_chunks_per_s: float  # the bare embedding model on the same chunk texts
    embed_chunks_per_s: float  # the pipeline's embed stage
    load_average: tuple[float, float, float]
    cpus: int
    organization: str

    def as_dict(self) -> dict:
        return asdict(self)


def ingestion_benchmark_run(*, documents: int, seed: int, progress=print) -> IngestionReport:
    """Generate, upload and index ``documents``; time each stage; compare with the model.

    Commits as it goes (it creates an organization): do not call it inside a transaction.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django_tenants.utils import schema_context

    from ingestion.embedding import embed_texts, get_provider
    from ingestion.indexing import index_stage_timings
    from ingestion.models import Chunk, Document, DocumentStatus
    from ingestion.uploads import document_upload
    from opaa.evaluation.run import _indexing_in_process, _organization_discard
    from tenants.services import organization_create
    from workspaces.models import Workspace

    generated = documents_generate(count=documents, seed=seed)
    files = [(document.filename, document_bytes(document)) for document in generated]
    slug = f"bench-ingest-{secrets.token_hex(4)}"
    try:
        with redirect_stdout(io.StringIO()):  # schema creation narrates its migrations
            created = organization_create(
                name=f"Benchmark {slug}", slug=slug, owner_email=f"bench@{slug}.example"
            )
        embed_texts(["warm-up"])  # the model loads before anything is timed
        with schema_context(created.organization.schema_name):
            workspace = Workspace.objects.get(is_default=True)
            progress(f"indexing {documents} documents in organization {slug}")
            with _indexing_in_process(), index_stage_timings() as stage_s:
                started = time.perf_counter()
                for name, data in files:
                    upload = SimpleUploadedFile(name, data)
                    document_upload(workspace=workspace, user=created.owner, file=upload)
                wall_s = time.perf_counter() - started
            failed = Document.objects.exclude(status=DocumentStatus.INDEXED).count()
            # The texts the pipeline embedded: title and heading path, then the chunk.
            texts = [
                " > ".join([title, *path]) + "\n" + text
                for title, path, text in Chunk.objects.order_by(
                    "document_id", "ordinal"
                ).values_list("document__title", "heading_path", "text")
            ]
            progress(f"indexed {len(texts)} chunks; embedding them again with the bare model")
            provider = get_provider()
            started = time.perf_counter()
            provider.embed(texts)
            baseline_s = time.perf_counter() - started
    finally:
        _organization_discard(slug, progress)
    stage_s = {stage: stage_s.get(stage, 0.0) for stage in STAGES}
    stage_s["other"] = max(wall_s - sum(stage_s.values()), 0.0)
    return IngestionReport(
        documents=documents,
        seed=seed,
        documents_failed=failed,
        pages=sum(len(document.pages) for document in generated),
        bytes=sum(len(data) for _, data in files),
        chunks=len(texts),
        wall_s=wall_s,
        documents_per_s=documents / wall_s,
        chunks_per_s=len(texts) / wall_s,
        stage_s=stage_s,
        stage_share={stage: seconds / wall_s for stage, seconds in stage_s.items()},
        baseline_chunks_per_s=len(texts) / baseline_s,
        embed_chunks_per_s=len(texts) / stage_s["embed"] if stage_s["embed"] else 0.0,
        load_average=os.getloadavg(),
        cpus=os.cpu_count() or 0,
        organization=slug,
    )


def report_text(report: IngestionReport) -> str:
    formats = ", ".join(FORMATS)
    lines = [
        f"documents: {report.documents} (seed {report.seed}; {formats} in turn), "
        f"{report.pages} pages, {report.bytes / 1e6:.1f} MB, {report.chunks} chunks, "
        f"{report.documents_failed} failed",
        f"cpus: {report.cpus}; load average (1/5/15 min) at the end: "
        + " ".join(f"{value:.2f}" for value in report.load_average),
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {report.wall_s:.1f} s |",
        f"| documents/s | {report.documents_per_s:.2f} |",
        f"| chunks/s (pipeline) | {report.chunks_per_s:.1f} |",
        f"| chunks/s (embed stage alone) | {report.embed_chunks_per_s:.1f} |",
        f"| chunks/s (bare model, baseline) | {report.baseline_chunks_per_s:.1f} |",
        "",
        "| stage | seconds | share of wall time |",
        "|---|---|---|",
    ]
    for stage, seconds in report.stage_s.items():
        lines.append(f"| {stage} | {seconds:.2f} | {report.stage_share[stage]:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, dest="json_path", help="also write JSON here")
    args = parser.parse_args()
    if args.documents < 1:
        parser.error("--documents must be at least 1")

    def progress(message: str) -> None:
        print(message, file=sys.stderr)

    os.environ.setdefault("OPAA_DATA_DIR", str(ROOT / ".opaa" / "bench-ingestion"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    from opaa.evaluation.run import _organization_discard
    from tenants.models import Organization
    from workspaces.rls import organization_scope

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    # An operator's tool: it works on the whole throwaway organization it creates.
    with organization_scope():
        # Organizations a killed run could not remove.
        for slug in Organization.objects.filter(slug__startswith="bench-ingest-").values_list(
            "slug", flat=True
        ):
            _organization_discard(slug, progress)
        report = ingestion_benchmark_run(
            documents=args.documents, seed=args.seed, progress=progress
        )
    print(report_text(report))
    if args.json_path:
        args.json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


if __name__ == "__main__":
    main()
