"""Bad input for the ERP sync: each stores nothing (or only the whole records), moves no cursor past
what it did not store, says what went wrong and is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.integrations.erp import cursor_positions
from tests.support.test_pki import TestCa
from tests.support.tryton import READER_PASSWORD, Tryton
from tests.unit.server.integrations.erp.conftest import PASSWORD_ENV, Erp


def _cursors(erp: Erp) -> dict[str, Any]:
    assert erp.settings.erp is not None
    with erp.sessions() as session:
        return cursor_positions(session, erp.settings.erp)


def test_an_erp_that_is_down_stores_nothing_and_keeps_the_cursors(
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton_alone: Tryton, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    erp = Erp(tmp_path, migrated, envelope, tryton_alone, erp_ca)
    erp.sync()
    before = ({r.source_key: r.content_h for r in erp.rows()}, _cursors(erp))
    tryton_alone.server.stop()
    with pytest.raises(UpstreamError, match=r"erp\.plant\.test.*failed \(ConnectError\)") as caught:
        erp.sync()
    assert caught.value.retryable
    assert ({r.source_key: r.content_h for r in erp.rows()}, _cursors(erp)) == before
    assert erp.audit_names()[-1] == "erp.sync_failed"


def test_wrong_credentials_are_refused_and_never_echoed(
    erp: Erp, tryton: Tryton, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-0042")
    with pytest.raises(UpstreamError, match=r"Tryton refused the login \(HTTP 401\)") as caught:
        erp.sync()
    assert not caught.value.retryable and "not-the-password-0042" not in str(caught.value)
    assert erp.rows() == [] and all(v is None for v in _cursors(erp).values())
    assert erp.audit_names() == ["erp.sync_failed"]


@pytest.mark.erp_reads_only
def test_a_host_off_the_egress_allowlist_is_never_contacted(
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton: Tryton, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    other = [
        {"scheme": "https", "host": "cmms.plant.test", "port": tryton.port, "ca_file": str(erp_ca.cert_path)}
    ]
    erp = Erp(tmp_path, migrated, envelope, tryton, erp_ca, allow=other)
    with pytest.raises(EgressDeniedError, match="not in the egress allowlist"):
        erp.sync()
    assert erp.rows() == []
    assert erp.audit_names() == ["egress.denied", "erp.sync_failed"]


@pytest.mark.erp_reads_only
def test_a_certificate_not_from_the_pinned_ca_is_refused(
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton: Tryton, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    stranger = TestCa(tmp_path / "other-pki", "stranger")
    rule = [
        {"scheme": "https", "host": "erp.plant.test", "port": tryton.port, "ca_file": str(stranger.cert_path)}
    ]
    erp = Erp(tmp_path, migrated, envelope, tryton, erp_ca, allow=rule)
    with pytest.raises(UpstreamError, match=r"TLS certificate of https://erp\.plant\.test.* not trusted"):
        erp.sync()
    assert erp.rows() == []


def test_a_record_missing_a_needed_field_is_reported_and_the_rest_is_stored(erp: Erp, tryton: Tryton) -> None:
    ctx = tryton.context()
    [production_location] = tryton.call(
        "model.stock.location.search", [["type", "=", "production"]], 0, 1, None, ctx
    )
    [broken] = tryton.call(
        "model.production.create",
        [
            {
                "warehouse": tryton.ids["warehouses"]["WH"],
                "location": production_location,
                "company": ctx["company"],
            }
        ],
        ctx,
    )
    report = erp.sync()
    assert report.problems == [
        f"production {broken}: no order, which production records need"
    ] or report.problems == [f"production {broken}: no part, which production records need"]
    keys = {r.source_key for r in erp.rows()}
    assert f"production:{broken}" not in keys
    assert {f"production:{i}" for i in tryton.ids["productions"]} <= keys and len(keys) == 20
    assert report.models["production"].skipped == 1
    # The cursor waits at the broken record: the next sync reports it again ...
    assert erp.sync().problems == report.problems
    # ... and once the ERP has what the category needs, the record arrives.
    tryton.call(
        "model.production.write", [broken], {"product": tryton.ids["products"]["B-100"], "quantity": 5}, ctx
    )
    tryton.call("model.production.wait", [broken], ctx)
    fixed = erp.sync()
    assert fixed.problems == [] and fixed.inserted == 1
    record = erp.records()[f"production:{broken}"]
    assert (record.category, record.lines, record.fields["part"]) == ("production_data", ("line-1",), "B-100")


@pytest.mark.erp_reads_only
def test_remapping_a_warehouse_never_widens_a_stored_scope(
    tmp_path: Path, migrated: sessionmaker[Session], envelope: Any, tryton: Tryton, erp_ca: TestCa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, READER_PASSWORD)
    Erp(tmp_path, migrated, envelope, tryton, erp_ca).sync()
    # WH moves to line-3; WH2 is dropped from the map (its records would now be site-wide).
    remapped = Erp(tmp_path, migrated, envelope, tryton, erp_ca, warehouses={"WH": "line-3"})
    report = remapped.sync()
    records = remapped.records()
    first_sale, second_sale, _ = (records[f"sale.sale:{i}"] for i in tryton.ids["sales"])
    assert first_sale.lines == ("line-1", "line-3")  # fewer readers than either line alone
    assert second_sale.lines is None  # the whole site: the narrowest audience
    assert report.kept_narrower > 0
    assert report.models["sale.sale"].site_wide_unmapped == 2
    # Mapping it back cannot widen what is stored.
    back = Erp(tmp_path, migrated, envelope, tryton, erp_ca).sync()
    assert back.updated == 0
    assert remapped.records()[f"sale.sale:{tryton.ids['sales'][0]}"].lines == ("line-1", "line-3")
