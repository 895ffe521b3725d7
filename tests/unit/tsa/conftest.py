"""Fixtures of the TSA unit tests."""

from __future__ import annotations

import pytest

from tests.unit.tsa._pki import Pki, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
