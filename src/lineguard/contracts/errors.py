"""The one error hierarchy of LineGuard.

Every error we raise on purpose derives from :class:`LineGuardError` and carries a
stable machine-readable ``code`` and the HTTP status the server answers with. Errors
become HTTP responses in exactly one place (``lineguard.server`` exception handlers)
and CLI messages in exactly one place (``lineguard.cli.main``)::

    LineGuardError                      (500, "internal")
    ├── ConfigError                     (400, "config_invalid")      bad YAML / settings
    ├── SecretError                     (400, "secret_missing")      secret env var / file absent
    ├── ContractError                   (422, "contract_invalid")    message breaks a contract
    │   └── PayloadTooLargeError        (413, "payload_too_large")
    ├── InputError                      (400, "input_invalid")       bad user/data input
    │   ├── ImageDecodeError            (400, "image_invalid")       corrupt / truncated frame
    │   ├── DatasetError                (400, "dataset_invalid")     missing / misnamed dataset
    │   └── CalibrationError            (400, "calibration_invalid") no / stale / other camera's calibration
    ├── AuthenticationError             (401, "unauthenticated")
    ├── PermissionDeniedError           (403, "forbidden")
    │   └── EgressDeniedError           (403, "egress_denied")      destination not allowlisted
    ├── NotFoundError                   (404, "not_found")
    ├── ConflictError                   (409, "conflict")
    ├── RateLimitedError                (429, "rate_limited")
    ├── IntegrityError                  (400, "integrity_failed")    tampering detected
    │   ├── SignatureError              (400, "signature_invalid")
    │   └── AuditChainError             (400, "audit_chain_broken")
    ├── CryptoError                     (500, "crypto_failed")       wrong key / undecryptable
    ├── UpstreamError                   (502, "upstream_failed")     a CMMS / broker / SIEM failed
    └── ModelError                      (500, "model_failed")        model cannot load or run

Security checks raise an :class:`IntegrityError` subclass whose message says what was
expected and what was found; verifiers never return a bare ``bool``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuditChainError",
    "AuthenticationError",
    "CalibrationError",
    "ConfigError",
    "ConflictError",
    "ContractError",
    "CryptoError",
    "DatasetError",
    "EgressDeniedError",
    "ImageDecodeError",
    "InputError",
    "IntegrityError",
    "LineGuardError",
    "ModelError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SecretError",
    "SignatureError",
    "UpstreamError",
]


class LineGuardError(Exception):
    """Base of every deliberate LineGuard error."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: One line per individual problem (e.g. every invalid config key).
        self.details: list[str] = list(details or [])

    def __str__(self) -> str:
        return self.message


class ConfigError(LineGuardError):
    code = "config_invalid"
    http_status = 400


class SecretError(LineGuardError):
    code = "secret_missing"
    http_status = 400


class ContractError(LineGuardError):
    code = "contract_invalid"
    http_status = 422


class PayloadTooLargeError(ContractError):
    code = "payload_too_large"
    http_status = 413


class InputError(LineGuardError):
    code = "input_invalid"
    http_status = 400


class ImageDecodeError(InputError):
    code = "image_invalid"


class DatasetError(InputError):
    code = "dataset_invalid"


class CalibrationError(InputError):
    """A stage cannot measure: its calibration is missing, stale, unsigned or another camera's."""

    code = "calibration_invalid"


class AuthenticationError(LineGuardError):
    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(LineGuardError):
    code = "forbidden"
    http_status = 403


class EgressDeniedError(PermissionDeniedError):
    """The server was about to connect somewhere the egress allowlist does not name."""

    code = "egress_denied"


class NotFoundError(LineGuardError):
    code = "not_found"
    http_status = 404


class ConflictError(LineGuardError):
    code = "conflict"
    http_status = 409


class RateLimitedError(LineGuardError):
    code = "rate_limited"
    http_status = 429


class IntegrityError(LineGuardError):
    code = "integrity_failed"
    http_status = 400


class SignatureError(IntegrityError):
    code = "signature_invalid"


class AuditChainError(IntegrityError):
    code = "audit_chain_broken"


class CryptoError(LineGuardError):
    code = "crypto_failed"
    http_status = 500


class ModelError(LineGuardError):
    code = "model_failed"
    http_status = 500


class UpstreamError(LineGuardError):
    """A destination the server talks to (CMMS, broker, SIEM) failed or answered wrongly.

    ``retryable`` says whether trying again later may succeed (a 5xx, a timeout, a
    dropped connection) or not (a 4xx, a redirect off the allowlist, a forged answer).
    """

    code = "upstream_failed"
    http_status = 502

    def __init__(self, message: str, *, retryable: bool, details: list[str] | None = None) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable
