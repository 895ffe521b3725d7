"""Reading an untrusted ASiC container (ETSI EN 319 162-1, a ZIP file: APPNOTE 6.3.x)
in memory, with limits.

Before anything is inflated, the central directory is checked:

- at most :data:`MAX_ENTRIES` entries and :data:`MAX_TOTAL_BYTES` uncompressed bytes
  in all, and no entry or container inflating more than :data:`MAX_RATIO` times its
  compressed size once it is over :data:`RATIO_FLOOR` bytes ("ZIP bombs"; the
  declared sizes bind: :mod:`zipfile` never inflates an entry past its declared size
  and checks its CRC-32);
- names: no absolute path, drive letter, backslash, ``.``/``..`` segment, control
  character or duplicate name (path traversal, and two entries one name could mean);
- only stored and deflated entries, none encrypted;
- ``mimetype``, when present, is the first entry, stored (EN 319 162-1 §A.1), and
  names an ASiC media type.

Written here: :mod:`zipfile` reads ZIP files but enforces none of these limits.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

__all__ = [
    "MAX_ENTRIES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "MEDIA_TYPES",
    "RATIO_FLOOR",
    "ContainerRefused",
    "Entries",
    "read_entries",
]

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
MEDIA_TYPES = ("application/vnd.etsi.asic-e+zip", "application/vnd.etsi.asic-s+zip")
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ContainerRefused(Exception):
    """Not a usable ASiC container: FORMAT_FAILURE."""


@dataclass(frozen=True)
class Entries:
    """The container's files by name, in ZIP order (directories left out), and its
    declared media type (the ``mimetype`` entry), if any."""

    files: dict[str, bytes]
    mimetype: str | None


def _check_name(name: str) -> None:
    parts = name.rstrip("/").split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or (len(name) > 1 and name[1] == ":")
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    ):
        raise ContainerRefused(f"unsafe entry name in the container: {name!r}")


def _check_sizes(infos: list[zipfile.ZipInfo], size: int) -> None:
    if len(infos) > MAX_ENTRIES:
        raise ContainerRefused(f"the container has more than {MAX_ENTRIES} entries")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise ContainerRefused(
            f"the container inflates to more than {MAX_TOTAL_BYTES} bytes (a ZIP bomb?)"
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ContainerRefused(
                f"the entry {info.filename!r} inflates more than {MAX_RATIO} times (a ZIP bomb?)"
            )
    if total > RATIO_FLOOR and total > MAX_RATIO * max(size, 1):
        raise ContainerRefused(f"the container inflates more than {MAX_RATIO} times (a ZIP bomb?)")


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    for info in infos:
        _check_name(info.filename)
        if info.filename in seen:
            raise ContainerRefused(f"two entries are named {info.filename!r}")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise ContainerRefused(f"the entry {info.filename!r} is encrypted")
        if info.compress_type not in _METHODS:
            raise ContainerRefused(
                f"the entry {info.filename!r} uses an unsupported compression method"
            )


def _mimetype(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> str | None:
    """EN 319 162-1 §A.1: ``mimetype`` first, stored, holding the media type."""
    names = [i.filename for i in infos]
    if "mimetype" not in names:
        return None
    if names[0] != "mimetype":
        raise ContainerRefused("'mimetype' must be the first entry of an ASiC container")
    if infos[0].compress_type != zipfile.ZIP_STORED:
        raise ContainerRefused("the 'mimetype' entry must be stored, not compressed")
    value = archive.read(infos[0]).decode("ascii", errors="replace").strip()
    if value not in MEDIA_TYPES:
        raise ContainerRefused(f"the container's mimetype {value[:80]!r} is not an ASiC type")
    return value


def read_entries(data: bytes) -> Entries:
    """The entries of the ZIP ``data`` after the checks of the module docstring;
    :class:`ContainerRefused` when one fails or the ZIP cannot be read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise ContainerRefused("not a readable ZIP file") from None
    if not infos:
        raise ContainerRefused("the container is empty")
    _check_sizes(infos, len(data))
    _check_entries(infos)
    try:
        mimetype = _mimetype(archive, infos)
        files = {
            info.filename: archive.read(info)
            for info in infos
            if not info.is_dir() and info.filename != "mimetype"
        }
    except ContainerRefused:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        ValueError,
        OSError,
        EOFError,
        RuntimeError,
    ):
        raise ContainerRefused("an entry of the container cannot be read (corrupt ZIP)") from None
    return Entries(files, mimetype)
