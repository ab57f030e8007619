"""Which Tryton model becomes which plant-data category, and how one ERP record becomes a plant record.

One :class:`ModelMapping` per model, in :data:`MAPPINGS` (a registry, not an if/elif
chain): the fields to read, the fields the category **needs** (a record missing one
is reported and left out, see :class:`MissingField`), and a ``build`` function that
turns the record into a :class:`PlantRecordIn` labelled with its category and scope.

=============================== =================== ==================================
Tryton model                    category            scope
=============================== =================== ==================================
``sale.sale``, ``sale.line``    customer_orders     the sale's warehouse → line
``purchase.product_supplier``   vendor_terms        site
(+ ``.price``, payment terms)
``product.product`` (costs)     finance_pricing     site
``stock.move`` (valued, done)   finance_pricing     the receiving warehouse → line
``production``                  production_data     the production's warehouse → line
``quality.inspection``          quality_data        the inspected production's warehouse
=============================== =================== ==================================

Every record's identity in the store is ``(erp:<name>, <model>:<id>)``, so a re-sync
updates it in place. A warehouse missing from ``erp.warehouses`` puts its records on
the whole site — the narrowest audience (see ``lineguard.server.plantdata``'s labels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from lineguard.server.auth import Category
from lineguard.server.plantdata import FieldValue, PlantRecordIn

__all__ = [
    "MAPPINGS",
    "InvalidRecord",
    "Locations",
    "MissingField",
    "ModelMapping",
    "changed_at",
    "moment",
    "nested",
    "source_key",
]

Record = dict[str, Any]


class InvalidRecord(Exception):  # noqa: N818 - a finding, like MissingField
    """A record whose values cannot make a plant record (e.g. a number that is not finite)."""

    def __init__(self, model: str, erp_id: int, problem: str) -> None:
        super().__init__(f"{model} {erp_id}: not a valid plant record ({problem})")
        self.model, self.erp_id = model, erp_id


class MissingField(Exception):  # noqa: N818 - a finding of the mapping, reported, never raised to a caller
    """A record lacks a field its category needs; the sync reports it and leaves it out."""

    def __init__(self, model: str, erp_id: int, name: str) -> None:
        super().__init__(f"{model} {erp_id}: no {name}, which {model} records need")
        self.model, self.erp_id, self.name = model, erp_id, name


@dataclass(frozen=True)
class Locations:
    """Where the ERP's stock locations sit: each location id (a warehouse and everything under
    it) → the line of its warehouse, ``None`` for a warehouse ``erp.warehouses`` does not map."""

    line_of: Mapping[int, str | None] = field(default_factory=dict)

    def lines(self, location_id: Any) -> tuple[str, ...] | None:
        if not isinstance(location_id, int):
            return None
        line = self.line_of.get(location_id)
        return (line,) if line else None

    def unmapped(self, location_id: Any) -> bool:
        """Whether ``location_id`` is a known location whose warehouse has no line (or is unknown)."""
        return isinstance(location_id, int) and self.line_of.get(location_id) is None


def source_key(model: str, erp_id: int) -> str:
    return f"{model}:{erp_id}"


def changed_at(record: Record) -> datetime | None:
    """When the ERP last changed ``record`` (``write_date``, else ``create_date``)."""
    moment = record.get("write_date") or record.get("create_date")
    return moment if isinstance(moment, datetime) else None


def nested(record: Record, name: str) -> Record:
    """The related record read through ``name.<field>`` (``{"name.": {...}}``), or ``{}``."""
    related = record.get(f"{name}.")
    return related if isinstance(related, dict) else {}


def _related(record: Record, name: str, attribute: str = "rec_name") -> Any:
    """``party.rec_name`` read as ``{"party.": {"rec_name": ...}}``."""
    return nested(record, name).get(attribute)


def moment(value: Any) -> datetime | None:
    """A Tryton date or datetime as a UTC datetime (a date: its midnight); anything else: None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _value(value: Any) -> FieldValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, timedelta):
        return round(value.total_seconds() / 86_400, 3)  # a lead time, in days
    return str(value)


@dataclass(frozen=True)
class ModelMapping:
    model: str
    category: Category
    record_type: str
    #: What to read (besides ``id``, ``write_date`` and ``create_date``), in Tryton's dotted form.
    fields: tuple[str, ...]
    #: Keys of the built fields that must not be empty for this category.
    required: tuple[str, ...]
    #: ``(record, locations) -> (title, fields, lines, occurred_at, text)``.
    build: Callable[[Record, Locations], tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]]
    #: Restricts which records count (Tryton domain), e.g. only done stock moves.
    domain: tuple[Any, ...] = ()
    #: The location field whose warehouse scopes the record (None: site).
    location: str | None = None

    def read_fields(self) -> list[str]:
        return [*self.fields, "write_date", "create_date"]

    def to_plant(self, record: Record, *, source: str, locations: Locations) -> PlantRecordIn:
        """The plant record for ``record``; :class:`MissingField` when a needed field is empty."""
        title, values, lines, occurred, text = self.build(record, locations)
        for name in self.required:
            if values.get(name) is None or values.get(name) == "":
                raise MissingField(self.model, int(record["id"]), name)
        try:
            return self._plant(record, source, title, values, lines, occurred, text)
        except ValidationError as exc:
            # Name the field and the kind of problem, never the value (it is plant data).
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "record"
            raise InvalidRecord(self.model, int(record["id"]), f"{where}: {first.get('type')}") from None

    def _plant(
        self, record: Record, source: str, title: str, values: dict[str, Any], lines: tuple[str, ...] | None,
        occurred: Any, text: str,
    ) -> PlantRecordIn:  # fmt: skip
        return PlantRecordIn(
            category=self.category.value,
            source=source,
            source_key=source_key(self.model, int(record["id"])),
            record_type=self.record_type,
            lines=lines,
            occurred_at=moment(occurred),
            title=str(title)[:500],
            fields={k: _value(v) for k, v in values.items()},
            text=text if isinstance(text, str) else str(text),
        )


def _sale(r: Record, loc: Locations) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    customer = _related(r, "party")
    values = {
        "order": r.get("number"),
        "customer": customer,
        "reference": r.get("reference"),
        "status": r.get("state"),
        "amount": r.get("total_amount"),
        "untaxed_amount": r.get("untaxed_amount"),
        "currency": _related(r, "currency", "code"),
    }
    return (
        f"Sales order {r.get('number')} — {customer}",
        values,
        loc.lines(r.get("warehouse")),
        r.get("sale_date"),
        r.get("comment") or "",
    )


def _sale_line(r: Record, loc: Locations) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    sale = nested(r, "sale")
    order = sale.get("number")
    customer = _related(sale, "party")
    part = _related(r, "product", "code") or _related(r, "product")
    values = {
        "order": order,
        "customer": customer,
        "part": part,
        "product": _related(r, "product"),
        "quantity": r.get("quantity"),
        "unit_price": r.get("unit_price"),
        "amount": r.get("amount"),
    }
    return (
        f"Sales order {order} line — {part}",
        values,
        loc.lines(sale.get("warehouse")),
        sale.get("sale_date"),
        r.get("description") or "",
    )


def _supplier_terms(
    r: Record, loc: Locations
) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    party = nested(r, "party")
    supplier = party.get("rec_name")
    part = _related(r, "product", "code") or _related(r, "template")
    values = {
        "supplier": supplier,
        "part": part,
        "product": _related(r, "template"),
        "supplier_code": r.get("code"),
        "lead_time_days": r.get("lead_time"),
        "payment_term": _related(party, "supplier_payment_term"),
        "currency": _related(r, "currency", "code"),
    }
    return f"Supplier terms — {supplier} for {part}", values, None, None, ""


def _purchase_price(
    r: Record, loc: Locations
) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    terms = nested(r, "product_supplier")
    supplier = _related(terms, "party")
    part = _related(terms, "product", "code") or _related(terms, "template")
    values = {
        "supplier": supplier,
        "part": part,
        "min_quantity": r.get("quantity"),
        "unit_price": r.get("unit_price"),
    }
    return f"Purchase price — {supplier} for {part}", values, None, None, ""


def _product_cost(r: Record, loc: Locations) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    part = r.get("code") or r.get("rec_name")
    values = {
        "part": part,
        "product": r.get("rec_name"),
        "cost_price": r.get("cost_price"),
        "list_price": _related(r, "template", "list_price"),
    }
    return f"Product cost — {part}", values, None, None, ""


def _stock_valuation(
    r: Record, loc: Locations
) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    part = _related(r, "product", "code") or _related(r, "product")
    quantity, price = r.get("quantity"), r.get("unit_price")
    values = {
        "part": part,
        "quantity": quantity,
        "unit_price": price,
        "cost_price": r.get("cost_price"),
        "currency": _related(r, "currency", "code"),
    }
    return f"Stock valuation — {part}", values, loc.lines(r.get("to_location")), r.get("effective_date"), ""


def _production(r: Record, loc: Locations) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    part = _related(r, "product", "code") or _related(r, "product")
    values = {
        "order": r.get("number"),
        "part": part,
        "product": _related(r, "product"),
        "quantity": r.get("quantity"),
        "status": r.get("state"),
        "planned_date": str(r["planned_date"]) if r.get("planned_date") else None,
        "started": str(r["effective_start_date"]) if r.get("effective_start_date") else None,
    }
    return (
        f"Production order {r.get('number')} — {part}",
        values,
        loc.lines(r.get("warehouse")),
        r.get("planned_date"),
        "",
    )


def _inspection(r: Record, loc: Locations) -> tuple[str, dict[str, Any], tuple[str, ...] | None, Any, str]:
    origin = r["origin"] if isinstance(r.get("origin"), str) else ""
    production = nested(r, "origin")
    values: dict[str, Any] = {
        "inspection": r.get("number"),
        "status": r.get("state"),
        "control": _related(r, "control"),
        "order": production.get("number") if origin.startswith("production,") else None,
        "origin": origin or None,
    }
    points: dict[str, Any] = r["points"] if isinstance(r.get("points"), dict) else {}
    for name, measured in sorted(points.items()):
        values[f"point_{name}"] = measured
    lines = loc.lines(production.get("warehouse")) if origin.startswith("production,") else None
    return (
        f"Quality inspection {r.get('number')} — {r.get('state')}",
        values,
        lines,
        r.get("processed_at"),
        "",
    )


MAPPINGS: tuple[ModelMapping, ...] = (
    ModelMapping(
        model="sale.sale",
        category=Category.CUSTOMER_ORDERS,
        record_type="sales_order",
        fields=(
            "number",
            "reference",
            "state",
            "sale_date",
            "party.rec_name",
            "warehouse",
            "total_amount",
            "untaxed_amount",
            "currency.code",
            "comment",
        ),
        required=("order", "customer"),
        build=_sale,
        domain=(("state", "not in", ["draft", "cancelled"]),),
        location="warehouse",
    ),
    ModelMapping(
        model="sale.line",
        category=Category.CUSTOMER_ORDERS,
        record_type="sales_order_line",
        fields=(
            "sale.number",
            "sale.party.rec_name",
            "sale.warehouse",
            "sale.sale_date",
            "product.rec_name",
            "product.code",
            "quantity",
            "unit_price",
            "amount",
            "description",
        ),
        required=("order", "quantity", "unit_price"),
        build=_sale_line,
        domain=(("type", "=", "line"), ("sale.state", "not in", ["draft", "cancelled"])),
    ),
    ModelMapping(
        model="purchase.product_supplier",
        category=Category.VENDOR_TERMS,
        record_type="supplier_terms",
        fields=(
            "party.rec_name",
            "party.supplier_payment_term.rec_name",
            "template.rec_name",
            "product.code",
            "code",
            "lead_time",
            "currency.code",
        ),
        required=("supplier", "part"),
        build=_supplier_terms,
    ),
    ModelMapping(
        model="purchase.product_supplier.price",
        category=Category.VENDOR_TERMS,
        record_type="purchase_price",
        fields=(
            "product_supplier.party.rec_name",
            "product_supplier.product.code",
            "product_supplier.template.rec_name",
            "quantity",
            "unit_price",
        ),
        required=("supplier", "unit_price"),
        build=_purchase_price,
    ),
    ModelMapping(
        model="product.product",
        category=Category.FINANCE_PRICING,
        record_type="product_cost",
        fields=("code", "rec_name", "cost_price", "template.list_price"),
        required=("part", "cost_price"),
        build=_product_cost,
    ),
    ModelMapping(
        model="stock.move",
        category=Category.FINANCE_PRICING,
        record_type="stock_valuation",
        fields=(
            "product.rec_name",
            "product.code",
            "quantity",
            "unit_price",
            "cost_price",
            "currency.code",
            "to_location",
            "effective_date",
        ),
        required=("part", "quantity", "unit_price"),
        build=_stock_valuation,
        domain=(("state", "=", "done"), ("from_location.type", "=", "supplier")),
        location="to_location",
    ),
    ModelMapping(
        model="production",
        category=Category.PRODUCTION_DATA,
        record_type="production_order",
        fields=(
            "number",
            "product.rec_name",
            "product.code",
            "quantity",
            "state",
            "planned_date",
            "effective_start_date",
            "warehouse",
        ),
        required=("order", "part", "quantity"),
        build=_production,
        domain=(("state", "!=", "cancelled"),),
        location="warehouse",
    ),
    ModelMapping(
        model="quality.inspection",
        category=Category.QUALITY_DATA,
        record_type="quality_inspection",
        fields=(
            "number",
            "state",
            "control.rec_name",
            "points",
            "origin",
            "origin.number",
            "origin.warehouse",
            "processed_at",
        ),
        required=("inspection", "status"),
        build=_inspection,
    ),
)
