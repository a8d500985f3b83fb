"""Markdown: ATX (``# Title``) and setext (underlined) headings build the heading path.

This is a light reading, not a full CommonMark parser: emphasis, links, images and
inline code lose their syntax and keep their text; code fences keep their content
verbatim; list items and table rows become paragraphs; YAML front matter is skipped
(its ``title:`` is used as the title when present; else the first level-1 heading,
the first heading of any level, the first line, and last the filename).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_noop as _

from ingestion.parsers.base import (
    ParsedDocument,
    Section,
    normalize_space,
    title_from_filename,
    title_from_first_line,
)
from ingestion.parsers.encoding import decode_text
from ingestion.parsers.sections import SectionBuilder

EXTENSIONS = (".md", ".markdown")
MIME_TYPES = ("text/markdown", "text/x-markdown")
DESCRIPTION = _("a Markdown file")
BINARY = False

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_TABLE_RULE = re.compile(r"^[\s|:-]*-{3,}[\s|:-]*$")
_FRONT_MATTER_TITLE = re.compile(r"""^title:\s*["']?(.*?)["']?\s*$""")

_INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref] -> text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # <https://...> -> url
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # `code` -> code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *em*
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),  # _em_ (not snake_case)
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
)


def sniff(data: bytes) -> bool:
    """Markdown is plain text; it is only recognised by its extension."""
    return False


def strip_inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    lines = decode_text(data).split("\n")
    front_title, lines = _split_front_matter(lines)
    reader = _Reader()
    for line in lines:
        reader.feed(line)
    sections = reader.finish()
    title = (
        front_title
        or reader.first_h1
        or reader.first_heading
        or (title_from_first_line(sections[0].text) if sections else "")
        or title_from_filename(filename)
    )
    return ParsedDocument(title=title, sections=sections, mime_type=MIME_TYPES[0], metadata={})


def _split_front_matter(lines: list[str]) -> tuple[str, list[str]]:
    """The front matter's title (or "") and the lines after the front matter."""
    if not lines or lines[0].strip() != "---":
        return "", lines
    for end, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            title = ""
            for entry in lines[1:end]:
                if match := _FRONT_MATTER_TITLE.match(entry.strip()):
                    title = normalize_space(match[1])
            return title, lines[end + 1 :]
    return "", lines  # no closing line: it was a thematic break, not front matter


class _Reader:
    """Line-by-line state: the open paragraph and whether we are inside a code fence."""

    def __init__(self) -> None:
        self.builder = SectionBuilder()
        self.first_h1 = ""
        self.first_heading = ""  # of any level
        self._paragraph: list[str] = []
        self._paragraph_is_plain = False  # a setext underline may only follow plain text
        self._fence = ""  # the opening fence while inside a code block
        self._code: list[str] = []

    def feed(self, line: str) -> None:
        if self._fence:
            self._feed_code(line)
        elif match := _FENCE.match(line):
            self._end_paragraph()
            self._fence = match[1]
        elif not line.strip():
            self._end_paragraph()
        elif match := _ATX.match(line):
            self._end_paragraph()
            self._heading(len(match[1]), match[2] or "")
        elif (match := _SETEXT_UNDERLINE.match(line)) and self._paragraph_is_plain:
            text = " ".join(self._paragraph)
            self._paragraph = []
            self._heading(1 if match[1].startswith("=") else 2, text)
        elif _THEMATIC_BREAK.match(line):
            self._end_paragraph()
        elif _LINK_DEFINITION.match(line) or (_TABLE_RULE.match(line) and "|" in line):
            pass  # no text a reader would miss
        else:
            self._feed_text(_QUOTE.sub("", line))

    def finish(self) -> list[Section]:
        if self._fence:  # an unclosed fence runs to the end of the document
            self._end_code()
        self._end_paragraph()
        return self.builder.sections()

    def _feed_text(self, line: str) -> None:
        if not line.strip():
            self._end_paragraph()  # a blank line inside a block quote
        elif item := _LIST_ITEM.match(line):
            self._end_paragraph()  # each list item is a paragraph of its own
            self._paragraph = [line[item.end() :].strip()]
            self._paragraph_is_plain = False
        elif line.lstrip().startswith("|"):
            self._end_paragraph()  # each table row too
            cells = line.strip().strip("|").split("|")
            self._paragraph = [" ".join(cell.strip() for cell in cells)]
            self._paragraph_is_plain = False
        else:
            if not self._paragraph:
                self._paragraph_is_plain = True
            self._paragraph.append(line.strip())

    def _feed_code(self, line: str) -> None:
        stripped = line.strip()
        closes = stripped.startswith(self._fence) and not stripped.lstrip(self._fence[0])
        if closes:
            self._end_code()
        else:
            self._code.append(line)

    def _end_code(self) -> None:
        self.builder.paragraph("\n".join(self._code), preformatted=True)
        self._code = []
        self._fence = ""

    def _end_paragraph(self) -> None:
        if self._paragraph:
            self.builder.paragraph(strip_inline(" ".join(self._paragraph)))
        self._paragraph = []
        self._paragraph_is_plain = False

    def _heading(self, level: int, text: str) -> None:
        text = normalize_space(strip_inline(text))
        if level == 1 and text and not self.first_h1:
            self.first_h1 = text
        if text and not self.first_heading:
            self.first_heading = text
        self.builder.heading(level, text)
