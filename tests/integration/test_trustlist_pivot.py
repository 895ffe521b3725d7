"""Changing the signing key of our list of lists by the pivot mechanism (TS 119 612
§5.3.13, the EU's "pivot LOTL" practice), over real HTTP.

- ``rotate-lotl-signer`` issues a new trusted-list signer certificate, publishes a pivot
  LOTL signed with the OLD key whose pointer to the LOTL itself names the NEW
  certificate (served at ``/lotl-pivot-<n>.xml`` with caching headers), then the next
  LOTL signed with the NEW key whose SchemeInformationURI lists the pivots, newest
  first; every publication is audited; the national list's signer does not change;
- ``xmlsec1 --verify`` (independent) verifies the pivot with the old certificate and the
  new LOTL with the new one, and neither with the other;
- an importer that pinned the OLD certificate accepts the new LOTL by walking the
  pivots (one rotation, and two), an importer that pinned the NEW one accepts it
  directly, one that pinned an unrelated certificate is refused with a clear reason,
  its previous good list staying in force; a pivot that does not verify in the middle
  of the walk is refused.

The instance publishes with its public URL set to the live server's URL (a second
Context on the same database), so the pivot URLs it writes are fetched over loopback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from typer.testing import CliRunner

from govtrust.cli.main import app
from govtrust.config import load_settings
from govtrust.errors import TrustListRefused
from govtrust.services import Actor, Context, audit, trustlists
from govtrust.store.trustlist_models import TrustListImportRow, TrustListSourceRow
from govtrust.trustlist import pivot_urls, read_list, self_pointer
from tests.conftest import Demo, serve

ADMIN = Actor("test:trustlist-pivot", "admin")


@dataclass
class Region:
    """The regional body: its base URL (a real server) and a Context that publishes
    with that URL as its public base URL."""

    url: str
    ctx: Context
    env: dict[str, str]


@pytest.fixture
def region(demo: Demo, ctx: Context) -> Iterator[Region]:
    with serve(ctx) as url:
        env = {**demo.env, "GOVTRUST_PUBLIC_URL": url}
        pub = Context.open(load_settings(env))
        try:
            trustlists.publish(pub, ADMIN)
            trustlists.add_pointer(
                pub,
                "AA",
                f"{url}/trustlist.xml",
                [trustlists.signer_certificate(pub)],
                ADMIN,
                operator_name="AA Trust Services Supervisory Body",
            )
            yield Region(url, pub, env)
        finally:
            pub.close()


def _self_signed() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not the LOTL signer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def _signer_sha256(ctx: Context, source: str) -> str:
    with ctx.db.read() as session:
        src = session.scalars(
            select(TrustListSourceRow).where(TrustListSourceRow.name == source)
        ).one()
        row = session.get(TrustListImportRow, src.current_import_id)
        assert row is not None
        return row.signer_sha256


def _sha(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _xmlsec1_ok(tmp_path: Path, xml: bytes, cert: x509.Certificate) -> bool:
    """``xmlsec1 --verify`` of ``xml`` with exactly ``cert``'s public key: the X.509
    data in KeyInfo is not used (``--enabled-key-data key-name``), so no chain is built;
    both signer certificates come from the same CA, and trusting the CA would accept
    either."""
    doc = tmp_path / f"doc-{hashlib.sha256(xml).hexdigest()[:8]}.xml"
    doc.write_bytes(xml)
    args = [
        "xmlsec1",
        "--verify",
        "--id-attr:Id",
        "TrustServiceStatusList",
        "--id-attr:Id",
        "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        "--enabled-key-data",
        "key-name",
        "--pubkey-cert-pem",
        str(_pem(tmp_path / f"signer-{_sha(cert)[:8]}.pem", cert)),
    ]
    done = subprocess.run([*args, str(doc)], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "References (ok/all): 3/3" in done.stdout + done.stderr


def test_rotation_publishes_a_pivot_that_old_pins_follow(
    region: Region, demo: Demo, tmp_path: Path
) -> None:
    ctx, url = region.ctx, region.url
    auth = {"Authorization": f"Bearer {demo.admin_token}"}
    # Nothing published with the current key yet: no pivot to make.
    r = httpx.post(f"{url}/api/v1/trustlists/rotate-lotl-signer", json={}, headers=auth)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = httpx.post(f"{url}/api/v1/trustlists/rotate-lotl-signer", json={})
    assert r.status_code == 401

    key1 = trustlists.lotl_signer_certificate(ctx)
    assert key1 == trustlists.signer_certificate(ctx)  # before any rotation
    first = trustlists.publish_lotl(ctx, ADMIN)
    assert first.sequence == 1
    assert pivot_urls(read_list(first.xml, [key1], source="t").trusted_list) == []
    out = trustlists.import_list(
        ctx, ADMIN, pinned=[key1], url=f"{url}/lotl.xml", lotl=True, name="REGION"
    )
    assert out["sequenceNumber"] == 1

    # Rotate through the API (the protected route runs on the server's Context, whose
    # public URL is not the loopback one: the URLs below come from ``region.ctx``).
    rotation = trustlists.rotate_lotl_signer(ctx, ADMIN)
    key2 = trustlists.lotl_signer_certificate(ctx)
    assert key2 != key1
    assert trustlists.signer_certificate(ctx) == key1  # the national list keeps its key
    assert (rotation.pivot.sequence, rotation.lotl.sequence) == (2, 3)
    assert rotation.pivot_url == f"{url}/lotl-pivot-2.xml"
    assert rotation.new_signer == format(key2.serial_number, "x")

    # The pivot: signed with the OLD key, its pointer to the LOTL names the NEW one.
    pivot = read_list(rotation.pivot.xml, [key1], source="pivot", lotl=True)
    announced = self_pointer(pivot.trusted_list)
    assert announced is not None and list(announced.certificates) == [key2]
    assert pivot_urls(pivot.trusted_list) == [rotation.pivot_url]
    with pytest.raises(TrustListRefused) as info:
        read_list(rotation.pivot.xml, [key2], source="pivot", lotl=True)
    assert info.value.reason == "signature"
    # The new LOTL: signed with the NEW key, names itself with it, lists the pivot.
    lotl = read_list(rotation.lotl.xml, [key2], source="lotl", lotl=True)
    me = self_pointer(lotl.trusted_list)
    assert me is not None and list(me.certificates) == [key2]
    assert pivot_urls(lotl.trusted_list) == [rotation.pivot_url]
    with pytest.raises(TrustListRefused):
        read_list(rotation.lotl.xml, [key1], source="lotl", lotl=True)
    if shutil.which("xmlsec1") is not None:
        assert _xmlsec1_ok(tmp_path, rotation.pivot.xml, key1)
        assert not _xmlsec1_ok(tmp_path, rotation.pivot.xml, key2)
        assert _xmlsec1_ok(tmp_path, rotation.lotl.xml, key2)
        assert not _xmlsec1_ok(tmp_path, rotation.lotl.xml, key1)

    # Served: the pivot at its stable URL with caching headers, the LOTL at /lotl.xml.
    r = httpx.get(rotation.pivot_url)
    assert r.status_code == 200 and r.content == rotation.pivot.xml
    assert r.headers["content-type"] == "application/vnd.etsi.tsl+xml"
    assert "max-age=" in r.headers["cache-control"] and r.headers["expires"].endswith("GMT")
    again = httpx.get(rotation.pivot_url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(f"{url}/lotl.xml").content == rotation.lotl.xml
    for missing in ("lotl-pivot-3.xml", "lotl-pivot-1.xml", "lotl-pivot-x.xml"):
        r = httpx.get(f"{url}/{missing}")
        assert r.status_code == 404, missing
        assert r.headers["content-type"].startswith("application/problem+json")

    # Audited: the pivot names the certificate it announces and the one that signed it.
    (pivot_event,) = [e for _, e in audit.list_events(ctx, action="trustlist.publish-pivot")]
    assert pivot_event.object_id == "AA#2"
    assert pivot_event.details["announces"] == rotation.new_signer
    assert pivot_event.details["signer"] == rotation.old_signer
    lotl_events = audit.list_events(ctx, action="trustlist.publish-lotl")
    assert [e.object_id for _, e in lotl_events] == ["AA#3", "AA#1"]
    assert lotl_events[0][1].details["signer"] == rotation.new_signer
    assert lotl_events[0][1].details["pivots"] == 1

    # The importer that pinned key 1 refreshes: it walks the pivot to key 2.
    refreshed = {r["name"]: r for r in trustlists.refresh(ctx, ADMIN, force=True)}
    assert refreshed["REGION"] == {"name": "REGION", "ok": True, "sequenceNumber": 3}
    assert _signer_sha256(ctx, "REGION") == _sha(key2)
    # One that joined after the rotation (pinned key 2) needs no walk.
    out = trustlists.import_list(
        ctx, ADMIN, pinned=[key2], url=f"{url}/lotl.xml", lotl=True, name="REGION-NEW"
    )
    assert out["sequenceNumber"] == 3 and all(m["ok"] for m in out["members"])
    # An unrelated certificate is refused, and the good list stays in force.
    with pytest.raises(TrustListRefused) as info:
        trustlists.import_list(
            ctx, ADMIN, pinned=[_self_signed()], url=f"{url}/lotl.xml", lotl=True, name="REGION"
        )
    assert info.value.reason == "signature"
    assert "not signed by the pinned certificates" in info.value.message
    assert "none of its 1 pivot" in info.value.message
    entry = next(e for e in trustlists.status(ctx) if e["name"] == "REGION")
    assert entry["sequenceNumber"] == 3 and entry["verified"]
    assert entry["lastErrorReason"] == "signature" and entry["failures"] == 1
    assert _signer_sha256(ctx, "REGION") == _sha(key2)
    published = trustlists.published_status(ctx)
    assert published["pivots"] == 1 and published["lotlSigner"] == rotation.new_signer


def test_two_rotations_from_the_cli_and_an_import_pinned_to_the_first_key(
    region: Region, tmp_path: Path
) -> None:
    runner = CliRunner()
    url = region.url

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, ["trustlist", *args], env=region.env)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr)
            return " ".join(result.stdout.split())  # the console wraps long lines
        assert result.exit_code == 1, (result.stdout, result.stderr)
        return " ".join(result.stderr.split())

    key1 = tmp_path / "key1.pem"
    run("signer-cert", "--lotl", "--out", str(key1))
    assert "#1 published" in run("publish-lotl")
    assert "sequence 1" in run("import", f"{url}/lotl.xml", "--lotl", "--signer-cert", str(key1))

    files = {n: tmp_path / n for n in ("p2.xml", "l3.xml", "k2.pem", "p4.xml", "l5.xml", "k3.pem")}
    text = run(
        "rotate-lotl-signer",
        "--pivot-out",
        str(files["p2.xml"]),
        "--out",
        str(files["l3.xml"]),
        "--cert-out",
        str(files["k2.pem"]),
    )
    assert f"pivot #2 published at {url}/lotl-pivot-2.xml" in text
    assert "list of lists #3" in text
    run(
        "rotate-lotl-signer",
        "--pivot-out",
        str(files["p4.xml"]),
        "--out",
        str(files["l5.xml"]),
        "--cert-out",
        str(files["k3.pem"]),
    )
    k1, k2, k3 = (
        x509.load_pem_x509_certificate(path.read_bytes())
        for path in (key1, files["k2.pem"], files["k3.pem"])
    )
    assert len({_sha(k) for k in (k1, k2, k3)}) == 3
    pivot4 = files["p4.xml"].read_bytes()
    lotl5 = files["l5.xml"].read_bytes()
    announced = self_pointer(read_list(pivot4, [k2], source="p4", lotl=True).trusted_list)
    assert announced is not None and list(announced.certificates) == [k3]
    assert pivot_urls(read_list(lotl5, [k3], source="l5", lotl=True).trusted_list) == [
        f"{url}/lotl-pivot-4.xml",
        f"{url}/lotl-pivot-2.xml",
    ]
    assert httpx.get(f"{url}/lotl-pivot-4.xml").content == pivot4
    assert httpx.get(f"{url}/lotl-pivot-2.xml").content == files["p2.xml"].read_bytes()
    if shutil.which("xmlsec1") is not None:
        assert _xmlsec1_ok(tmp_path, pivot4, k2)
        assert not _xmlsec1_ok(tmp_path, pivot4, k3)
        assert _xmlsec1_ok(tmp_path, lotl5, k3)
        assert not _xmlsec1_ok(tmp_path, lotl5, k1)

    # Pinned to key 1: two pivots walked, oldest first (2 with key 1, 4 with key 2).
    text = run("import", f"{url}/lotl.xml", "--lotl", "--signer-cert", str(key1), "--json")
    assert '"sequenceNumber": 5' in text
    assert _signer_sha256(region.ctx, "AA-LOTL") == _sha(k3)
    # Pinned to key 2 (taken after the first rotation): pivot 2 is history, 4 is walked.
    assert "sequence 5" in run(
        "import",
        f"{url}/lotl.xml",
        "--lotl",
        "--signer-cert",
        str(files["k2.pem"]),
        "--name",
        "FROM-K2",
    )
    # Pinned to nothing valid: refused, the list in force stays.
    other = _pem(tmp_path / "other.pem", _self_signed())
    err = run("import", f"{url}/lotl.xml", "--lotl", "--signer-cert", str(other), ok=False)
    assert err.startswith("error: ") and "none of its 2 pivot" in err
    assert '"sequenceNumber": 5' in run("status", "--json")
    entry = next(e for e in trustlists.status(region.ctx) if e["name"] == "AA-LOTL")
    assert entry["sequenceNumber"] == 5 and entry["lastErrorReason"] == "signature"

    # Once the walk has started, a pivot that does not verify is refused (file import).
    tampered = pivot4.replace(b"Supervisory", b"Supervisery", 1)
    with pytest.raises(TrustListRefused) as info:
        trustlists.import_list(
            region.ctx,
            ADMIN,
            pinned=[k1],
            data=lotl5,
            lotl=True,
            pivots=[files["p2.xml"].read_bytes(), tampered],
            name="AA-LOTL",
            follow_pointers=False,
        )
    assert info.value.reason == "signature" and "pivot 4" in info.value.message
    # The same files, untampered, are accepted.
    out = trustlists.import_list(
        region.ctx,
        ADMIN,
        pinned=[k1],
        data=lotl5,
        lotl=True,
        pivots=[pivot4, files["p2.xml"].read_bytes()],
        name="AA-LOTL",
        follow_pointers=False,
    )
    assert out["sequenceNumber"] == 5
