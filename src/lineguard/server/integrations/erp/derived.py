"""Values the connector computes from several ERP records, labelled with the strictest of their sources.

Today one: the **scrap cost** of a failed quality inspection of a production order —
the order's quantity (production data, its line) × the product's cost price (finance
and pricing, site). Its label is :func:`~lineguard.server.plantdata.derived_label` of
the three sources: the strictest category (finance and pricing) and the narrowest scope
(the whole site), so nobody who could not read the unit cost reads it through a scrap
figure. Its ``derived_from`` names the store's record ids of its sources, filled in by
the sync once those are stored (:class:`Derived` carries their ERP keys until then).

Every failed inspection is recomputed on every sync (they are few), so a changed cost
price or quantity reaches the derived value without a cursor of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from lineguard.contracts.errors import UpstreamError
from lineguard.server.auth import Category
from lineguard.server.integrations.erp.jsonrpc import TrytonClient
from lineguard.server.integrations.erp.mapping import Locations, moment, nested, source_key
from lineguard.server.plantdata import Label, PlantRecordIn, Scope, derived_label

__all__ = ["Derived", "scrap_costs"]

_FAILED = [("state", "=", "failed"), ("origin", "like", "production,%")]


@dataclass(frozen=True)
class Derived:
    """A derived record and the ERP keys (``<model>:<id>``) of the records it was computed from."""

    record: PlantRecordIn
    sources: tuple[str, ...]


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def scrap_costs(client: TrytonClient, *, source: str, locations: Locations, page_size: int) -> list[Derived]:
    """One finance-level record per failed inspection of a production order whose cost is known."""
    failed = list(
        client.search_read(
            "quality.inspection",
            _FAILED,
            [
                "number",
                "processed_at",
                "origin",
                "origin.quantity",
                "origin.product",
                "origin.warehouse",
                "origin.number",
            ],
            page_size=page_size,
        )
    )
    product_ids = sorted({p for r in failed if _is_id(p := nested(r, "origin").get("product"))})
    costs: dict[int, Any] = {}
    if product_ids:
        products = client.call("model.product.product.read", product_ids, ["cost_price", "code"])
        if not isinstance(products, list) or not all(
            isinstance(p, dict) and _is_id(p.get("id")) for p in products
        ):
            msg = "product.product.read answered something that is not a list of records"
            raise UpstreamError(msg, retryable=True)
        for product in products:
            costs[product["id"]] = (product.get("cost_price"), product.get("code"))
    out: list[Derived] = []
    for r in failed:
        production = nested(r, "origin")
        product_id = production.get("product")
        if not _is_id(product_id) or not _is_id(production.get("id")):
            continue  # no product, no cost: the inspection itself is still synced as quality data
        cost, part = costs.get(product_id, (None, None))
        quantity, unit_cost = _decimal(production.get("quantity")), _decimal(cost)
        if quantity is None or unit_cost is None:
            continue  # nothing to compute: the inspection itself is still synced as quality data
        production_id = int(production["id"])
        label = derived_label(
            [
                Label(Category.QUALITY_DATA, Scope.of(locations.lines(production.get("warehouse")))),
                Label(Category.PRODUCTION_DATA, Scope.of(locations.lines(production.get("warehouse")))),
                Label(Category.FINANCE_PRICING, Scope.site()),
            ]
        )
        record = PlantRecordIn(
            category=label.category.value,
            source=source,
            source_key=f"derived:scrap_cost:{source_key('quality.inspection', int(r['id']))}",
            record_type="scrap_cost",
            lines=tuple(sorted(label.scope.lines)) if label.scope.lines else None,
            # When the scrap was found: "scrap cost last month" selects it like its inspection.
            occurred_at=moment(r.get("processed_at")),
            title=f"Scrap cost of inspection {r.get('number')} (production {production.get('number')})",
            fields={
                "inspection": r.get("number"),
                "order": production.get("number"),
                "part": part,
                "quantity": float(quantity),
                "unit_cost": str(unit_cost),
                "amount": float(quantity * unit_cost),
            },
        )
        sources = (
            source_key("quality.inspection", int(r["id"])),
            source_key("production", production_id),
            source_key("product.product", product_id),
        )
        out.append(Derived(record, sources))
    return out
