"""The transparency ledger: an RFC 9162 Merkle log of every trust event, served as C2SP
tlog-tiles with C2SP tlog-checkpoint signed notes.

Pure modules (no database, no HTTP): ``hashing`` (leaf, node and tree hashes),
``proofs`` (inclusion and consistency proofs and their verifiers), ``tiles`` (tile paths,
entry bundles, the frontier, roots from tiles), ``note`` (signed notes, checkpoints),
``entries`` (what a ledger entry says, and what it must not say), ``receipts``
(self-contained inclusion receipts that verify offline).
"""

from __future__ import annotations

from govtrust.ledger.hashing import EMPTY_ROOT, leaf_hash, node_hash, root_hash
from govtrust.ledger.note import (
    Checkpoint,
    Ed25519Verifier,
    NoteVerifier,
    SignedNote,
    open_checkpoint,
    open_note,
    parse_vkey,
    sign_note,
    vkey_string,
)
from govtrust.ledger.proofs import (
    HashSource,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from govtrust.ledger.tiles import (
    TILE_WIDTH,
    Frontier,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    parse_tile_path,
    root_from_tiles,
    tile_path,
)

__all__ = [
    "EMPTY_ROOT",
    "TILE_WIDTH",
    "Checkpoint",
    "Ed25519Verifier",
    "Frontier",
    "HashSource",
    "NoteVerifier",
    "SignedNote",
    "TileRef",
    "consistency_proof",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "parse_tile_path",
    "parse_vkey",
    "root_from_tiles",
    "root_hash",
    "sign_note",
    "tile_path",
    "verify_consistency",
    "verify_inclusion",
    "vkey_string",
]
