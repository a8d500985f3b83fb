"""File system / mounted share: files under one or more root folders.

Roots must be absolute, free of ``..``, and inside one of the folders the operator
allows (``CONNECTOR_FILESYSTEM_ROOTS``): a workspace admin cannot point a source at the
server's own files. Symlinks are followed only while they stay inside the source's
roots; one that leads out is listed as a refused item, never read. The change marker
is mtime + size, so an unchanged file is skipped without being read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from django.conf import settings

from ingestion.connectors.base import ConnectorError, Item, ItemError, SourceSpec

KIND = "filesystem"

# Names a path component may never have: they could climb out of a root if ever joined.
_CLIMBING = {"..", "."}


def _has_climbing_part(name: str) -> bool:
    return any(part in _CLIMBING for part in name.replace("\\", "/").split("/"))


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class FileSystemConnector:
    KIND = KIND

    def _roots(self, spec: SourceSpec) -> list[Path]:
        allowed = [Path(os.path.realpath(p)) for p in settings.CONNECTOR_FILESYSTEM_ROOTS]
        if not spec.paths:
            raise ConnectorError("The source names no folder to sync.")
        roots = []
        for raw in spec.paths:
            if not os.path.isabs(raw) or _has_climbing_part(raw):
                raise ConnectorError(f"The folder {raw!r} must be an absolute path without '..'.")
            root = Path(os.path.realpath(raw))
            if not any(_inside(root, base) for base in allowed):
                raise ConnectorError(
                    f"The folder {raw} is not inside a folder the operator allows for "
                    "file-system sources (CONNECTOR_FILESYSTEM_ROOTS)."
                )
            roots.append(root)
        return roots

    def validate(self, spec: SourceSpec) -> None:
        self._roots(spec)

    def items(self, spec: SourceSpec, *, after: str = "") -> Iterator[Item]:
        roots = self._roots(spec)
        for root in roots:
            # A missing root must fail the run: listing it as empty would delete everything.
            if not root.is_dir():
                raise ConnectorError(f"The folder {root} does not exist or is not a folder.")
        found: list[tuple[str, Path, Path]] = []
        for root in roots:
            for directory, dirnames, filenames in os.walk(root, followlinks=False):
                dirnames.sort()
                for filename in filenames:
                    path = Path(directory) / filename
                    relative = path.relative_to(root).as_posix()
                    if not spec.wanted(relative):
                        continue
                    found.append((str(path), path, root))
        for external_id, path, root in sorted(found):
            if external_id <= after:
                continue
            yield self._item(spec, external_id, path, root)

    def _item(self, spec: SourceSpec, external_id: str, path: Path, root: Path) -> Item:
        name = path.name
        relative = path.relative_to(root).as_posix()
        refused = ""
        version = ""
        size = None
        if _has_climbing_part(name) or any(ord(c) < 32 for c in relative):
            refused = "The file name contains '..' or control characters; it was not read."
        else:
            target = Path(os.path.realpath(path))
            if not _inside(target, root):
                refused = "The file is a link that leads outside the source's folders."
            else:
                try:
                    info = os.stat(target)
                except OSError as exc:
                    refused = f"The file could not be read ({exc.strerror})."
                else:
                    if not stat.S_ISREG(info.st_mode):
                        refused = "The item is not a regular file."
                    version = f"{info.st_mtime_ns}:{info.st_size}"
                    size = info.st_size
        return Item(
            external_id=external_id,
            name=name,
            version=version,
            size=size,
            fetch=partial(_read, path, root),
            readers=spec.readers,
            refused=refused,
            metadata={"path": relative},
        )


def _read(path: Path, root: Path) -> bytes:
    """Read ``path``, checking again that it resolves inside ``root`` (it may have changed)."""
    target = Path(os.path.realpath(path))
    if not _inside(target, root):
        raise ItemError("The file is a link that leads outside the source's folders.")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ItemError(f"The file could not be read ({exc.strerror}).") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read(settings.MAX_UPLOAD_BYTES + 1)
