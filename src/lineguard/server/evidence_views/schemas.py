"""What the evidence-view routes answer a browser while the node is being asked."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ViewPending"]


class ViewPending(BaseModel):
    """202: the node has not answered yet; poll again after ``retry_after_ms``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view_id: str
    status: Literal["pending"] = "pending"
    node_id: str
    retry_after_ms: int
