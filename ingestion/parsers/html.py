"""HTML: ``h1``-``h6`` build the heading path; scripts, styles and navigation are dropped."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString
from django.utils.translation import gettext_noop as _

from ingestion.parsers.base import ParsedDocument, normalize_space, title_from_filename
from ingestion.parsers.encoding import looks_like_text
from ingestion.parsers.sections import SectionBuilder

EXTENSIONS = (".html", ".htm")
MIME_TYPES = ("text/html", "application/xhtml+xml")
DESCRIPTION = _("an HTML page")
BINARY = False

# Elements whose content is never body text a reader would want cited.
_DROPPED = ["script", "style", "nav", "noscript", "template", "svg", "iframe", "head"]
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Elements that start and end a paragraph; anything else is inline.
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details"),
        *("div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form"),
        *("header", "hr", "li", "main", "ol", "p", "section", "summary", "table"),
        *("tbody", "tfoot", "thead", "tr", "ul"),
    }
)
# Inline, but their text must not run into the neighbours'.
_SPACED = frozenset({"td", "th", "br"})
_SIGNATURE = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)


def sniff(data: bytes) -> bool:
    """True for content that starts like an HTML page (doctype or ``<html>``)."""
    head = data[:1024].removeprefix(b"\xef\xbb\xbf")
    return looks_like_text(data) and _SIGNATURE.match(head) is not None


def parse(data: bytes, *, filename: str) -> ParsedDocument:
    # Bytes, not text: BeautifulSoup honours the page's own <meta charset>.
    soup = BeautifulSoup(data, "lxml")
    title = normalize_space(soup.title.get_text()) if soup.title else ""
    metadata = _metadata(soup)
    for element in soup.find_all(_DROPPED):
        element.decompose()

    builder = SectionBuilder()
    first_h1 = _walk(soup.body or soup, builder)
    return ParsedDocument(
        title=title or first_h1 or title_from_filename(filename),
        sections=builder.sections(),
        mime_type=MIME_TYPES[0],
        metadata=metadata,
    )


def _metadata(soup: BeautifulSoup) -> dict[str, str]:
    metadata = {}
    for name in ("author", "description", "keywords"):
        tag = soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and (content := normalize_space(str(tag.get("content") or ""))):
            metadata[name] = content
    html = soup.find("html")
    if isinstance(html, Tag) and (language := str(html.get("lang") or "").strip()):
        metadata["language"] = language
    return metadata


_BLOCK_END = object()


def _walk(root: Tag | BeautifulSoup, builder: SectionBuilder) -> str:
    """Feed ``root``'s headings and paragraphs to ``builder``; returns the first h1's text.

    Iterative rather than recursive, so deeply nested markup cannot exhaust the stack.
    """
    first_h1 = ""
    inline: list[str] = []

    def end_paragraph() -> None:
        builder.paragraph("".join(inline))
        inline.clear()

    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if node is _BLOCK_END:
            end_paragraph()
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                inline.append(str(node))
        elif isinstance(node, Tag):
            name = node.name
            if name in _HEADINGS:
                end_paragraph()
                text = normalize_space(node.get_text())
                if name == "h1" and not first_h1:
                    first_h1 = text
                builder.heading(_HEADINGS[name], text)
            elif name == "pre":
                end_paragraph()
                builder.paragraph(node.get_text(), preformatted=True)
            else:
                if name in _BLOCKS:
                    end_paragraph()
                    stack.append(_BLOCK_END)
                elif name in _SPACED:
                    inline.append(" ")
                stack.extend(reversed(node.contents))
    end_paragraph()
    return first_h1
