"""The one exception tree of govtrust.

Inside the engine code raises these; the edges convert them (the CLI prints one line
and exits non-zero, the API answers RFC 9457 problem+json, protocol endpoints answer in
their own protocol). Each class carries the data a caller needs, not only a message.

    Error
    ├── ConfigError                 bad or missing configuration
    ├── InputError                  malformed input from a user (CSR, serial, subject...)
    │   ├── MalformedCSR
    │   └── InvalidSubject
    ├── NotFound                    a named object does not exist
    │   ├── UnknownCA
    │   ├── UnknownProfile
    │   └── UnknownCertificate
    ├── Conflict                    the request contradicts the stored state
    │   ├── AlreadyExists
    │   └── AlreadyRevoked
    ├── PolicyViolation             a certificate profile refuses the request
    ├── KeyError_                   key custody failures (no key material in messages)
    │   ├── PassphraseMissing
    │   └── HSMError
    ├── AuthError                   authentication / authorisation
    │   ├── Unauthenticated
    │   └── Forbidden
    └── ProtocolError               a protocol request cannot be parsed (OCSP, ...)
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AlreadyRevoked",
    "AuthError",
    "ConfigError",
    "Conflict",
    "Error",
    "Forbidden",
    "HSMError",
    "InputError",
    "InvalidSubject",
    "KeyError_",
    "MalformedCSR",
    "NotFound",
    "PassphraseMissing",
    "PolicyViolation",
    "ProtocolError",
    "Unauthenticated",
    "UnknownCA",
    "UnknownCertificate",
    "UnknownProfile",
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
