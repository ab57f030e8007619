"""The ``assistant`` section of ``server.yaml``: the assistant's workflows and their data boundaries.

Each workflow names the plant-data categories it may ever draw on and the roles that
may use it. What a person gets from a workflow is the intersection of the person's
grants (category × lines, decided by the Cedar policy), the workflow's categories and
any line filter of the question (docs/assistant.md). The defaults ship the five
workflows the plant asked for; a ``workflows`` list in ``server.yaml`` replaces them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineguard.config.language_model import LanguageModelConfig

__all__ = ["DEFAULT_WORKFLOWS", "AssistantConfig", "PlantCategory", "WorkflowConfig", "WorkflowRole"]

PlantCategory = Literal[
    "production_data",
    "quality_data",
    "maintenance_data",
    "customer_orders",
    "vendor_terms",
    "finance_pricing",
]
WorkflowRole = Literal[
    "quality_engineer",
    "maintenance_technician",
    "production_supervisor",
    "it_administrator",
    "auditor",
    "external_partner",
    "finance_controller",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkflowConfig(_Section):
    """One assistant workflow: a name, what it may read, who may use it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,47}$", description="Used in the API and the CLI.")
    title: str = Field(min_length=1, max_length=80)
    categories: tuple[PlantCategory, ...] = Field(
        min_length=1, description="Plant-data categories the workflow may draw on (its data boundary)."
    )
    roles: tuple[WorkflowRole, ...] = Field(
        min_length=1,
        description="A person holding one of these roles (an active grant) may use the workflow.",
    )

    @model_validator(mode="after")
    def _no_repeats(self) -> WorkflowConfig:
        if len(set(self.categories)) != len(self.categories) or len(set(self.roles)) != len(self.roles):
            msg = f"workflow {self.name}: a category or role is listed twice"
            raise ValueError(msg)
        return self


DEFAULT_WORKFLOWS: tuple[WorkflowConfig, ...] = (
    WorkflowConfig(
        name="production_assistant",
        title="Production assistant",
        categories=("production_data", "quality_data", "maintenance_data"),
        roles=("production_supervisor", "quality_engineer", "maintenance_technician"),
    ),
    WorkflowConfig(
        name="quality_assistant",
        title="Quality assistant",
        categories=("quality_data", "production_data"),
        roles=("quality_engineer", "production_supervisor", "external_partner"),
    ),
    WorkflowConfig(
        name="maintenance_planner",
        title="Maintenance planner",
        categories=("maintenance_data", "production_data"),
        roles=("maintenance_technician", "production_supervisor"),
    ),
    WorkflowConfig(
        name="sales_update",
        title="Sales update (orders, no vendor costing)",
        categories=("customer_orders", "production_data"),
        roles=("production_supervisor", "finance_controller"),
    ),
    WorkflowConfig(
        name="finance_review",
        title="Finance review",
        categories=("finance_pricing", "vendor_terms", "customer_orders", "production_data"),
        roles=("finance_controller",),
    ),
)


class AssistantConfig(_Section):
    """The plant assistant (``lineguard.server.assistant``, docs/assistant.md)."""

    workflows: tuple[WorkflowConfig, ...] = Field(default=DEFAULT_WORKFLOWS, min_length=1)
    max_question_chars: int = Field(
        default=2000, ge=20, le=20_000, description="Longer questions are refused (nothing is searched)."
    )
    max_citations_per_figure: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Records cited for one aggregate figure (the count is always given).",
    )
    language_model: LanguageModelConfig | None = Field(
        default=None,
        description="Optional local language model that rephrases permitted facts (off when absent).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> AssistantConfig:
        names = [w.name for w in self.workflows]
        if len(set(names)) != len(names):
            msg = f"assistant workflow names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}"
            raise ValueError(msg)
        return self
