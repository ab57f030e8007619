"""The model registry: signed packages in, four-eyes approval, TUF-published releases out.

::

    register (model_configuration.write)      signature checked against the signing trust list
        → approve (model_deployment.approve)  by someone other than the registrar (Cedar forbid
                                              + ensure_four_eyes)
        → deploy (model_deployment.request)   a new release: package + release documents
                                              published as TUF targets for lines / nodes
        → rollback                            a NEW, higher release pointing at older weights

Nodes read the TUF repository (:mod:`.tuf_repo`) over their mTLS channel and report
what they installed or refused; every step lands in the audit log. Node software (the
LineGuard wheel and pinned dependencies) is published through the same repository
under its own delegated role: :func:`publish_node_software`.
"""

from lineguard.server.registry.models import ModelVersion, ModelVersionState, ReleaseRow
from lineguard.server.registry.node_software import publish_node_software, record_software_report
from lineguard.server.registry.publisher import Registry
from lineguard.server.registry.schemas import ModelVersionView, ReleaseView
from lineguard.server.registry.service import (
    approve,
    deploy,
    get_version,
    list_releases,
    list_versions,
    model_classes,
    register,
    reject,
    rollback,
)

__all__ = [
    "ModelVersion",
    "ModelVersionState",
    "ModelVersionView",
    "Registry",
    "ReleaseRow",
    "ReleaseView",
    "approve",
    "deploy",
    "get_version",
    "list_releases",
    "list_versions",
    "model_classes",
    "publish_node_software",
    "record_software_report",
    "register",
    "reject",
    "rollback",
]
