"""Work-order recommendations: node triggers and server rules become ``work_order`` review items
that people approve, edit, reject or escalate; approved ones go to the CMMS (docs/integrations.md)."""

from lineguard.server.integrations.recommendations.kind import EDITABLE, WORK_ORDER
from lineguard.server.integrations.recommendations.pipeline import (
    RECOMMENDER_ACTOR,
    Recommender,
    RecommenderReport,
    work_order_from,
)
from lineguard.server.integrations.recommendations.policy import (
    AUTO_APPROVER,
    policies,
    set_auto_approval,
    set_auto_approval_in_transaction,
)
from lineguard.server.integrations.recommendations.rules import RULES

__all__ = [
    "AUTO_APPROVER",
    "EDITABLE",
    "RECOMMENDER_ACTOR",
    "RULES",
    "WORK_ORDER",
    "Recommender",
    "RecommenderReport",
    "policies",
    "set_auto_approval",
    "set_auto_approval_in_transaction",
    "work_order_from",
]
