"""Fuzz what an ERP answers: any HTTP answer to a JSON-RPC call decodes or raises an
:class:`UpstreamError` (never another exception, never Tryton's error text), and any record
Tryton could send maps to a plant record or to a reported finding."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import HttpResult
from lineguard.server.integrations.erp import MAPPINGS, InvalidRecord, Locations, MissingField, read_answer
from lineguard.server.plantdata import PlantRecordIn

SECRET = "Canary-4711-price"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30), st.just(SECRET)
)
tagged = st.fixed_dictionaries(
    {"__class__": st.sampled_from(["datetime", "date", "Decimal", "timedelta", "bytes", "set", SECRET])},
    optional={
        "year": st.integers(-5, 12000), "month": st.integers(-1, 14), "day": st.integers(-1, 40),
        "hour": st.integers(-1, 30), "decimal": scalars, "seconds": scalars, "base64": st.text(max_size=12),
    },
)  # fmt: skip
values = st.recursive(
    st.one_of(scalars, tagged),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
errors = st.one_of(
    st.lists(st.one_of(st.just(SECRET), st.text(max_size=20), st.just("UserError")), max_size=3),
    st.just(SECRET),
    st.just([f"{SECRET}Error"]),
)
bodies = st.one_of(
    st.binary(max_size=200),
    values.map(lambda v: json.dumps({"id": 1, "result": v}).encode()),
    errors.map(lambda e: json.dumps({"id": 1, "error": e}).encode()),
)


@settings(max_examples=200, deadline=None)
@given(status=st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502]), body=bodies)
def test_any_answer_decodes_or_is_an_upstream_error(status: int, body: bytes) -> None:
    result = HttpResult(
        status=status, headers=httpx.Headers(), body=body, url="https://erp.plant.test:8000/plant/rpc/"
    )
    try:
        read_answer(result, method="model.sale.sale.search_read", name="erp")
    except UpstreamError as exc:
        assert SECRET not in str(exc)  # Tryton's error text (it may quote data) is never repeated


def _record(draw_values: dict[str, Any], erp_id: int) -> dict[str, Any]:
    return {**draw_values, "id": erp_id}


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, len(MAPPINGS) - 1),
    erp_id=st.integers(1, 2**31),
    data=st.data(),
)
def test_any_record_maps_or_is_a_reported_finding(index: int, erp_id: int, data: st.DataObject) -> None:
    mapping = MAPPINGS[index]
    names = {f.split(".", 1)[0] + ("." if "." in f else "") for f in mapping.read_fields()}
    record = {name: data.draw(values) for name in names}
    locations = Locations({5: "line-1", 6: None})
    try:
        plant = mapping.to_plant(_record(record, erp_id), source="erp:fuzz", locations=locations)
    except (MissingField, InvalidRecord) as exc:
        assert str(erp_id) in str(exc) and SECRET not in str(exc)  # names the record, never a value
        return
    assert isinstance(plant, PlantRecordIn)
    assert plant.category == mapping.category.value and plant.source_key == f"{mapping.model}:{erp_id}"
    assert plant.lines in (None, ("line-1",))
