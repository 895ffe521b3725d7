"""What changed after a PDF signature and whether DocMDP/FieldMDP permit it
(:mod:`govtrust.validation.signatures._pdf_changes`), on PDFs signed and then
modified here with pyHanko."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyhanko.sign.fields import MDPPerm

from govtrust.validation.signatures._pdf_changes import (
    Coverage,
    ModificationAnalysis,
    analyse_modifications,
    certification_permission,
)
from govtrust.validation.signatures._pdf_structure import OpenedPdf, find_signatures, open_pdf
from tests.unit.validation.test_pdf_structure import (
    TWO_FIELDS,
    add_annotation,
    fill_text_field,
    overlay,
    replace_contents,
    sign,
    with_text_field,
)


def analyses(data: bytes) -> dict[str, ModificationAnalysis]:
    opened = open_pdf(data)
    assert isinstance(opened, OpenedPdf)
    certification = certification_permission(opened.reader)
    out = {}
    for found in find_signatures(opened.reader):
        assert found.embedded is not None
        out[found.field_name] = analyse_modifications(found.embedded, certification)
    return out


def test_untouched_signature_covers_the_entire_file() -> None:
    (only,) = analyses(sign(TWO_FIELDS)).values()
    assert only.coverage is Coverage.ENTIRE_FILE
    assert only.permitted and only.later_revisions == 0 and only.changes == ()
    assert only.to_dict()["coverage"] == "entire-file"


@pytest.mark.parametrize(
    ("attack", "named"),
    [
        (overlay, "drawn over the signed content"),
        (replace_contents, "page content (/Contents) was replaced"),
    ],
    ids=["overlay", "replaced-contents"],
)
def test_content_changes_after_signing_are_not_permitted(
    attack: Callable[[bytes], bytes], named: str
) -> None:
    result = analyses(attack(sign(TWO_FIELDS)))["Sig1"]
    assert result.coverage is Coverage.ENTIRE_REVISION
    assert result.later_revisions == 1
    assert not result.permitted and result.level == "other"
    assert any(named in c and c.startswith("revision 4: page 1") for c in result.changes)
    assert result.reason


def test_annotation_on_a_certified_no_changes_document() -> None:
    certified = sign(TWO_FIELDS, certify=True, permission=MDPPerm.NO_CHANGES)
    result = analyses(add_annotation(certified))["Sig1"]
    assert not result.permitted
    assert result.permission is not None and result.permission.startswith("P=1")
    assert any("/Text annotation was added" in c for c in result.changes)


def test_annotation_after_an_approval_signature_is_named_and_refused() -> None:
    """Without DocMDP, ISO 32000-1 would tolerate annotations; pyHanko's default diff
    policy has no rule that explains a new annotation, so it is graded OTHER and
    refused: the conservative reading a validator for official documents wants (an
    annotation can cover the signed text)."""
    result = analyses(add_annotation(sign(TWO_FIELDS)))["Sig1"]
    assert not result.permitted and result.level == "other"
    assert any("/Text annotation was added" in c for c in result.changes)


def test_a_second_signature_is_a_permitted_change() -> None:
    both = analyses(sign(sign(TWO_FIELDS), "Sig2"))
    first, second = both["Sig1"], both["Sig2"]
    assert first.permitted and first.level == "form-filling"
    assert any("signature field 'Sig2' was signed" in c for c in first.changes)
    assert second.coverage is Coverage.ENTIRE_FILE


def test_a_second_signature_on_a_p2_certified_document() -> None:
    certified = sign(TWO_FIELDS, certify=True, permission=MDPPerm.FILL_FORMS)
    result = analyses(sign(certified, "Sig2"))
    assert result["Sig1"].permitted
    assert result["Sig2"].permission is not None  # the certification binds it too


@pytest.mark.parametrize(
    ("permission", "permitted"),
    [(MDPPerm.FILL_FORMS, True), (MDPPerm.ANNOTATE, True), (MDPPerm.NO_CHANGES, False)],
)
def test_form_filling_against_docmdp(permission: MDPPerm, permitted: bool) -> None:
    base, field = with_text_field(TWO_FIELDS)
    filled = fill_text_field(sign(base, certify=True, permission=permission), field)
    result = analyses(filled)["Sig1"]
    assert result.permitted is permitted
    assert result.level == "form-filling"
    assert any("form field 'Name' value changed" in c for c in result.changes)
    if not permitted:
        assert result.reason is not None and "P=1" in result.reason


def test_later_changes_do_not_touch_the_later_signature() -> None:
    """A change made before the second signature counts against the first only."""
    tampered_then_signed = sign(overlay(sign(TWO_FIELDS)), "Sig2")
    result = analyses(tampered_then_signed)
    assert not result["Sig1"].permitted
    assert result["Sig2"].permitted and result["Sig2"].coverage is Coverage.ENTIRE_FILE
