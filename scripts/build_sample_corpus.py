"""Build the OPAA demo corpus in ``sample_corpus/`` from ``scripts/sample_corpus_src/``.

The demo corpus is a set of fictional internal documents of "Acme Industries",
written for this project. Each document's text lives in one source file under
``scripts/sample_corpus_src/`` written in a small Markdown subset (``#``/``##``/``###``
headings, paragraphs, ``-`` bullets, ``1.`` numbered items and pipe tables), headed by a
front-matter block naming its title, author, subject and output file. The output file's
extension chooses the format: .md, .txt, .html, .pdf or .docx.

This script is run ONLY to regenerate the corpus: the generated files in
``sample_corpus/`` are committed, and neither the product nor its tests import this
module. It needs two packages:

* fpdf2, for the PDF files (core fonts, so the text must be Latin-1). fpdf2 is NOT a
  project dependency and must not become one.
* python-docx, for the Word files.

Install both into a throwaway virtual environment, not the project venv, and run the script
from the repository root::

    python3 -m venv /tmp/corpusvenv
    /tmp/corpusvenv/bin/pip install fpdf2 python-docx pypdf
    /tmp/corpusvenv/bin/python scripts/build_sample_corpus.py --check

``--check`` re-reads every file it wrote (PDFs with pypdf) and fails if a document is
outside 400-1500 words or if a phrase that ``sample_corpus/questions.json`` expects is not
found verbatim in its document. The plain-text writer keeps those phrases on one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import html
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = Path(__file__).resolve().parent / "sample_corpus_src"
OUT_DIR = ROOT / "sample_corpus"

# A fixed timestamp keeps the document metadata stable across regenerations.
FIXED_DATE = dt.datetime(2025, 1, 15, 9, 0, 0, tzinfo=dt.UTC)
TXT_WIDTH = 78


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # "h", "p", "ul", "ol", "table"
    text: str = ""
    level: int = 0
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # tables: first row is the header


@dataclass
class Document:
    source: Path
    meta: dict[str, str]
    body: str
    blocks: list[Block]

    @property
    def output(self) -> str:
        return self.meta["output"]

    @property
    def title(self) -> str:
        return self.meta["title"]

    @property
    def author(self) -> str:
        return self.meta["author"]

    @property
    def subject(self) -> str:
        return self.meta.get("subject", "")


def _split_front_matter(raw: str, source: Path) -> tuple[dict[str, str], str]:
    lines = raw.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{source.name}: missing front matter")
    meta: dict[str, str] = {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            body = "\n".join(lines[index + 1 :]).strip() + "\n"
            for key in ("title", "author", "output"):
                if key not in meta:
                    raise ValueError(f"{source.name}: front matter lacks {key!r}")
            return meta, body
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    raise ValueError(f"{source.name}: unterminated front matter")


_OL_ITEM = re.compile(r"^\d+\.\s+")


def _table_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_blocks(body: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    lines = body.splitlines()

    def flush() -> None:
        if paragraph:
            blocks.append(Block("p", text=" ".join(paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        heading = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if heading:
            flush()
            blocks.append(Block("h", text=heading.group(2), level=len(heading.group(1))))
            i += 1
            continue
        if stripped.startswith("|"):
            flush()
            rows: list[list[str]] = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                row = _table_row(lines[i])
                if not all(re.fullmatch(r":?-{3,}:?", cell) for cell in row):
                    rows.append(row)
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        if stripped.startswith("- ") or _OL_ITEM.match(stripped):
            flush()
            kind = "ul" if stripped.startswith("- ") else "ol"
            items: list[str] = []
            while i < len(lines):
                current = lines[i].strip()
                if kind == "ul" and current.startswith("- "):
                    items.append(current[2:].strip())
                elif kind == "ol" and _OL_ITEM.match(current):
                    items.append(_OL_ITEM.sub("", current, count=1))
                elif current and lines[i].startswith("  ") and items:
                    items[-1] += " " + current  # continuation line of an item
                else:
                    break
                i += 1
            blocks.append(Block(kind, items=items))
            continue
        paragraph.append(stripped)
        i += 1
    flush()
    return blocks


def load_documents() -> list[Document]:
    documents = []
    for source in sorted(SRC_DIR.glob("*.md")):
        raw = source.read_text(encoding="utf-8")
        bad = sorted({ch for ch in raw if ord(ch) > 127})
        if bad:
            # ASCII keeps every format happy, including the PDF core fonts (Latin-1).
            raise ValueError(f"{source.name}: non-ASCII characters {bad!r}")
        meta, body = _split_front_matter(raw, source)
        documents.append(Document(source, meta, body, parse_blocks(body)))
    outputs = [doc.output for doc in documents]
    if len(outputs) != len(set(outputs)):
        raise ValueError("two sources name the same output file")
    return documents


# --------------------------------------------------------------------------- writers


def write_markdown(doc: Document, path: Path) -> None:
    path.write_text(doc.body, encoding="utf-8")


@functools.cache
def _protected_phrases() -> tuple[str, ...]:
    """The expected answer phrases of questions.json, which must not be split by wrapping."""
    path = OUT_DIR / "questions.json"
    if not path.exists():
        return ()
    return tuple(e["answer_contains"] for e in json.loads(path.read_text(encoding="utf-8")))


_NBSP = "\x00"  # stands in for a space that textwrap must not break at


def _wrap(text: str, indent: str = "", first: str | None = None) -> str:
    for phrase in _protected_phrases():
        text = text.replace(phrase, phrase.replace(" ", _NBSP))
    return textwrap.fill(
        text,
        width=TXT_WIDTH,
        initial_indent=first if first is not None else indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ).replace(_NBSP, " ")


def _text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        lines.append(
            "  " + "   ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip()
        )
        if number == 0:
            lines.append("  " + "   ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_text(doc: Document, path: Path) -> None:
    underline = {1: "=", 2: "-", 3: "~"}
    parts: list[str] = []
    for block in doc.blocks:
        if block.kind == "h":
            text = block.text.upper() if block.level == 1 else block.text
            parts.append(f"{text}\n{underline[block.level] * len(text)}")
        elif block.kind == "p":
            parts.append(_wrap(block.text))
        elif block.kind == "ul":
            parts.append(
                "\n".join(_wrap(item, indent="    ", first="  * ") for item in block.items)
            )
        elif block.kind == "ol":
            parts.append(
                "\n".join(
                    _wrap(item, indent="      ", first=f"  {n:>2}. ")
                    for n, item in enumerate(block.items, start=1)
                )
            )
        elif block.kind == "table":
            parts.append(_text_table(block.rows))
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")


_HTML_STYLE = """\
    body { font-family: Arial, Helvetica, sans-serif; max-width: 52em; margin: 2em auto;
           padding: 0 1em; color: #222; line-height: 1.5; }
    header.intranet { font-size: 0.85em; color: #666; border-bottom: 1px solid #ccc;
                      padding-bottom: 0.5em; margin-bottom: 1.5em; }
    h1 { color: #003a70; }
    h2 { color: #003a70; border-bottom: 1px solid #dde; padding-bottom: 0.2em; }
    table { border-collapse: collapse; margin: 1em 0; }
    th, td { border: 1px solid #bbb; padding: 0.35em 0.7em; text-align: left;
             vertical-align: top; }
    th { background: #eef2f7; }
    footer { margin-top: 3em; font-size: 0.85em; color: #666; border-top: 1px solid #ccc;
             padding-top: 0.5em; }"""


def write_html(doc: Document, path: Path) -> None:
    def esc(text: str) -> str:
        return html.escape(text, quote=False)

    def attr(text: str) -> str:
        return html.escape(text, quote=True)

    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '  <meta charset="utf-8">',
        f"  <title>{esc(doc.title)} - Acme Industries</title>",
        f'  <meta name="author" content="{attr(doc.author)}">',
        f'  <meta name="description" content="{attr(doc.subject)}">',
        "  <style>",
        _HTML_STYLE,
        "  </style>",
        "</head>",
        "<body>",
        '<header class="intranet">Acme Industries Intranet &rsaquo; Policies &amp; Guides</header>',
        "<main>",
    ]
    for block in doc.blocks:
        if block.kind == "h":
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif block.kind == "p":
            out.append(f"<p>{esc(block.text)}</p>")
        elif block.kind in ("ul", "ol"):
            out.append(f"<{block.kind}>")
            out.extend(f"  <li>{esc(item)}</li>" for item in block.items)
            out.append(f"</{block.kind}>")
        elif block.kind == "table":
            header, *rows = block.rows
            out.append("<table>")
            out.append(
                "  <thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in header) + "</tr></thead>"
            )
            out.append("  <tbody>")
            out.extend(
                "    <tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows
            )
            out.append("  </tbody>")
            out.append("</table>")
    out += [
        "</main>",
        f"<footer>Document owner: {esc(doc.author)}. "
        "Printed copies are uncontrolled; the intranet version is authoritative.</footer>",
        "</body>",
        "</html>",
    ]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def write_docx(doc: Document, path: Path) -> None:
    import docx  # python-docx, see the module docstring
    from docx.shared import Pt

    document = docx.Document()
    styles = document.styles
    styles["Normal"].font.name = "Calibri"
    styles["Normal"].font.size = Pt(11)

    def restart_numbering(paragraph) -> int:
        # Every "List Number" paragraph shares one numbering instance, so a second list
        # would go on counting from the first; give each list its own instance.
        numbering = document.part.numbering_part.element
        style_num_id = styles["List Number"].element.pPr.numPr.numId.val
        abstract_id = numbering.num_having_numId(style_num_id).abstractNumId.val
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = num.numId
        return num.numId

    for block in doc.blocks:
        if block.kind == "h":
            document.add_heading(block.text, level=block.level)
        elif block.kind == "p":
            document.add_paragraph(block.text)
        elif block.kind == "ul":
            for item in block.items:
                document.add_paragraph(item, style="List Bullet")
        elif block.kind == "ol":
            num_id = None
            for item in block.items:
                paragraph = document.add_paragraph(item, style="List Number")
                if num_id is None:
                    num_id = restart_numbering(paragraph)
                else:
                    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
                    num_pr.get_or_add_ilvl().val = 0
                    num_pr.get_or_add_numId().val = num_id
        elif block.kind == "table":
            header, *rows = block.rows
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = text
            document.add_paragraph()

    props = document.core_properties
    props.title = doc.title
    props.author = doc.author
    props.subject = doc.subject
    props.keywords = doc.meta.get("keywords", "")
    props.comments = "Fictional document written for the OPAA demo corpus."
    props.last_modified_by = doc.author
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    document.save(str(path))


def write_pdf(doc: Document, path: Path) -> None:
    from fpdf import FPDF  # fpdf2, see the module docstring
    from fpdf.fonts import FontFace

    class PolicyPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"Acme Industries - {doc.title}", align="L")
            self.set_x(self.l_margin)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    pdf = PolicyPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.set_title(doc.title)
    pdf.set_author(doc.author)
    pdf.set_subject(doc.subject)
    pdf.set_keywords(doc.meta.get("keywords", ""))
    pdf.set_creator("OPAA sample corpus generator")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()

    body_size, line_h = 10.5, 5.4
    heading_sizes = {1: 18, 2: 13.5, 3: 11.5}
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def body_font() -> None:
        pdf.set_font("Helvetica", size=body_size)

    for number, block in enumerate(doc.blocks):
        if block.kind == "h":
            # Keep a heading with the text that follows it.
            if number and pdf.get_y() > pdf.h - 50:
                pdf.add_page()
            pdf.ln(4 if block.level > 1 else 0)
            pdf.set_font("Helvetica", style="B", size=heading_sizes[block.level])
            if block.level <= 2:
                pdf.set_text_color(0, 58, 112)
            pdf.multi_cell(
                width, heading_sizes[block.level] * 0.5, block.text, new_x="LMARGIN", new_y="NEXT"
            )
            pdf.set_text_color(0, 0, 0)
            pdf.ln(2)
        elif block.kind == "p":
            body_font()
            pdf.multi_cell(width, line_h, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        elif block.kind in ("ul", "ol"):
            body_font()
            for n, item in enumerate(block.items, start=1):
                if pdf.get_y() > pdf.h - 30:
                    pdf.add_page()
                y = pdf.get_y()
                if block.kind == "ul":
                    pdf.set_fill_color(40, 40, 40)
                    pdf.ellipse(pdf.l_margin + 2.2, y + line_h / 2 - 0.7, 1.4, 1.4, style="F")
                    pdf.set_fill_color(255, 255, 255)
                else:
                    pdf.set_xy(pdf.l_margin, y)
                    pdf.cell(7, line_h, f"{n}.", align="R")
                pdf.set_xy(pdf.l_margin + 8, y)
                pdf.multi_cell(width - 8, line_h, item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            pdf.ln(1.5)
        elif block.kind == "table":
            pdf.set_font("Helvetica", size=9.5)
            # Wider columns for longer text, but never so narrow that a word is split.
            col_widths = tuple(
                max(
                    max(len(word) for row in block.rows for word in row[c].split()) + 8,
                    min(60, max(len(row[c]) for row in block.rows)),
                )
                for c in range(len(block.rows[0]))
            )
            with pdf.table(
                col_widths=col_widths,
                line_height=5,
                text_align="LEFT",
                headings_style=FontFace(emphasis="BOLD", fill_color=(232, 238, 246)),
                padding=1.5,
            ) as table:
                for row in block.rows:
                    table_row = table.row()
                    for cell in row:
                        table_row.cell(cell)
            pdf.ln(3)
    pdf.output(str(path))


WRITERS = {
    ".md": write_markdown,
    ".txt": write_text,
    ".html": write_html,
    ".docx": write_docx,
    ".pdf": write_pdf,
}


# --------------------------------------------------------------------------- checking


def extract_text(path: Path) -> str:
    """Read a generated file back, the way an ingestion pipeline would."""
    suffix = path.suffix
    if suffix in (".md", ".txt"):
        return path.read_text(encoding="utf-8")
    if suffix == ".html":
        return re.sub(r"<[^>]+>", " ", html.unescape(path.read_text(encoding="utf-8")))
    if suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        texts = [p.text for p in document.paragraphs]
        for table in document.tables:
            texts.extend(cell.text for row in table.rows for cell in row.cells)
        return "\n".join(texts)
    if suffix == ".pdf":
        import pypdf

        return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)
    raise ValueError(path)


def check(documents: list[Document]) -> list[str]:
    problems = []
    for doc in documents:
        words = len(re.findall(r"[A-Za-z0-9][\w'.,/:-]*", doc.body))
        if not 400 <= words <= 1500:
            problems.append(f"{doc.output}: {words} words, expected 400-1500")
    questions_path = OUT_DIR / "questions.json"
    if questions_path.exists():
        names = {doc.output for doc in documents}
        texts: dict[str, str] = {}
        for entry in json.loads(questions_path.read_text(encoding="utf-8")):
            name = entry["document"]
            if name not in names:
                problems.append(f"questions.json names unknown document {name}")
                continue
            if name not in texts:
                texts[name] = extract_text(OUT_DIR / name)
            if entry["answer_contains"] not in texts[name]:
                problems.append(f"{name}: {entry['answer_contains']!r} not found verbatim")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the written files")
    args = parser.parse_args(argv)

    documents = load_documents()
    OUT_DIR.mkdir(exist_ok=True)
    for doc in documents:
        suffix = Path(doc.output).suffix
        if suffix not in WRITERS:
            raise ValueError(f"{doc.source.name}: unsupported output type {suffix}")
        WRITERS[suffix](doc, OUT_DIR / doc.output)
        print(f"wrote sample_corpus/{doc.output}")
    if args.check:
        problems = check(documents)
        for problem in problems:
            print(f"CHECK: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"checked {len(documents)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
