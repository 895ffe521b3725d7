"""``openssl cms -verify`` accepts the CMS govtrust encodes by hand (signing/_cms_out.py)
for every key type it signs with (Ed25519 skipped, see below), CAdES and PAdES attribute
sets, and rejects it for a
changed byte of the content. The field-by-field comparison with pyHanko's signer is in
tests/unit/signing/test_cms_out.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from govtrust.crypto.keys import KeySpec
from tests.integration.test_sign_support import run_tool
from tests.unit.signing.conftest import make_pki
from tests.unit.signing.test_cms_out import DATA, SPECS, _identity, _ours

pytestmark = pytest.mark.openssl


def _verify(tmp_path: Path, sig: bytes, content: bytes, ca_file: Path) -> str:
    (tmp_path / "sig.p7s").write_bytes(sig)
    (tmp_path / "data.bin").write_bytes(content)
    result = run_tool(
        "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s",
        "-content", "data.bin", "-CAfile", str(ca_file), "-purpose", "any",
        "-attime", "1772366400", "-out", "/dev/null",
        cwd=tmp_path,
    )  # fmt: skip
    return result.stdout + result.stderr


_OPENSSL_ED25519 = (
    "openssl cms cannot verify Ed25519 SignerInfos with signed attributes "
    "(eddsa_digest_signverify_init: invalid digest; openssl/openssl#32248, open): "
    "pyHanko's validator checks ours, byte-identical to pyHanko's own, in the unit test"
)


@pytest.mark.parametrize("pades", [False, True], ids=["cades", "pades"])
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(s, marks=pytest.mark.skip(reason=_OPENSSL_ED25519))
        if s is KeySpec.ED25519
        else s
        for s in SPECS
    ],
    ids=[s.value for s in SPECS],
)
def test_openssl_verifies_ours(tmp_path: Path, spec: KeySpec, pades: bool) -> None:
    pki = make_pki()
    identity = _identity(pki, spec)
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    sig = _ours(identity, pki, pades, timestamped=True)
    assert "Verification successful" in _verify(tmp_path, sig, DATA, ca_file)
    changed = bytearray(DATA)
    changed[7] ^= 0x01
    report = _verify(tmp_path, sig, bytes(changed), ca_file)
    assert "Verification successful" not in report and "verification failure" in report, report
