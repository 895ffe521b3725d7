"""``validation.documents.detect`` for CMS and RFC 3161 input, whole and damaged: a
damaged signature is still recognised, so that its validation reports FORMAT_FAILURE
(EN 319 102-1 §5.2.2.4) instead of "unsupported document"."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import cms

from govtrust.validation.documents import DocumentKind, detect

SIGNED_DATA = cms.ContentInfo(
    {
        "content_type": "signed_data",
        "content": {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data"},
            "signer_infos": [],
        },
    }
).dump()
TOKEN = cms.ContentInfo(
    {
        "content_type": "signed_data",
        "content": {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info"},
            "signer_infos": [],
        },
    }
).dump()
# TimeStampResp { status PKIStatusInfo { rejection, failInfo badAlg } } (RFC 3161 §2.4.2)
REJECTION = bytes.fromhex("3009300702010203020780")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (SIGNED_DATA, DocumentKind.CMS),
        (SIGNED_DATA[: len(SIGNED_DATA) // 2], DocumentKind.CMS),
        (SIGNED_DATA[:16], DocumentKind.CMS),
        (TOKEN, DocumentKind.TIMESTAMP),
        (TOKEN[:-2], DocumentKind.TIMESTAMP),
        (REJECTION, DocumentKind.TIMESTAMP),
        (REJECTION[:-2], DocumentKind.TIMESTAMP),
        (b"-----BEGIN PKCS7-----\n" + base64.encodebytes(SIGNED_DATA) + b"-----END PKCS7-----\n",
         DocumentKind.CMS),
        (b"\x30\x03\x02\x01\x09", None),
        (b"\x04\x03abc", None),
        (b"", None),
    ],
)  # fmt: skip
def test_detect(data: bytes, kind: DocumentKind | None) -> None:
    assert detect(data) is kind
