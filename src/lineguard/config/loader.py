"""Load a YAML config file into its pydantic tree, reporting every error with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lineguard.contracts.errors import ConfigError
from lineguard.contracts.validation import format_validation_error

__all__ = ["load_yaml_mapping", "validate_config"]

C = TypeVar("C", bound=BaseModel)

MAX_CONFIG_BYTES = 1_048_576


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; errors name the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read config ({exc.strerror})"
        raise ConfigError(msg) from None
    if len(raw) > MAX_CONFIG_BYTES:
        msg = f"{path}: config is {len(raw)} bytes; the limit is {MAX_CONFIG_BYTES}"
        raise ConfigError(msg)
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}: not valid YAML{where}: {problem}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"{path}: the top level must be a mapping of settings, got {type(data).__name__}"
        raise ConfigError(msg)
    return data


def validate_config(model: type[C], data: dict[str, Any], *, source: str) -> C:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = format_validation_error(exc)
        msg = f"{source}: {len(details)} error(s) in config"
        raise ConfigError(msg, details=details) from None
