"""The one exception tree of govtrust.

Inside the engine code raises these; the edges convert them (the CLI prints one line
and exits non-zero, the API answers RFC 9457 problem+json, protocol endpoints answer in
their own protocol). Each class carries the data a caller needs, not only a message.

    Error
    ├── ConfigError                 bad or missing configuration
    ├── InputError                  malformed input from a user (CSR, serial, subject...)
    │   ├── MalformedCSR
    │   ├── InvalidSubject
    │   ├── MalformedDocument       a document cannot be signed in the asked format
    │   ├── DocumentTooLarge        a document to validate exceeds [verify] max_document_bytes (413)
    │   ├── UnsupportedDocument     not a signed document govtrust can validate (415)
    │   └── TrustListRefused        a trusted list (TS 119 612) fails parsing, schema or signature
    ├── NotFound                    a named object does not exist
    │   ├── UnknownCA
    │   ├── UnknownProfile
    │   ├── UnknownCertificate
    │   └── UnknownCredential
    ├── Conflict                    the request contradicts the stored state
    │   ├── AlreadyExists
    │   ├── AlreadyRevoked
    │   └── CredentialUnusable      revoked, expired or not yet valid: refused for signing
    ├── PolicyViolation             a certificate profile refuses the request
    ├── KeyError_                   key custody failures (no key material in messages)
    │   ├── PassphraseMissing
    │   └── HSMError
    ├── AuthError                   authentication / authorisation
    │   ├── Unauthenticated
    │   └── Forbidden
    ├── ProtocolError               a protocol request cannot be parsed (OCSP, ...)
    │   └── TimestampError          an RFC 3161 request or reply is unusable
    │       ├── TimestampRejected   a TSA refused (PKIStatus rejection, with its failInfo)
    │       └── TimestampMismatch   a reply does not answer the query (imprint, nonce...)
    ├── LedgerError                 the transparency ledger (RFC 9162, C2SP tlog-*)
    │   ├── ProofError              a Merkle proof does not verify (expected/calculated root)
    │   ├── NoteError               a signed note or checkpoint is malformed or unsigned
    │   ├── TamperError             stored ledger data contradicts itself (first bad index)
    │   ├── LedgerFetchError        a log or witness did not answer over HTTP as its protocol says
    │   └── WitnessError            C2SP tlog-witness refused a checkpoint (``status``: HTTP status)
    │       ├── WitnessBadRequest       400: malformed request, or old size above the checkpoint's
    │       ├── WitnessBadSignature     403: no signature by a trusted key of the log verifies
    │       ├── WitnessUnknownLog       404: the checkpoint's origin is not a log it witnesses
    │       ├── WitnessConflict         409: old size is not the latest cosigned (``latest_size``)
    │       └── WitnessBadProof         422: the consistency proof does not verify
    └── SigningFailed               a signature could not be completed (TSA, validation data...)
        └── ReportSealUnavailable   the validation report's seal credential is missing or unusable
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AlreadyRevoked",
    "AuthError",
    "ConfigError",
    "Conflict",
    "CredentialUnusable",
    "DocumentTooLarge",
    "Error",
    "Forbidden",
    "HSMError",
    "InputError",
    "InvalidSubject",
    "KeyError_",
    "LedgerError",
    "LedgerFetchError",
    "MalformedCSR",
    "MalformedDocument",
    "NotFound",
    "NoteError",
    "PassphraseMissing",
    "PolicyViolation",
    "ProofError",
    "ProtocolError",
    "ReportSealUnavailable",
    "SigningFailed",
    "TamperError",
    "TimestampError",
    "TimestampMismatch",
    "TimestampRejected",
    "TrustListRefused",
    "Unauthenticated",
    "UnknownCA",
    "UnknownCertificate",
    "UnknownCredential",
    "UnknownProfile",
    "UnsupportedDocument",
    "WitnessBadProof",
    "WitnessBadRequest",
    "WitnessBadSignature",
    "WitnessConflict",
    "WitnessError",
    "WitnessUnknownLog",
]


class Error(Exception):
    """Root of every govtrust error. ``code`` is a stable machine-readable name."""

    code = "error"
    title = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(Error):
    code = "config-error"
    title = "Configuration error"


class InputError(Error):
    code = "invalid-input"
    title = "Invalid input"


class MalformedCSR(InputError):
    code = "malformed-csr"
    title = "Malformed certificate request"


class InvalidSubject(InputError):
    code = "invalid-subject"
    title = "Invalid subject"


class NotFound(Error):
    code = "not-found"
    title = "Not found"

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"unknown {kind}: {name}")
        self.kind = kind
        self.name = name


class UnknownCA(NotFound):
    code = "unknown-ca"
    title = "Unknown CA"

    def __init__(self, name: str) -> None:
        super().__init__("CA", name)


class UnknownProfile(NotFound):
    code = "unknown-profile"
    title = "Unknown profile"

    def __init__(self, name: str) -> None:
        super().__init__("profile", name)


class UnknownCertificate(NotFound):
    code = "unknown-certificate"
    title = "Unknown certificate"

    def __init__(self, serial: str) -> None:
        super().__init__("certificate serial", serial)


class Conflict(Error):
    code = "conflict"
    title = "Conflict"


class AlreadyExists(Conflict):
    code = "already-exists"
    title = "Already exists"


class AlreadyRevoked(Conflict):
    code = "already-revoked"
    title = "Already revoked"

    def __init__(self, serial: str, reason: str) -> None:
        super().__init__(f"certificate {serial} is already revoked ({reason})")
        self.serial = serial
        self.reason = reason


class PolicyViolation(Error):
    """A certificate profile refused a request. ``profile`` and ``rule`` say which."""

    code = "policy-violation"
    title = "Refused by the certificate profile"

    def __init__(self, profile: str, rule: str, message: str) -> None:
        super().__init__(f"profile {profile!r} refuses the request: {message}")
        self.profile = profile
        self.rule = rule


class KeyError_(Error):
    code = "key-error"
    title = "Key custody error"


class PassphraseMissing(KeyError_):
    code = "passphrase-missing"
    title = "Key passphrase missing"


class HSMError(KeyError_):
    code = "hsm-error"
    title = "HSM error"


class AuthError(Error):
    code = "auth-error"
    title = "Authentication error"


class Unauthenticated(AuthError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(AuthError):
    code = "forbidden"
    title = "Forbidden"


class ProtocolError(Error):
    code = "protocol-error"
    title = "Protocol error"


class LedgerError(Error):
    code = "ledger-error"
    title = "Transparency ledger error"


class ProofError(LedgerError):
    """A Merkle inclusion or consistency proof does not verify (RFC 9162 §2.1.3.2,
    §2.1.4.2). Like transparency-dev/merkle's ``RootMismatchError``, it carries the root
    the caller expected and the one the proof leads to (``None`` when the proof is
    malformed before any root is calculated)."""

    code = "proof-error"
    title = "Merkle proof does not verify"

    def __init__(
        self,
        message: str,
        *,
        expected_root: bytes | None = None,
        calculated_root: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.expected_root = expected_root
        self.calculated_root = calculated_root


class NoteError(LedgerError):
    """A C2SP signed note (or the checkpoint in it) is malformed, or carries no valid
    signature by a known key, or a known key's signature fails."""

    code = "note-error"
    title = "Invalid signed note"


class TamperError(LedgerError):
    """Stored ledger data contradicts itself: ``index`` is the first bad leaf index
    (or tree size for a checkpoint), ``what`` names the check that failed."""

    code = "ledger-tampered"
    title = "Ledger data was altered"

    def __init__(self, index: int, what: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.what = what


class UnknownCredential(NotFound):
    code = "unknown-credential"
    title = "Unknown credential"

    def __init__(self, name: str) -> None:
        super().__init__("credential", name)


class CredentialUnusable(Conflict):
    """A signing credential may not sign now: ``reason`` is ``revoked``, ``expired``,
    ``not-yet-valid`` or ``issuer-revoked``/``issuer-expired`` (a CA of its chain)."""

    code = "credential-unusable"
    title = "Credential refused for signing"

    def __init__(self, name: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason


class TimestampError(ProtocolError):
    code = "timestamp-error"
    title = "Timestamp error"


class TimestampRejected(TimestampError):
    """A time-stamping request was refused (RFC 3161 §2.4.2 PKIStatus ``rejection``).

    ``fail_info`` is the RFC 3161 PKIFailureInfo name (``badAlg``, ``badRequest``,
    ``badDataFormat``, ``unacceptedPolicy``, ``unacceptedExtension``, ``systemFailure``...).
    """

    code = "timestamp-rejected"
    title = "Timestamp request rejected"

    def __init__(self, fail_info: str, message: str) -> None:
        super().__init__(message)
        self.fail_info = fail_info


class TimestampMismatch(TimestampError):
    """A TSA's reply does not answer the request (RFC 3161 §2.4.2 requester checks):
    ``field`` names what differs (``messageImprint``, ``nonce``, ``certificates``...)."""

    code = "timestamp-mismatch"
    title = "Timestamp reply does not match the request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LedgerFetchError(LedgerError):
    """A transparency log or witness could not be reached, or answered outside its
    protocol (C2SP tlog-tiles, tlog-witness): ``url`` is what was asked, ``status`` the
    HTTP status (None when there was no answer)."""

    code = "ledger-fetch-error"
    title = "Transparency log unreachable"

    def __init__(self, url: str, status: int | None, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class WitnessError(LedgerError):
    """A witness refuses an ``add-checkpoint`` request (C2SP tlog-witness): ``status`` is
    the HTTP status the protocol prescribes for the reason."""

    code = "witness-refused"
    title = "Witness refused the checkpoint"
    status = 400


class WitnessBadRequest(WitnessError):
    """tlog-witness: a malformed request body, or an old size above the checkpoint's
    ("400 Bad Request")."""

    code = "witness-bad-request"
    title = "Malformed witness request"
    status = 400


class WitnessBadSignature(WitnessError):
    """tlog-witness: none of the checkpoint's signatures verifies against a key the
    witness trusts for its origin ("403 Forbidden")."""

    code = "witness-bad-signature"
    title = "Checkpoint not signed by the log"
    status = 403


class WitnessUnknownLog(WitnessError):
    """tlog-witness: the checkpoint's origin is not a log the witness is configured for
    ("404 Not Found")."""

    code = "witness-unknown-log"
    title = "Unknown log"
    status = 404

    def __init__(self, origin: str) -> None:
        super().__init__(f"not a log this witness witnesses: {origin!r}")
        self.origin = origin


class WitnessConflict(WitnessError):
    """tlog-witness: the old size is not the size of the latest checkpoint the witness
    cosigned for the origin, or the sizes match and the root hashes differ ("409
    Conflict"); ``latest_size`` is that latest cosigned size."""

    code = "witness-conflict"
    title = "Checkpoint conflicts with the witnessed state"
    status = 409

    def __init__(self, latest_size: int, message: str) -> None:
        super().__init__(message)
        self.latest_size = latest_size


class WitnessBadProof(WitnessError):
    """tlog-witness: the consistency proof from the old size does not verify ("422
    Unprocessable Entity")."""

    code = "witness-bad-proof"
    title = "Consistency proof does not verify"
    status = 422


class MalformedDocument(InputError):
    """A document cannot be signed (or augmented) in the format asked for: a truncated,
    encrypted or malformed PDF, a file that is not XML for XAdES, XML with a DTD or
    entity declarations (refused outright: XXE and entity expansion), a CMS that is not
    a detached CAdES signature... ``format`` names the format (``pades``, ``cades``,
    ``xades``, ``asic-e``)."""

    code = "malformed-document"
    title = "Document cannot be signed"

    def __init__(self, format: str, message: str) -> None:
        super().__init__(message)
        self.format = format


class SigningFailed(Error):
    """A signature could not be completed although its input was acceptable: the TSA
    refused or could not be reached (B-T), revocation data for a certificate of the
    chain is missing (B-LT), the key backend failed... ``stage`` names the step
    (``timestamp``, ``validation-data``, ``sign``)."""

    code = "signing-failed"
    title = "Signing failed"

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


class UnsupportedDocument(InputError):
    """Input to validation that is no signed document govtrust knows: not a PDF, CMS
    (.p7s/.p7m), RFC 3161 token, XML or ASiC container, or a detached signature given
    without the data it signs. A recognised format that is malformed is not this error:
    it is validated to TOTAL-FAILED/FORMAT_FAILURE instead."""

    code = "unsupported-document"
    title = "Unsupported document"


class TrustListRefused(InputError):
    """A trusted list or list of trusted lists (ETSI TS 119 612) is refused: it cannot
    be downloaded, is not well-formed or carries a DTD, fails the TS 119 612 XML schema,
    lacks a mandatory element (e.g. ``TSLVersionIdentifier``), or its XAdES signature
    does not verify against the pinned certificates. ``reason`` names the step
    (``download``, ``xml``, ``schema``, ``content``, ``signature``); ``source`` names
    the list (a territory, a file or a URL)."""

    code = "trustlist-refused"
    title = "Trusted list refused"

    def __init__(self, reason: str, source: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.source = source


class DocumentTooLarge(InputError):
    """A document (or detached signature) given for validation is larger than
    ``[verify] max_document_bytes``; ``limit`` is that limit in bytes. The API answers
    413."""

    code = "document-too-large"
    title = "Document too large"

    def __init__(self, limit: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class ReportSealUnavailable(SigningFailed):
    """A validation report cannot be sealed: the credential named by ``[verify]
    seal_credential`` does not exist, is not a seal, or may not sign now (revoked,
    expired). ``credential`` is its name. The message says how to create one."""

    code = "report-seal-unavailable"
    title = "Validation report cannot be sealed"

    def __init__(self, credential: str, message: str) -> None:
        super().__init__("seal", message)
        self.credential = credential
