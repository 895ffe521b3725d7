"""``govtrust init``: create a data directory, and optionally seed a demonstration country."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.x509.oid import NameOID

from govtrust.ca.names import parse_san, parse_subject
from govtrust.ca.profiles import CertificateRequest
from govtrust.config import CONFIG_FILE, load_settings
from govtrust.crypto.keys import KeySpec
from govtrust.errors import AlreadyExists, InputError
from govtrust.services import portal_users
from govtrust.services.authorities import create_intermediate, create_root
from govtrust.services.certificates import issue
from govtrust.services.context import Actor, Context
from govtrust.services.credentials import create_credential, register_credential
from govtrust.services.tokens import create_token

__all__ = ["InitReport", "init_home", "seed_demo", "seed_trustlist"]

CONFIG_TEMPLATE = """\
# govtrust configuration. Every key is documented in docs/configuration.md.

[instance]
name = "{name}"
country = "{country}"
# The public address that certificates name in their AIA and CRL distribution points.
public_base_url = "{base_url}"

[database]
# Empty: SQLite in this directory. Or set GOVTRUST_DATABASE_URL, for example
# postgresql+psycopg://govtrust@db.internal/govtrust
url = ""

[keys]
# Software keys are PKCS#8 files in keys/, encrypted with this passphrase
# (GOVTRUST_KEY_PASSPHRASE takes precedence).
passphrase_file = "secrets/key-passphrase"

[crl]
validity_hours = 168
refresh_hours = 24

[ocsp]
validity_hours = 24
refresh_before_hours = 8

[scheduler]
interval_seconds = 60

[tsa]
# The RFC 3161 timestamp authority (POST /tsa). The policy OID below is an illustrative
# demo arc: use your own TSA policy's OID. Accuracy: genTime is within this of UTC.
policy = "1.3.6.1.4.1.58995.1.1"
accuracy_seconds = 1
accuracy_millis = 0
# The signing credential (profile "tsa") that signs tokens: govtrust credential create
credential = "tsa"

[ledger]
# The transparency log's C2SP checkpoint origin line (and log key name). Empty: the
# public base URL without its scheme, plus "/ledger". Fixed once the log exists.
origin = ""
# One signed checkpoint per batch: every interval, or every batch_max_size entries.
batch_interval_seconds = 1
batch_max_size = 10000

# [pkcs11]
# module = "/usr/lib/softhsm/libsofthsm2.so"
# token_label = "govtrust"
# pin_file = "secrets/pkcs11-pin"

# Profiles: override shipped fields or add profiles, e.g.
# [profiles.tls-server]
# validity_days = 90
"""


@dataclass
class InitReport:
    home: Path
    admin_token: str
    admin_token_file: Path | None = None
    cas: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def init_home(
    home: Path,
    environ: dict[str, str],
    *,
    demo: bool = False,
    country: str = "AA",
    base_url: str | None = None,
) -> InitReport:
    """Create the data directory, its configuration, key passphrase, database schema and
    a first admin API token; with ``demo`` also a demonstration PKI."""
    country = country.upper()
    if len(country) != 2 or not country.isalpha():
        raise InputError("--country must be a two-letter ISO 3166 code")
    config = home / CONFIG_FILE
    if config.exists():
        raise AlreadyExists(f"{home} is already initialised ({config} exists)")
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # the database holds subjects and the audit trail: owner only
    url = base_url or environ.get("GOVTRUST_PUBLIC_URL") or "http://127.0.0.1:8000"
    config.write_text(
        CONFIG_TEMPLATE.format(
            name=f"Demo country {country}" if demo else "govtrust",
            country=country,
            base_url=url,
        ),
        encoding="utf-8",
    )
    if not environ.get("GOVTRUST_KEY_PASSPHRASE"):
        _write_secret(home / "secrets" / "key-passphrase", secrets.token_urlsafe(32))
    settings = load_settings(environ, home=home)
    ctx = Context.open(settings)
    try:
        actor = Actor("cli:init", "admin")
        _, token = create_token(ctx, "admin", "admin", actor)
        report = InitReport(home=home, admin_token=token)
        if demo:
            report.admin_token_file = home / "secrets" / "admin-token"
            _write_secret(report.admin_token_file, token)
            seed_demo(ctx, country, actor, report)
        return report
    finally:
        ctx.close()


def _issue_with_key(
    ctx: Context,
    ca: str,
    profile: str,
    subject: str,
    actor: Actor,
    sans: tuple[str, ...] = (),
    spec: KeySpec = KeySpec.EC_P256,
) -> str:
    """Issue to a key that govtrust keeps in custody (officials' and seals' credentials)."""
    label = str(parse_subject(subject).get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    signer = ctx.custody.generate("software", f"{profile}-{label}", spec)
    request = CertificateRequest(
        parse_subject(subject),
        signer.public_key(),
        tuple(parse_san(s) for s in sans),
    )
    return issue(ctx, ca, profile, request, actor, key_ref=signer.ref).serial


def seed_demo(ctx: Context, country: str, actor: Actor, report: InitReport) -> None:
    """A demonstration country: a root, two issuing CAs (people and organisations; TLS
    and devices), their OCSP responders and CRLs, and sample officials, seals, a web
    server and a device."""
    c = country
    gov = f"Government of {c}"
    create_root(ctx, "root", f"CN={c} Government Root CA,O={gov},C={c}", actor, key=KeySpec.EC_P384)
    create_intermediate(
        ctx, "people", "root", f"CN={c} Government People and Organisations CA,O={gov},C={c}", actor
    )
    create_intermediate(
        ctx,
        "tls",
        "root",
        f"CN={c} Government TLS and Devices CA,O={gov},C={c}",
        actor,
        extended_key_usage=("server_auth", "client_auth"),
    )
    report.cas += ["root", "people", "tls"]
    domain = f"gov.{c.lower()}"
    samples = [
        (
            "people",
            "official",
            f"CN=Amina Haddad,SN=Haddad,givenName=Amina,serialNumber=PNO{c}-1001,"
            f"O=Ministry of Finance,C={c}",
            (f"email:amina.haddad@finance.{domain}",),
        ),
        (
            "people",
            "official",
            f"CN=Omar Khalil,SN=Khalil,givenName=Omar,serialNumber=PNO{c}-1002,"
            f"O=Civil Registry Agency,C={c}",
            (),
        ),
        (
            "people",
            "seal",
            f"CN=Ministry of Finance,organizationIdentifier=NTR{c}-100001,"
            f"O=Ministry of Finance,C={c}",
            (),
        ),
        (
            "people",
            "seal",
            f"CN=Civil Registry Agency,organizationIdentifier=NTR{c}-100002,"
            f"O=Civil Registry Agency,C={c}",
            (),
        ),
        ("tls", "tls-server", f"CN=portal.{domain}", (f"dns:portal.{domain}", f"dns:www.{domain}")),
        ("tls", "device", f"CN=meter-0001,O=National Water Authority,C={c}", ()),
    ]
    for ca, profile, subject, sans in samples:
        report.certificates.append(_issue_with_key(ctx, ca, profile, subject, actor, sans))
    # Signing credentials: the sample officials' and seals' keys are in custody, so they
    # become credentials by name; the TSA gets its own key and 'tsa' certificate.
    issued = report.certificates[-len(samples) :]
    names = ("amina-haddad", "omar-khalil", "ministry-of-finance", "civil-registry-agency")
    for name, serial in zip(names, issued, strict=False):
        register_credential(ctx, name, serial, actor)
    tsa_subject = f"CN={c} Government Time-Stamping Authority,O={gov},C={c}"
    create_credential(ctx, "tsa", "people", "tsa", tsa_subject, actor)
    # The electronic seal on validation reports ([verify] seal_credential).
    create_credential(
        ctx,
        "validation-service",
        "people",
        "seal",
        f"CN={c} Government Validation Service,organizationIdentifier=NTR{c}-100000,O={gov},C={c}",
        actor,
    )
    seed_trustlist(ctx, c, actor)
    # Portal sign-in for the demo: an operator and an auditor, passwords in
    # $GOVTRUST_HOME/secrets/portal-*.txt (mode 0600).
    portal_users.create_demo_users(ctx, report.home)


def seed_trustlist(ctx: Context, country: str, actor: Actor) -> None:
    """The demo's trusted list (ETSI TS 119 612): the supervisory body as scheme
    operator, its list signer (profile ``trustlist-signer``), and this instance's CAs
    and TSA listed as granted services of the government provider. Publishing is left
    to ``govtrust trustlist publish``."""
    from govtrust.services import trustlists

    trustlists.configure_scheme(
        ctx,
        actor,
        territory=country,
        operator_name=f"{country} Trust Services Supervisory Body",
        street="1 Government Square",
        locality=f"Capital of {country}",
    )
    trustlists.create_signer(ctx, actor)
    trustlists.add_local_services(ctx, actor, provider=f"Government of {country}")
