"""C2SP tlog-tiles: path encoding and its edge cases, entry bundles, and the frontier and
tile hash source against the plain RFC 9162 tree."""

from __future__ import annotations

import pytest

from govtrust.errors import InputError, LedgerError
from govtrust.ledger.hashing import EMPTY_ROOT, leaf_hash, root_hash
from govtrust.ledger.proofs import LeafHashes, consistency_proof, inclusion_proof
from govtrust.ledger.tiles import (
    TILE_WIDTH,
    Frontier,
    TileHashSource,
    TileRef,
    all_tiles,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    format_index,
    parse_tile_path,
    root_from_tiles,
    tile_hashes_needed,
    tile_path,
    tile_root,
    tile_width,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "000"),
        (5, "005"),
        (999, "999"),
        (1000, "x001/000"),
        (1234, "x001/234"),
        (1234067, "x001/x234/067"),
        (2**64 - 1, "x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_index_encoding(n: int, text: str) -> None:
    assert format_index(n) == text


def test_paths() -> None:
    assert tile_path(0, 1234, 5) == "tile/0/x001/234.p/5"
    assert tile_path(3, 0) == "tile/3/000"
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(7, 255) == "tile/entries/007.p/255"
    with pytest.raises(ValueError):
        tile_path(0, 0, 0)
    with pytest.raises(ValueError):
        tile_path(64, 0)


@pytest.mark.parametrize(
    ("path", "ref"),
    [
        ("tile/0/000", TileRef(0, 0)),
        ("tile/0/x001/234.p/5", TileRef(0, 1234, 5)),
        ("tile/63/000.p/1", TileRef(63, 0, 1)),
        ("tile/12/x001/x234/067", TileRef(12, 1234067)),
        ("tile/entries/000.p/255", TileRef(0, 0, 255, entries=True)),
        ("tile/entries/x001/000", TileRef(0, 1000, entries=True)),
        ("tile/0/x018/x446/x744/x073/x709/x551/615", TileRef(0, 2**64 - 1)),
    ],
)
def test_parse_round_trips(path: str, ref: TileRef) -> None:
    assert parse_tile_path(path) == ref
    assert ref.path == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/0",
        "tile/0/",
        "tile/00/000",  # level with a leading zero
        "tile/01/000",
        "tile/64/000",  # level beyond 63
        "tile/-1/000",
        "tile/a/000",
        "tile/0/0",  # index group not 3 digits
        "tile/0/0000",
        "tile/0/x000/001",  # leading zero group
        "tile/0/x001",  # last group with x
        "tile/0/001/002",  # inner group without x
        "tile/0/x001/x002",
        "tile/0/000.p/0",  # width 0
        "tile/0/000.p/256",  # width beyond 255
        "tile/0/000.p/01",  # width with a leading zero
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000/.p/5",
        "tile/0/000.q/5",
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # 2**64
        "tile/0/x001/x001/x001/x001/x001/x001/x001/000",  # too many groups
        "tile/entries/",
        "tile/entries/00a",
        "tile/entries/x000/000",
        "tile/data/000",
        "tiles/0/000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/\u0661\u0662\u0663",  # Arabic-Indic digits are not ASCII decimals
        "tile/0/" + "x999/" * 40 + "999",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(InputError):
        parse_tile_path(path)


def test_widths_and_needed_tiles_of_the_spec_example() -> None:
    """tlog-tiles: a tree of 70,000 entries has 273 full level-0 tiles, a partial level-0
    tile of width 112, one full level-1 tile, a level-1 partial of width 17 and a level-2
    partial of width 1; a tree of 256 a full level-0 tile and a level-1 tile of width 1."""
    size = 70_000
    tiles = list(all_tiles(size))
    level0 = [t for t in tiles if t.level == 0]
    assert sum(t.is_full for t in level0) == 273
    assert [t for t in level0 if not t.is_full] == [TileRef(0, 273, 112)]
    assert [t for t in tiles if t.level == 1] == [TileRef(1, 0), TileRef(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [TileRef(2, 0, 1)]
    assert tile_hashes_needed(size) == [TileRef(2, 0, 1), TileRef(1, 1, 17), TileRef(0, 273, 112)]
    assert list(all_tiles(256)) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert tile_width(0, 273, size) == 112 and tile_width(0, 274, size) == 0
    assert tile_width(1, 0, size) == TILE_WIDTH
    assert list(all_tiles(0)) == []


def _tree(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 511, 512, 700, 65536, 65537, 70_000])
def test_frontier_root_and_tiles(size: int) -> None:
    leaves = _tree(size)
    frontier = Frontier()
    tiles: dict[tuple[int, int], bytes] = {}
    for chunk in range(0, size, 997):
        for t in frontier.extend(leaves[chunk : chunk + 997]):
            assert (t.level, t.index) not in tiles
            tiles[(t.level, t.index)] = t.data
    assert frontier.size == size
    assert frontier.root() == root_hash(leaves)
    # Full tiles are what the spec says: level 0 the leaf hashes, level 1 tile roots.
    for (level, index), data in tiles.items():
        if level == 0:
            assert data == b"".join(leaves[index * 256 : (index + 1) * 256])
        else:
            below = b"".join(tile_root(tiles[(level - 1, index * 256 + i)]) for i in range(256))
            assert data == below
    partial = frontier.partial_tile_data()

    def get(ref: TileRef) -> bytes:
        if ref.is_full:
            return tiles[(ref.level, ref.index)]
        data = partial[ref.level]
        assert len(data) == ref.width * 32
        return data

    assert root_from_tiles(size, get) == root_hash(leaves)
    # A restart resumes from the persisted partial tiles.
    resumed = Frontier.from_tiles(size, get)
    more = _tree(size + 300)[size:]
    frontier.extend(more)
    resumed.extend(more)
    assert resumed.root() == frontier.root() == root_hash(leaves + more)
    if size:
        src = TileHashSource(size, get)
        plain = LeafHashes(leaves)
        for index in {0, size // 3, size - 1}:
            assert inclusion_proof(index, size, src) == inclusion_proof(index, size, plain)
        for size1 in {1, size // 2 or 1, size}:
            assert consistency_proof(size1, size, src) == consistency_proof(size1, size, plain)


def test_frontier_refuses_inconsistent_state() -> None:
    with pytest.raises(LedgerError):
        Frontier(300, {0: _tree(3)})
    assert Frontier().root() == EMPTY_ROOT


def test_root_from_tiles_refuses_a_short_tile() -> None:
    with pytest.raises(LedgerError):
        root_from_tiles(5, lambda ref: b"\x00" * 32 * 4)


def test_entry_bundles() -> None:
    entries = [b"", b"a", b"x" * 300, b"y" * 65535]
    data = encode_entry_bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:4] == b"\x00\x01" and data[4:5] == b"a"
    assert decode_entry_bundle(data) == entries
    assert decode_entry_bundle(data, 4) == entries
    with pytest.raises(InputError):
        decode_entry_bundle(data, 3)
    with pytest.raises(InputError):
        decode_entry_bundle(data[:-1])
    with pytest.raises(InputError):
        decode_entry_bundle(b"\x00")
    with pytest.raises(InputError):
        decode_entry_bundle(b"\x00\x00" * 257)
    with pytest.raises(LedgerError):
        encode_entry_bundle([b"z" * 65536])
