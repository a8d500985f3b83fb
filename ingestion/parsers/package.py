"""Open an Office Open XML package (.pptx, .xlsx) only after checking what it declares.

A package is a zip; a small one can expand to gigabytes (a "zip bomb"). The sizes
checked are the ones the zip declares: Python's zipfile never returns more bytes than
declared for a member, so the declared sizes bound what the format libraries can read.
"""

from __future__ import annotations

import io
import zipfile

from django.utils.translation import gettext_noop as _

from ingestion.parsers.base import ParseError, reason_template

ZIP_SIGNATURE = b"PK\x03\x04"
# Real presentations and workbooks, images included, stay far below 200 MB unpacked.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
# Tens of thousands of parts means a crafted file, never a real document.
MAX_MEMBERS = 10_000

# Failure reasons, stored in English and translated where shown (``ParseError``).
DAMAGED = reason_template(
    _("The file is damaged or truncated and could not be read as %(description)s.")
)
# The format's library could not read a package that passed these checks.
UNREADABLE = reason_template(_("The file is damaged and could not be read as %(description)s."))
INVALID = reason_template(_("The file is not valid; %(description)s was expected."))
TOO_LARGE = reason_template(
    _("The file expands to more than %(megabytes)s MB when unpacked and was refused.")
)
PART_TOO_LARGE = reason_template(
    _("Part %(part)s of the file expands to more than %(megabytes)s MB and was refused.")
)


def holds(data: bytes, member: str) -> bool:
    """True for a zip holding ``member``, or a damaged zip (``check`` then says which)."""
    if not data.startswith(ZIP_SIGNATURE):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return member in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return True


def check(data: bytes, *, main_part: str, description: str, limits: dict[str, int] | None = None):
    """Refuse a damaged zip, a zip without ``main_part``, or one that unpacks too large.

    ``limits`` caps single parts (e.g. a workbook's shared strings, which the library
    holds in memory at once) at a number of bytes.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(DAMAGED % {"description": description}) from exc
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or main_part not in names:
        raise ParseError(INVALID % {"description": description})
    limit_mb = MAX_UNCOMPRESSED_BYTES // (1024 * 1024)
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise ParseError(TOO_LARGE % {"megabytes": limit_mb})
    for member in members:
        cap = (limits or {}).get(member.filename)
        if cap is not None and member.file_size > cap:
            raise ParseError(
                PART_TOO_LARGE % {"part": member.filename, "megabytes": cap // (1024 * 1024)}
            )
