"""C2SP tlog-cosignature and tlog-witness formats (govtrust.ledger.witness).

The cosignature is checked with an independent verifier written below from the text of
https://c2sp.org/tlog-cosignature (hashlib, base64 and pyca's Ed25519 only, nothing from
govtrust.ledger); the witness's checks follow https://c2sp.org/tlog-witness
§add-checkpoint status by status.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from govtrust.errors import (
    NoteError,
    WitnessBadProof,
    WitnessBadRequest,
    WitnessBadSignature,
    WitnessConflict,
    WitnessError,
)
from govtrust.ledger.hashing import EMPTY_ROOT, leaf_hash, root_hash
from govtrust.ledger.note import Checkpoint, Ed25519Verifier, open_note, sign_note, split_note
from govtrust.ledger.proofs import consistency_proof
from govtrust.ledger.witness import (
    MAX_REQUEST_SIZE,
    AddCheckpointRequest,
    CosignatureVerifier,
    cosign,
    cosignature_vkey,
    encode_cosignature_response,
    encode_size_response,
    parse_cosignature_response,
    parse_cosignature_vkey,
    parse_size_response,
    verify_add_checkpoint,
    verify_cosignatures,
)

ORIGIN = "pki.gov.aa/ledger"
WITNESS = "pki.gov.bb/witness"
NOW = 1_790_000_000


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# ---- an independent cosignature/v1 verifier, from the C2SP text ---------------------


def independent_check(checkpoint_note: str, name: str, public_key: bytes) -> int:
    """tlog-cosignature, Ed25519: find the line ``— <name> base64(key ID || timestamp
    || signature)`` whose key ID is ``SHA-256(<name> || "\\n" || 0x04 || key)[:4]``,
    rebuild ``cosignature/v1\\ntime <timestamp>\\n<note body>`` and verify; returns
    the timestamp."""
    body, _, signature_block = checkpoint_note.rpartition("\n\n")
    body += "\n"
    expected_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public_key).digest()[:4]
    for line in signature_block.splitlines():
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        blob = base64.b64decode(line[len(prefix) :])
        if blob[:4] != expected_id:
            continue
        assert len(blob) == 4 + 8 + 64
        timestamp = int.from_bytes(blob[4:12], "big")
        message = b"cosignature/v1\n" + b"time " + str(timestamp).encode() + b"\n" + body.encode()
        Ed25519PublicKey.from_public_bytes(public_key).verify(blob[12:], message)
        return timestamp
    raise AssertionError("no cosignature line by that key")


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def checkpoint_note(key: Ed25519PrivateKey, size: int, root: bytes, origin: str = ORIGIN) -> str:
    return sign_note(Checkpoint(origin, size, root).body(), origin, key)


def leaves(n: int, tag: bytes = b"e") -> list[bytes]:
    return [leaf_hash(tag + str(i).encode()) for i in range(n)]


def test_our_cosignature_passes_the_independent_check(
    log_key: Ed25519PrivateKey, witness_key: Ed25519PrivateKey
) -> None:
    note = checkpoint_note(log_key, 7, root_hash(leaves(7)))
    text, _ = split_note(note)
    line = cosign(text, WITNESS, witness_key, NOW)
    assert line.startswith("\u2014 " + WITNESS + " ") and line.endswith("\n")
    assert independent_check(note + line, WITNESS, raw(witness_key)) == NOW
    # The independent check is not a rubber stamp: another body or key fails it.
    other = checkpoint_note(log_key, 8, root_hash(leaves(8)))
    with pytest.raises(InvalidSignature):
        independent_check(other + line, WITNESS, raw(witness_key))
    with pytest.raises(AssertionError):
        independent_check(note + line, WITNESS, raw(Ed25519PrivateKey.generate()))


def test_the_spec_example_line_is_key_id_then_big_endian_timestamp() -> None:
    """tlog-cosignature's example line: its timestamp is the example message's
    ``time 1679315147``."""
    example = (
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZ"
        "CB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    _, (sig,) = split_note(note + example)
    assert sig.name == "witness.example.com/w1"
    assert len(sig.signature) == 72
    assert int.from_bytes(sig.signature[:8], "big") == 1679315147


def test_vkey_round_trip_and_key_id(witness_key: Ed25519PrivateKey) -> None:
    vkey = cosignature_vkey(WITNESS, witness_key.public_key())
    name, hex_id, b64 = vkey.split("+", 2)
    assert name == WITNESS
    blob = base64.b64decode(b64)
    assert blob[0] == 0x04 and blob[1:] == raw(witness_key)
    assert (
        bytes.fromhex(hex_id)
        == hashlib.sha256(WITNESS.encode() + b"\n\x04" + blob[1:]).digest()[:4]
    )
    parsed = parse_cosignature_vkey(vkey)
    assert parsed.vkey == vkey and parsed.key_id == int(hex_id, 16)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.replace("+", "", 1),  # no key ID
        lambda v: v.split("+", 2)[0] + "+00000000+" + v.split("+", 2)[2],  # wrong key ID
        lambda v: v[:-4] + "!!!!",  # not base64
        lambda v: "other/name+" + v.split("+", 1)[1],  # ID does not match the name
    ],
)
def test_malformed_witness_vkeys_are_refused(witness_key: Ed25519PrivateKey, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoteError):
        parse_cosignature_vkey(mutate(cosignature_vkey(WITNESS, witness_key.public_key())))


def test_a_log_key_is_not_a_witness_key(log_key: Ed25519PrivateKey) -> None:
    log_vkey = Ed25519Verifier(ORIGIN, log_key.public_key()).vkey
    with pytest.raises(NoteError, match="0x04"):
        parse_cosignature_vkey(log_vkey)


def test_cosignature_verifier_is_a_note_verifier(
    log_key: Ed25519PrivateKey, witness_key: Ed25519PrivateKey
) -> None:
    note = checkpoint_note(log_key, 3, root_hash(leaves(3)))
    text, _ = split_note(note)
    witness = CosignatureVerifier(WITNESS, witness_key.public_key())
    opened = open_note(note + cosign(text, WITNESS, witness_key, NOW), [witness])
    assert opened.verified == (WITNESS,)


def test_verify_cosignatures_refuses_forgeries_and_ignores_strangers(
    log_key: Ed25519PrivateKey, witness_key: Ed25519PrivateKey
) -> None:
    note = checkpoint_note(log_key, 5, root_hash(leaves(5)))
    text, _ = split_note(note)
    witness = CosignatureVerifier(WITNESS, witness_key.public_key())
    good = cosign(text, WITNESS, witness_key, NOW)
    found = verify_cosignatures(note + good, [witness], now=NOW)
    assert [(c.name, c.timestamp) for c in found] == [(WITNESS, NOW)]
    # A stranger's cosignature (unknown key) is ignored; the log's own line too.
    stranger = cosign(text, "elsewhere.example/w", Ed25519PrivateKey.generate(), NOW)
    assert verify_cosignatures(note + stranger, [witness]) == []
    # A forged line under the witness's name and key ID: refused, not skipped.
    blob = bytearray(base64.b64decode(good.split(" ")[-1]))
    blob[-1] ^= 1
    forged = f"\u2014 {WITNESS} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignatures(note + forged, [witness])
    # Same signature, another timestamp: the timestamp is signed.
    blob = bytearray(base64.b64decode(good.split(" ")[-1]))
    blob[4:12] = (NOW + 1).to_bytes(8, "big")
    moved = f"\u2014 {WITNESS} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError):
        verify_cosignatures(note + moved, [witness])
    # A cosignature dated in the future is refused.
    future = cosign(text, WITNESS, witness_key, NOW + 3600)
    with pytest.raises(NoteError, match="future"):
        verify_cosignatures(note + future, [witness], now=NOW)
    # A cosignature on another checkpoint does not verify on this one.
    other = checkpoint_note(log_key, 6, root_hash(leaves(6)))
    other_text, _ = split_note(other)
    with pytest.raises(NoteError):
        verify_cosignatures(note + cosign(other_text, WITNESS, witness_key, NOW), [witness])


# ---- add-checkpoint request and responses ------------------------------------------

SPEC_EXAMPLE = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks"
    "+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)


def test_the_spec_example_request_parses_and_round_trips() -> None:
    request = AddCheckpointRequest.parse(SPEC_EXAMPLE.encode())
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    cp = request.unverified_checkpoint()
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert request.encode() == SPEC_EXAMPLE.encode()


HASH = base64.b64encode(b"\x07" * 32).decode()
CHECKPOINT = SPEC_EXAMPLE.split("\n\n", 1)[1]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty line"),
        (b"\xff\xfe garbage", "UTF-8"),
        (b"{}", "empty line"),
        (("old 01\n\n" + CHECKPOINT).encode(), "old <size>"),
        (("old -1\n\n" + CHECKPOINT).encode(), "old <size>"),
        (("old 5 \n\n" + CHECKPOINT).encode(), "old <size>"),
        (("OLD 5\n\n" + CHECKPOINT).encode(), "old <size>"),
        (("old 5\nnot base64!\n\n" + CHECKPOINT).encode(), "line 1"),
        (("old 5\n" + base64.b64encode(b"x" * 31).decode() + "\n\n" + CHECKPOINT).encode(), "32"),
        (("old 5\n" + HASH[:-2] + "B=\n\n" + CHECKPOINT).encode(), "canonical"),
        (("old 5\n" + (HASH + "\n") * 64 + "\n" + CHECKPOINT).encode(), "63"),
        (b"old 5\n\nnot a checkpoint\n", "checkpoint"),
        (b"old 5\n\norigin\n12\nroot\n\n\xe2\x80\x94 x AAAA\n", "checkpoint"),
        (b"old 5\n" + b"A" * (MAX_REQUEST_SIZE + 1), "larger"),
    ],
)
def test_malformed_requests_are_400(body: bytes, why: str) -> None:
    with pytest.raises(WitnessBadRequest, match=why) as caught:
        AddCheckpointRequest.parse(body).unverified_checkpoint()
    assert caught.value.status == 400


def test_responses_round_trip() -> None:
    assert parse_size_response(encode_size_response(1234)) == 1234
    for bad in (b"", b"12", b"012\n", b"-1\n", b"12\n\n", b"twelve\n"):
        with pytest.raises(NoteError):
            parse_size_response(bad)
    line = f"\u2014 {WITNESS} " + base64.b64encode(b"\x00" * 76).decode()
    assert parse_cosignature_response(encode_cosignature_response([line])) == [line + "\n"]
    for bad in (b"", b"not a signature line\n", (line).encode(), b"\xff\n"):
        with pytest.raises(NoteError):
            parse_cosignature_response(bad)


# ---- the witness's checks, status by status ------------------------------------------


def request_for(
    key: Ed25519PrivateKey, old: int, size: int, proof: list[bytes] | None = None, tag: bytes = b"e"
) -> AddCheckpointRequest:
    tree = leaves(size, tag)
    if proof is None:
        proof = consistency_proof(old, size, leaves(size)) if 0 < old < size else []
    return AddCheckpointRequest(old, tuple(proof), checkpoint_note(key, size, root_hash(tree)))


def check(
    request: AddCheckpointRequest,
    key: Ed25519PrivateKey,
    latest: int,
    latest_root: bytes | None = None,
) -> Checkpoint:
    verifier = Ed25519Verifier(ORIGIN, key.public_key())
    if latest_root is None and latest:
        latest_root = root_hash(leaves(latest))
    return verify_add_checkpoint(request, [verifier], ORIGIN, latest, latest_root)


def test_first_checkpoint_from_zero_is_cosigned(log_key: Ed25519PrivateKey) -> None:
    cp = check(request_for(log_key, 0, 10), log_key, 0)
    assert cp.size == 10 and cp.root == root_hash(leaves(10))


def test_a_consistent_extension_is_cosigned(log_key: Ed25519PrivateKey) -> None:
    for old, new in [(10, 17), (1, 2), (16, 300), (255, 256)]:
        assert check(request_for(log_key, old, new), log_key, old).size == new


def test_same_size_same_root_is_cosigned_again(log_key: Ed25519PrivateKey) -> None:
    assert check(request_for(log_key, 10, 10), log_key, 10).size == 10
    empty = AddCheckpointRequest(0, (), checkpoint_note(log_key, 0, EMPTY_ROOT))
    assert check(empty, log_key, 0).size == 0


def test_bad_log_signature_is_403(log_key: Ed25519PrivateKey) -> None:
    forger = Ed25519PrivateKey.generate()  # signs under the log's name, another key
    with pytest.raises(WitnessBadSignature) as caught:
        check(request_for(forger, 0, 10), log_key, 0)
    assert caught.value.status == 403
    # A valid signature byte-flipped: still 403.
    req = request_for(log_key, 0, 10)
    text, sigs = split_note(req.checkpoint)
    blob = bytearray(sigs[0].key_id.to_bytes(4, "big") + sigs[0].signature)
    blob[10] ^= 0x40
    note = text + "\n" + f"\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(WitnessBadSignature):
        check(AddCheckpointRequest(0, (), note), log_key, 0)


def test_old_above_the_checkpoint_is_400(log_key: Ed25519PrivateKey) -> None:
    with pytest.raises(WitnessBadRequest, match="above") as caught:
        check(request_for(log_key, 12, 10, proof=[]), log_key, 12)
    assert caught.value.status == 400


def test_old_other_than_the_latest_cosigned_is_409_with_that_size(
    log_key: Ed25519PrivateKey,
) -> None:
    for old, latest in [(0, 10), (5, 10), (10, 0), (9, 10)]:
        with pytest.raises(WitnessConflict) as caught:
            check(request_for(log_key, old, 20), log_key, latest)
        assert caught.value.status == 409 and caught.value.latest_size == latest


def test_same_size_other_root_is_409(log_key: Ed25519PrivateKey) -> None:
    fork = request_for(log_key, 10, 10, tag=b"fork")
    with pytest.raises(WitnessConflict) as caught:
        check(fork, log_key, 10)
    assert caught.value.latest_size == 10


def test_bad_consistency_proofs_are_422(log_key: Ed25519PrivateKey) -> None:
    good = consistency_proof(10, 20, leaves(20))
    cases = [
        [],  # empty where one is needed
        good[:-1],  # truncated
        [*good, good[0]],  # extended
        [b"\x00" * 32, *good[1:]],  # altered
    ]
    for proof in cases:
        with pytest.raises(WitnessBadProof) as caught:
            check(request_for(log_key, 10, 20, proof=proof), log_key, 10)
        assert caught.value.status == 422
    # A rewritten tree signed by the real log key: the honest-looking proof of the
    # rewritten tree does not lead from the root the witness cosigned.
    rewritten = leaves(20, b"rewritten")
    req = AddCheckpointRequest(
        10,
        tuple(consistency_proof(10, 20, rewritten)),
        checkpoint_note(log_key, 20, root_hash(rewritten)),
    )
    with pytest.raises(WitnessBadProof):
        check(req, log_key, 10)
    # A proof from size 0, or between equal sizes, must be empty.
    with pytest.raises(WitnessBadProof):
        check(request_for(log_key, 0, 5, proof=[b"\x01" * 32]), log_key, 0)
    with pytest.raises(WitnessBadProof):
        check(request_for(log_key, 10, 10, proof=[b"\x01" * 32]), log_key, 10)


def test_every_refusal_is_a_witness_error_with_a_protocol_status(
    log_key: Ed25519PrivateKey,
) -> None:
    statuses = set()
    attempts = [
        lambda: check(request_for(Ed25519PrivateKey.generate(), 0, 3), log_key, 0),
        lambda: check(request_for(log_key, 4, 3, proof=[]), log_key, 4),
        lambda: check(request_for(log_key, 1, 3), log_key, 2),
        lambda: check(request_for(log_key, 2, 3, proof=[b"\x00" * 32]), log_key, 2),
    ]
    for attempt in attempts:
        with pytest.raises(WitnessError) as caught:
            attempt()
        statuses.add(caught.value.status)
    assert statuses == {400, 403, 409, 422}
