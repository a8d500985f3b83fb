"""Confluence: the pages of one or more spaces, with their attachments and read restrictions.

Connector config: ``base_url`` (Cloud: ``https://<site>.atlassian.net``; Data Center:
the server's URL with its context path), ``flavour`` (``cloud`` or ``datacenter``),
``email`` (Cloud) and, for Data Center, an optional ``email_domain`` that turns user
names into emails. Secrets: ``api_token`` (Cloud, sent with the email as basic auth) or
``personal_access_token`` (Data Center, sent as a bearer token). ``paths`` are space keys.

How each flavour's REST API is read lives in ``confluence_api``; this module turns its
answers into items.

Each page becomes an HTML document titled with its breadcrumb (``Home > Policies >
Travel``); its attachments of a supported type become documents of their own. Ids sort
by page id (``00000000000000065601``, then ``00000000000000065601/att123``), so a
resumed run lists after its checkpoint. The change marker is the page's (attachment's)
version number plus a digest of its readers and breadcrumb, so a new restriction or a
moved page is noticed although Confluence keeps the version.

Readers: a page's read restrictions, and those of its ancestors (Confluence applies
both), become ``user:<email>`` and ``group:<name>`` principals. A user must pass every
restricted level; without directory data the principals common to all levels are kept,
or the innermost level's when they share none. Users without a visible email (Cloud
privacy settings; Data Center without ``email_domain``) are kept as
``confluence-user:<id>``, which matches no one: only admins read such a page.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from pathlib import PurePath

from ingestion.connectors.base import Item, SourceSpec, outbound_check
from ingestion.connectors.confluence_api import Page, Site
from ingestion.parsers import SUPPORTED_EXTENSIONS

KIND = "confluence"

_PARAMETER = re.compile(r"<ac:parameter\b[^>]*>.*?</ac:parameter>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\]+")


class ConfluenceConnector:
    KIND = KIND

    def validate(self, spec: SourceSpec) -> None:
        base_url, _, _ = Site.settings(spec)
        outbound_check(base_url)

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        with Site(spec) as site:
            found: list[Item] = []
            for key in sorted(set(spec.paths)):
                found.extend(self._space_items(site, spec, key, after))
            for item in sorted(found, key=lambda item: item.external_id):
                if item.external_id > after:
                    yield item

    def _space_items(self, site: Site, spec: SourceSpec, key: str, after: str) -> list[Item]:
        pages = {page.id: page for page in site.pages(key)}
        items = []
        for page in pages.values():
            chain = [pages[i] for i in _ancestor_ids(page, pages) if i in pages]
            breadcrumb = [ancestor.title for ancestor in chain] + [page.title]
            relative = "/".join(breadcrumb)
            page_key = _sortable(page.id)
            if page_key < after[: len(page_key)]:
                continue  # this page and its attachments were done before the checkpoint
            levels = [frozenset(spec.readers)] + [site.restriction(p) for p in [*chain, page]]
            readers = _combine(levels)
            marker = _digest(readers, breadcrumb, page.url)
            if spec.wanted(relative):
                items.append(
                    Item(
                        external_id=page_key,
                        name=f"{_safe_name(page.title) or 'page-' + page.id}.html",
                        version=f"{page.version}:{marker}",
                        fetch=lambda page=page, b=breadcrumb: _render(
                            b, page.url, site.page_storage(page)
                        ),
                        readers=readers,
                        metadata={"url": page.url, "space": key, "breadcrumb": breadcrumb},
                    )
                )
            for attachment in site.attachments(page):
                name = _safe_name(attachment["title"])
                if PurePath(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                    continue  # images, archives: nothing to index
                if not spec.wanted(f"{relative}/{name}"):
                    continue
                items.append(
                    Item(
                        external_id=f"{page_key}/{attachment['id']}",
                        name=name,
                        version=f"{attachment['version']}:{marker}",
                        size=attachment["size"],
                        fetch=lambda url=attachment["download"]: site.download(url),
                        readers=readers,
                        metadata={"url": attachment["url"], "space": key, "page": page.url},
                    )
                )
        return items


def _ancestor_ids(page: Page, pages: dict[str, Page]) -> list[str]:
    if page.ancestor_ids:
        return page.ancestor_ids
    chain: list[str] = []
    parent = page.parent_id
    while parent and parent in pages and parent not in chain and len(chain) < 100:
        chain.append(parent)
        parent = pages[parent].parent_id
    return list(reversed(chain))


def _combine(levels: list[frozenset[str]]) -> tuple[str, ...]:
    """Principals passing every restricted level, or the innermost level's if none do."""
    restricted = [level for level in levels if level]
    if not restricted:
        return ()
    common = frozenset.intersection(*restricted)
    return tuple(sorted(common or restricted[-1]))


def _digest(readers: tuple[str, ...], breadcrumb: list[str], url: str) -> str:
    text = "\n".join([*readers, "", *breadcrumb, "", url])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sortable(page_id: str) -> str:
    return page_id.zfill(20) if page_id.isdigit() else page_id


def _safe_name(title: str) -> str:
    return _UNSAFE_NAME.sub("-", title).strip(" .")[:200]


def _render(breadcrumb: list[str], url: str, storage: str) -> bytes:
    """The page as HTML: its breadcrumb as title, its URL as canonical link.

    Macro parameters are settings, not text, and are dropped; CDATA (code blocks) would
    be lost by an HTML parser, so it becomes escaped text.
    """
    body = _CDATA.sub(lambda m: html.escape(m[1]), _PARAMETER.sub("", storage))
    title = html.escape(" > ".join(breadcrumb)[:500])
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        f'<link rel="canonical" href="{html.escape(url)}">'
        f"</head><body>{body}</body></html>\n"
    ).encode()
