"""The transparency ledger end to end on SQLite and PostgreSQL: issue and revoke
certificates, sequence them into several checkpoints, and verify every receipt and every
consistency proof with an independent, minimal RFC 9162 verifier written below from the
RFC text (it imports nothing from govtrust.ledger); privacy of the entries; receipts
with the holder's subject opening; the CLI's offline verification.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govtrust.ca import CertificateRequest, RevocationReason, parse_san, parse_subject
from govtrust.config import LedgerSettings
from govtrust.errors import InputError, LedgerError, NotFound, ProofError
from govtrust.services import Actor, Context, certificates, revocation
from govtrust.services import ledger as ledger_svc
from tests.conftest import Demo

ADMIN = Actor("test:admin", "admin")


# ---- an independent RFC 9162 verifier (from the RFC text, hashlib only) ---------------


def rfc_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_leaf(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return rfc_hash(b"\x00" + entry)


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, hash_: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = hash_  # 3
    for p in path:  # 4
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = rfc_hash(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = rfc_hash(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # 5


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step (for 0 < first < second)."""
    if not path:  # 1
        return False
    if first & (first - 1) == 0:  # 2: first is an exact power of 2
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1  # 3
    while fn % 2 == 1:  # 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = rfc_hash(b"\x01" + c + fr)
            sr = rfc_hash(b"\x01" + c + sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = rfc_hash(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0  # 7


def open_checkpoint_independently(note: str, vkey: str) -> tuple[str, int, bytes]:
    """C2SP signed-note + tlog-checkpoint, minimal: the last blank line splits text and
    signatures; the vkey's Ed25519 key must sign the text under its name and key ID."""
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    assert key_id.hex() == key_id_hex
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        dash_name, blob = line.rsplit(" ", 1)
        sig = base64.b64decode(blob)
        if dash_name == "\u2014 " + name and sig[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
            ok = True
    assert ok, "no signature by the log key"
    origin, size, root = text.splitlines()[:3]
    return origin, int(size), base64.b64decode(root)


def test_the_independent_verifier_rejects_what_it_should() -> None:
    leaves = [rfc_leaf(bytes([i])) for i in range(3)]
    n01 = rfc_hash(b"\x01" + leaves[0] + leaves[1])
    root = rfc_hash(b"\x01" + n01 + leaves[2])
    assert rfc_verify_inclusion(2, 3, leaves[2], [n01], root)
    assert not rfc_verify_inclusion(1, 3, leaves[2], [n01], root)
    assert not rfc_verify_inclusion(2, 3, leaves[2], [n01, n01], root)
    assert rfc_verify_consistency(2, 3, n01, root, [leaves[2]])
    assert not rfc_verify_consistency(2, 3, n01, root, [])
    assert not rfc_verify_consistency(2, 3, root, root, [leaves[2]])


# ---- helpers ---------------------------------------------------------------------------


def _request(subject: str, *sans: str) -> CertificateRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return CertificateRequest(
        parse_subject(subject), key.public_key(), tuple(parse_san(s) for s in sans)
    )


def small_batches(ctx: Context, size: int) -> None:
    ctx.settings = dataclasses.replace(
        ctx.settings, ledger=LedgerSettings(batch_max_size=size, batch_interval_seconds=1)
    )


def checkpoints(ctx: Context) -> list[tuple[int, bytes, str]]:
    from sqlalchemy import text

    with ctx.db.read() as s:
        rows = s.execute(text("SELECT size, root, note FROM ledger_checkpoint ORDER BY size"))
        return [(int(r.size), bytes(r.root), r.note) for r in rows]


def issue_and_revoke(ctx: Context) -> list[str]:
    serials = []
    for i in range(4):
        serials.append(
            certificates.issue(
                ctx, "tls", "tls-server", _request(f"CN=svc{i}.gov.aa", f"dns:svc{i}.gov.aa"), ADMIN
            ).serial
        )
    person = certificates.issue(
        ctx,
        "people",
        "official",
        _request("CN=Leila Mansour,givenName=Leila,SN=Mansour,serialNumber=PNOAA-7777,C=AA"),
        ADMIN,
    )
    serials.append(person.serial)
    revocation.revoke(ctx, serials[0], RevocationReason.key_compromise, ADMIN)
    revocation.revoke(ctx, person.serial, RevocationReason.superseded, ADMIN)
    return serials


# ---- the end-to-end proof --------------------------------------------------------------


def test_every_receipt_and_consistency_proof_verifies_independently(ctx: Context) -> None:
    small_batches(ctx, 7)
    first = ledger_svc.sequence(ctx)
    assert first.appended > 0 and len(first.checkpoints) >= 2
    serials = issue_and_revoke(ctx)
    second = ledger_svc.sequence(ctx)
    assert second.appended >= len(serials) + 2  # issuances, revocations, CRLs
    issue_and_revoke(ctx)
    ledger_svc.sequence(ctx)
    cps = checkpoints(ctx)
    assert len(cps) >= 6
    info = ledger_svc.log_info(ctx)
    # Every checkpoint is signed by the log key and names the origin.
    for size, root, note in cps:
        assert open_checkpoint_independently(note, info.vkey) == (info.origin, size, root)
    # Every consistency proof between any two checkpoints verifies.
    for (s1, r1, _), (s2, r2, _) in itertools.combinations(cps, 2):
        if s1 == 0:
            continue
        proof = ledger_svc.consistency(ctx, s1, s2)
        path = [base64.b64decode(p) for p in proof["consistency_path"]]
        assert rfc_verify_consistency(s1, s2, r1, r2, path), (s1, s2)
        if len(path) > 0:
            assert not rfc_verify_consistency(s1, s2, r2, r1, path)
    # Every entry has a receipt that verifies, at every checkpoint size it is in.
    latest = cps[-1][0]
    for index in range(latest):
        proof = ledger_svc.inclusion(ctx, index=index)
        entry = base64.b64decode(proof["entry"])
        path = [base64.b64decode(p) for p in proof["inclusion_path"]]
        assert rfc_verify_inclusion(index, latest, rfc_leaf(entry), path, cps[-1][1])
    for size, root, _ in cps[1:]:
        for index in {0, size // 2, size - 1}:
            proof = ledger_svc.inclusion(ctx, index=index, size=size)
            entry = base64.b64decode(proof["entry"])
            path = [base64.b64decode(p) for p in proof["inclusion_path"]]
            assert rfc_verify_inclusion(index, size, rfc_leaf(entry), path, root)
    # Receipts (self-contained): verify with the independent verifier.
    for n, serial in enumerate(serials):
        receipt = ledger_svc.receipt(ctx, serial=serial)
        _, size, root = open_checkpoint_independently(receipt["checkpoint"], info.vkey)
        entry = base64.b64decode(receipt["entry"])
        assert json.loads(entry)["details"]["serial"] == serial
        path = [base64.b64decode(p) for p in receipt["inclusion_proof"]]
        assert rfc_verify_inclusion(receipt["leaf_index"], size, rfc_leaf(entry), path, root)
        if n in (0, 4):  # issue_and_revoke revokes the first and the person's
            revoked = ledger_svc.receipt(ctx, serial=serial, entry_type="cert.revoke")
            assert json.loads(base64.b64decode(revoked["entry"]))["type"] == "cert.revoke"
    # The local check agrees.
    report = ledger_svc.check(ctx)
    assert report.entries_checked == latest and report.checkpoints_checked == len(cps)


def test_every_acknowledged_action_is_logged(ctx: Context) -> None:
    from sqlalchemy import text

    ledger_svc.sequence(ctx)
    issue_and_revoke(ctx)
    ledger_svc.sequence(ctx)
    with ctx.db.read() as s:
        audit_rows = s.execute(text("SELECT id, record FROM audit_event ORDER BY id")).all()
        entries = s.execute(
            text("SELECT audit_event_id, entry FROM ledger_entry ORDER BY idx")
        ).all()
    assert [(r.id, bytes(r.record)) for r in audit_rows] == [
        (e.audit_event_id, bytes(e.entry)) for e in entries
    ]


def test_a_checkpoint_per_batch_and_nothing_when_idle(ctx: Context) -> None:
    small_batches(ctx, 5)
    report = ledger_svc.sequence(ctx)
    sizes = [c[0] for c in checkpoints(ctx)]
    assert sizes[0] == 0 and sizes[1:] == report.checkpoints
    assert all(b - a <= 5 for a, b in itertools.pairwise(sizes))
    again = ledger_svc.sequence(ctx)
    assert again.appended == 0 and again.checkpoints == []
    assert [c[0] for c in checkpoints(ctx)] == sizes


def test_receipt_opens_the_subject_commitment_for_the_holder(ctx: Context, tmp_path: Path) -> None:
    from govtrust.ledger.receipts import verify_receipt

    person = certificates.issue(
        ctx,
        "people",
        "official",
        _request("CN=Sara Nasser,givenName=Sara,SN=Nasser,serialNumber=PNOAA-4242,C=AA"),
        ADMIN,
    )
    ledger_svc.sequence(ctx)
    public = ledger_svc.receipt(ctx, serial=person.serial)
    assert "subject_opening" not in public
    assert (
        "Sara" not in json.dumps(public)
        and "Nasser" not in base64.b64decode(public["entry"]).decode()
    )
    private = ledger_svc.receipt(ctx, serial=person.serial, reveal_subject=True)
    opening = private["subject_opening"]
    # Open it by hand: SHA-256(salt || DER(subject)) is the entry's commitment, and the
    # subject is the certificate's.
    entry = json.loads(base64.b64decode(private["entry"]))
    salt, der = bytes.fromhex(opening["salt"]), base64.b64decode(opening["subject_der"])
    assert hashlib.sha256(salt + der).hexdigest() == entry["details"]["subject_commitment"]
    cert = x509.load_der_x509_certificate(certificates.get_certificate(ctx, person.serial).der)
    assert cert.subject.public_bytes() == der
    assert "Sara Nasser" in opening["subject"]
    assert verify_receipt(private).subject_opened
    # A wrong opening fails verification.
    forged = json.loads(json.dumps(private))
    forged["subject_opening"]["salt"] = "00" * 32
    with pytest.raises(LedgerError, match="opening"):
        verify_receipt(forged)
    # An organisation's certificate has nothing to open.
    org = certificates.issue(
        ctx, "tls", "tls-server", _request("CN=open.gov.aa", "dns:open.gov.aa"), ADMIN
    )
    ledger_svc.sequence(ctx)
    with pytest.raises(InputError):
        ledger_svc.receipt(ctx, serial=org.serial, reveal_subject=True)


def test_receipt_of_an_unknown_or_unsequenced_entry(ctx: Context) -> None:
    ledger_svc.sequence(ctx)
    with pytest.raises(NotFound):
        ledger_svc.receipt(ctx, serial="0123456789abcdef")
    info = certificates.issue(
        ctx, "tls", "tls-server", _request("CN=late.gov.aa", "dns:late.gov.aa"), ADMIN
    )
    with pytest.raises(NotFound, match="not logged yet"):
        ledger_svc.receipt(ctx, serial=info.serial)
    ledger_svc.sequence(ctx)
    assert ledger_svc.receipt(ctx, serial=info.serial)["leaf_index"] > 0


def test_receipt_tampering_is_caught(ctx: Context) -> None:
    from govtrust.ledger.receipts import verify_receipt

    info = certificates.issue(
        ctx, "tls", "tls-server", _request("CN=r.gov.aa", "dns:r.gov.aa"), ADMIN
    )
    ledger_svc.sequence(ctx)
    good = ledger_svc.receipt(ctx, serial=info.serial)
    vkey = ledger_svc.log_info(ctx).vkey
    from govtrust.ledger.note import parse_vkey

    assert not verify_receipt(good, [parse_vkey(vkey)]).key_from_receipt
    bad_entry = dict(good, entry=base64.b64encode(base64.b64decode(good["entry"]) + b" ").decode())
    with pytest.raises(ProofError):
        verify_receipt(bad_entry)
    with pytest.raises(ProofError):
        verify_receipt(dict(good, leaf_index=good["leaf_index"] + 1))
    with pytest.raises(LedgerError):
        verify_receipt(dict(good, checkpoint=good["checkpoint"].replace("\n\n", "\n\n\n")))
    other = "other.example/log+0a1b2c3d+" + base64.b64encode(b"\x01" + b"\x11" * 32).decode()
    with pytest.raises(LedgerError):
        verify_receipt(good, [parse_vkey(_valid_vkey())])
    with pytest.raises(LedgerError):
        verify_receipt(dict(good, log_key=other))
    with pytest.raises(LedgerError):
        verify_receipt(b"not json")


def _valid_vkey() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from govtrust.ledger.note import vkey_string

    return vkey_string("pki.govtrust.org/ledger", Ed25519PrivateKey.generate().public_key())


# ---- privacy (issue point 7) -------------------------------------------------------------


#: Subject attributes that identify the person (their organisation, title and country
#: do not).
PERSONAL_ATTRIBUTES = {
    x509.NameOID.COMMON_NAME,
    x509.NameOID.GIVEN_NAME,
    x509.NameOID.SURNAME,
    x509.NameOID.SERIAL_NUMBER,
    x509.NameOID.PSEUDONYM,
    x509.NameOID.EMAIL_ADDRESS,
}


def _person_names(ctx: Context) -> list[str]:
    """Every attribute value of every natural person's subject, and slugs of them."""
    from sqlalchemy import text

    with ctx.db.read() as s:
        ders = s.execute(
            text("SELECT der FROM certificate WHERE subject_salt IS NOT NULL")
        ).scalars()
        values: set[str] = set()
        for der in ders:
            for attr in x509.load_der_x509_certificate(bytes(der)).subject:
                if attr.oid in PERSONAL_ATTRIBUTES and isinstance(attr.value, str):
                    values.add(attr.value.lower())
    values |= {v.replace(" ", "-") for v in values}
    return sorted(values)


def _core_entries(ctx: Context) -> list[dict[str, Any]]:
    from sqlalchemy import text

    with ctx.db.read() as s:
        entries = s.execute(text("SELECT entry FROM ledger_entry ORDER BY idx")).scalars()
        return [json.loads(bytes(e)) for e in entries]


CORE_ACTIONS = {
    "ca.create",
    "cert.issue",
    "cert.revoke",
    "crl.generate",
    "token.create",
    "token.revoke",
    "ledger.create",
}


def test_entries_about_natural_persons_carry_no_personal_data(ctx: Context) -> None:
    from govtrust.ledger.entries import LedgerEntry, privacy_findings
    from govtrust.services.tokens import create_token, revoke_token

    issue_and_revoke(ctx)
    create_token(ctx, "ops-1", "operator", ADMIN)
    revoke_token(ctx, "ops-1", ADMIN)
    ledger_svc.sequence(ctx)
    names = _person_names(ctx)
    assert "leila mansour" in names and "pnoaa-7777" in names
    entries = [e for e in _core_entries(ctx) if e["type"] in CORE_ACTIONS]
    assert {e["type"] for e in entries} == CORE_ACTIONS
    people = [e for e in entries if "subject_commitment" in e["details"]]
    assert len(people) >= 3  # the demo's officials and Leila
    for e in entries:
        text_ = json.dumps(e, ensure_ascii=False).lower()
        leaked = [n for n in names if n in text_]
        assert leaked == [], f"{e['type']} names a natural person: {leaked}"
        assert privacy_findings(LedgerEntry.parse(json.dumps(e).encode())) == []
    for e in people:
        assert set(e["details"]) <= {
            "serial",
            "ca",
            "profile",
            "not_after",
            "subject_commitment",
            "renewed_from",
        }
    # A person is not found by name, only by their commitment.
    assert ledger_svc.search(ctx, subject="CN=Leila Mansour") == []
    commitment = next(
        e["details"]["subject_commitment"] for e in people if e["details"]["profile"] == "official"
    )
    assert len(ledger_svc.search(ctx, subject=commitment)) == 1
    # Organisations are found by their subject.
    org = next(e for e in entries if e["type"] == "ca.create")
    assert ledger_svc.search(ctx, subject=org["details"]["subject"].upper())


def test_no_audit_action_names_a_natural_person(ctx: Context) -> None:
    ledger_svc.sequence(ctx)
    names = _person_names(ctx)
    for e in _core_entries(ctx):
        text_ = json.dumps(e, ensure_ascii=False).lower()
        assert [n for n in names if n in text_] == [], e["type"]


# ---- CLI ---------------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "govtrust"), *args],
        env={**env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_receipt_verifies_offline(demo: Demo, tmp_path: Path) -> None:
    assert _cli(demo.env, "ledger", "sequence").returncode == 0
    serial = json.loads(_cli(demo.env, "cert", "list", "--json").stdout)[0]["serial"]
    receipt_file = tmp_path / "receipt.json"
    made = _cli(demo.env, "ledger", "receipt", "--serial", serial, "--out", str(receipt_file))
    assert made.returncode == 0, made.stderr
    vkey = _cli(demo.env, "ledger", "key").stdout.strip()
    # Offline: no data directory, no database, no passphrase.
    bare = {"GOVTRUST_HOME": str(tmp_path / "nowhere")}
    ok = _cli(bare, "ledger", "verify-receipt", str(receipt_file), "--key", vkey, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["valid"] is True
    assert not (tmp_path / "nowhere").exists()
    data = json.loads(receipt_file.read_text())
    data["inclusion_proof"] = list(reversed(data["inclusion_proof"]))
    if len(data["inclusion_proof"]) > 1:
        receipt_file.write_text(json.dumps(data))
        bad = _cli(bare, "ledger", "verify-receipt", str(receipt_file), "--key", vkey)
        assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    search = _cli(demo.env, "ledger", "search", "--serial", serial, "--json")
    assert json.loads(search.stdout)[0]["details"]["serial"] == serial
    checkpoint = _cli(demo.env, "ledger", "checkpoint").stdout
    assert checkpoint.startswith("pki.govtrust.org/ledger\n")
    assert _cli(demo.env, "ledger", "check").returncode == 0


def test_origin_cannot_change(ctx: Context) -> None:
    from govtrust.errors import ConfigError

    ledger_svc.sequence(ctx)
    ctx.settings = dataclasses.replace(ctx.settings, ledger=LedgerSettings(origin="other/log"))
    with pytest.raises(ConfigError, match="origin"):
        ledger_svc.sequence(ctx)


@pytest.mark.openssl
def test_openssl_verifies_the_checkpoint_signature(ctx: Context, tmp_path: Path) -> None:
    """The checkpoint's Ed25519 signature checks out with openssl (RFC 8032 via
    ``openssl pkeyutl -verify -rawin``), as docs/ledger.md tells a citizen to do."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ledger_svc.sequence(ctx)
    note = ledger_svc.checkpoint_note(ctx)
    vkey = ledger_svc.log_info(ctx).vkey
    text_, _, sig_line = note.rpartition("\n\n")
    (tmp_path / "text").write_bytes((text_ + "\n").encode())
    signature = base64.b64decode(sig_line.strip().rsplit(" ", 1)[1])[4:]
    (tmp_path / "sig").write_bytes(signature)
    raw_key = base64.b64decode(vkey.split("+", 2)[2])[1:]
    spki = bytes.fromhex("302a300506032b6570032100") + raw_key
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(spki).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )
    (tmp_path / "key.pem").write_text(pem)

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "openssl",
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                str(tmp_path / "key.pem"),
                "-rawin",
                "-in",
                str(tmp_path / "text"),
                "-sigfile",
                str(tmp_path / "sig"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    good = verify()
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout
    (tmp_path / "text").write_bytes((text_ + "\n").encode().replace(b"\n", b"\n ", 1))
    assert verify().returncode != 0
