"""Validation material found in and beside a CMS signature
(``validation.signatures._cms.EmbeddedMaterial``), the ats-hash-index-v3 check of
archive time-stamps, and ``TimestampCheck.proves``."""

from __future__ import annotations

import datetime as dt
import hashlib

from asn1crypto import algos, cms, core
from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from asn1crypto import x509 as a_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from govtrust.validation import Indication, SubIndication
from govtrust.validation.report import SignatureKind, SignatureReport
from govtrust.validation.signatures import _cades_asn1 as attrs
from govtrust.validation.signatures._cms import EmbeddedMaterial, TimestampCheck
from tests.unit.validation.pki_factory import NOW, SmallPki, make_pki

DER = serialization.Encoding.DER


def _ocsp(pki: SmallPki) -> bytes:
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=pki.leaf.cert,
            issuer=pki.issuer.cert,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + dt.timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.issuer.cert)
    )
    return builder.sign(pki.issuer.key, hashes.SHA256()).public_bytes(DER)


def _signed_data(pki: SmallPki, **fields: object) -> cms.SignedData:
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": a_x509.Certificate.load(pki.leaf.der).issuer,
                        "serial_number": pki.leaf.cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": b"\x00" * 8,
            **fields.pop("signer_fields", {}),  # type: ignore[dict-item]
        }
    )
    return cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "signer_infos": [signer_info],
            **fields,
        }
    )


def _attribute(oid: str, value: core.Asn1Value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": oid, "values": [value]})


def test_merged_keeps_order_and_drops_duplicates() -> None:
    pki = make_pki(intermediate=True)
    a = EmbeddedMaterial((pki.leaf.cert, pki.root.cert), crls=(b"c1",), ocsp_responses=(b"o1",))
    b = EmbeddedMaterial((pki.root.cert, pki.intermediates[0].cert), crls=(b"c2", b"c1"))
    merged = a.merged(b)
    assert merged.certificates == (pki.leaf.cert, pki.root.cert, pki.intermediates[0].cert)
    assert merged.crls == (b"c1", b"c2")
    assert merged.ocsp_responses == (b"o1",)
    assert EmbeddedMaterial().merged(a) is a and a.merged(EmbeddedMaterial()) is a
    data = merged.as_validation_data()
    assert data.certificates == merged.certificates and data.crls == merged.crls
    assert data.ocsp_responses == (b"o1",)


def test_from_signed_data_reads_every_place() -> None:
    pki = make_pki(intermediate=True)
    crl_der = pki.crl()
    ocsp_der = _ocsp(pki)
    basic = a_ocsp.OCSPResponse.load(ocsp_der)["response_bytes"]["response"].parsed
    root_crl = pki.crl(issuer=pki.root)
    revocation_values = attrs.RevocationValues(
        {"crl_vals": [a_crl.CertificateList.load(root_crl)], "ocsp_vals": [basic]}
    )
    certificate_values = attrs.CertificateValues(
        [a_x509.Certificate.load(pki.root.cert.public_bytes(DER))]
    )
    sd = _signed_data(
        pki,
        certificates=[
            cms.CertificateChoices({"certificate": a_x509.Certificate.load(pki.leaf.der)})
        ],
        crls=[
            cms.RevocationInfoChoice({"crl": a_crl.CertificateList.load(crl_der)}),
            cms.RevocationInfoChoice(
                {
                    "other": {
                        "other_rev_info_format": "ocsp_response",
                        "other_rev_info": a_ocsp.OCSPResponse.load(ocsp_der),
                    }
                }
            ),
        ],
        signer_fields={
            "unsigned_attrs": [
                _attribute(attrs.CERTIFICATE_VALUES, certificate_values),
                _attribute(attrs.REVOCATION_VALUES, revocation_values),
            ]
        },
    )
    sd = cms.SignedData.load(sd.dump())
    plain = EmbeddedMaterial.from_signed_data(sd)
    assert plain.certificates == (pki.leaf.cert,)
    assert plain.crls == (crl_der,)
    assert plain.ocsp_responses == (ocsp_der,)
    full = EmbeddedMaterial.from_signed_data(sd, sd["signer_infos"][0])
    assert full.certificates == (pki.leaf.cert, pki.root.cert)
    assert full.crls == (crl_der, root_crl)
    # The basic response of revocation-values comes back as a whole OCSPResponse.
    assert len(full.ocsp_responses) == 1
    wrapped = a_ocsp.OCSPResponse.load(full.ocsp_responses[0])
    assert wrapped["response_status"].native == "successful"
    assert wrapped.basic_ocsp_response.dump() == basic.dump()


def test_material_that_does_not_parse_is_left_out() -> None:
    pki = make_pki()
    bogus = core.Any.load(b"\x30\x03\x02\x01\x05")
    sd = _signed_data(
        pki, signer_fields={"unsigned_attrs": [_attribute(attrs.REVOCATION_VALUES, bogus)]}
    )
    sd = cms.SignedData.load(sd.dump())
    found = EmbeddedMaterial.from_signed_data(sd, sd["signer_infos"][0])
    assert found == EmbeddedMaterial()


def test_ats_hash_index_names_removed_objects() -> None:
    pki = make_pki(intermediate=True)
    certs = [
        cms.CertificateChoices({"certificate": a_x509.Certificate.load(c.public_bytes(DER))})
        for c in (pki.leaf.cert, pki.intermediates[0].cert)
    ]
    sd = cms.SignedData.load(_signed_data(pki, certificates=certs).dump())

    def index(of: cms.SignedData) -> attrs.ATSHashIndexV3:
        return attrs.ATSHashIndexV3(
            {
                "hash_ind_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "certificates_hash_index": [
                    hashlib.sha256(c.dump()).digest() for c in of["certificates"]
                ],
                "crls_hash_index": [],
                "unsigned_attrs_hash_index": [],
            }
        )

    full = index(sd)
    assert attrs.index_problem(sd, sd["signer_infos"][0], full) is None
    fewer = cms.SignedData.load(_signed_data(pki, certificates=certs[:1]).dump())
    problem = attrs.index_problem(fewer, fewer["signer_infos"][0], full)
    assert problem is not None and "1 certificate" in problem
    # Objects added after the archive time-stamp are allowed.
    assert attrs.index_problem(sd, sd["signer_infos"][0], index(fewer)) is None


def _report(indication: Indication, sub: SubIndication | None) -> SignatureReport:
    return SignatureReport(
        identifier="ts",
        kind=SignatureKind.TIMESTAMP,
        indication=indication,
        sub_indication=sub,
        message="",
        validation_time=NOW,
    )


def test_timestamp_check_proves_only_when_passed() -> None:
    when = NOW - dt.timedelta(days=1)
    assert TimestampCheck(_report(Indication.TOTAL_PASSED, None), when).proves == when
    failed = TimestampCheck(_report(Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), when)
    assert failed.proves is None
    assert TimestampCheck(_report(Indication.TOTAL_PASSED, None), None).proves is None
