"""Hypothesis strategies for ingest tests: contract-valid event bodies that vary in every
field a row, a rollup or a sealed record depends on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.unit.server.ingest import factory

#: Just before midnight: offsets reach the next hour and the next day.
T0 = datetime(2026, 3, 2, 23, 59, 59, 500_000, tzinfo=UTC)
OTHER_MODEL = {"model_id": "mdl_other", "version": 11, "sha256": "cd" * 32}


@st.composite
def _event_body(draw: st.DrawFn, index: int) -> dict[str, Any]:
    body = factory.event(
        "node-1",
        camera_id=draw(st.sampled_from(["cam-1", "cam-2"])),
        line_id=draw(st.sampled_from(["line-1", "line-2"])),
        verdict=draw(st.sampled_from(["pass", "fail", "uncertain"])),
        defects=tuple(draw(st.lists(st.sampled_from(["scratch", "dent", "crack"]), max_size=3))),
        # Mostly within one hour (a line's batch), sometimes hours or a day apart.
        at=T0
        + timedelta(
            milliseconds=draw(
                st.one_of(
                    st.integers(min_value=0, max_value=400),
                    st.integers(min_value=-7_200_000, max_value=7_200_000),
                )
            )
        ),
        key=f"idk-{index:04d}",
        model=OTHER_MODEL if draw(st.booleans()) else None,
    )
    if draw(st.booleans()):
        body["evidence_ref"] = f"evd_{index:04d}"
    return body


@st.composite
def event_bodies(draw: st.DrawFn, max_size: int = 12) -> list[dict[str, Any]]:
    """1 to ``max_size`` event bodies of node-1, each with its own idempotency key."""
    count = draw(st.integers(min_value=1, max_value=max_size))
    return [draw(_event_body(i)) for i in range(count)]
