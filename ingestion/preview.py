"""A document's parsed text as one page: its passages joined again, without the overlap
chunking repeats at the start of each passage, under the document's headings.

``chunking.chunk_sections`` starts each passage of a section with the whole sentences
that ended the one before. Joined again, each passage keeps what it adds; its element
keeps the passage's id, so a citation's link (``#chunk-<id>``) still lands on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Passages shown on one page of a long document's preview (a citation's link finds its
# part through ``?chunk=``): about 150 kB of text, quick to render and to read through.
PART_SIZE = 150
# Heading levels of the preview: h1 is the document's title, h2 the preview's own; the
# document's outermost headings are h3, the deeper ones down to h6.
_OUTERMOST = 3
_DEEPEST = 6


@dataclass
class PreviewBlock:
    """One passage as the preview shows it: the headings that open before it, and the
    paragraphs it adds to the text."""

    chunk_id: int
    headings: list[tuple[int, str]] = field(default_factory=list)  # (h level, text)
    paragraphs: list[str] = field(default_factory=list)
    # The first paragraph continues the previous passage's last one (no break between).
    continues: bool = False


def overlap_strip(previous: str, text: str) -> tuple[str, bool]:
    """``text`` without the part it repeats from the end of ``previous``, and whether
    what is left continues ``previous``'s last paragraph (True) or starts a new one.

    The repeated part is the longest end of ``previous`` that starts a sentence (after a
    space or a paragraph break) and with which ``text`` starts. Nothing repeated: the
    text as it is, a new paragraph (without overlap to go by, a passage cut inside a
    paragraph shows as a paragraph break; its words are all there, once).
    """
    limit = min(len(previous), len(text))
    for start in range(len(previous) - limit, len(previous)):
        if start and previous[start - 1] not in " \n":
            continue
        tail = previous[start:]
        if text.startswith(tail) and text[len(tail) : len(tail) + 1] in (" ", "\n", ""):
            rest = text[len(tail) :]
            return rest.strip(), not rest.startswith("\n\n") and bool(rest.strip())
    return text, False


def preview_blocks(chunks: Iterable) -> list[PreviewBlock]:
    """The preview of ``chunks`` (in ordinal order: ``id``, ``text``, ``heading_path``).

    A heading opens where a passage's heading path first differs from the previous
    passage's (h3 for the outermost, down to h6). Overlap is removed only between
    passages of the same section: a new section never repeats the previous one.
    """
    blocks: list[PreviewBlock] = []
    previous_path: tuple[str, ...] = ()
    previous_text = ""
    for chunk in chunks:
        path = tuple(chunk.heading_path or ())
        block = PreviewBlock(chunk_id=chunk.id)
        if blocks and path == previous_path:
            text, block.continues = overlap_strip(previous_text, chunk.text)
        else:
            text = chunk.text
            shared = 0
            while (
                shared < min(len(path), len(previous_path))
                and path[shared] == previous_path[shared]
            ):
                shared += 1
            block.headings = [
                (min(_OUTERMOST + level, _DEEPEST), heading)
                for level, heading in enumerate(path)
                if level >= shared
            ]
        block.paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        blocks.append(block)
        previous_path, previous_text = path, chunk.text
    return blocks
