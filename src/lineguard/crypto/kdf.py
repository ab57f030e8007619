"""Passphrase → key derivation with scrypt (memory-hard), parameters stored beside the output.

The recommended parameters (N=2^17, r=8, p=1: 128 MiB, ~0.4 s on one core here) make
each passphrase guess against a stolen keyring file cost the attacker the same.
Cheaper parameters exist for tests only (:meth:`KdfParams.insecure_for_tests`); a file
that carries them still opens, but says so in the log.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from lineguard.contracts.errors import CryptoError, InputError
from lineguard.crypto.canonical import b64d, b64e

__all__ = ["KdfParams"]

log = logging.getLogger(__name__)

#: Below this cost a KDF is test-strength.
MIN_PRODUCTION_N = 2**15
#: Above this a file could make us allocate gigabytes: refuse it.
MAX_N = 2**22


@dataclass(frozen=True)
class KdfParams:
    """scrypt parameters and salt; ``derive`` turns a passphrase into ``length`` bytes."""

    n: int = 2**17
    r: int = 8
    p: int = 1
    salt: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    _testing: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.n > MAX_N:
            msg = f"scrypt N must be a power of two in [2, 2^22], got {self.n}"
            raise CryptoError(msg)
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16 and len(self.salt) >= 16):
            msg = f"scrypt parameters out of range: r={self.r} p={self.p} salt={len(self.salt)} bytes"
            raise CryptoError(msg)
        if self.n < MIN_PRODUCTION_N and not self._testing:
            msg = f"scrypt N={self.n} is test-strength; use at least {MIN_PRODUCTION_N}"
            raise CryptoError(msg)

    @classmethod
    def insecure_for_tests(cls) -> KdfParams:
        """Cheap parameters (N=2^10): for tests only, never for a real keyring."""
        return cls(n=2**10, r=8, p=1, _testing=True)

    @property
    def weak(self) -> bool:
        return self.n < MIN_PRODUCTION_N

    def derive(self, passphrase: str, length: int = 64) -> bytes:
        if not passphrase:
            msg = "empty passphrase"
            raise CryptoError(msg)
        kdf = Scrypt(salt=self.salt, length=length, n=self.n, r=self.r, p=self.p)
        return kdf.derive(passphrase.encode("utf-8"))

    def to_json(self) -> dict[str, Any]:
        return {"alg": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": b64e(self.salt)}

    @classmethod
    def from_json(cls, data: Any) -> KdfParams:
        try:
            if data["alg"] != "scrypt":
                msg = f"unsupported KDF {data['alg']!r}, expected 'scrypt'"
                raise CryptoError(msg)
            n, r, p = int(data["n"]), int(data["r"]), int(data["p"])
            salt = b64d(data["salt"])
        except (KeyError, TypeError, ValueError, InputError) as exc:
            msg = f"malformed KDF parameters ({type(exc).__name__})"
            raise CryptoError(msg) from None
        params = cls(n=n, r=r, p=p, salt=salt, _testing=True)
        if params.weak:
            log.warning("keyring uses test-strength KDF parameters (N=%d); re-create it for production", n)
        return params
