"""The non-secret values of a config tree, flattened, and their digest.

:func:`config_values` walks a loaded config (``server.yaml`` or ``edge.yaml``) and returns
every setting as ``dotted.path → canonical JSON``, leaving out every :class:`SecretRef`
(where a secret comes from is configuration, but it is nobody's business in an audit
diff) and every password-like field. List items that carry an identity are keyed by it
(``cameras[cam-1].roi.width``), so adding a camera is one new key, not a renumbering.
:func:`config_sha256` is the digest an edge node reports in its heartbeat and the server
compares with the ``edge.yaml`` it was given: the same values, the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, SecretStr

from lineguard.config.secrets import SecretRef

__all__ = ["config_sha256", "config_values", "diff_values"]

#: Attributes that name a list item (the first one present is used).
_IDENTITY = ("camera_id", "node_id", "name", "host")
_SECRET_WORDS = ("password", "passphrase", "secret", "token", "pin")
#: ``scheme://user:password@`` in a URL (allowed in the demo's camera URLs): the password goes.
_URL_PASSWORD = re.compile(r"(://[^/@:]*):[^/@]*@")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _walk(value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, SecretRef | SecretStr):
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if any(word in name for word in _SECRET_WORDS):
                continue
            _walk(getattr(value, name), f"{path}.{name}" if path else name, out)
        return
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
        for index, item in enumerate(value):
            key = next(
                (str(getattr(item, a)) for a in _IDENTITY if getattr(item, a, None) is not None), str(index)
            )
            _walk(item, f"{path}[{key}]", out)
        return
    out[path] = _canonical(value.model_dump(mode="json") if isinstance(value, BaseModel) else _plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1:***@", value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return str(value)


def config_values(config: BaseModel) -> dict[str, str]:
    out: dict[str, str] = {}
    _walk(config, "", out)
    return dict(sorted(out.items()))


def config_sha256(config: BaseModel) -> str:
    return hashlib.sha256(_canonical(config_values(config)).encode("utf-8")).hexdigest()


def diff_values(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    """``(key, before, after)`` for every key added, removed or changed, in key order."""
    keys = sorted(set(before) | set(after))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
