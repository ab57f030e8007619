"""Four eyes on model deployments: whoever asks for a deployment cannot approve it.

The rule lives in the Cedar policy (``forbid`` on ``model_deployment.approve`` when the
deployment's ``requested_by`` is the principal); this module is how the model registry
(issue 7) asks it, so the registry never re-implements the rule::

    Approver = Annotated[Access, Depends(require(Action.MODEL_DEPLOYMENT_APPROVE))]

    @router.post("/deployments/{deployment_id}/approve")
    def approve(deployment_id: str, access: Approver):
        deployment = registry.get(access.session, deployment_id)
        check_approval(access, deployment_id=deployment.id, line=deployment.line_id,
                       requested_by=deployment.requested_by)           # 403 + audited if refused
        ...record the approval...
        ensure_four_eyes(requested_by=deployment.requested_by, approvers=[...])   # before deploying

:func:`ensure_four_eyes` is the last check before a deployment runs: at least
``required`` approvals by distinct people, none of them the requester.
"""

from __future__ import annotations

from collections.abc import Iterable

from lineguard.contracts.errors import ConflictError, PermissionDeniedError
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.dependencies import Access
from lineguard.server.auth.engine import Decision, Target

__all__ = ["check_approval", "ensure_four_eyes"]


def check_approval(access: Access, *, deployment_id: str, line: str | None, requested_by: str) -> Decision:
    """May this principal approve this deployment? Raises 403 (audited) if not.

    ``requested_by`` is the requester's user id; ``line`` the line the model goes to
    (``None`` for a site-wide deployment).
    """
    if access.action is not Action.MODEL_DEPLOYMENT_APPROVE:
        msg = (
            f"check_approval needs require({Action.MODEL_DEPLOYMENT_APPROVE}), route declared {access.action}"
        )
        raise PermissionDeniedError(msg)
    target = Target(site=access.runtime.site, line=line, kind="deployment", requested_by=requested_by)
    return access.check(target, record=deployment_id)


def ensure_four_eyes(*, requested_by: str, approvers: Iterable[str], required: int = 1) -> None:
    """Raise unless ``required`` distinct people other than the requester approved."""
    if required < 1:
        msg = f"a deployment needs at least one approval, configured {required}"
        raise ConflictError(msg)
    people = set(approvers)
    if requested_by in people:
        msg = (
            f"deployment requested by {requested_by} lists them as an approver: four eyes means someone else"
        )
        raise PermissionDeniedError(msg)
    if len(people) < required:
        msg = f"deployment needs {required} approval(s) by people other than the requester, has {len(people)}"
        raise ConflictError(msg)
