"""Throwaway SoftHSM2 tokens for tests.

``softhsm_token(directory)`` writes a ``softhsm2.conf`` whose token directory is inside
``directory``, points ``SOFTHSM2_CONF`` at it for this process (restored on exit),
and initialises a fresh token with ``softhsm2-util --init-token --free`` under random
PINs from :mod:`secrets`.

SoftHSM reads its configuration, and finds its tokens, only in ``C_Initialize``, and
python-pkcs11 keeps one initialised copy of the module per process. So the harness
calls :func:`govtrust.crypto.pkcs11.finalize_module` on entry and on exit: the next
backend use initialises the module afresh and sees this token. One token is visible
at a time per process (contexts may nest); pytest-xdist workers are separate processes.

Typical use::

    with softhsm_token(tmp_path) as token:
        backend = Pkcs11Backend(token.module, token.token_label, lambda: token.pin)
        ...
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from govtrust.crypto.pkcs11 import finalize_module

__all__ = ["SoftHSMToken", "find_softhsm_module", "softhsm_token"]

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
"""Where Debian and a source build install the SoftHSM2 PKCS#11 module."""

MODULE_ENV = "GOVTRUST_TEST_SOFTHSM_MODULE"
"""Environment variable naming the module explicitly (overrides the candidates)."""


@dataclass(frozen=True)
class SoftHSMToken:
    """An initialised SoftHSM2 token. ``env`` is what a subprocess needs to see it."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    so_pin: str = field(repr=False)
    conf_path: Path
    token_dir: Path
    env: dict[str, str] = field(repr=False)


def find_softhsm_module() -> str:
    """The path of ``libsofthsm2.so`` (``$GOVTRUST_TEST_SOFTHSM_MODULE`` first)."""
    override = os.environ.get(MODULE_ENV)
    if override:
        if not Path(override).is_file():
            raise FileNotFoundError(f"{MODULE_ENV}={override} does not exist")
        return override
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise FileNotFoundError(
        "softhsm2-util is installed but libsofthsm2.so was not found in "
        f"{', '.join(MODULE_CANDIDATES)}; set {MODULE_ENV}"
    )


def _write_conf(directory: Path, mechanisms: str) -> tuple[Path, Path]:
    token_dir = directory / "tokens"
    token_dir.mkdir(parents=True, mode=0o700)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        "# written by tests/support/softhsm.py\n"
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
        f"slots.mechanisms = {mechanisms}\n"
        "library.reset_on_fork = false\n",
        encoding="utf-8",
    )
    return conf, token_dir


@contextmanager
def softhsm_token(
    directory: Path, label: str | None = None, mechanisms: str = "ALL"
) -> Iterator[SoftHSMToken]:
    """Create a SoftHSM2 token under ``directory`` (e.g. pytest's ``tmp_path``).

    Skips the test if ``softhsm2-util`` is not installed. ``SOFTHSM2_CONF`` is set in
    ``os.environ`` while the context is open and restored afterwards. ``mechanisms`` is
    SoftHSM's ``slots.mechanisms`` setting: ``ALL`` or an allow-list such as
    ``"CKM_EC_KEY_PAIR_GEN,CKM_ECDSA"`` to imitate a more limited token (SoftHSM 2.6
    ignores the first entry of a ``-CKM_...`` deny-list). Contexts may nest (a
    test-scoped token inside a module-scoped one): each finalizes the module on entry
    and exit, and backends of the outer token log in again on their next use.
    """
    util = shutil.which("softhsm2-util")
    if util is None:
        pytest.skip("softhsm2-util is not installed (Debian package softhsm2)")
    module = find_softhsm_module()
    token_label = label or f"govtrust-test-{secrets.token_hex(4)}"
    conf, token_dir = _write_conf(Path(directory) / f"softhsm-{secrets.token_hex(4)}", mechanisms)
    pin = secrets.token_hex(8)
    so_pin = secrets.token_hex(8)
    env = {"SOFTHSM2_CONF": str(conf)}

    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        result = subprocess.run(
            [
                util,
                "--init-token",
                "--free",
                "--label",
                token_label,
                "--pin",
                pin,
                "--so-pin",
                so_pin,
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).replace(pin, "***").replace(so_pin, "***")
            raise RuntimeError(f"softhsm2-util --init-token failed: {output.strip()}")
        # A module initialised earlier in this process still reads the old configuration.
        finalize_module(module)
        yield SoftHSMToken(
            module=module,
            token_label=token_label,
            pin=pin,
            so_pin=so_pin,
            conf_path=conf,
            token_dir=token_dir,
            env=env,
        )
    finally:
        finalize_module(module)
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
