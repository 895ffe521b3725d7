"""C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile coordinates and paths, entry
bundles, and the tree recomputed from tiles.

A tile at level ``L`` and index ``N`` holds, for ``i`` in 0..255, the Merkle Tree Hash
(RFC 9162 §2.1.1) ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])``: level 0
tiles hold leaf hashes, each hash of a level ``L+1`` tile is the MTH of a full level
``L`` tile. The partial tile at level ``L`` of a tree of size ``s`` has
``floor(s / 256**L) mod 256`` hashes (``.p/<W>``); empty tiles do not exist.

``Frontier`` is the right edge of the tree kept as its partial tiles: appending leaf
hashes to it yields every tile that becomes full, and its root is the tree's root. The
sequencer keeps one, and an auditor can rebuild one from entry bundles to check every
tile a log serves.

Written by hand: no maintained Python library implements tlog-tiles.
"""

from __future__ import annotations

import collections
import re
import struct
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from govtrust.errors import InputError, LedgerError
from govtrust.ledger.hashing import EMPTY_ROOT, HASH_SIZE, node_hash, root_hash

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "CompletedTile",
    "Frontier",
    "LruTileCache",
    "TileCache",
    "TileHashSource",
    "TileRef",
    "all_tiles",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "expand_tile",
    "format_index",
    "parse_tile_path",
    "root_from_tiles",
    "split_tile",
    "tile_hashes_needed",
    "tile_path",
    "tile_root",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, 8,192 bytes
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF  # entry bundles prefix each entry with a big-endian uint16
_MAX_INDEX = (1 << 64) - 1


def format_index(n: int) -> str:
    """``<N>`` of a tile path: 3-digit groups, all but the last prefixed with ``x``
    (1234067 → ``x001/x234/067``)."""
    if n < 0:
        raise ValueError("tile index must not be negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if width == TILE_WIDTH:
        return ""
    if not 1 <= width < TILE_WIDTH:
        raise ValueError(f"tile width must be 1..{TILE_WIDTH}, not {width}")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (e.g. ``tile_path(0, 1234, 5) == "tile/0/x001/234.p/5"``)."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"tile level must be 0..{MAX_LEVEL}")
    return f"tile/{level}/{format_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{format_index(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """A tile (``entries`` False) or an entry bundle (``entries`` True, ``level`` 0)."""

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        if self.entries:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)

    def __str__(self) -> str:
        return self.path


_LEVEL = re.compile(r"0|[1-9][0-9]?")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


def _parse_index(parts: Sequence[str], path: str) -> int:
    if not parts or len(parts) > 7:  # 2**64 has 20 decimal digits: at most 7 groups
        raise InputError(f"malformed tile index in {path!r}")
    *groups, last = parts
    if not all(_GROUP.fullmatch(g) for g in groups) or not _LAST.fullmatch(last):
        raise InputError(f"malformed tile index in {path!r}")
    if groups and groups[0] == "x000":
        raise InputError(f"tile index with leading zeros in {path!r}")
    value = int("".join(g[1:] for g in groups) + last)
    if value > _MAX_INDEX:
        raise InputError(f"tile index too large in {path!r}")
    return value


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` strictly: the
    canonical encoding only (no leading zeros, level 0..63, width 1..255, at most 7
    index groups, index below 2**64); anything else raises InputError."""
    if not isinstance(path, str) or len(path) > 64 or not path.isascii():
        raise InputError("malformed tile path")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise InputError(f"malformed tile path {path!r}")
    width = TILE_WIDTH
    if len(parts) >= 4 and parts[-2].endswith(".p"):
        if not _WIDTH.fullmatch(parts[-1]) or int(parts[-1]) >= TILE_WIDTH:
            raise InputError(f"partial tile width must be 1..255 in {path!r}")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][:-2]]
    if parts[1] == "entries":
        return TileRef(0, _parse_index(parts[2:], path), width, entries=True)
    if not _LEVEL.fullmatch(parts[1]) or int(parts[1]) > MAX_LEVEL:
        raise InputError(f"tile level must be 0..{MAX_LEVEL} without leading zeros in {path!r}")
    return TileRef(int(parts[1]), _parse_index(parts[2:], path), width)


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) holds in a tree of ``size`` leaves: 256 when
    full, 1..255 for the rightmost partial tile, 0 when it does not exist."""
    span = 1 << (TILE_HEIGHT * level)  # leaves under one hash of this tile
    covered = size // span  # hashes that exist at this level
    if covered >= (index + 1) * TILE_WIDTH:
        return TILE_WIDTH
    return max(0, covered - index * TILE_WIDTH)


def tile_hashes_needed(size: int) -> list[TileRef]:
    """The tiles whose hashes determine the root of a tree of ``size`` leaves: at each
    level, the rightmost partial tile (``floor(size / 256**L) mod 256`` hashes), highest
    level first. Full tiles are summarised by one hash of the level above."""
    refs = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        covered = size >> (TILE_HEIGHT * level)
        width = covered % TILE_WIDTH
        if width:
            refs.append(TileRef(level, covered // TILE_WIDTH, width))
        level += 1
    refs.reverse()
    return refs


def all_tiles(size: int, *, entries: bool = False) -> Iterator[TileRef]:
    """Every tile of a tree of ``size`` leaves, full and partial, level by level from
    level 0 (or every entry bundle with ``entries=True``)."""
    level = 0
    while size >> (TILE_HEIGHT * level) and (level == 0 or not entries):
        covered = size >> (TILE_HEIGHT * level)
        for n in range(covered // TILE_WIDTH):
            yield TileRef(level, n, TILE_WIDTH, entries)
        if covered % TILE_WIDTH:
            yield TileRef(level, covered // TILE_WIDTH, covered % TILE_WIDTH, entries)
        level += 1


def split_tile(data: bytes, width: int | None = None) -> list[bytes]:
    """The hashes of a tile's body (concatenated 32-byte hashes)."""
    if len(data) % HASH_SIZE or not data or len(data) > TILE_WIDTH * HASH_SIZE:
        raise LedgerError(f"a tile of {len(data)} bytes is not 1..256 hashes")
    if width is not None and len(data) != width * HASH_SIZE:
        raise LedgerError(f"tile has {len(data) // HASH_SIZE} hashes, expected {width}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_root(data: bytes) -> bytes:
    """The hash a *full* tile contributes to the level above: MTH of its 256 hashes."""
    return root_hash(split_tile(data, TILE_WIDTH))


def _edge_subtrees(hashes: Sequence[bytes]) -> list[bytes]:
    """Split a partial tile's hashes into maximal aligned power-of-two runs (the binary
    digits of the width, high first) and hash each run."""
    out = []
    start = 0
    n = len(hashes)
    bit = 1 << (TILE_HEIGHT - 1)
    while bit:
        if n & bit:
            out.append(root_hash(hashes[start : start + bit]))
            start += bit
        bit >>= 1
    return out


def _fold(subtrees: Sequence[bytes]) -> bytes:
    """MTH of a tree from its maximal complete subtrees, left to right (RFC 9162 §2.1.1
    splits at the largest power of two, so the rightmost subtrees combine first)."""
    if not subtrees:
        return EMPTY_ROOT
    acc = subtrees[-1]
    for h in reversed(subtrees[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_from_tiles(size: int, get_tile: Callable[[TileRef], bytes]) -> bytes:
    """The root of the tree of ``size`` leaves from its rightmost partial tiles (what a
    tlog-tiles client fetches to check a checkpoint). ``get_tile`` returns a tile's body;
    a body of the wrong length raises LedgerError."""
    subtrees: list[bytes] = []
    for ref in tile_hashes_needed(size):
        subtrees += _edge_subtrees(split_tile(get_tile(ref), ref.width))
    return _fold(subtrees)


def expand_tile(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete subtree hash inside a tile: ``levels[r][j]`` is the MTH of hashes
    ``j * 2**r .. (j + 1) * 2**r - 1`` (a full tile takes 255 node hashes)."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        prev = levels[-1]
        levels.append([node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
    return levels


class TileCache(Protocol):
    """A store for expanded full tiles (immutable, so shareable across requests)."""

    def get(self, key: Hashable) -> list[list[bytes]] | None: ...

    def put(self, key: Hashable, value: list[list[bytes]]) -> None: ...


class LruTileCache:
    """A thread-safe LRU ``TileCache`` holding at most ``capacity`` expanded tiles."""

    def __init__(self, capacity: int) -> None:
        self._data: collections.OrderedDict[Hashable, list[list[bytes]]] = collections.OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> list[list[bytes]] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: list[list[bytes]]) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._capacity:
                self._data.popitem(last=False)


class TileHashSource:
    """A ``proofs.HashSource`` over tiles of a tree of ``size`` leaves: the hash of a
    complete subtree at tree level ``8L + r`` lies inside one level-``L`` tile, at level
    ``r`` of that tile's own small tree. Tiles come from ``get_tile`` and their expansions
    are kept in ``cache`` under ``(cache_key, level, index, width)`` when one is given
    (they never change), else for the life of this object."""

    def __init__(
        self,
        size: int,
        get_tile: Callable[[TileRef], bytes],
        cache: TileCache | None = None,
        cache_key: Hashable = None,
    ) -> None:
        self.size = size
        self._get = get_tile
        self._cache = cache
        self._cache_key = cache_key
        self._tiles: dict[tuple[int, int], list[list[bytes]]] = {}

    def tile(self, level: int, index: int) -> list[list[bytes]]:
        """The expanded tile (level, index) of this tree."""
        key = (level, index)
        levels = self._tiles.get(key)
        if levels is not None:
            return levels
        width = tile_width(level, index, self.size)
        if width == 0:
            raise LedgerError(f"tile {level}/{index} is beyond tree size {self.size}")
        # A tile's first W hashes never change (the log only appends): the expansion of
        # (level, index, width) can be shared, partial tiles included.
        shared = (self._cache_key, level, index, width)
        if self._cache is not None:
            levels = self._cache.get(shared)
        if levels is None:
            levels = expand_tile(split_tile(self._get(TileRef(level, index, width)), width))
            if self._cache is not None:
                self._cache.put(shared, levels)
        self._tiles[key] = levels
        return levels

    def subtree_hash(self, level: int, index: int) -> bytes:
        tile_level, r = divmod(level, TILE_HEIGHT)
        first = index << r  # first hash at tree level 8 * tile_level
        levels = self.tile(tile_level, first // TILE_WIDTH)
        j = (first % TILE_WIDTH) >> r
        if r >= len(levels) or j >= len(levels[r]):
            raise LedgerError(f"subtree ({level}, {index}) is not complete")
        return levels[r][j]


@dataclass(frozen=True)
class CompletedTile:
    level: int
    index: int
    data: bytes


class Frontier:
    """The right edge of a Merkle tree, kept as its partial tiles (one per level).

    ``extend(leaf_hashes)`` appends leaves and returns the tiles that became full, in
    order; ``root()`` is MTH of the whole tree; ``partial_tiles()`` the current partial
    tiles (to persist, so a restart resumes without re-reading the log).
    """

    __slots__ = ("_levels", "size")

    def __init__(self, size: int = 0, partial: Mapping[int, Sequence[bytes]] | None = None):
        self.size = size
        self._levels: list[list[bytes]] = []
        partial = partial or {}
        level = 0
        while size >> (TILE_HEIGHT * level):
            want = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            have = list(partial.get(level, ()))
            if len(have) != want:
                raise LedgerError(
                    f"partial tile at level {level} has {len(have)} hashes, "
                    f"a tree of size {size} needs {want}"
                )
            self._levels.append(have)
            level += 1

    @classmethod
    def from_tiles(cls, size: int, get_tile: Callable[[TileRef], bytes]) -> Frontier:
        partial = {
            ref.level: split_tile(get_tile(ref), ref.width) for ref in tile_hashes_needed(size)
        }
        return cls(size, partial)

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[CompletedTile]:
        done: list[CompletedTile] = []
        levels = self._levels
        if not levels:
            levels.append([])
        low = levels[0]
        size = self.size
        for h in leaf_hashes:
            low.append(h)
            size += 1
            if len(low) == TILE_WIDTH:
                self.size = size
                self._carry(done)
                low = levels[0]
        self.size = size
        return done

    def _carry(self, done: list[CompletedTile]) -> None:
        level = 0
        levels = self._levels
        while len(levels[level]) == TILE_WIDTH:
            data = b"".join(levels[level])
            # The index of a tile that just filled: all hashes below it are complete.
            index = (self.size >> (TILE_HEIGHT * (level + 1))) - 1
            done.append(CompletedTile(level, index, data))
            parent = root_hash(levels[level])
            levels[level] = []
            if level + 1 == len(levels):
                levels.append([])
            levels[level + 1].append(parent)
            level += 1

    def partial_tiles(self) -> list[TileRef]:
        return tile_hashes_needed(self.size)

    def partial_tile_data(self) -> dict[int, bytes]:
        """Level → body of the partial tile at that level (levels without one omitted)."""
        return {i: b"".join(hs) for i, hs in enumerate(self._levels) if hs}

    def root(self) -> bytes:
        subtrees: list[bytes] = []
        for hashes in reversed(self._levels):
            if hashes:
                subtrees += _edge_subtrees(hashes)
        return _fold(subtrees)

    def copy(self) -> Frontier:
        clone = Frontier.__new__(Frontier)
        clone.size = self.size
        clone._levels = [list(h) for h in self._levels]
        return clone


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its length as a big-endian uint16."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise LedgerError(f"an entry of {len(e)} bytes does not fit an entry bundle")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_entry_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """The entries of a bundle; InputError on a truncated bundle or, when ``count`` is
    given, on another number of entries."""
    entries = []
    pos = 0
    n = len(data)
    while pos < n:
        if pos + 2 > n:
            raise InputError("truncated entry bundle (length prefix)")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + length > n:
            raise InputError("truncated entry bundle (entry)")
        entries.append(data[pos : pos + length])
        pos += length
        if len(entries) > TILE_WIDTH:
            raise InputError("an entry bundle holds at most 256 entries")
    if count is not None and len(entries) != count:
        raise InputError(f"entry bundle holds {len(entries)} entries, expected {count}")
    return entries
