"""Key custody: the registry of key backends (software, PKCS#11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from govtrust.crypto.keys import KeySpec
from govtrust.crypto.signer import KeyRef, Signer
from govtrust.errors import InputError

__all__ = ["KeyBackend", "KeyCustody"]


class KeyBackend(Protocol):
    """One place keys can live. Implementations: software.SoftwareBackend, pkcs11.Pkcs11Backend."""

    @property
    def name(self) -> str: ...

    def generate(self, label: str, spec: KeySpec) -> Signer:
        """Create a new, non-exportable (where the backend can enforce it) signing key."""
        ...

    def load(self, key_id: str) -> Signer:
        """Open an existing key by the id that ``generate`` put in its ``KeyRef``."""
        ...


class KeyCustody:
    """Chooses the backend by name and caches opened signers for the process."""

    def __init__(self, backends: Mapping[str, KeyBackend]) -> None:
        self._backends = dict(backends)
        self._cache: dict[KeyRef, Signer] = {}

    def backend(self, name: str) -> KeyBackend:
        try:
            return self._backends[name]
        except KeyError:
            known = ", ".join(sorted(self._backends)) or "none"
            raise InputError(
                f"key backend {name!r} is not configured (configured: {known})"
            ) from None

    def generate(self, backend: str, label: str, spec: KeySpec) -> Signer:
        signer = self.backend(backend).generate(label, spec)
        self._cache[signer.ref] = signer
        return signer

    def load(self, ref: KeyRef) -> Signer:
        cached = self._cache.get(ref)
        if cached is None:
            cached = self.backend(ref.backend).load(ref.key_id)
            self._cache[ref] = cached
        return cached
