"""The test ERP itself: a real Tryton server with the seeded plant and a user who can only read, and
the bounds of its build (a budget, a close that kills the running step)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tryton import READER_LOGIN, READER_PASSWORD, PlantBuilder, Tryton
from tests.support.waiting import until


@pytest.mark.erp_reads_only
def test_the_seeded_plant_is_served_over_json_rpc(tryton: Tryton) -> None:
    sales = tryton.call(
        "model.sale.sale.search_read", [], 0, None, [["id", "ASC"]], ["number", "comment"], tryton.context()
    )
    assert [s["id"] for s in sales] == tryton.ids["sales"]
    injected = next(s for s in sales if s["id"] == tryton.ids["injected_sale"])
    assert injected["comment"] == tryton.ids["injection"]
    inspections = tryton.call(
        "model.quality.inspection.search_read", [], 0, None, [["id", "ASC"]], ["state"], tryton.context()
    )
    assert [i["state"] for i in inspections] == ["passed", "failed"]


def test_the_reader_reads_but_every_write_is_refused(tryton: Tryton) -> None:
    as_reader = {"login": READER_LOGIN, "password": READER_PASSWORD}
    ctx = tryton.context()
    read = tryton.call("model.sale.sale.read", tryton.ids["sales"], ["number"], ctx, **as_reader)
    assert len(read) == len(tryton.ids["sales"])
    writes = [
        ("model.sale.sale.write", [tryton.ids["sales"][:1], {"comment": "changed"}]),
        ("model.product.product.write", [list(tryton.ids["products"].values())[:1], {"active": False}]),
        ("model.quality.inspection.delete", [tryton.ids["inspections"][:1]]),
        ("model.party.party.create", [[{"name": "Intruder"}]]),
    ]
    for method, params in writes:
        with pytest.raises(RuntimeError, match=r"UserError|AccessError"):
            tryton.call(method, *params, ctx, **as_reader)
    # Nothing changed: the admin still sees the seeded values.
    [sale] = tryton.call("model.sale.sale.read", tryton.ids["sales"][:1], ["comment"], ctx)
    assert sale["comment"] is None
    assert tryton.call("model.party.party.search", [["name", "=", "Intruder"]], 0, None, None, ctx) == []


def test_a_build_past_its_budget_is_killed_and_fails_naming_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINEGUARD_TRYTON_CACHE", raising=False)
    builder = PlantBuilder(tmp_path, budget_s=1)
    builder.start()
    with pytest.raises(RuntimeError, match=r"passed its 1 s budget during creating the database"):
        builder.result()
    assert builder.step_running() is False


def test_closing_a_build_kills_its_running_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEGUARD_TRYTON_CACHE", raising=False)
    builder = PlantBuilder(tmp_path)
    builder.start()
    until(builder.step_running, timeout_s=30)
    builder.close()
    assert builder.step_running() is False
    with pytest.raises(RuntimeError, match=r"creating the database exited with -9"):
        builder.result()
