"""Publishing and importing trusted lists on a demo instance (ETSI TS 119 612).

- the published list validates against the TS 119 612 V2.4.1 XSD and verifies with
  ``xmlsec1 --verify`` (an independent XML-DSig implementation) against the signer
  certificate, and not against another one;
- sequence numbers increase on every publication, the history is kept, and each
  publication is in the audit trail (and so reaches the ledger);
- ``GET /trustlist.xml`` carries ETag, Last-Modified, Expires and Cache-Control up to
  NextUpdate, and answers 304 to a matching If-None-Match;
- a refused import (bad signature, wrong key, broken XML, rollback, download failure)
  leaves the list in force and is visible in the status;
- the CLI commands, and the trusted-list signer certificate's profile (§5.7.1).
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from govtrust.cli.main import app
from govtrust.clock import FixedClock
from govtrust.errors import ConfigError, Conflict, TrustListRefused
from govtrust.services import Actor, Context, audit, authorities, trustlists
from govtrust.services.truststore import trust_store
from govtrust.trustlist import read_list, schema_errors
from govtrust.trustlist._xml import parse_hardened
from tests.conftest import Demo, LiveServer

ADMIN = Actor("test:trustlist", "admin")
TSL_SIGNING = x509.ObjectIdentifier("0.4.0.2231.3.0")


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def _self_signed() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone Else")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_signer_certificate_follows_ts_119_612_5_7_1(ctx: Context) -> None:
    cert = trustlists.signer_certificate(ctx)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [TSL_SIGNING]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "AA"
    assert (
        cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        == "AA Trust Services Supervisory Body"
    )
    assert ExtendedKeyUsageOID.CODE_SIGNING not in list(eku)


def test_published_list_is_schema_valid_and_verifies_with_xmlsec1(
    ctx: Context, tmp_path: Path
) -> None:
    pub = trustlists.publish(ctx, ADMIN)
    assert schema_errors(parse_hardened(pub.xml)) == []
    signer = trustlists.signer_certificate(ctx)
    read = read_list(pub.xml, [signer], source="AA")
    assert read.trusted_list.scheme.version == 6
    assert read.trusted_list.service_count == 4  # root, people and tls CAs; the TSA
    xml = tmp_path / "aa.xml"
    xml.write_bytes(pub.xml)
    if shutil.which("xmlsec1") is None:
        pytest.skip("xmlsec1 is not installed")
    chain = [
        x509.load_der_x509_certificate(authorities.get_ca(ctx, n).cert_der)
        for n in ("people", "root")
    ]
    args = [
        "xmlsec1",
        "--verify",
        "--id-attr:Id",
        "TrustServiceStatusList",
        "--id-attr:Id",
        "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
    ]
    good = [*args, "--trusted-pem", str(_pem(tmp_path / "signer.pem", signer))]
    for i, cert in enumerate(chain):
        good += ["--trusted-pem", str(_pem(tmp_path / f"ca{i}.pem", cert))]
    done = subprocess.run([*good, str(xml)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout + done.stderr
    other = [*args, "--trusted-pem", str(_pem(tmp_path / "other.pem", _self_signed()))]
    done = subprocess.run([*other, str(xml)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(pub.xml.replace(b"granted", b"withdrawn", 1))
    done = subprocess.run([*good, str(tampered)], capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_sequence_numbers_increase_and_history_is_audited(ctx: Context) -> None:
    first = trustlists.publish(ctx, ADMIN)
    second = trustlists.publish(ctx, ADMIN)
    assert (first.sequence, second.sequence) == (1, 2)
    latest = trustlists.latest_publication(ctx)
    assert latest is not None and latest.sha256 == second.sha256
    events = audit.list_events(ctx, action="trustlist.publish")
    assert [e.object_id for _, e in events] == ["AA#2", "AA#1"]


def test_withdraw_moves_the_status_to_the_history(ctx: Context) -> None:
    people = authorities.get_ca(ctx, "people").subject
    trustlists.set_status(
        ctx,
        "Government of AA",
        people,
        "withdrawn",
        ADMIN,
        starting_time=ctx.clock.now() + dt.timedelta(seconds=5),
    )
    pub = trustlists.publish(ctx, ADMIN)
    tl = read_list(pub.xml, [trustlists.signer_certificate(ctx)], source="AA").trusted_list
    service = next(s for p in tl.providers for s in p.services if s.name == people)
    assert service.status.status.endswith("/withdrawn")
    assert [h.status.rsplit("/", 1)[-1] for h in service.history] == ["granted"]
    assert service.status_at(ctx.clock.now()) == service.history[0]


def test_status_changes_within_one_second_follow_each_other(ctx: Context) -> None:
    """Starting times have one-second precision (TS 119 612 §5.6): a change made in the
    second of its predecessor starts one second later; an explicit time that does not
    follow the current status is refused and stores nothing."""
    people = authorities.get_ca(ctx, "people").subject
    ctx.clock = FixedClock(ctx.clock.now())
    trustlists.set_status(ctx, "Government of AA", people, "withdrawn", ADMIN)
    trustlists.set_status(ctx, "Government of AA", people, "granted", ADMIN)
    with pytest.raises(Conflict):
        trustlists.set_status(
            ctx, "Government of AA", people, "withdrawn", ADMIN, starting_time=ctx.clock.now()
        )
    pub = trustlists.publish(ctx, ADMIN)
    tl = read_list(pub.xml, [trustlists.signer_certificate(ctx)], source="AA").trusted_list
    service = next(s for p in tl.providers for s in p.services if s.name == people)
    periods = [service.status, *service.history]
    assert [p.status.rsplit("/", 1)[-1] for p in periods] == ["granted", "withdrawn", "granted"]
    starts = [p.start for p in periods]
    assert starts == sorted(starts, reverse=True) and len(set(starts)) == 3


def test_public_list_has_caching_headers(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/trustlist.xml")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    pub = trustlists.publish(live_server.ctx, ADMIN)
    r = httpx.get(f"{live_server.url}/trustlist.xml")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.etsi.tsl+xml"
    assert r.content == pub.xml
    max_age = int(r.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= (pub.next_update - pub.issued).total_seconds()
    assert r.headers["last-modified"].endswith("GMT") and r.headers["expires"].endswith("GMT")
    again = httpx.get(
        f"{live_server.url}/trustlist.xml", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_failed_imports_leave_the_list_in_force(live_server: LiveServer) -> None:
    ctx = live_server.ctx
    signer = trustlists.signer_certificate(ctx)
    first = trustlists.publish(ctx, ADMIN)
    second = trustlists.publish(ctx, ADMIN)
    out = trustlists.import_list(ctx, ADMIN, pinned=[signer], data=second.xml, name="AA")
    assert out["sequenceNumber"] == 2
    refused = [
        (first.xml, "content"),  # rollback to an older sequence number
        (second.xml.replace(b"Supervisory", b"Supervisery", 1), "signature"),
        (second.xml[:500], "xml"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "xml"),
    ]
    for data, reason in refused:
        with pytest.raises(TrustListRefused) as info:
            trustlists.import_list(ctx, ADMIN, pinned=[signer], data=data, name="AA")
        assert info.value.reason == reason
    with pytest.raises(TrustListRefused) as info:
        trustlists.import_list(ctx, ADMIN, pinned=[_self_signed()], data=second.xml, name="AA")
    assert info.value.reason == "signature"
    with pytest.raises(TrustListRefused) as info:
        trustlists.import_list(
            ctx, ADMIN, pinned=[signer], url=f"{live_server.url}/missing.xml", name="AA"
        )
    assert info.value.reason == "download"
    (entry,) = trustlists.status(ctx)
    assert entry["sequenceNumber"] == 2 and entry["verified"]
    assert entry["failures"] == 6 and entry["lastErrorReason"] == "download"
    assert "HTTP 404" in entry["lastError"]
    # The list in force still drives the trust store.
    store = trust_store(ctx)
    listed = sorted(
        c.subject.rfc4514_string() for c in store.anchors if store.source_of(c) == "trusted-list:AA"
    )
    # The root is already an "instance" anchor; the TSA certificate is no CA: not an anchor.
    assert listed == [
        "CN=AA Government People and Organisations CA,O=Government of AA,C=AA",
        "CN=AA Government TLS and Devices CA,O=Government of AA,C=AA",
    ]
    assert len(store.annotators) == 1
    # A URL import that works replaces it, and is followed for refresh.
    trustlists.publish(ctx, ADMIN)
    out = trustlists.import_list(
        ctx, ADMIN, pinned=[signer], url=f"{live_server.url}/trustlist.xml", name="AA"
    )
    assert out["sequenceNumber"] == 3
    assert trustlists.refresh(ctx, ADMIN, force=True) == [
        {"name": "AA", "ok": True, "sequenceNumber": 3}
    ]


def test_api_import_refusal_is_problem_json(live_server: LiveServer, demo: Demo) -> None:
    signer = trustlists.signer_certificate(live_server.ctx).public_bytes(Encoding.PEM).decode()
    r = httpx.post(
        f"{live_server.url}/api/v1/trustlists/imports",
        json={"xml_base64": base64.b64encode(b"<x/>").decode(), "signer_pem": signer},
        headers={"Authorization": f"Bearer {demo.admin_token}"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:govtrust:problem:trustlist-refused"


def test_recognition_policy_is_strict(demo: Demo) -> None:
    with (demo.home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write('\n[trustlist]\nrecognised_territories = ["BB"]\nunknown_key = 1\n')
    ctx = demo.open()
    try:
        with pytest.raises(ConfigError, match="unknown_key"):
            trustlists.settings(ctx)
    finally:
        ctx.close()


def test_recognition_policy_filters_territories(ctx: Context, demo: Demo) -> None:
    pub = trustlists.publish(ctx, ADMIN)
    trustlists.import_list(ctx, ADMIN, pinned=[trustlists.signer_certificate(ctx)], data=pub.xml)
    assert len(trustlists.listed_services(ctx)) == 4
    with (demo.home / "govtrust.toml").open("a", encoding="utf-8") as f:
        f.write('\n[trustlist]\nrecognised_territories = ["BB"]\n')
    other = demo.open()
    try:
        assert trustlists.listed_services(other) == []
    finally:
        other.close()


def test_cli_publish_import_status(demo: Demo, tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["trustlist", *args], env=demo.env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    out_file = tmp_path / "aa.xml"
    assert "#1 published" in run("publish", "--out", str(out_file))
    signer = tmp_path / "signer.pem"
    run("signer-cert", "--out", str(signer))
    assert "4 services" in run("import", str(out_file), "--signer-cert", str(signer))
    assert "AA: #1 fresh" in run("status")
    run(
        "service",
        "withdraw",
        "Government of AA",
        "CN=AA Government TLS and Devices CA,O=Government of AA,C=AA",
    )
    assert "#2 published" in run("publish")
    result = runner.invoke(
        app, ["trustlist", "import", str(out_file), "--signer-cert", str(out_file)], env=demo.env
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
