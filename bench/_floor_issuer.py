"""The least a Python server can do for cfssl's ``POST /api/v1/cfssl/sign``: the issuance
benchmark's floor, measured beside cfssl in the same rounds (bench/README.md).

    FLOOR_CA_DIR=DIR python -m uvicorn --app-dir bench _floor_issuer:app --workers 2

It does what cfssl serve does for the benchmark's request and nothing more: read the
JSON body, load the PEM CSR and check its signature, sign a certificate with
pyca/cryptography carrying the extensions of cfssl's signing profile, answer JSON with
the PEM. It is served by uvicorn as ``govtrust serve`` is (same loop and HTTP parser,
no access log), as a bare ASGI callable without routing or validation. It stores
nothing, keeps no audit record, applies no profile pipeline and pre-signs no OCSP
answer; govtrust does all four for every certificate. Whatever this floor reaches
against cfssl bounds what any Python issuer on pyca/cryptography can reach here.

``DIR`` is the benchmark's cfssl CA directory (``ca.pem``, the unencrypted
``ca-key.pem``, ``config.json``), so that both sign with the same P-256 key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

_DIR = Path(os.environ["FLOOR_CA_DIR"])
_CA = x509.load_pem_x509_certificate((_DIR / "ca.pem").read_bytes())
_KEY = serialization.load_pem_private_key((_DIR / "ca-key.pem").read_bytes(), None)
assert isinstance(_KEY, ec.EllipticCurvePrivateKey)
_PROFILE = json.loads((_DIR / "config.json").read_text())["signing"]["default"]
_LIFETIME = dt.timedelta(hours=int(_PROFILE["expiry"].rstrip("h")))


def _uri(url: str) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(url)


# cfssl's profile: digital signature, server auth, AIA (OCSP, issuer), CRL DP; cfssl
# also adds the SKI, the AKI and basicConstraints CA:FALSE.
_EXTENSIONS: list[tuple[x509.ExtensionType, bool]] = [
    (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    (x509.BasicConstraints(ca=False, path_length=None), True),
    (x509.AuthorityKeyIdentifier.from_issuer_public_key(_KEY.public_key()), False),
    (
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP, _uri(url))
                for url in [_PROFILE["ocsp_url"]]
            ]
            + [
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, _uri(url))
                for url in _PROFILE["issuer_urls"]
            ]
        ),
        False,
    ),
    (
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([_uri(_PROFILE["crl_url"])], None, None, None)]
        ),
        False,
    ),
]


def sign(body: bytes) -> tuple[int, bytes]:
    """cfssl's answer to a sign request: (HTTP status, JSON)."""
    try:
        csr = x509.load_pem_x509_csr(json.loads(body)["certificate_request"].encode())
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        public = csr.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        error = {"code": 1000, "message": str(exc)}
        return 400, json.dumps({"success": False, "errors": [error]}).encode()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(_CA.subject)
        .public_key(public)
        .serial_number(int.from_bytes(secrets.token_bytes(20), "big") >> 1)
        .not_valid_before(now)
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
    )
    for extension, critical in _EXTENSIONS:
        builder = builder.add_extension(extension, critical)
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        builder = builder.add_extension(san.value, False)
    except x509.ExtensionNotFound:
        pass
    pem = builder.sign(_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    answer = {"success": True, "result": {"certificate": pem.decode()}, "errors": []}
    return 200, json.dumps(answer).encode()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    status, out = sign(b"".join(chunks))
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})
