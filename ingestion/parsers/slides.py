"""PowerPoint presentations (.pptx): each slide is a section headed by its number and title.

A slide's heading path is ``("Slide 3", "Quarterly results")`` so a citation says which
slide to open. Text frames, tables (one line per row, cells joined by ``" | "``) and
grouped shapes are read in the slide's shape order; speaker notes follow the slide's
text. Limits: ``MAX_SLIDES`` slides and ``tabular.MAX_CHARS`` characters; what was
left out is said in the document's ``truncated`` metadata.
"""

from __future__ import annotations

import io

import pptx
from django.utils.translation import gettext_noop as _
from pptx.enum.shapes import MSO_SHAPE_TYPE

from ingestion.parsers import package, tabular
from ingestion.parsers.base import (
    ParsedDocument,
    ParseError,
    Section,
    normalize_space,
    properties_metadata,
    title_from_filename,
)

EXTENSIONS = (".pptx",)
MIME_TYPES = ("application/vnd.openxmlformats-officedocument.presentationml.presentation",)
DESCRIPTION = _("a PowerPoint presentation (.pptx)")
BINARY = True

_MAIN_PART = "ppt/presentation.xml"
# Far beyond any real deck; reading more would hold a worker for long.
MAX_SLIDES = 1000
# Groups nested deeper than this are crafted, not drawn.
_MAX_GROUP_DEPTH = 10


def sniff(data: bytes) -> bool:
    return package.holds(data, _MAIN_PART)


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    package.check(data, main_part=_MAIN_PART, description=DESCRIPTION)
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
    except Exception as exc:
        raise ParseError(package.UNREADABLE % {"description": DESCRIPTION}) from exc
    budget = tabular.Budget(max_rows=10**9)
    sections = []
    first_title = ""
    notes = []
    for number, slide in enumerate(presentation.slides, start=1):
        if number > MAX_SLIDES:
            notes.append(f"Only the first {MAX_SLIDES:,} slides were read.")
            break
        title = _slide_title(slide)
        first_title = first_title or title
        paragraphs = []
        title_shape = slide.shapes.title
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            paragraphs.extend(_shape_text(shape, depth=0))
        if slide.has_notes_slide and (text := _notes(slide)):
            paragraphs.append(f"Notes: {text}")
        kept = [p for p in paragraphs if budget.take(p)]
        if kept or title:
            heading = (f"Slide {number}", title) if title else (f"Slide {number}",)
            # A slide with only a title still says something worth finding.
            sections.append(Section(heading_path=heading, text="\n\n".join(kept) or title))
        if budget.truncated:
            notes.append(budget.truncated)
            break
    metadata = _metadata(presentation)
    if notes:
        metadata["truncated"] = " ".join(notes)
    title = metadata.pop("title", "") or first_title or title_from_filename(filename)
    return ParsedDocument(
        title=title, sections=sections, mime_type=MIME_TYPES[0], metadata=metadata
    )


def _notes(slide) -> str:
    frame = slide.notes_slide.notes_text_frame
    return normalize_space(frame.text) if frame is not None else ""


def _slide_title(slide) -> str:
    shape = slide.shapes.title
    if shape is None or not shape.has_text_frame:
        return ""
    return normalize_space(shape.text_frame.text)


def _shape_text(shape, *, depth: int) -> list[str]:
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        if depth >= _MAX_GROUP_DEPTH:
            return []
        return [text for inner in shape.shapes for text in _shape_text(inner, depth=depth + 1)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = []
        for row in shape.table.rows:
            cells = [tabular.cell_text(cell.text) for cell in row.cells]
            if line := tabular.row_line(cells, None):
                rows.append(line)
        return rows
    if shape.has_text_frame:
        texts = [normalize_space(p.text) for p in shape.text_frame.paragraphs]
        return [text for text in texts if text]
    return []


def _metadata(presentation) -> dict[str, str]:
    properties = presentation.core_properties
    values = {
        "title": properties.title,
        "author": properties.author,
        "subject": properties.subject,
        "last_modified_by": properties.last_modified_by,
        "created": properties.created,
        "modified": properties.modified,
    }
    return properties_metadata(values)
