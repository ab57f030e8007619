"""Configuration files: one YAML per process, each a strict pydantic tree.

``kind: edge``, ``kind: server`` or ``kind: enterprise`` (an enterprise roll-up) at the top
says which tree a file is checked against.
"""

from __future__ import annotations

from pathlib import Path

from lineguard.config.edge import EdgeConfig
from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.config.loader import load_yaml_mapping, validate_config
from lineguard.config.secrets import SecretRef
from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConfigError

__all__ = [
    "EdgeConfig",
    "EnterpriseServiceConfig",
    "SecretRef",
    "ServerConfig",
    "load_config",
    "load_edge_config",
    "load_enterprise_config",
    "load_server_config",
]

_KINDS: dict[str, type[EdgeConfig] | type[ServerConfig] | type[EnterpriseServiceConfig]] = {
    "edge": EdgeConfig,
    "server": ServerConfig,
    "enterprise": EnterpriseServiceConfig,
}


def load_config(path: Path) -> EdgeConfig | ServerConfig | EnterpriseServiceConfig:
    """Load any LineGuard config, choosing the tree by its ``kind`` key."""
    data = load_yaml_mapping(path)
    kind = data.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        msg = f"{path}: 1 error(s) in config"
        raise ConfigError(msg, details=[f"kind: must be one of {', '.join(sorted(_KINDS))}, got {kind!r}"])
    return validate_config(model, data, source=str(path))


def load_edge_config(path: Path) -> EdgeConfig:
    return validate_config(EdgeConfig, load_yaml_mapping(path), source=str(path))


def load_server_config(path: Path) -> ServerConfig:
    return validate_config(ServerConfig, load_yaml_mapping(path), source=str(path))


def load_enterprise_config(path: Path) -> EnterpriseServiceConfig:
    """The enterprise roll-up's ``enterprise.yaml`` (``kind: enterprise``)."""
    return validate_config(EnterpriseServiceConfig, load_yaml_mapping(path), source=str(path))
