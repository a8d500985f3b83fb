"""German and English (issue 16): no visible template text outside a translation tag, and
no string marked for translation without its German in locale/de.

(a) Every template under templates/ is read with Django's own template lexer. Text
    outside ``{% translate %}`` / ``{% blocktranslate %}`` (and outside comments, tags'
    markup, ``<script>``, ``<style>``, ``<code>``, ``<kbd>``) that contains a letter is
    "unmarked", as is
    such text in the attributes a person reads or hears (``title``, ``placeholder``,
    ``aria-label``, ``alt``, ``label``, a button's ``value``) and a literal in a
    ``|default:"..."`` filter. ``ALLOWED`` lists the few texts that are the same in
    every language (brand names, symbols).
(b) ``makemessages`` run on a copy of the sources finds no msgid that is not already in
    locale/de/LC_MESSAGES/django.po (or djangojs.po), and every entry there has a
    German msgstr (every plural form) and is not fuzzy.

Both checks are proved to fail on a small fixture. Fixing a failure: mark the string,
then ``make messages`` and translate the new entries (docs/i18n.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALE = ROOT / "locale"
LANGUAGES = ["de"]

# Texts that read the same in German and English. Keep this short and explicit.
ALLOWED = {
    "OPAA",  # the product's name
    "ReDoc",  # the API docs page's renderer
    "Redoc",
    "C0123456789",  # an example Slack channel id
    "Slack",
    "Mattermost",
    "Microsoft Teams",
    "Matrix",
    "OpenID Connect",
    "S3",
    "IMAP",
    "cron",
}

# The attributes whose values are read out or shown.
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}
# Code, not language: scripts, styles, and <code>/<kbd> examples.
HIDDEN = {"script", "style", "code", "kbd"}
PUNCTUATION = " .,:;·()[]|/-\u2013\u2014"
MARKED = "\x00"  # a translate tag or a blocktranslate block
OTHER = "\x01"  # any other tag or variable
LETTER = re.compile(r"[^\W\d_]")
DEFAULT_LITERAL = re.compile(r"""\|default:(["'])(.*?)\1""")

# makemessages' directories to leave out (also used by `make messages`).
MAKEMESSAGES_IGNORE = [
    ".venv",
    "tests",
    "bench",
    "docs",
    "docker",
    "sample_corpus",
    "scripts",
    "*.egg-info",
    "node_modules",
    "vendor",
]


def _stream(source: str) -> tuple[str, list[str]]:
    """The template as one string: translated parts become MARKED, other tags OTHER,
    comments nothing. Also returns the unmarked literals of variables."""
    out: list[str] = []
    literals: list[str] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        contents = token.contents.strip()
        word = contents.split(" ", 1)[0] if contents else ""
        if skip_until:
            if token.token_type == TokenType.BLOCK and word == skip_until:
                if skip_until == "endblocktranslate":
                    out.append(MARKED)
                skip_until = None
            continue
        if token.token_type == TokenType.TEXT:
            out.append(token.contents)
        elif token.token_type == TokenType.VAR:
            for _quote, literal in DEFAULT_LITERAL.findall(token.contents):
                if LETTER.search(literal):
                    literals.append(literal) if literal not in ALLOWED else None
            out.append(OTHER)
        elif token.token_type == TokenType.BLOCK:
            if word in {"translate", "trans"}:
                out.append(MARKED)
            elif word in {"blocktranslate", "blocktrans"}:
                found = DEFAULT_LITERAL.findall(contents)
                literals += [lit for _q, lit in found if LETTER.search(lit)]
                skip_until = "endblocktranslate" if word == "blocktranslate" else "endblocktrans"
            elif word in {"comment", "verbatim"}:
                skip_until = "end" + word
            else:
                out.append(OTHER)
    return "".join(out), literals


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self._hidden += 1
        attributes = dict(attrs)
        for name, value in attrs:
            shown = name in READ_ATTRIBUTES or (
                name == "value" and attributes.get("type") in {"submit", "button", "reset"}
            )
            if shown and value:
                self._check(value)
            elif name.startswith("on") and value:  # confirm('...') in an onsubmit
                for literal in re.findall(r"confirm\((['\"])(.*?)\1\)", value):
                    self._check(literal[1])

    def handle_endtag(self, tag):
        if tag in HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self._check(data)

    def _check(self, text: str) -> None:
        for piece in re.split(f"[{MARKED}{OTHER}]", text):
            piece = " ".join(piece.split())
            if LETTER.search(piece) and piece.strip(PUNCTUATION) not in ALLOWED:
                self.found.append(piece)


def unmarked_texts(source: str, *, html: bool = True) -> list[str]:
    """The visible texts of a template that no translation tag covers."""
    stream, literals = _stream(source)
    if not html:  # e-mail bodies and subjects: every text is read
        found = [" ".join(p.split()) for p in re.split(f"[{MARKED}{OTHER}]", stream)]
        return [p for p in found if LETTER.search(p) and p not in ALLOWED] + literals
    parser = _VisibleText()
    parser.feed(stream)
    parser.close()
    return parser.found + literals


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in {".html", ".txt"})


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_text_is_marked_for_translation(path):
    found = unmarked_texts(path.read_text(), html=path.suffix == ".html")
    assert not found, (
        f"{path.relative_to(ROOT)}: text outside a translation tag: {found!r}. "
        "Wrap it in {% translate %} / {% blocktranslate %} (docs/i18n.md)."
    )


def test_the_check_finds_unmarked_text():
    fixture = """{% load i18n %}{# a comment #}{% comment %}Not shown{% endcomment %}
    <h1>{% translate "Documents" %}</h1>
    <p>{% blocktranslate count n=3 %}{{ n }} file{% plural %}{{ n }} files{% endblocktranslate %}
    </p>
    <script>const x = "code";</script><span>OPAA</span> · {{ user.email }}
    <input placeholder="Search" aria-label="{% translate 'Search' %}">
    <p>{{ n }} documents</p>
    <button type="submit" value="Send"></button>{{ x|default:"Nothing" }}
    <form onsubmit="return confirm('Delete it?')"></form>
    <form onsubmit="return confirm('{{ question|escapejs }}')"></form>"""
    assert unmarked_texts(fixture) == ["Search", "documents", "Send", "Delete it?", "Nothing"]
    assert unmarked_texts("{% load i18n %}{% translate 'Hello' %}\n{{ url }}\n", html=False) == []
    assert unmarked_texts("Hello {{ name }},\n", html=False) == ["Hello"]


# --- (b) the catalogues -------------------------------------------------------------


def _msgid(entry: polib.POEntry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


def missing_translations(catalogue: polib.POFile) -> list[str]:
    """Entries without a complete, non-fuzzy translation."""
    missing = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            complete = entry.msgstr_plural and all(entry.msgstr_plural.values())
        else:
            complete = bool(entry.msgstr)
        if not complete or entry.fuzzy:
            missing.append(entry.msgid)
    return missing


def new_msgids(extracted: polib.POFile, catalogue: polib.POFile) -> list[str]:
    """The msgids makemessages extracts that the catalogue does not hold."""
    known = {_msgid(e) for e in catalogue if not e.obsolete}
    return sorted({e.msgid for e in extracted if _msgid(e) not in known and e.msgid})


def _makemessages(source: Path, language: str) -> Path:
    """Runs makemessages on ``source`` (a copy of the sources with its locale/), without
    settings, as `make messages` does; returns the locale dir it wrote."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext is missing: `make test-services` installs Debian's gettext")
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    ignore = [arg for pattern in MAKEMESSAGES_IGNORE for arg in ("--ignore", pattern)]
    for domain, extensions in (("django", "html,txt,py"), ("djangojs", "js")):
        subprocess.run(
            [
                *(sys.executable, "-m", "django", "makemessages", "-l", language, "-d", domain),
                *("-e", extensions, "--no-obsolete", "--no-location", *ignore),
            ],
            cwd=source,
            env=environment,
            check=True,
            capture_output=True,
        )
    return source / "locale"


def _copy_sources(target: Path) -> Path:
    ignore = shutil.ignore_patterns(*MAKEMESSAGES_IGNORE, ".*", "__pycache__", "*.mo", "data")
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in MAKEMESSAGES_IGNORE:
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, ignore=ignore)
        elif entry.suffix == ".py":
            shutil.copy(entry, target / entry.name)
    return target


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    return _makemessages(_copy_sources(tmp_path_factory.mktemp("sources")), "de")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_marked_string_is_in_the_catalogue(extracted, language, domain):
    ours = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    theirs = extracted / language / "LC_MESSAGES" / f"{domain}.po"
    if not theirs.exists():
        return  # nothing marked in this domain
    new = new_msgids(polib.pofile(str(theirs)), polib.pofile(str(ours)) if ours.exists() else [])
    assert not new, (
        f"{len(new)} marked strings are not in {ours.relative_to(ROOT)}: {new[:20]!r}. "
        "Run `make messages` and translate them."
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_catalogue_entry_is_translated(language, domain):
    path = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists() or domain == "djangojs", path
    if path.exists():
        missing = missing_translations(polib.pofile(str(path)))
        assert not missing, f"{path.relative_to(ROOT)}: untranslated or fuzzy: {missing[:20]!r}"


def test_the_catalogue_checks_find_a_new_string_and_a_missing_translation(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        '{% load i18n %}<h1>{% translate "Documents" %}</h1><p>{% translate "Sources" %}</p>'
    )
    po = tmp_path / "locale" / "de" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Documents"\nmsgstr ""\n'
    )
    catalogue = polib.pofile(str(po))
    extracted = polib.pofile(str(_makemessages(tmp_path, "de") / "de/LC_MESSAGES/django.po"))
    assert new_msgids(extracted, catalogue) == ["Sources"]
    assert missing_translations(catalogue) == ["Documents"]
    fuzzy = polib.pofile('msgid ""\nmsgstr ""\n\n#, fuzzy\nmsgid "Documents"\nmsgstr "Dokumente"\n')
    assert missing_translations(fuzzy) == ["Documents"]


def test_the_compiled_catalogues_are_current():
    """`make install` compiles them; a stale .mo would show yesterday's German."""
    for po in LOCALE.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: run `make install`"
        assert mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo.relative_to(ROOT)} is older than its .po: run `make install`"
        )
