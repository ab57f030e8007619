"""Verify a model package against its OpenSSF model-signing signature, every check named.

:meth:`PackageVerifier.verify` is a template method: it runs the same checks in the
same order for every verifier, and a subclass supplies only the key primitive
(:meth:`PackageVerifier.trusted_key`: which public key a key id stands for, or why it
is refused)::

    signature file present?          unsigned
    a model-signing bundle?          signature_format
    key id (bundle hint) trusted?    unknown_key / revoked_key     ← subclass
    signature verifies?              signature
    files match the signed digests?  tampered   (names each changed / added / missing file)
    a valid model package?           package    (metadata, graph digest)

Every failure is a :class:`~lineguard.signing.VerificationError`; success returns a
:class:`VerifiedPackage`, never a bare ``bool``. The signature lives *beside* the
package folder (``<package>.sig``): the package folder holds exactly its two files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.signing._errors import VerificationError
from lineguard.signing.trust import SignerKey, SignerTrust, key_id_of, public_key_pem
from lineguard.vision.package import ModelPackage, load_package

__all__ = [
    "SIGNATURE_SUFFIX",
    "KeyVerifier",
    "PackageVerifier",
    "TrustListVerifier",
    "VerifiedPackage",
    "signature_path_for",
]

SIGNATURE_SUFFIX = ".sig"
MAX_SIGNATURE_BYTES = 1 << 20


def signature_path_for(package_dir: Path | str) -> Path:
    """``/models/pkg`` → ``/models/pkg.sig``: beside the folder, never inside it."""
    package_dir = Path(package_dir)
    return package_dir.with_name(package_dir.name + SIGNATURE_SUFFIX)


@dataclass(frozen=True, slots=True)
class VerifiedPackage:
    """A package whose signature, key and files all checked out."""

    package: ModelPackage
    key_id: str
    #: File name → sha256 hex, as signed.
    files: dict[str, str]

    @property
    def digest(self) -> str:
        """sha256 of the ONNX graph (what the runner executes and heartbeats report)."""
        return self.package.digest


def _bundle_verifier(public_key: ec.EllipticCurvePublicKey) -> Any:
    """model-signing's own EC-key verifier, handed a key object instead of a PEM path."""
    from model_signing._signing import sign_ec_key

    class _Verifier(sign_ec_key.Verifier):
        def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
            self._public_key = key

    return _Verifier(public_key)


def _read_bundle(signature_path: Path) -> Any:
    from model_signing._signing import sign_sigstore_pb

    if not signature_path.is_file():
        msg = f"no signature at {signature_path} (expected a model-signing bundle beside the package)"
        raise VerificationError(msg, check="unsigned")
    size = signature_path.stat().st_size
    if size > MAX_SIGNATURE_BYTES:
        msg = f"{signature_path} is {size:,} bytes, more than a signature bundle can be"
        raise VerificationError(msg, check="signature_format")
    try:
        return sign_sigstore_pb.Signature.read(signature_path)
    except Exception as exc:  # protobuf / json / key errors: all mean "not a bundle"
        msg = f"{signature_path} is not a model-signing bundle ({type(exc).__name__}: {exc})"
        raise VerificationError(msg, check="signature_format") from None


def _manifest_digests(manifest: object) -> dict[str, str]:
    return {str(rd.identifier): str(rd.digest.digest_hex) for rd in manifest.resource_descriptors()}  # type: ignore[attr-defined]


class PackageVerifier:
    """Template: the checks of the module docstring; subclasses supply :meth:`trusted_key`."""

    def trusted_key(self, key_id: str) -> ec.EllipticCurvePublicKey:
        """The public key for ``key_id``; raise ``unknown_key`` / ``revoked_key`` otherwise."""
        raise NotImplementedError

    def verify(self, package_dir: Path | str, signature_path: Path | str | None = None) -> VerifiedPackage:
        package_dir = Path(package_dir)
        key_id, signed = self.verify_folder(package_dir, signature_path, what="model package")
        try:
            package = load_package(package_dir)
        except Exception as exc:
            msg = f"{package_dir} verifies but is not a valid model package: {exc}"
            raise VerificationError(msg, check="package") from None
        return VerifiedPackage(package=package, key_id=key_id, files=signed)

    def verify_folder(
        self, folder: Path | str, signature_path: Path | str | None = None, *, what: str = "signed folder"
    ) -> tuple[str, dict[str, str]]:
        """Every check but the last (``package``) on any signed folder (a camera calibration…):
        returns the signing key id and the signed files' sha256 digests."""
        folder = Path(folder)
        sig_path = Path(signature_path) if signature_path is not None else signature_path_for(folder)
        if not folder.is_dir():
            msg = f"{what} {folder} is not a directory"
            raise VerificationError(msg, check="package")
        signature = _read_bundle(sig_path)
        hint = signature.bundle.verification_material.public_key.hint
        if not hint:
            msg = f"{sig_path} names no key (no publicKey hint): re-sign it with `lineguard model sign`"
            raise VerificationError(msg, check="unknown_key")
        key = self.trusted_key(str(hint))
        signed = self._check_signature(signature, key, sig_path)
        self._check_files(folder, signed)
        return str(hint), signed

    @staticmethod
    def _check_signature(signature: object, key: ec.EllipticCurvePublicKey, sig_path: Path) -> dict[str, str]:
        try:
            manifest = _bundle_verifier(key).verify(signature)
        except Exception as exc:  # cryptography.InvalidSignature, ValueError from model-signing
            msg = (
                f"{sig_path}: the signature does not verify with key {key_id_of(key)[:16]}… "
                f"({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
            )
            raise VerificationError(msg, check="signature") from None
        serialization = manifest.serialization_type
        if serialization.get("method") != "files" or serialization.get("hash_type") != "sha256":
            msg = f"expected a per-file sha256 manifest, the signature holds {json.dumps(serialization)}"
            raise VerificationError(msg, check="signature_format")
        return _manifest_digests(manifest)

    @staticmethod
    def _check_files(package_dir: Path, signed: dict[str, str]) -> None:
        from model_signing import hashing

        actual = _manifest_digests(hashing.Config().hash(package_dir))  # type: ignore[no-untyped-call]
        problems = [
            f"{name}: signed sha256 {signed[name]}, file hashes to {actual[name]}"
            for name in sorted(signed.keys() & actual.keys())
            if signed[name] != actual[name]
        ]
        problems += [f"{name}: signed, but missing" for name in sorted(signed.keys() - actual.keys())]
        problems += [f"{name}: present, but not signed" for name in sorted(actual.keys() - signed.keys())]
        if problems:
            msg = f"{package_dir} differs from what was signed: {problems[0]}"
            raise VerificationError(msg, check="tampered", details=problems)


class TrustListVerifier(PackageVerifier):
    """Accepts signatures by active or retired keys of a :class:`SignerTrust`; refuses revoked ones."""

    def __init__(self, trust: SignerTrust) -> None:
        if not trust.keys:
            # An empty trust list is an error, not a pass (and not "unknown key" for every package).
            msg = "the trust list holds no signing keys: nothing can be verified against it"
            raise VerificationError(msg, check="unknown_key")
        self.trust = trust

    def trusted_key(self, key_id: str) -> ec.EllipticCurvePublicKey:
        entry: SignerKey | None = self.trust.get(key_id)
        if entry is None:
            known = ", ".join(k.key_id[:16] + "…" for k in self.trust.keys)
            msg = f"signed by key {key_id[:16]}…, which is not in the trust list (trusted: {known})"
            raise VerificationError(msg, check="unknown_key")
        if entry.state == "revoked":
            when = entry.revoked_at.isoformat() if entry.revoked_at else "an unknown time"
            label = entry.label or "no label"
            msg = f"signed by key {key_id[:16]}… ({label}), revoked at {when}: {entry.reason}"
            raise VerificationError(msg, check="revoked_key")
        return entry.public_key


class KeyVerifier(PackageVerifier):
    """Accepts signatures by exactly one public key (``lineguard model verify --key``)."""

    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        self.public_key = public_key
        self.key_id = key_id_of(public_key_pem(public_key))

    def trusted_key(self, key_id: str) -> ec.EllipticCurvePublicKey:
        if key_id != self.key_id:
            msg = f"signed by key {key_id[:16]}…, expected key {self.key_id[:16]}…"
            raise VerificationError(msg, check="unknown_key")
        return self.public_key
