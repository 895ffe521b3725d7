"""C2SP signed notes and checkpoints, anchored to the golang.org/x/mod/sumdb/note
reference vector (the PeterNeumann key of note_test.go): Ed25519 is deterministic
(RFC 8032), so signing the same text with the same key must give the published note
byte for byte, and the published verifier key must be what ``vkey_string`` writes."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govtrust.errors import NoteError
from govtrust.ledger.hashing import EMPTY_ROOT
from govtrust.ledger.note import (
    Checkpoint,
    Ed25519Verifier,
    append_signature_lines,
    open_checkpoint,
    open_note,
    parse_vkey,
    sign_note,
    signature_line,
    split_note,
    vkey_string,
)

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
GO_NOTE = GO_TEXT + "\n— PeterNeumann " + GO_SIG + "\n"


def go_private_key() -> Ed25519PrivateKey:
    material = GO_SKEY.split("+", 4)[4]
    raw = base64.b64decode(material)
    assert raw[0] == 1
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_go_reference_vector() -> None:
    key = go_private_key()
    assert vkey_string("PeterNeumann", key.public_key()) == GO_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    opened = open_note(GO_NOTE, [parse_vkey(GO_VKEY)])
    assert opened.text == GO_TEXT
    assert opened.verified == ("PeterNeumann",)
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [parse_vkey(GO_VKEY)])


def test_a_verifier_key_whose_base64_holds_a_plus() -> None:
    """transparency-dev/formats note_cosigv1_test.go: the base64 contains '+'."""
    verifier = parse_vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert verifier.name == "TEST" and verifier.key_id == 0x7997405C


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY[:-1],
        GO_VKEY + "A",
        GO_VKEY.replace("c74f20a3", "c74f20a4"),  # wrong key ID
        GO_VKEY.replace("c74f20a3", "C74F20A3"),
        GO_VKEY.replace("PeterNeumann", "Peter Neumann"),
        GO_VKEY.replace("PeterNeumann", "PeterNeumanm"),  # ID no longer matches
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+AhpjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4A=",  # type 2
        "",
    ],
)
def test_malformed_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


def test_unknown_signatures_are_ignored_known_bad_ones_reject() -> None:
    log = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    log_v = Ed25519Verifier("log.example/a", log.public_key())
    other_v = Ed25519Verifier("witness.example/b", other.public_key())
    note = sign_note("hello\n", "log.example/a", log)
    # An unknown key's signature (a witness nobody configured) is ignored...
    extra = sign_note("hello\n", "witness.example/b", other).split("\n\n", 1)[1]
    both = append_signature_lines(note, [extra])
    opened = open_note(both, [log_v])
    assert opened.verified == ("log.example/a",)
    assert [s.name for s in opened.signatures] == ["log.example/a", "witness.example/b"]
    # ...and verified when configured.
    assert open_note(both, [log_v, other_v]).verified == ("log.example/a", "witness.example/b")
    # Only unknown signatures: rejected.
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [other_v])
    # A forged signature under a known (name, key ID): the whole note is rejected.
    forged = signature_line("witness.example/b", other_v.key_id, b"\x00" * 64)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(append_signature_lines(note, [forged]), [log_v, other_v])
    # Same name, another key ID: an unknown key, ignored.
    impostor = signature_line("log.example/a", log_v.key_id ^ 1, b"\x00" * 64)
    assert open_note(append_signature_lines(note, [impostor]), [log_v]).verified == (
        "log.example/a",
    )


@pytest.mark.parametrize(
    "note",
    [
        "hello\n",  # no signatures
        "hello\n\n",  # blank line, no signature lines
        "hello\n\n— log.example/a AAAA\n",  # signature shorter than a key ID
        "hello\n\n- log.example/a AAAAAAAA\n",  # hyphen instead of em dash
        "hello\n\n— log.example/a AAAAAAAA",  # no final newline
        "hello\n\n— log.example/a !!!!\n",  # not base64
        "hello\n\n— AAAAAAAA\n",  # no key name
        "hel\x01lo\n\n— log.example/a AAAAAAAA\n",  # control character
        "hello\r\n\n— log.example/a AAAAAAAA\n",
        "hello\n\n— log.example/a AAAAAAAA\n\n",
        b"\xff\xfe\n\n\xe2\x80\x94 a AAAAAAAA\n",  # not UTF-8
    ],
)
def test_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(NoteError):
        split_note(note)


def test_too_many_signatures() -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_note("x\n", "a", key)
    line = note.split("\n\n", 1)[1]
    with pytest.raises(NoteError, match="more than"):
        split_note(note + line * 100)


def test_checkpoint_round_trip_and_strictness() -> None:
    cp = Checkpoint("gov.example/ledger", 20852163, b"\x01" * 32, ("ext one",))
    body = cp.body()
    ones = base64.b64encode(b"\x01" * 32).decode()
    assert body == f"gov.example/ledger\n20852163\n{ones}\next one\n"
    assert Checkpoint.parse(body) == cp
    assert (
        Checkpoint("o", 0, EMPTY_ROOT).body()
        == "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )
    root = base64.b64encode(b"\x01" * 32).decode()
    for bad in [
        f"o\n01\n{root}\n",  # leading zero
        f"o\n-1\n{root}\n",
        f"o\n1\n{root}",  # no final newline
        f"o\n1\n{root}\n\n",  # empty extension line
        "o\n1\nAAAA\n",  # 3-byte root
        f"\n1\n{root}\n",  # empty origin
        "o\n1\n",
        f"o\n 1\n{root}\n",
    ]:
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)


def test_open_checkpoint_checks_origin() -> None:
    key = Ed25519PrivateKey.generate()
    v = Ed25519Verifier("gov.example/ledger", key.public_key())
    note = sign_note(Checkpoint("gov.example/ledger", 3, b"\x02" * 32).body(), v.name, key)
    cp, signed = open_checkpoint(note, [v], origin="gov.example/ledger")
    assert cp.size == 3 and signed.verified == (v.name,)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, [v], origin="other.example/ledger")
