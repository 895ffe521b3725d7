"""In-process measurements, run by ``run.py`` as a child process with GOVTRUST_HOME set
(so the figures are not disturbed by the harness's own state).

    python bench/_inproc.py populate --ca tls --entries 100000
    python bench/_inproc.py time --ca tls --reps 3 [--warmup 1]
    python bench/_inproc.py profile --ca tls --out PROFILE.txt
    python bench/_inproc.py issue-rate --ca tls --profile tls-server --csr F --seconds 3
    python bench/_inproc.py ocsp-rate --request DER --seconds 2
    python bench/_inproc.py ocsp-stored-rate --request DER --seconds 2
    python bench/_inproc.py crypto-floor --csr F

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from sqlalchemy import Table, func, insert, select

from govtrust.ca.crl import RevocationReason, encode_entry
from govtrust.ca.names import format_serial
from govtrust.ca.ocsp import CertStatus, Responder, sign_response
from govtrust.config import load_settings
from govtrust.crypto.keys import KeySpec
from govtrust.crypto.software import SoftwareSigner
from govtrust.services import Actor, Context, certificates
from govtrust.services.authorities import load_ca_row
from govtrust.services.revocation import OcspService, generate_crl
from govtrust.store.models import CertificateRow

ACTOR = Actor("bench:crl", "admin")


def _open() -> Context:
    return Context.open(load_settings(os.environ))


def populate(ctx: Context, ca: str, entries: int, batch: int = 10_000) -> dict[str, Any]:
    """Insert ``entries`` revoked certificates of ``ca`` (reason keyCompromise), with
    unique serials, dummy DER and their stored CRL entry, in bulk (executemany)."""
    t0 = time.perf_counter()
    with ctx.db.read() as session:
        ca_id = load_ca_row(session, ca).id
    now = ctx.clock.now()
    revoked_at = now - dt.timedelta(days=1)
    not_before = now - dt.timedelta(days=30)
    not_after = now + dt.timedelta(days=365)
    base = 1 << 150  # far from random_serial()'s range of 159-bit values ≥ 2^64: no clash
    table = CertificateRow.__table__
    assert isinstance(table, Table)
    done = 0
    while done < entries:
        rows = []
        for i in range(done, min(entries, done + batch)):
            serial = base + i * 7919
            der = b"bench-dummy-der-" + serial.to_bytes(20, "big")
            rows.append(
                {
                    "serial": format_serial(serial),
                    "ca_id": ca_id,
                    "profile": "device",
                    "subject": f"CN=revoked-{i}",
                    "sans": "[]",
                    "not_before": not_before,
                    "not_after": not_after,
                    "der": der,
                    "sha256": hashlib.sha256(der).hexdigest(),
                    "status": "revoked",
                    "revoked_at": revoked_at,
                    "revocation_reason": RevocationReason.key_compromise.label,
                    "crl_entry": encode_entry(
                        serial, revoked_at, RevocationReason.key_compromise, None
                    ),
                    "issued_by": ACTOR.name,
                    "created_at": now,
                }
            )
        with ctx.db.write() as session:
            session.execute(insert(table), rows)
        done += len(rows)
    with ctx.db.read() as session:
        revoked = session.scalar(
            select(func.count())
            .select_from(CertificateRow)
            .where(CertificateRow.ca_id == ca_id, CertificateRow.status == "revoked")
        )
    return {"inserted": entries, "revoked_total": revoked, "seconds": time.perf_counter() - t0}


def time_crl(ctx: Context, ca: str, reps: int, warmup: int = 0) -> dict[str, Any]:
    for _ in range(warmup):  # untimed: loads the CA key, compiles statements
        generate_crl(ctx, ca, ACTOR)
    times = []
    info = None
    for _ in range(reps):
        t0 = time.perf_counter()
        info = generate_crl(ctx, ca, ACTOR)
        times.append(time.perf_counter() - t0)
    assert info is not None
    return {
        "seconds": times,
        "entries": info.entries,
        "bytes": len(info.der),
        "number": info.number,
    }


def profile_crl(ctx: Context, ca: str, out: Path) -> dict[str, Any]:
    generate_crl(ctx, ca, ACTOR)  # warm: key loaded, statements compiled
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    generate_crl(ctx, ca, ACTOR)
    prof.disable()
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    out.write_text(buf.getvalue())
    return {"seconds": wall, "profile": str(out)}


def issue_rate(ctx: Context, ca: str, profile: str, csr: bytes, seconds: float) -> dict[str, Any]:
    """Sequential issue() calls in one thread, no HTTP: the per-certificate cost."""
    for _ in range(5):
        certificates.issue(ctx, ca, profile, certificates.parse_csr(csr), ACTOR).to_dict()
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        certificates.issue(ctx, ca, profile, certificates.parse_csr(csr), ACTOR).to_dict()
        n += 1
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"issued": n, "per_second": n / wall, "cpu_ms_each": 1000 * cpu / n}


def ocsp_rate(ctx: Context, request: bytes, seconds: float) -> dict[str, Any]:
    """OcspService.respond() on one thread, no HTTP: the per-answer cost of the service."""
    svc = OcspService(ctx)
    for _ in range(20):
        svc.respond(request)
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        svc.respond(request)
        n += 1
    wall = time.perf_counter() - t0
    return {
        "answers": n,
        "us_each": 1e6 * wall / n,
        "cpu_us_each": 1e6 * (time.process_time() - cpu0) / n,
    }


def ocsp_stored_rate(ctx: Context, request: bytes, seconds: float) -> dict[str, Any]:
    """OcspService.stored_answer() on one event loop, no HTTP: what the OCSP hot path
    costs per answer before HTTP (request parsing and the one DB-API read)."""
    import anyio

    svc = OcspService(ctx)
    svc.respond(request)  # loads the CA map, as the first request to a worker does

    async def loop() -> dict[str, Any]:
        assert await svc.stored_answer(request) is not None, "not answered from storage"
        n = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await svc.stored_answer(request)
            n += 1
        wall = time.perf_counter() - t0
        return {
            "answers": n,
            "us_each": 1e6 * wall / n,
            "cpu_us_each": 1e6 * (time.process_time() - cpu0) / n,
        }

    return anyio.run(loop)


def crypto_floor(csr_pem: bytes, n: int = 300) -> dict[str, Any]:
    """What the cryptography library alone costs per certificate on this machine: CSR
    parse + signature check, certificate build + ECDSA P-256 signature, and one OCSP
    answer (govtrust pre-signs two per certificate at issuance): through pyca's
    builder, through govtrust's encoder, and the bare ECDSA signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Bench CA")])
    now = dt.datetime.now(dt.UTC)
    resp_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )

    def parse() -> x509.CertificateSigningRequest:
        csr = x509.load_pem_x509_csr(csr_pem)
        assert csr.is_signature_valid
        csr.public_key()
        return csr

    csr = parse()

    def sign_cert() -> bytes:
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=198))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("bench.gov.aa")]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def sign_ocsp() -> bytes:
        builder = (
            x509_ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=b"\x01" * 20,
                issuer_key_hash=b"\x02" * 20,
                serial_number=12345,
                algorithm=hashes.SHA1(),  # noqa: S303 (CertID hash, RFC 5019)
                cert_status=x509_ocsp.OCSPCertStatus.GOOD,
                this_update=now,
                next_update=now + dt.timedelta(days=1),
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(x509_ocsp.OCSPResponderEncoding.HASH, resp_cert)
            .certificates([resp_cert])
        )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    signer = SoftwareSigner("bench", key, KeySpec.EC_P256)
    responder = Responder(resp_cert, signer)

    def answer() -> bytes:
        return sign_response(
            responder,
            hash_alg="sha1",
            issuer_name_hash=b"\x01" * 20,
            issuer_key_hash=b"\x02" * 20,
            serial=12345,
            status=CertStatus.good,
            this_update=now,
            next_update=now + dt.timedelta(days=1),
        )

    tbs = answer()[:300]

    def ecdsa() -> bytes:
        return key.sign(tbs, ec.ECDSA(hashes.SHA256()))

    out: dict[str, Any] = {}
    for label, fn in (
        ("csr_parse_verify", parse),
        ("cert_sign", sign_cert),
        ("ocsp_sign", sign_ocsp),  # pyca's OCSPResponseBuilder
        ("ocsp_answer", answer),  # govtrust.ca.ocsp.sign_response (hand-encoded)
        ("ecdsa_sign", ecdsa),  # the signature alone
    ):
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out[f"{label}_us"] = 1e6 * (time.perf_counter() - t0) / n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("populate")
    p.add_argument("--ca", default="tls")
    p.add_argument("--entries", type=int, required=True)
    t = sub.add_parser("time")
    t.add_argument("--ca", default="tls")
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--warmup", type=int, default=0)
    pr = sub.add_parser("profile")
    pr.add_argument("--ca", default="tls")
    pr.add_argument("--out", type=Path, required=True)
    ir = sub.add_parser("issue-rate")
    ir.add_argument("--ca", default="tls")
    ir.add_argument("--profile", default="tls-server")
    ir.add_argument("--csr", type=Path, required=True)
    ir.add_argument("--seconds", type=float, default=3.0)
    orate = sub.add_parser("ocsp-rate")
    orate.add_argument("--request", type=Path, required=True)
    orate.add_argument("--seconds", type=float, default=2.0)
    srate = sub.add_parser("ocsp-stored-rate")
    srate.add_argument("--request", type=Path, required=True)
    srate.add_argument("--seconds", type=float, default=2.0)
    cf = sub.add_parser("crypto-floor")
    cf.add_argument("--csr", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "crypto-floor":
        sys.stdout.write(json.dumps(crypto_floor(args.csr.read_bytes())) + "\n")
        return 0
    ctx = _open()
    try:
        if args.cmd == "populate":
            result = populate(ctx, args.ca, args.entries)
        elif args.cmd == "time":
            result = time_crl(ctx, args.ca, args.reps, args.warmup)
        elif args.cmd == "profile":
            result = profile_crl(ctx, args.ca, args.out)
        elif args.cmd == "ocsp-rate":
            result = ocsp_rate(ctx, args.request.read_bytes(), args.seconds)
        elif args.cmd == "ocsp-stored-rate":
            result = ocsp_stored_rate(ctx, args.request.read_bytes(), args.seconds)
        else:
            result = issue_rate(ctx, args.ca, args.profile, args.csr.read_bytes(), args.seconds)
    finally:
        ctx.close()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
