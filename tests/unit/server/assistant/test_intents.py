"""Questions into plans: topic, operation, measure, lines, period, names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lineguard.server.assistant import parse


@pytest.mark.parametrize(
    ("question", "operation", "record_type", "measure"),
    [
        ("How many production orders are there on line 2?", "count", "production_order", "count"),
        ("What is the total order value?", "sum", "sales_order", "amount"),
        ("How many units were rejected?", "sum", "quality_inspection", "quantity"),
        ("Which customer has the highest order value?", "top", "sales_order", "amount"),
        ("Top 3 parts by units produced", "top", "production_order", "quantity"),
        ("Monthly trend of downtime", "trend", "work_order", "quantity"),
        ("Compare units produced on line 1 and line 2", "compare", "production_order", "quantity"),
        ("What is the average order value?", "average", "sales_order", "amount"),
        ("Which supplier has the most rejected units?", "top", "quality_inspection", "quantity"),
        ("What is the unit price of P-200 from Borealis Castings?", "lookup", "purchase_price", "amount"),
        ("Raise a work order for Press 4", "recommend", "work_order", "count"),
        ("Should we hold lot LOT-3004?", "recommend", "quality_inspection", "count"),
        # the ERP connector's other record types
        ("What is the scrap cost of P-200?", "sum", "scrap_cost", "amount"),
        ("Which part has the highest scrap cost?", "top", "scrap_cost", "amount"),
        ("Monthly trend of scrap cost", "trend", "scrap_cost", "amount"),
        ("What are the payment terms of Borealis Castings?", "lookup", "supplier_terms", "count"),
        ("What is the lead time of P-100 from Kestrel Steel?", "lookup", "supplier_terms", "count"),
        ("What is the list price of P-300?", "lookup", "product_cost", "count"),
        ("What is the cost price of P-300?", "lookup", "product_cost", "count"),
        ("Show the lines of order SO-1001", "lookup", "sales_order_line", "count"),
        ("What is the total value of order lines?", "sum", "sales_order_line", "amount"),
        ("How many order lines are there?", "count", "sales_order_line", "count"),
        ("What is the unit cost of P-100?", "sum", "unit_cost", "amount"),
    ],
)
def test_plans(question: str, operation: str, record_type: str, measure: str) -> None:
    plan = parse(question)
    assert plan.operation == operation
    assert plan.topic is not None and plan.topic.record_type == record_type
    assert plan.measure == measure


def test_lines_periods_and_names() -> None:
    plan = parse("Compare units produced on line 1, line 2 and 3 in November 2026")
    assert plan.lines == frozenset({"line-1", "line-2", "line-3"})
    assert plan.period == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert parse("How many orders in 2026-12?").period == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert parse("orders in May").period is None  # no year: ambiguous
    assert parse("Total downtime for Press 4 and SO-1001").names == ("press", "so-1001")
    assert parse("How do I set the die height?").topic is None
    assert parse("how do i set the die height").names == ()


def test_lines_of_an_order_are_not_a_line_named_o() -> None:
    assert parse("Show the lines of order SO-1001").lines is None
    assert parse("Show line items on order SO-1001").lines is None
    assert parse("Units produced on line a").lines == frozenset({"line-a"})
    assert parse("Compare lines 1 and 2").lines == frozenset({"line-1", "line-2"})
