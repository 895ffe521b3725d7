"""The requester's side of RFC 3161: make a TimeStampReq, check the TimeStampResp.

``check_reply`` does what RFC 3161 §2.4.2 asks of a requester before using a token:
the status is granted, the token is a SignedData over a TSTInfo whose imprint is the
one requested, the nonce (if one was sent) comes back, the policy (if one was asked
for) is the one used, and with ``certReq`` the TSA certificate named by the
signing-certificate(-v2) attribute is in the token. It also checks the token's
signature with that certificate (RFC 5652 §5.4, §5.6), so a corrupt token is never
written to disk.

It does not decide whether the TSA is *trusted* (path validation, revocation, policy):
that is the validation engine's job (EN 319 102-1 §5.4).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asn1crypto import core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from govtrust.errors import TimestampMismatch, TimestampRejected
from govtrust.tsa.asn1 import TimeStampResp
from govtrust.tsa.request import HASHES, FailInfo, TimestampQuery

__all__ = ["TimestampReply", "build_imprint_query", "build_query", "check_reply"]

_NONCE_BITS = 64


def build_query(
    data: bytes,
    hash_name: str = "sha256",
    *,
    cert_req: bool = True,
    nonce: int | bool | None = True,
    policy: str | None = None,
) -> tuple[bytes, TimestampQuery]:
    """A DER TimeStampReq for ``data``. ``nonce=True`` draws a random 64-bit nonce
    (RFC 3161 §2.4.1), ``False``/``None`` sends none, an int sends that one."""
    if hash_name not in HASHES:
        raise ValueError(f"hash must be one of {', '.join(HASHES)}")
    return build_imprint_query(
        hashlib.new(hash_name, data).digest(),
        hash_name,
        cert_req=cert_req,
        nonce=nonce,
        policy=policy,
    )


def build_imprint_query(
    imprint: bytes,
    hash_name: str = "sha256",
    *,
    cert_req: bool = True,
    nonce: int | bool | None = True,
    policy: str | None = None,
) -> tuple[bytes, TimestampQuery]:
    """:func:`build_query` for data known by its hash: ``imprint`` is the
    ``hashedMessage`` (RFC 3161 §2.4.1), ``hash_name`` its algorithm."""
    if hash_name not in HASHES:
        raise ValueError(f"hash must be one of {', '.join(HASHES)}")
    if len(imprint) != HASHES[hash_name][1]:
        raise ValueError(f"a {hash_name} imprint is {HASHES[hash_name][1]} bytes")
    if nonce is True:
        value: int | None = secrets.randbits(_NONCE_BITS)
    elif nonce is False or nonce is None:
        value = None
    else:
        value = nonce
    query = TimestampQuery(hash_name, imprint, value, cert_req, policy)
    request: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_name}, "hashed_message": imprint},
        "cert_req": cert_req,
    }
    if value is not None:
        request["nonce"] = value
    if policy is not None:
        request["req_policy"] = policy
    return bytes(tsp.TimeStampReq(request).dump()), query


@dataclass(frozen=True)
class TimestampReply:
    """A checked reply: the token and what its TSTInfo says."""

    response: bytes
    token: bytes
    serial: int
    gen_time: dt.datetime
    policy: str
    nonce: int | None
    accuracy: dict[str, int] | None
    tsa_certificate: x509.Certificate | None


def _malformed() -> TimestampMismatch:
    return TimestampMismatch("response", "the reply is not a DER TimeStampResp")


def _status(response: Any) -> None:
    status = response["status"]
    if status["status"].native in ("granted", "granted_with_mods"):
        return
    bits = sorted(status["fail_info"].native or ())
    names = [FailInfo.from_asn1_name(b).value for b in bits if b in _KNOWN_BITS]
    text = "; ".join(status["status_string"].native or ()) or "no reason given"
    raise TimestampRejected(
        ",".join(names) or "unspecified",
        f"the TSA refused ({status['status'].native}, {','.join(names) or 'no failInfo'}): {text}",
    )


_KNOWN_BITS = {f.asn1_name for f in FailInfo}


def _signed_data(response: Any) -> Any:
    token = response["time_stamp_token"]
    if isinstance(token, core.Void) or token["content_type"].native != "signed_data":
        raise TimestampMismatch("timeStampToken", "the granted reply carries no SignedData")
    signed = token["content"]
    if signed["encap_content_info"]["content_type"].native != "tst_info":
        raise TimestampMismatch("eContentType", "the token does not hold a TSTInfo")
    if len(signed["signer_infos"]) != 1:
        raise TimestampMismatch("signerInfos", "a timestamp token has exactly one SignerInfo")
    return signed


def _compare(tst: Any, query: TimestampQuery) -> None:
    imprint = tst["message_imprint"]
    if (
        imprint["hash_algorithm"]["algorithm"].native != query.hash_name
        or imprint["hashed_message"].native != query.imprint
    ):
        raise TimestampMismatch("messageImprint", "the token stamps another message imprint")
    nonce = tst["nonce"].native
    if query.nonce is not None and nonce != query.nonce:
        raise TimestampMismatch("nonce", "the token's nonce is not the one sent")
    if query.policy is not None and tst["policy"].dotted != query.policy:
        raise TimestampMismatch("policy", "the token names another TSA policy")


@lru_cache(maxsize=64)
def _parsed(der: bytes) -> tuple[x509.Certificate, CertificatePublicKeyTypes]:
    """A TSA certificate and its public key from these exact DER bytes (a memo: a TSA
    puts the same certificate in every token; the checks below still run on every
    reply, against the bytes that reply carries)."""
    cert = x509.load_der_x509_certificate(der)
    return cert, cert.public_key()


def _signing_certificate(
    signed: Any, signer_info: Any
) -> tuple[x509.Certificate, CertificatePublicKeyTypes] | None:
    """The certificate among ``certificates`` that signing-certificate(-v2) names (RFC
    2634 §5.4, RFC 5035 §3: the hash of its whole DER), and its public key."""
    wanted: set[bytes] = set()
    algorithm = "sha256"
    for attr in signer_info["signed_attrs"]:
        kind = attr["type"].native
        if kind == "signing_certificate_v2":
            for ess in attr["values"][0]["certs"]:
                algorithm = ess["hash_algorithm"]["algorithm"].native
                wanted.add(ess["cert_hash"].native)
        elif kind == "signing_certificate":
            algorithm = "sha1"
            wanted |= {ess["cert_hash"].native for ess in attr["values"][0]["certs"]}
    if not wanted:
        raise TimestampMismatch(
            "signingCertificate", "the token has no signing-certificate attribute"
        )
    for choice in signed["certificates"] or ():
        if choice.name != "certificate":
            continue
        der = bytes(choice.chosen.dump())
        if hashlib.new(algorithm, der).digest() in wanted:
            return _parsed(der)
    return None


def _verify_signature(
    signer_info: Any, content: bytes, signed_bytes: bytes, key: CertificatePublicKeyTypes
) -> None:
    """RFC 5652 §5.4: message-digest = hash(eContent); the signature is over the DER of
    the signed attributes as a SET OF."""
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    chosen = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
    if digest_name not in chosen:
        raise TimestampMismatch("digestAlgorithm", f"unexpected digest {digest_name}")
    attrs = signer_info["signed_attrs"]
    digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    if digests != [hashlib.new(digest_name, content).digest()]:
        raise TimestampMismatch("messageDigest", "the token's message digest does not match")
    algorithm = chosen[digest_name]
    signature = signer_info["signature"].native
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), algorithm)
        else:
            raise TimestampMismatch("signature", "unsupported TSA key type")
    except InvalidSignature:
        raise TimestampMismatch("signature", "the token's signature does not verify") from None


def check_reply(reply: bytes, query: TimestampQuery) -> TimestampReply:
    """Check a TimeStampResp against the query it answers; see the module docstring."""
    try:
        return _check(reply, query)
    except (TimestampMismatch, TimestampRejected):
        raise
    except Exception:  # asn1crypto raises several types on malformed input
        raise _malformed() from None


def _check(reply: bytes, query: TimestampQuery) -> TimestampReply:
    response = TimeStampResp.load(reply, strict=True)
    _status(response)
    # Raw bytes first, before any ``.native``: asn1crypto re-encodes (slowly, and not
    # necessarily as received) what it has decoded.
    token = bytes(response["time_stamp_token"].dump())
    signed = _signed_data(response)
    signer_info = signed["signer_infos"][0]
    # The signed attributes as received, [0] IMPLICIT turned back into SET OF (0x31).
    signed_bytes = b"\x31" + bytes(signer_info["signed_attrs"].dump())[1:]
    content = bytes(signed["encap_content_info"]["content"].contents)
    tst = signed["encap_content_info"]["content"].parsed
    _compare(tst, query)
    found = _signing_certificate(signed, signer_info)
    if found is None and query.cert_req:
        raise TimestampMismatch(
            "certificates", "certReq was set but the TSA certificate is not in the token"
        )
    cert = None
    if found is not None:
        cert, key = found
        _verify_signature(signer_info, content, signed_bytes, key)
    accuracy = tst["accuracy"].native
    return TimestampReply(
        response=reply,
        token=token,
        serial=int(tst["serial_number"].native),
        gen_time=tst["gen_time"].native,
        policy=tst["policy"].dotted,
        nonce=tst["nonce"].native,
        accuracy={k: v for k, v in accuracy.items() if v is not None} if accuracy else None,
        tsa_certificate=cert,
    )
