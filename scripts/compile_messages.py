"""Compiles the gettext catalogues (locale/<lang>/LC_MESSAGES/*.po) to .mo files.

Pure Python (polib), so `make install`, `make run` and the Docker build need no GNU
gettext; `make messages` (extracting strings) does. Fuzzy entries are left out, as
msgfmt does. Without arguments every catalogue under locale/ is compiled; otherwise the
.po files given.

    python scripts/compile_messages.py [locale/de/LC_MESSAGES/django.po ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def compile_catalogue(po_path: Path) -> Path:
    catalogue = polib.pofile(str(po_path))
    for entry in catalogue.fuzzy_entries():
        catalogue.remove(entry)
    mo_path = po_path.with_suffix(".mo")
    catalogue.save_as_mofile(str(mo_path))
    return mo_path


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
    for path in paths:
        compile_catalogue(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
