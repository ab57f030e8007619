"""Registry routes: people manage models (``require``), nodes fetch TUF files (``allow_node``).

People (every route declares its permission)::

    GET  /registry/models                       model_configuration.read
    POST /registry/models                       model_configuration.write   (multipart upload)
    POST /registry/models/{id}/approve          model_deployment.approve    (not the registrar: Cedar forbid)
    POST /registry/models/{id}/reject           model_deployment.approve
    GET  /registry/releases                     model_configuration.read
    POST /registry/deployments                  model_deployment.request    (per line checked)
    POST /registry/rollbacks                    model_deployment.request

Nodes (client certificate)::

    GET  /registry/tuf/metadata/{name}          root chain, timestamp, snapshot, targets
    GET  /registry/tuf/targets/{path}           hash-named target files
    POST /registry/reports                      installed / refused (audited)
    POST /registry/software-reports             node-software steps (audited)
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError, LineGuardError, NotFoundError, PayloadTooLargeError
from lineguard.server.auth import Access, Action, allow_node, check_approval, require
from lineguard.server.context import get_context, get_session
from lineguard.server.nodes import CurrentNode, Node
from lineguard.server.registry import record_software_report, service
from lineguard.server.registry.publisher import Registry
from lineguard.server.registry.schemas import (
    DeployRequest,
    ModelVersionView,
    RejectRequest,
    ReleaseView,
    RollbackRequest,
)
from lineguard.signing import SoftwareDecision, UpdateReport
from lineguard.vision.package import MAX_METADATA_BYTES, MAX_MODEL_BYTES

__all__ = ["router"]

router = APIRouter(tags=["model registry"])

DbSession = Annotated[Session, Depends(get_session)]
ReadModels = Annotated[Access, Depends(require(Action.MODEL_CONFIGURATION_READ))]
WriteModels = Annotated[Access, Depends(require(Action.MODEL_CONFIGURATION_WRITE))]
Approver = Annotated[Access, Depends(require(Action.MODEL_DEPLOYMENT_APPROVE))]
Deployer = Annotated[Access, Depends(require(Action.MODEL_DEPLOYMENT_REQUEST))]
_MAX_SIGNATURE_BYTES = 1 << 20


async def _save(upload: UploadFile, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as handle:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                msg = f"{upload.filename or path.name} is larger than the {limit:,} bytes allowed"
                raise PayloadTooLargeError(msg)
            handle.write(chunk)


# -- people -------------------------------------------------------------------------------


@router.get("/registry/models", summary="Registered model versions")
def get_models(access: ReadModels, request: Request, session: DbSession) -> list[ModelVersionView]:
    context = get_context(request)
    try:
        package_dir = context.registry.get().package_dir
    except LineGuardError:  # the registry cannot open now (its passphrase): where it keeps packages
        data_dir = context.settings.data_dir
        package_dir = functools.partial(Registry.stored_package, data_dir)
    return [
        ModelVersionView.of(v, operating_point=service.operating_point(package_dir(v.id)))
        for v in service.list_versions(session)
    ]


@router.post("/registry/models", summary="Register a signed model package", status_code=201)
async def post_model(
    access: WriteModels,
    request: Request,
    session: DbSession,
    model: UploadFile,
    metadata: UploadFile,
    signature: UploadFile,
) -> ModelVersionView:
    context = get_context(request)
    with tempfile.TemporaryDirectory(prefix="lineguard-upload-") as tmp:
        package_dir = Path(tmp) / "package"
        package_dir.mkdir()
        await _save(model, package_dir / "model.onnx", MAX_MODEL_BYTES)
        await _save(metadata, package_dir / "metadata.json", MAX_METADATA_BYTES)
        await _save(signature, Path(tmp) / "package.sig", _MAX_SIGNATURE_BYTES)
        version = service.register(
            session,
            registry=context.registry.get(),
            package_dir=package_dir,
            user_id=access.principal.user_id,
            actor=access.principal.actor,
            audit=context.audit,
        )
        shutil.rmtree(package_dir, ignore_errors=True)
    return ModelVersionView.of(version)


@router.post("/registry/models/{version_id}/approve", summary="Approve a model version (four eyes)")
def post_approve(version_id: str, access: Approver, request: Request, session: DbSession) -> ModelVersionView:
    version = service.get_version(session, version_id)
    check_approval(access, deployment_id=version.id, line=None, requested_by=version.registered_by)
    approved = service.approve(
        session,
        version_id=version_id,
        approver_id=access.principal.user_id,
        actor=access.principal.actor,
        audit=get_context(request).audit,
    )
    return ModelVersionView.of(approved)


@router.post("/registry/models/{version_id}/reject", summary="Reject a model version")
def post_reject(
    version_id: str, body: RejectRequest, access: Approver, request: Request, session: DbSession
) -> ModelVersionView:
    version = service.get_version(session, version_id)
    check_approval(access, deployment_id=version.id, line=None, requested_by=version.registered_by)
    rejected = service.reject(
        session,
        version_id=version_id,
        approver_id=access.principal.user_id,
        actor=access.principal.actor,
        reason=body.reason,
        audit=get_context(request).audit,
    )
    return ModelVersionView.of(rejected)


@router.get("/registry/releases", summary="Every release (deployments and rollbacks)")
def get_releases(access: ReadModels, session: DbSession) -> list[ReleaseView]:
    return [ReleaseView.of(r) for r in service.list_releases(session)]


def _check_targets(access: Access, session: Session, lines: list[str], nodes: list[str]) -> None:
    for line in lines:
        access.check_line(line)
    for node_id in nodes:
        node = session.get(Node, node_id)
        if node is None:
            msg = f"no node {node_id!r} is enrolled"
            raise NotFoundError(msg)
        access.check_line(node.line_id, record=node_id)


@router.post("/registry/deployments", summary="Deploy an approved version to lines / nodes", status_code=201)
def post_deployment(
    body: DeployRequest, access: Deployer, request: Request, session: DbSession
) -> ReleaseView:
    _check_targets(access, session, body.lines, body.nodes)
    context = get_context(request)
    row = service.deploy(
        session,
        registry=context.registry.get(),
        version_id=body.version_id,
        lines=body.lines,
        nodes=body.nodes,
        actor=access.principal.actor,
        audit=context.audit,
    )
    return ReleaseView.of(row)


@router.post(
    "/registry/rollbacks", summary="Roll a line or node back (a new, higher release)", status_code=201
)
def post_rollback(
    body: RollbackRequest, access: Deployer, request: Request, session: DbSession
) -> ReleaseView:
    _check_targets(access, session, [body.line] if body.line else [], [body.node] if body.node else [])
    context = get_context(request)
    row = service.rollback(
        session,
        registry=context.registry.get(),
        line=body.line,
        node=body.node,
        to_version_id=body.to_version_id,
        reason=body.reason,
        actor=access.principal.actor,
        audit=context.audit,
    )
    return ReleaseView.of(row)


# -- nodes ------------------------------------------------------------------------------------


@router.get(
    "/registry/tuf/metadata/{name}",
    summary="TUF metadata for nodes",
    dependencies=[Depends(allow_node())],
    response_class=FileResponse,
)
def get_tuf_metadata(name: str, node: CurrentNode, request: Request) -> FileResponse:
    path = get_context(request).registry.get().repo.metadata_file(name)
    return FileResponse(path, media_type="application/json")


@router.get(
    "/registry/tuf/targets/{path:path}",
    summary="TUF target files for nodes",
    dependencies=[Depends(allow_node())],
    response_class=FileResponse,
)
def get_tuf_target(path: str, node: CurrentNode, request: Request) -> FileResponse:
    found = get_context(request).registry.get().repo.target_file(path)
    return FileResponse(found, media_type="application/octet-stream")


@router.post(
    "/registry/reports",
    summary="A node reports an installed or refused update",
    dependencies=[Depends(allow_node())],
    status_code=204,
)
def post_report(report: UpdateReport, node: CurrentNode, request: Request, session: DbSession) -> None:
    if report.outcome == "rejected" and not report.check:
        msg = "a rejection report names the failed check"
        raise InputError(msg)
    service.record_report(session, node_id=node.node_id, report=report, audit=get_context(request).audit)


@router.post(
    "/registry/software-reports",
    summary="A node reports a step of a node-software update (verified, installed, refused, rolled back)",
    dependencies=[Depends(allow_node())],
    status_code=204,
)
def post_software_report(
    report: SoftwareDecision, node: CurrentNode, request: Request, session: DbSession
) -> None:
    record_software_report(
        session, node_id=node.node_id, site_id=node.site_id, report=report, audit=get_context(request).audit
    )
