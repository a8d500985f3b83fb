"""Turn a stream of headings and paragraphs into sections with heading paths."""

from __future__ import annotations

from ingestion.parsers.base import Section, normalize_space


class SectionBuilder:
    """Collects headings and paragraphs in reading order.

    A heading of level *n* closes every open heading of level *n* or deeper, so the
    path always runs from the outermost open heading to the innermost. Levels only
    need to be ordered (a document title can be level 0 above ``Heading 1``); skipped
    levels are fine. Headings without body text produce no section of their own: their
    text survives in the paths of the sections below them.
    """

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        text = normalize_space(text)
        if not text:
            return
        self._flush()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, text))

    def paragraph(self, text: str, *, preformatted: bool = False) -> None:
        """Add a paragraph; whitespace is collapsed unless ``preformatted`` (code)."""
        if preformatted:
            lines = [line.rstrip() for line in text.splitlines()]
            text = "\n".join(line for line in lines if line)
        else:
            text = normalize_space(text)
        if text:
            self._paragraphs.append(text)

    def sections(self) -> list[Section]:
        self._flush()
        return list(self._sections)

    def _flush(self) -> None:
        if self._paragraphs:
            path = tuple(text for _, text in self._open)
            self._sections.append(Section(heading_path=path, text="\n\n".join(self._paragraphs)))
            self._paragraphs = []
