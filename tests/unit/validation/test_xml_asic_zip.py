"""The ASiC container reader's limits: ZIP bombs, path traversal, duplicate and
encrypted entries, and the ``mimetype`` rules of EN 319 162-1 §A.1 are refused before
anything is inflated."""

from __future__ import annotations

import io
import time
import zipfile

import pytest

from govtrust.validation.signatures import _asic_zip
from govtrust.validation.signatures._asic_zip import ContainerRefused, read_entries

ASIC_E = b"application/vnd.etsi.asic-e+zip"


def container(*entries: tuple[str, bytes], mimetype: bytes | None = ASIC_E) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if mimetype is not None:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def test_a_plain_container_is_read() -> None:
    entries = read_entries(container(("a.txt", b"A"), ("META-INF/x.xml", b"<x/>")))
    assert entries.mimetype == ASIC_E.decode()
    assert entries.files == {"a.txt": b"A", "META-INF/x.xml": b"<x/>"}


def test_zip_bomb_by_ratio_is_refused_without_inflating() -> None:
    bomb = container(("zeros.bin", bytes(20 * 1024 * 1024)))
    assert len(bomb) < 100_000
    start = time.monotonic()
    with pytest.raises(ContainerRefused, match="ZIP bomb"):
        read_entries(bomb)
    assert time.monotonic() - start < 0.5


def test_total_size_and_entry_count_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_asic_zip, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(ContainerRefused, match="inflates to more than"):
        read_entries(container(("a", b"x" * 600), ("b", b"y" * 600)))
    monkeypatch.setattr(_asic_zip, "MAX_ENTRIES", 5)
    with pytest.raises(ContainerRefused, match="more than 5 entries"):
        read_entries(container(*[(f"f{i}", b"") for i in range(5)]))


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "a/../../evil.txt",
        "/etc/passwd",
        "C:/evil.txt",
        "a\\..\\evil.txt",
        "./a.txt",
        "a//b",
        "bad\nname",
    ],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ContainerRefused, match="unsafe entry name"):
        read_entries(container((name, b"x")))


def test_duplicate_names_are_refused() -> None:
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate when writing
        data = container(("a.txt", b"1"), ("a.txt", b"2"))
    with pytest.raises(ContainerRefused, match="two entries"):
        read_entries(data)


def test_mimetype_rules() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", b"x")
        archive.writestr("mimetype", ASIC_E)
    with pytest.raises(ContainerRefused, match="first entry"):
        read_entries(buffer.getvalue())
    with pytest.raises(ContainerRefused, match="not an ASiC type"):
        read_entries(container(("a.txt", b"x"), mimetype=b"application/zip"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ASIC_E, compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ContainerRefused, match="stored"):
        read_entries(buffer.getvalue())
    assert read_entries(container(("a.txt", b"x"), mimetype=None)).mimetype is None


def test_encrypted_entries_and_garbage_are_refused() -> None:
    data = bytearray(container(("a.txt", b"x")))
    # Set the "encrypted" flag (APPNOTE 4.4.4 bit 0) in the central directory entry.
    central = data.rindex(b"PK\x01\x02")
    data[central + 8] |= 0x01
    with pytest.raises(ContainerRefused, match="encrypted"):
        read_entries(bytes(data))
    for junk in (b"", b"PK\x03\x04garbage", b"PK\x05\x06" + bytes(18)):
        with pytest.raises(ContainerRefused):
            read_entries(junk)


def test_corrupt_entry_is_refused() -> None:
    data = bytearray(container(("a.txt", b"hello world, hello world")))
    start = data.index(b"a.txt") + len(b"a.txt")
    data[start + 2] ^= 0xFF  # damage the deflated bytes of a.txt
    with pytest.raises(ContainerRefused, match="cannot be read"):
        read_entries(bytes(data))
