"""``sync_erp`` against a real Tryton server (HTTPS, a pinned test CA, the read-only ERP user) into
the real plant-data store (SQLite and PostgreSQL, envelope encryption).

The only fake is DNS: ``erp.plant.test`` resolves to 127.0.0.1 (conftest of integrations).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from lineguard.server.integrations.erp import cursor_positions
from lineguard.server.plantdata import PlantRecordRow
from tests.support.test_pki import TestCa
from tests.support.tryton import Tryton
from tests.unit.server.integrations.erp.conftest import Erp


@pytest.mark.erp_reads_only
def test_a_sync_maps_every_model_to_its_category_and_scope(erp: Erp, tryton: Tryton) -> None:
    report = erp.sync()
    records = erp.records()
    ids = tryton.ids
    by_type = Counter(r.record_type for r in records.values())
    assert by_type == {
        "sales_order": 3, "sales_order_line": 4, "supplier_terms": 2, "purchase_price": 2, "product_cost": 2,
        "stock_valuation": 2, "production_order": 2, "quality_inspection": 2, "scrap_cost": 1,
    }  # fmt: skip
    assert report.inserted == len(records) and report.problems == [] and report.derived == 1
    category_of = {
        "sales_order": "customer_orders",
        "sales_order_line": "customer_orders",
        "supplier_terms": "vendor_terms",
        "purchase_price": "vendor_terms",
        "product_cost": "finance_pricing",
        "stock_valuation": "finance_pricing",
        "production_order": "production_data",
        "quality_inspection": "quality_data",
        "scrap_cost": "finance_pricing",
    }
    for record in records.values():
        assert record.category == category_of[record.record_type], record.source_key
        assert record.source == "erp:tryton"

    # Scope: the warehouse's line; vendor terms and costs on the whole site.
    first, second, third = (records[f"sale.sale:{i}"] for i in ids["sales"])
    assert (first.lines, second.lines, third.lines) == (("line-1",), ("line-2",), ("line-2",))
    assert first.fields["customer"] == "Northwind Motors" and first.fields["amount"] == "5840.00"
    injected = records[f"sale.sale:{ids['injected_sale']}"]
    assert injected.text == ids["injection"]  # stored as the order's text, labelled like the order
    assert injected.category == "customer_orders" and injected.lines == ("line-2",)
    terms = [r for r in records.values() if r.record_type == "supplier_terms"]
    assert {(t.fields["supplier"], t.fields["payment_term"], t.lines) for t in terms} == {
        ("Steelworks GmbH", "Net 30", None), ("Polymer Supply Ltd", "Net 60", None),
    }  # fmt: skip
    prices = {
        r.fields["part"]: r.fields["unit_price"]
        for r in records.values()
        if r.record_type == "purchase_price"
    }
    assert prices == {"B-100": "6.80", "H-200": "29.90"}
    receipts = {r.fields["part"]: r for r in records.values() if r.record_type == "stock_valuation"}
    assert receipts["B-100"].lines == ("line-1",) and receipts["H-200"].lines == ("line-2",)
    assert receipts["B-100"].fields["quantity"] == 500.0 and receipts["B-100"].fields["unit_price"] == "6.80"
    orders = [records[f"production:{i}"] for i in ids["productions"]]
    assert [(o.lines, o.fields["part"], o.fields["quantity"]) for o in orders] == [
        (("line-1",), "B-100", 600.0), (("line-2",), "H-200", 120.0),
    ]  # fmt: skip
    passed, failed = (records[f"quality.inspection:{i}"] for i in ids["inspections"])
    assert (passed.fields["status"], failed.fields["status"]) == ("passed", "failed")
    assert (passed.lines, failed.lines) == (("line-1",), ("line-2",))
    assert failed.fields["point_hole_mm"] == 10.35


@pytest.mark.erp_reads_only
def test_a_derived_value_carries_the_strictest_label_of_its_sources(erp: Erp, tryton: Tryton) -> None:
    erp.sync()
    records = erp.records()
    [scrap] = [r for r in records.values() if r.record_type == "scrap_cost"]
    failed = records[f"quality.inspection:{tryton.ids['inspections'][1]}"]
    production = records[f"production:{tryton.ids['productions'][1]}"]
    cost = records[f"product.product:{tryton.ids['products']['H-200']}"]
    # Sources: quality data of line-2, production data of line-2, finance pricing of the site.
    assert (failed.category, failed.lines) == ("quality_data", ("line-2",))
    assert (production.category, production.lines) == ("production_data", ("line-2",))
    assert (cost.category, cost.lines) == ("finance_pricing", None)
    # The derived value: finance pricing (strictest), whole site (narrowest audience).
    assert (scrap.category, scrap.lines) == ("finance_pricing", None)
    assert Decimal(str(scrap.fields["amount"])) == Decimal("120") * Decimal(str(cost.fields["cost_price"]))
    assert scrap.occurred_at is not None
    assert scrap.occurred_at == failed.occurred_at  # dated like its inspection
    with erp.sessions() as session:
        [row] = session.scalars(
            select(PlantRecordRow).where(PlantRecordRow.record_type == "scrap_cost")
        ).all()
        sources = {r.source_key: r.record_id for r in session.scalars(select(PlantRecordRow))}
        assert set(row.derived_from) == {sources[k] for k in (failed.source_key, production.source_key,
                                                              cost.source_key)}  # fmt: skip


def test_a_second_sync_is_idempotent_and_reads_only_what_changed(erp: Erp, tryton: Tryton) -> None:
    first = erp.sync()
    rows_before = {r.source_key: (r.record_id, r.content_h) for r in erp.rows()}
    again = erp.sync()
    assert again.inserted == 0 and again.updated == 0
    assert {r.source_key: (r.record_id, r.content_h) for r in erp.rows()} == rows_before
    # Only the overlap window is re-read (everything here is younger than it), never more than the first sync.
    assert again.read <= first.read

    # A price changes in the ERP: the next sync updates that one record in place.
    [price] = tryton.call(
        "model.purchase.product_supplier.price.search", [], 0, 1, [["id", "ASC"]], tryton.context()
    )
    new_price = {"unit_price": {"__class__": "Decimal", "decimal": "7.15"}}
    tryton.call("model.purchase.product_supplier.price.write", [price], new_price, tryton.context())
    changed = erp.sync()
    assert changed.inserted == 0 and changed.updated == 1
    after = erp.records()[f"purchase.product_supplier.price:{price}"]
    assert after.fields["unit_price"] == "7.15"
    assert {r.source_key: r.record_id for r in erp.rows()} == {k: v[0] for k, v in rows_before.items()}


def test_incremental_reads_follow_the_cursor(
    erp: Erp, tryton: Tryton, tmp_path: Path, erp_ca: TestCa
) -> None:
    """With no overlap, a sync after the first reads only records written after the cursor."""
    narrow = Erp(tmp_path, erp.sessions, erp.envelope, tryton, erp_ca, overlap_s=0)
    narrow.sync()
    assert narrow.settings.erp is not None
    with erp.sessions() as session:
        cursors = cursor_positions(session, narrow.settings.erp)
    assert all(cursors[m] is not None for m in ("sale.sale", "production", "quality.inspection"))
    started = {"__class__": "date", "year": 2026, "month": 12, "day": 2}
    tryton.call(
        "model.production.write",
        tryton.ids["productions"][:1],
        {"effective_start_date": started},
        tryton.context(),
    )
    report = narrow.sync()
    read = {m: c.read for m, c in report.models.items() if c.read}
    assert read == {"production": 1}  # the one production order written since
    # It is updated; the scrap cost (of the other order) is recomputed and found unchanged.
    assert (report.inserted, report.updated) == (0, 1)
    assert erp.records()[f"production:{tryton.ids['productions'][0]}"].fields["started"] == "2026-12-02"
