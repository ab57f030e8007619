"""Egress route (thin): the allowlist in force and what the gate refused since start."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lineguard.crypto import utc_text
from lineguard.server.auth import Access, Action, require
from lineguard.server.egress.schemas import DenialOut, EgressStatus, RuleOut

__all__ = ["router"]

router = APIRouter(prefix="/egress", tags=["egress"])

Read = Annotated[Access, Depends(require(Action.INTEGRATIONS_READ))]


@router.get("", summary="The egress allowlist and the connections refused since the server started")
def egress_status(access: Read) -> EgressStatus:
    gate = access.context.egress
    last = gate.last_denial
    return EgressStatus(
        rules=[
            RuleOut(
                destination=r.describe(),
                pinned_ca=r.ca_file is not None,
                addresses=r.addresses,
                purpose=r.purpose,
            )
            for r in gate.config.allow
        ],
        allow_wildcards=gate.config.allow_wildcards,
        denied_since_start=gate.denied,
        last_denial=None
        if last is None
        else DenialOut(
            destination=str(last.destination), purpose=last.purpose, reason=last.reason, at=utc_text(last.at)
        ),
    )
