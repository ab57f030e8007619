"""Errors of the redaction stage.

``RedactionError`` is a :class:`~lineguard.contracts.errors.ModelError`: the person
detector could not load or run (missing or altered model file, runtime failure, an
output of the wrong shape). It is the fail-safe signal: the evidence store must then
keep nothing, or a fully black frame — never the unredacted input.
"""

from __future__ import annotations

from lineguard.contracts.errors import ModelError

__all__ = ["RedactionError"]


class RedactionError(ModelError):
    """People could not be searched for; treat the frame as unsafe to store."""

    code = "redaction_failed"
