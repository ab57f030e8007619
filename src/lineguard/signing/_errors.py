"""Why a model package or an update was refused: one error type, one stable check name.

Every refusal on the update path is a :class:`VerificationError` whose ``check`` names
the check that failed (the CLI prints it, the node audits it, tests assert on it) and
whose message says what was expected and what was found::

    SignatureError                         (lineguard.contracts.errors)
    └── VerificationError(check=...)
          unsigned           no signature file beside the package
          signature_format   the signature file is not a model-signing bundle
          unknown_key        signed by a key the trust list does not hold
          revoked_key        signed by a key the trust list marks revoked
          signature          the bundle's signature does not verify with the named key
          tampered           a file's digest differs from the signed manifest (or files added/missing)
          package            the files verify but do not form a valid model package
          metadata           TUF metadata refused (bad signatures, thresholds, inconsistent)
          expired_metadata   TUF metadata past its expiry (a freeze attack or a stalled server)
          replayed_release   a release not newer than one this node already accepted
          wrong_target       a release meant for another line or node
          download           a target could not be fetched or did not match its TUF length/hash
"""

from __future__ import annotations

from typing import Final, Literal

from lineguard.contracts.errors import SignatureError

__all__ = ["CHECKS", "Check", "VerificationError"]

Check = Literal[
    "unsigned",
    "signature_format",
    "unknown_key",
    "revoked_key",
    "signature",
    "tampered",
    "package",
    "metadata",
    "expired_metadata",
    "replayed_release",
    "wrong_target",
    "download",
]
CHECKS: Final[tuple[str, ...]] = Check.__args__  # type: ignore[attr-defined]


class VerificationError(SignatureError):
    """A named check refused a model package or an update (see the module docstring)."""

    def __init__(self, message: str, *, check: Check, details: list[str] | None = None) -> None:
        super().__init__(f"check '{check}' failed: {message}", details=details)
        self.check: Check = check
        self.reason = message
