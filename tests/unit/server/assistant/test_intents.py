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
