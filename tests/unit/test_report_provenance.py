"""Who ran it, what it covered, who signs it off: the PDF cover and last page, and the workbook's About sheet."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pypdf
import pytest

from auditor.config import ReportSettings, Signatory
from auditor.reports.interface import ReportContext
from auditor.reports.pdf.document import PdfRenderer
from auditor.reports.provenance import operator_lines, scope_lines, scope_sentence, signatories
from auditor.reports.xlsx.about import ABOUT, SIGN_HERE
from tests.unit.test_xlsx_fixtures import crafted_context, render

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MIRID = "/subscriptions/s1/resourcegroups/rg-gov/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-auditor"
LIVE_SCOPE: dict[str, Any] = {
    "kind": "azure",
    "tenant_id": TENANT,
    "cloud": "AzureCloud",
    "management_groups": [],
    "subscriptions": ["s1", "s2"],
    "visible_subscriptions": 3,
    "subscriptions_scanned": [{"id": "s1", "name": "Prod", "state": "Enabled"}, {"id": "s2", "name": "", "state": ""}],
    "subscriptions_not_scanned": [{"id": "s3", "name": "Sandbox", "state": "Disabled"}],
    "subscriptions_not_visible": ["s2"],
    "subscription_list_error": None,
}
OPERATOR: dict[str, Any] = {
    "host": "build-7",
    "os_user": "runner",
    "ci": {"system": "github_actions", "url": "https://github.com/contoso/audit/actions/runs/42", "run_id": "42"},
    "azure_principal": {
        "type": "managed_identity",
        "tenant_id": TENANT,
        "object_id": "oid-1",
        "app_id": "app-1",
        "managed_identity_id": MIRID,
    },
}


def test_the_scope_sentence_names_what_was_scanned() -> None:
    assert scope_sentence(LIVE_SCOPE, {}) == f"2 subscriptions of tenant {TENANT} (1 more visible, not scanned)"
    snapshot = {
        "kind": "snapshot",
        "origin": "synthetic",
        "tenant_id": "t",
        "subscriptions": ["a"],
        "management_groups": [],
    }
    assert scope_sentence(snapshot, {"kind": "snapshot", "source": "synthetic"}) == (
        "subscription a of tenant t (synthetic snapshot)"
    )
    whole = {"kind": "azure", "tenant_id": "t", "subscriptions": [], "management_groups": []}
    assert scope_sentence(whole, {}) == "the whole tenant t"
    groups = {"kind": "azure", "tenant_id": "t", "subscriptions": ["x", "y"], "management_groups": ["mg"]}
    assert scope_sentence(groups, {}) == "management group mg, 2 subscriptions of tenant t"
    # A pack written before scope was recorded: its fingerprint, and never "tenant t" as if all of it was scanned.
    assert scope_sentence(None, {"kind": "snapshot", "source": "synthetic", "tenant_id": "t"}) == (
        "tenant t, scope not recorded (synthetic snapshot)"
    )
    assert scope_sentence(None, {"tenant_id": "t", "scope": {"subscriptions": ["s1"]}}) == "subscription s1 of tenant t"
    assert scope_sentence(None, {}) == "scope not recorded"


def test_scope_and_operator_lines() -> None:
    assert scope_lines(LIVE_SCOPE) == [
        ("Subscriptions scanned", "Prod (s1), s2"),
        ("Visible, not scanned", "Sandbox (s3), Disabled"),
        ("Configured, not visible", "s2 (the identity cannot read them)"),
    ]
    many = {**LIVE_SCOPE, "subscriptions_not_scanned": [{"id": f"s{n}", "name": "", "state": ""} for n in range(8)]}
    assert dict(scope_lines(many))["Visible, not scanned"] == "s0, s1, s2, s3, s4 (+3 more)"
    assert dict(scope_lines(many, limit=None))["Visible, not scanned"].count(", ") == 7
    refused = {**LIVE_SCOPE, "subscriptions_not_scanned": None, "subscription_list_error": "the list failed (X)"}
    assert ("Subscriptions list", "the list failed (X): what was left out is not known") in scope_lines(refused)
    assert operator_lines(OPERATOR) == [
        ("Run by", "runner@build-7"),
        ("CI run", "GitHub Actions: https://github.com/contoso/audit/actions/runs/42"),
        (
            "Azure principal",
            f"managed identity id-auditor (object id oid-1, app id app-1) in tenant {TENANT} "
            "(from the access token; not verified)",
        ),
    ]
    offline = {"host": "h", "os_user": None, "ci": None, "azure_principal": None}
    assert operator_lines(offline) == [
        ("Run by", "an unknown user on h"),
        ("Azure principal", "none: the scan read a snapshot, not Azure"),
    ]
    assert operator_lines(None) == [] and scope_lines(None) == []


SIGNOFF = ReportSettings(
    prepared_by=Signatory(name="Dana Whitfield", role="Cloud governance lead"),
    reviewed_by=Signatory(name="Ravi Menon", role="IT audit manager"),
)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    context = crafted_context(tmp_path_factory)
    config = context.evaluation.config.model_copy(update={"report": SIGNOFF})
    return dataclasses.replace(
        context,
        evaluation=dataclasses.replace(context.evaluation, config=config),
        provenance={"operator": OPERATOR, "scope": LIVE_SCOPE},
    )


def test_signatories_follow_the_config() -> None:
    assert [(p.capacity, p.name, p.role) for p in signatories(SIGNOFF)] == [
        ("Prepared by", "Dana Whitfield", "Cloud governance lead"),
        ("Reviewed by", "Ravi Menon", "IT audit manager"),
    ]
    assert signatories(ReportSettings()) == []


@pytest.mark.slow
def test_pdf_cover_names_scope_and_operator_and_the_last_page_is_the_sign_off(
    signed: ReportContext, tmp_path: Path
) -> None:
    path = tmp_path / "audit-pack.pdf"
    PdfRenderer().render(signed, path)
    pages = [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]
    cover = pages[0]
    assert f"2 subscriptions of tenant {TENANT} (synthetic snapshot; 1 more visible, not scanned)" in cover
    assert "Visible, not scanned Sandbox (s3), Disabled" in cover
    assert (
        "Run by runner@build-7" in cover
        and "CI run GitHub Actions: https://github.com/contoso/audit/actions/runs/42" in cover
    )
    assert "Azure principal managed identity id-auditor (object id oid-1, app id app-1)" in cover
    assert "Appendix: queries Sign-off" in cover  # the contents, still on the cover
    last = pages[-1]
    assert "Sign-off By signing" in last
    for text in (
        "Prepared by Dana Whitfield Role Cloud governance lead Signature Date",
        "Reviewed by Ravi Menon Role IT audit manager Signature Date",
    ):
        assert text in last
    assert all("Sign-off By signing" not in page for page in pages[:-1])
    # Each exception shows who approved it, when, and its risk rating.
    register = "".join(page for page in pages if "Owner, approval and ticket" in page).replace(" ", "")
    assert "erp-team@contoso.comapprovedbyrisk-board@contoso.comon2026-10-02riskhighCHG-1" in register


def test_about_sheet_names_scope_operator_and_sign_off(signed: ReportContext, tmp_path: Path) -> None:
    workbook = render(signed, tmp_path / "audit-pack.xlsx")
    exceptions = workbook["Exceptions"]
    header = [cell.value for cell in exceptions[2]]
    first = dict(zip(header, [cell.value for cell in exceptions[3]], strict=False))
    assert (first["Exception"], first["Approver"], first["Approved on"], first["Risk rating"]) == (
        "EX-ACTIVE",
        "risk-board@contoso.com",
        "2026-10-02",
        "high",
    )
    about = workbook[ABOUT]
    pairs = [(row[0], row[1]) for row in about.iter_rows(values_only=True) if row[0] is not None]
    assert ("Scope", f"2 subscriptions of tenant {TENANT} (synthetic snapshot; 1 more visible, not scanned)") in pairs
    assert ("Run by", "runner@build-7") in pairs and (
        "Configured, not visible",
        "s2 (the identity cannot read them)",
    ) in pairs
    assert pairs[-7:] == [
        ("Sign-off", None),
        ("Prepared by", "Dana Whitfield, Cloud governance lead"),
        ("Signature", SIGN_HERE),
        ("Date", SIGN_HERE),
        ("Reviewed by", "Ravi Menon, IT audit manager"),
        ("Signature", SIGN_HERE),
        ("Date", SIGN_HERE),
    ]
