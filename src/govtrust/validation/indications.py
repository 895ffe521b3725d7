"""ETSI EN 319 102-1 status indications, named exactly as the standard names them.

EN 319 102-1 V1.4.1 §5.1.3 gives the main status indication of a validation in Table 5
(TOTAL-PASSED, TOTAL-FAILED, INDETERMINATE) and the sub-indications that qualify
TOTAL-FAILED and INDETERMINATE in Table 6. ETSI TS 119 102-2 §5 writes them into
validation reports as URIs (``urn:etsi:019102:mainindication:total-passed``,
``urn:etsi:019102:subindication:REVOKED_NO_POE``); :attr:`Indication.uri` and
:attr:`SubIndication.uri` give those.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["Indication", "SubIndication", "worst"]


class Indication(enum.Enum):
    """Main status indication, EN 319 102-1 §5.1.3 Table 5."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"

    @property
    def uri(self) -> str:
        """The TS 119 102-2 §5.1 URI of this indication."""
        return f"urn:etsi:019102:mainindication:{self.value.lower()}"

    @property
    def severity(self) -> int:
        """Order used to find the worst result: passed < indeterminate < failed."""
        return _SEVERITY[self]


_SEVERITY = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


class SubIndication(enum.Enum):
    """Sub-indications of EN 319 102-1 §5.1.3 Table 6 (V1.4.1).

    The first six qualify TOTAL-FAILED, the others INDETERMINATE; :attr:`indication`
    says which. Table 7 lists the INDETERMINATE ones after which a validation may be
    retried with more data (:attr:`retryable`).
    """

    # TOTAL-FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND_NO_POE = "NO_CERTIFICATE_CHAIN_FOUND_NO_POE"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    CUSTOM = "CUSTOM"

    @property
    def indication(self) -> Indication:
        """The main indication this sub-indication belongs to (Table 6, first column)."""
        return Indication.TOTAL_FAILED if self in _FAILED else Indication.INDETERMINATE

    @property
    def uri(self) -> str:
        """The TS 119 102-2 §5.1 URI of this sub-indication."""
        return f"urn:etsi:019102:subindication:{self.value}"

    @property
    def retryable(self) -> bool:
        """EN 319 102-1 Table 7: more data (a chain, POEs, fresher revocation data) may
        change the result of a later validation."""
        return self in _RETRYABLE


_FAILED = frozenset(
    {
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.REVOKED,
        SubIndication.EXPIRED,
        SubIndication.NOT_YET_VALID,
    }
)

_RETRYABLE = frozenset(
    {
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
        SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        SubIndication.POLICY_PROCESSING_ERROR,
        SubIndication.SIGNATURE_POLICY_NOT_AVAILABLE,
        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
        SubIndication.REVOKED_NO_POE,
        SubIndication.REVOKED_CA_NO_POE,
        SubIndication.OUT_OF_BOUNDS_NOT_REVOKED,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        SubIndication.NO_POE,
        SubIndication.TRY_LATER,
    }
)


def worst(indications: Iterable[Indication]) -> Indication | None:
    """The most severe of ``indications`` (TOTAL-FAILED over INDETERMINATE over
    TOTAL-PASSED), or ``None`` for none at all: an empty set is never a pass."""
    found = list(indications)
    if not found:
        return None
    return max(found, key=lambda i: i.severity)
