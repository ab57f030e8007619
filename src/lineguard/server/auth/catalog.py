"""The vocabulary of access control: data categories, actions and roles.

The Cedar policy (``policy/lineguard.cedar``) decides *who may do what*; this module
only names the things the policy talks about, so Python code never spells an action
as a free string. ``tests/unit/server/auth/test_catalog.py`` keeps the two in step: every
action and role here exists in the schema and the other way round.

Each category lives at one **level**: ``line`` data (inspection results, evidence,
models, nodes, production/quality/maintenance data) belongs to a line and can be granted
per line; ``site`` data (users, audit log, retention, integrations, commercial data)
belongs to the whole site and is reachable only through a site-wide grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "ROLES",
    "Action",
    "Category",
    "CategoryInfo",
    "Level",
    "Role",
    "RoleInfo",
]

Level = Literal["line", "site"]


class Category(StrEnum):
    """A data category: the unit in which permissions are granted."""

    INSPECTION_RESULTS = "inspection_results"
    EVIDENCE_IMAGES = "evidence_images"
    MODEL_CONFIGURATION = "model_configuration"
    MODEL_DEPLOYMENT = "model_deployment"
    NODE_MANAGEMENT = "node_management"
    USERS_AND_ROLES = "users_and_roles"
    AUDIT_LOG = "audit_log"
    RETENTION_POLICY = "retention_policy"
    INTEGRATIONS = "integrations"
    PRODUCTION_DATA = "production_data"
    QUALITY_DATA = "quality_data"
    MAINTENANCE_DATA = "maintenance_data"
    FINANCE_PRICING = "finance_pricing"
    VENDOR_TERMS = "vendor_terms"
    CUSTOMER_ORDERS = "customer_orders"
    GOVERNANCE = "governance"
    SAFETY_COMPLIANCE = "safety_compliance"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    title: str
    level: Level


CATEGORIES: dict[Category, CategoryInfo] = {
    Category.INSPECTION_RESULTS: CategoryInfo("Inspection results and alerts", "line"),
    Category.EVIDENCE_IMAGES: CategoryInfo("Evidence images", "line"),
    Category.MODEL_CONFIGURATION: CategoryInfo("Model configuration", "line"),
    Category.MODEL_DEPLOYMENT: CategoryInfo("Model deployment", "line"),
    Category.NODE_MANAGEMENT: CategoryInfo("Node management", "line"),
    Category.USERS_AND_ROLES: CategoryInfo("Users and roles", "site"),
    Category.AUDIT_LOG: CategoryInfo("Audit log", "site"),
    Category.RETENTION_POLICY: CategoryInfo("Retention policy", "site"),
    Category.INTEGRATIONS: CategoryInfo("Integrations", "site"),
    Category.PRODUCTION_DATA: CategoryInfo("Plant data: production", "line"),
    Category.QUALITY_DATA: CategoryInfo("Plant data: quality", "line"),
    Category.MAINTENANCE_DATA: CategoryInfo("Plant data: maintenance", "line"),
    Category.FINANCE_PRICING: CategoryInfo("Plant data: finance and pricing", "site"),
    Category.VENDOR_TERMS: CategoryInfo("Plant data: vendor terms", "site"),
    Category.CUSTOMER_ORDERS: CategoryInfo("Plant data: customer orders", "site"),
    Category.GOVERNANCE: CategoryInfo("Governance documents and the deployment self-check", "site"),
    Category.SAFETY_COMPLIANCE: CategoryInfo("Safety compliance: PPE counts per zone and hour", "line"),
}


class Action(StrEnum):
    """A permission: ``<category>.<verb>``; the Cedar action of the same name."""

    INSPECTION_RESULTS_READ = "inspection_results.read"
    INSPECTION_RESULTS_ACKNOWLEDGE = "inspection_results.acknowledge"
    INSPECTION_RESULTS_WRITE = "inspection_results.write"
    EVIDENCE_IMAGES_READ = "evidence_images.read"
    MODEL_CONFIGURATION_READ = "model_configuration.read"
    MODEL_CONFIGURATION_WRITE = "model_configuration.write"
    MODEL_DEPLOYMENT_REQUEST = "model_deployment.request"
    MODEL_DEPLOYMENT_APPROVE = "model_deployment.approve"
    NODE_MANAGEMENT_READ = "node_management.read"
    NODE_MANAGEMENT_WRITE = "node_management.write"
    USERS_AND_ROLES_READ = "users_and_roles.read"
    USERS_AND_ROLES_WRITE = "users_and_roles.write"
    USERS_AND_ROLES_GRANT = "users_and_roles.grant"
    AUDIT_LOG_READ = "audit_log.read"
    RETENTION_POLICY_READ = "retention_policy.read"
    RETENTION_POLICY_WRITE = "retention_policy.write"
    INTEGRATIONS_READ = "integrations.read"
    INTEGRATIONS_WRITE = "integrations.write"
    PRODUCTION_DATA_READ = "production_data.read"
    PRODUCTION_DATA_WRITE = "production_data.write"
    QUALITY_DATA_READ = "quality_data.read"
    QUALITY_DATA_WRITE = "quality_data.write"
    MAINTENANCE_DATA_READ = "maintenance_data.read"
    MAINTENANCE_DATA_WRITE = "maintenance_data.write"
    FINANCE_PRICING_READ = "finance_pricing.read"
    FINANCE_PRICING_WRITE = "finance_pricing.write"
    VENDOR_TERMS_READ = "vendor_terms.read"
    VENDOR_TERMS_WRITE = "vendor_terms.write"
    CUSTOMER_ORDERS_READ = "customer_orders.read"
    CUSTOMER_ORDERS_WRITE = "customer_orders.write"
    GOVERNANCE_READ = "governance.read"
    SAFETY_COMPLIANCE_READ = "safety_compliance.read"

    @property
    def category(self) -> Category:
        return Category(self.value.split(".", 1)[0])

    @property
    def level(self) -> Level:
        return CATEGORIES[self.category].level


ACTIONS: tuple[Action, ...] = tuple(Action)


class Role(StrEnum):
    QUALITY_ENGINEER = "quality_engineer"
    MAINTENANCE_TECHNICIAN = "maintenance_technician"
    PRODUCTION_SUPERVISOR = "production_supervisor"
    IT_ADMINISTRATOR = "it_administrator"
    AUDITOR = "auditor"
    EXTERNAL_PARTNER = "external_partner"
    FINANCE_CONTROLLER = "finance_controller"


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """What the policy cannot say about a role: how it may be granted.

    ``mfa_required``: the holder gets no working session before enrolling TOTP.
    ``scope``: ``"site"`` roles are granted site-wide only, ``"lines"`` roles only for
    named lines, ``"any"`` either. ``max_days``: a grant must end within this many days
    (``None``: open-ended allowed).
    """

    title: str
    mfa_required: bool
    scope: Literal["site", "lines", "any"]
    max_days: int | None


ROLES: dict[Role, RoleInfo] = {
    Role.QUALITY_ENGINEER: RoleInfo("Quality engineer", mfa_required=True, scope="any", max_days=None),
    Role.MAINTENANCE_TECHNICIAN: RoleInfo(
        "Maintenance technician", mfa_required=False, scope="any", max_days=None
    ),
    Role.PRODUCTION_SUPERVISOR: RoleInfo(
        "Production supervisor", mfa_required=True, scope="any", max_days=None
    ),
    Role.IT_ADMINISTRATOR: RoleInfo("IT administrator", mfa_required=True, scope="site", max_days=None),
    Role.AUDITOR: RoleInfo("Auditor", mfa_required=True, scope="site", max_days=None),
    Role.EXTERNAL_PARTNER: RoleInfo("External partner", mfa_required=True, scope="lines", max_days=90),
    Role.FINANCE_CONTROLLER: RoleInfo("Finance controller", mfa_required=True, scope="site", max_days=None),
}
