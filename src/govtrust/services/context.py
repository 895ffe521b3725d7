"""The application context every service function receives: settings, database, keys,
profiles and the clock. Built once per process by the CLI or the API.

Opening a context brings the schema to the newest migrations unless told otherwise;
when the schema is already there that costs one SELECT (``store.engine.upgrade``).
``govtrust serve`` migrates once in its parent process and sets
``GOVTRUST_SKIP_MIGRATIONS=1`` (:data:`SKIP_MIGRATIONS_ENV`) for the workers it starts,
so that no worker runs or imports Alembic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from govtrust.ca.profiles import ProfileRegistry, load_profiles
from govtrust.clock import Clock, SystemClock
from govtrust.config import Settings
from govtrust.crypto.custody import KeyBackend, KeyCustody
from govtrust.crypto.software import SoftwareBackend
from govtrust.store.engine import Database, upgrade

__all__ = ["ROLES", "SKIP_MIGRATIONS_ENV", "Actor", "Context"]

ROLES = ("admin", "operator", "auditor")

SKIP_MIGRATIONS_ENV = "GOVTRUST_SKIP_MIGRATIONS"
"""Set to ``1`` in a process's environment (``Settings.environ``) when a parent process
has already migrated the schema."""


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` appears in the audit trail; ``profiles`` limits an operator."""

    name: str
    role: str
    profiles: frozenset[str] | None = None

    def may_use_profile(self, profile: str) -> bool:
        return self.role == "admin" or self.profiles is None or profile in self.profiles


@dataclass
class Context:
    settings: Settings
    db: Database
    custody: KeyCustody
    profiles: ProfileRegistry
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None, migrate: bool = True) -> Context:
        backends: dict[str, KeyBackend] = {
            "software": SoftwareBackend(settings.keys_dir, settings.key_passphrase)
        }
        if settings.pkcs11 is not None:
            from govtrust.crypto.pkcs11 import Pkcs11Backend

            backends["pkcs11"] = Pkcs11Backend(
                settings.pkcs11.module, settings.pkcs11.token_label, settings.pkcs11_pin
            )
        db = Database(settings.database_url)
        if migrate and settings.environ.get(SKIP_MIGRATIONS_ENV) != "1":
            upgrade(db)
        return cls(
            settings=settings,
            db=db,
            custody=KeyCustody(backends),
            profiles=load_profiles(settings.profiles),
            clock=clock or SystemClock(),
        )

    def close(self) -> None:
        self.db.dispose()
