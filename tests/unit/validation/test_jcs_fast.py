"""``render.canonical_json`` (one pass into a list, C string escaping) against the
straightforward RFC 8785 implementation it replaced, kept here as the reference: the
same bytes for reports, the RFC's sample and awkward inputs, and the same refusals."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pytest

from govtrust.validation import render
from govtrust.validation.render import canonical_json

__all__: list[str] = []


def _reference(value: Any) -> bytes:
    """The implementation before the fast one (session 4), verbatim in behaviour."""

    def string(s: str) -> str:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("lone surrogate") from None
        return json.dumps(s, ensure_ascii=False)

    def jcs(v: Any) -> str:
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            if abs(v) > 2**53:
                raise ValueError("big")
            return str(v)
        if isinstance(v, float):
            return render._number(v)
        if isinstance(v, str):
            return string(v)
        if isinstance(v, Mapping):
            if not all(isinstance(k, str) for k in v):
                raise ValueError("keys")
            keys = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
            return "{" + ",".join(f"{string(k)}:{jcs(v[k])}" for k in keys) + "}"
        if isinstance(v, list | tuple):
            return "[" + ",".join(jcs(x) for x in v) + "]"
        raise ValueError("type")

    return jcs(value).encode("utf-8")


AWKWARD: list[Any] = [
    {},
    [],
    "",
    0,
    -0.0,
    1.5e300,
    [1e21, 1e-7, 0.1, -5e-324, 123456789.125],
    {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7},
    {"b": [None, True, False, {"z": '\u0000\u001f"\\/\u2028\u2029</script>'}], "a": ()},
    {"nested": [[[[{"deep": ["x" * 300, 2**53, -(2**53)]}]]]]},
    ["مرحبا", "שלום", "日本語", "\U0001d11e"],
]


@pytest.mark.parametrize("value", AWKWARD)
def test_same_bytes_as_the_reference(value: Any) -> None:
    assert canonical_json(value) == _reference(value)


def test_same_bytes_on_a_report(ctx: Any) -> None:
    from govtrust.services import verify
    from tests.e2e.support import sign_pdf

    report = verify.verify_document(ctx, sign_pdf(ctx), name="x.pdf").to_dict()
    assert canonical_json(report) == _reference(report)
    sealed = json.loads(verify.sealed_json(ctx, verify.verify_document(ctx, sign_pdf(ctx))))
    assert canonical_json(sealed) == _reference(sealed)


@pytest.mark.parametrize(
    "bad",
    [
        "\ud800",
        {"k": ["ok", "\udfff"]},
        {"\ud800": 1},
        {1: "x"},
        2**53 + 1,
        math.nan,
        [math.inf],
        {"s": {1, 2}},
        b"bytes",
    ],
)
def test_same_refusals_as_the_reference(bad: Any) -> None:
    with pytest.raises(ValueError):
        _reference(bad)
    with pytest.raises(ValueError):
        canonical_json(bad)
