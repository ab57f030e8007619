"""Where the expected label of the current order comes from: the stage's table, or a MES/ERP hook.

:class:`ExpectedLabelSource` is the hook: anything that answers "what must the label of
order X say". :class:`TableExpectedLabels` answers from ``edge.yaml``'s ``expected`` table;
a MES or ERP connector implements the same protocol. An order it does not know raises
:class:`~lineguard.contracts.errors.NotFoundError`: a label is never checked against nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from lineguard.config.labels import ExpectedLabel
from lineguard.contracts.errors import NotFoundError

__all__ = ["ExpectedLabelSource", "TableExpectedLabels"]


class ExpectedLabelSource(Protocol):
    """Answers what the label of an order must say."""

    def expected_for(self, order_id: str) -> ExpectedLabel: ...


class TableExpectedLabels:
    """The expected labels of the stage's config table, keyed by order id."""

    def __init__(self, table: Mapping[str, ExpectedLabel]) -> None:
        self._table = dict(table)

    def expected_for(self, order_id: str) -> ExpectedLabel:
        try:
            return self._table[order_id]
        except KeyError:
            known = ", ".join(sorted(self._table)[:10]) or "none"
            msg = f"no expected label for order {order_id!r} (the table knows: {known})"
            raise NotFoundError(msg) from None
