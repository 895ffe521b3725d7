"""Keys and signers. Raw key handling lives here and nowhere else."""

from __future__ import annotations

from govtrust.crypto.custody import KeyBackend, KeyCustody
from govtrust.crypto.keys import KeySpec, default_hash, spec_of_public_key
from govtrust.crypto.signer import KeyRef, Signer, sign_bytes, signature_hash
from govtrust.crypto.software import SoftwareBackend, SoftwareSigner

__all__ = [
    "KeyBackend",
    "KeyCustody",
    "KeyRef",
    "KeySpec",
    "Signer",
    "SoftwareBackend",
    "SoftwareSigner",
    "default_hash",
    "sign_bytes",
    "signature_hash",
    "spec_of_public_key",
]
