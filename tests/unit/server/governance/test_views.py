"""The dashboard's governance routes on a real app and database: the IT administrator gets the
doctor's report and every document (HTML and PDF); other roles get 403; unknown names 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lineguard.server.auth import Role
from lineguard.server.governance import GROUPS
from tests.unit.server.auth.harness import AuthHarness, running_harness


@pytest.fixture
def harness(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthHarness]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with running_harness(db_url, tmp_path / "server") as h:
        yield h


def test_the_it_administrator_reads_the_doctor_and_the_documents(harness: AuthHarness) -> None:
    harness.sign_in(harness.add_person("ivan.it", [Role.IT_ADMINISTRATOR]))
    report = harness.client.get("/api/v1/governance/doctor")
    assert report.status_code == 200
    body = report.json()
    assert [g["id"] for g in body["groups"]] == list(GROUPS)
    owners = next(c for g in body["groups"] for c in g["checks"] if c["id"] == "access.owners_named")
    assert owners["status"] == "fail"

    listed = harness.client.get("/api/v1/governance/documents").json()
    names = [d["name"] for d in listed]
    assert names[0] == "record-of-processing" and "vendor-assessment" in names
    html = harness.client.get("/api/v1/governance/documents/record-of-processing")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "GDPR Art. 30(1)" in html.text
    pdf = harness.client.get("/api/v1/governance/documents/dpia", params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert harness.client.get("/api/v1/governance/documents/nope").status_code == 404
    assert (
        harness.client.get("/api/v1/governance/documents/dpia", params={"format": "docx"}).status_code == 422
    )


def test_other_roles_are_refused_and_the_refusal_is_audited(harness: AuthHarness) -> None:
    harness.sign_in(harness.add_person("quinn.quality", [Role.QUALITY_ENGINEER]))
    assert harness.client.get("/api/v1/governance/doctor").status_code == 403
    assert harness.client.get("/api/v1/governance/documents/dpia").status_code == 403
    assert "access.denied" in harness.trail.names()
