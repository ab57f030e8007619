"""Sign a model package in the OpenSSF model-signing format with a locally held key.

The signature is a Sigstore bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``)
carrying a DSSE envelope over an in-toto statement that lists every file of the
package with its sha256, signed with ECDSA; no certificate, no transparency log, no
network. The bundle's key hint is the key id (:func:`~lineguard.signing.trust.key_id_of`).

Two kinds of key, one code path — model-signing's own EC-key signer is handed a key
object that only needs ``sign(data, ECDSA(hash))`` and ``public_key()``:

* :class:`~cryptography.hazmat.primitives.asymmetric.ec.EllipticCurvePrivateKey`
  loaded from an encrypted PEM file (:mod:`lineguard.signing.keystore`);
* :class:`Pkcs11SigningKey`: an EC key that never leaves a PKCS#11 token (an HSM),
  driven through python-pkcs11. (model-signing's own PKCS#11 signer needs PyKCS11,
  which LineGuard does not install: one PKCS#11 binding, python-pkcs11, serves both
  the keyring and signing.)
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pydantic import SecretStr

from lineguard.contracts.errors import CryptoError, InputError
from lineguard.crypto import atomic_write
from lineguard.signing.trust import key_id_of, public_key_pem
from lineguard.signing.verify import signature_path_for
from lineguard.vision.package import load_package

__all__ = ["Pkcs11SigningKey", "SignedPackage", "SigningKey", "sign_folder", "sign_package"]


class SigningKey(Protocol):
    """What signing needs of a private key (a software key or an HSM handle)."""

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes: ...

    def public_key(self) -> ec.EllipticCurvePublicKey: ...


@dataclass(frozen=True, slots=True)
class SignedPackage:
    package_dir: Path
    signature_path: Path
    key_id: str
    #: sha256 of the ONNX graph.
    digest: str


def sign_package(
    package_dir: Path | str,
    key: SigningKey,
    *,
    signature_path: Path | str | None = None,
    overwrite: bool = True,
) -> SignedPackage:
    """Sign every file of a valid package; write the bundle beside it (``<package>.sig``)."""
    package_dir = Path(package_dir)
    package = load_package(package_dir)  # only valid packages (two files, digest pinned) get signed
    sig_path, key_id = sign_folder(package_dir, key, signature_path=signature_path, overwrite=overwrite)
    return SignedPackage(package_dir, sig_path, key_id, package.digest)


def sign_folder(
    folder: Path | str,
    key: SigningKey,
    *,
    signature_path: Path | str | None = None,
    overwrite: bool = True,
) -> tuple[Path, str]:
    """Sign every file of ``folder`` (a model package, a camera calibration…) the same way:
    an OpenSSF model-signing bundle beside it. Returns the signature path and the key id."""
    from model_signing import hashing
    from model_signing._signing import sign_ec_key
    from model_signing._signing import signing as ms_signing

    folder = Path(folder)
    sig_path = Path(signature_path) if signature_path is not None else signature_path_for(folder)
    if sig_path.resolve().is_relative_to(folder.resolve()):
        msg = f"the signature must live outside the package folder, not at {sig_path}"
        raise InputError(msg)
    if sig_path.exists() and not overwrite:
        msg = f"{sig_path} already exists (pass overwrite to replace it)"
        raise InputError(msg)

    class _Signer(sign_ec_key.Signer):
        def __init__(self, private_key: SigningKey) -> None:
            self._private_key = private_key  # type: ignore[assignment]
            sign_ec_key._check_supported_ec_key(private_key.public_key())

    manifest = hashing.Config().hash(folder)  # type: ignore[no-untyped-call]
    signature = _Signer(key).sign(ms_signing.Payload(manifest))
    # Write atomically (the bundle serialiser only writes to a path): a crash never
    # leaves a half-written signature beside a package.
    staging = sig_path.with_name(f".{sig_path.name}.staging")
    signature.write(staging)
    try:
        atomic_write(sig_path, staging.read_bytes(), mode=0o644)
    finally:
        staging.unlink(missing_ok=True)
    return sig_path, key_id_of(key.public_key())


class Pkcs11SigningKey:
    """An EC private key on a PKCS#11 token; signing runs inside the token (``CKM_ECDSA``).

    The key pair is found by its label (``CKA_LABEL``); :meth:`generate` creates one on
    the token as non-extractable and sensitive. python-pkcs11 is imported only here.
    """

    def __init__(self, library_path: str, token_label: str, pin: SecretStr, key_label: str) -> None:
        pkcs11 = _pkcs11()
        try:
            token = pkcs11.lib(library_path).get_token(token_label=token_label)
            self._session: Any = token.open(user_pin=pin.get_secret_value(), rw=True)
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            msg = f"cannot open PKCS#11 token {token_label!r} via {library_path} ({type(exc).__name__})"
            raise CryptoError(msg) from None
        self.key_label = key_label
        self._lock = threading.Lock()
        try:
            self._private = self._session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, key_type=pkcs11.KeyType.EC, label=key_label
            )
            public = self._session.get_key(
                object_class=pkcs11.ObjectClass.PUBLIC_KEY, key_type=pkcs11.KeyType.EC, label=key_label
            )
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
            self._session.close()
            msg = f"PKCS#11 token {token_label!r} has no single EC key pair labelled {key_label!r}"
            raise CryptoError(msg) from exc
        from pkcs11.util.ec import encode_ec_public_key

        loaded = serialization.load_der_public_key(encode_ec_public_key(public))
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            msg = f"PKCS#11 key {key_label!r} is not an EC key"
            raise CryptoError(msg)
        self._public: ec.EllipticCurvePublicKey = loaded

    @staticmethod
    def generate(library_path: str, token_label: str, pin: SecretStr, key_label: str) -> Pkcs11SigningKey:
        """Create an EC P-256 key pair on the token (private half non-extractable), then open it."""
        pkcs11 = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters

        try:
            token = pkcs11.lib(library_path).get_token(token_label=token_label)
            with token.open(user_pin=pin.get_secret_value(), rw=True) as session:
                params = session.create_domain_parameters(
                    pkcs11.KeyType.EC,
                    {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True,
                )
                params.generate_keypair(
                    store=True,
                    label=key_label,
                    private_template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False},
                )
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            msg = f"cannot create a key pair on PKCS#11 token {token_label!r} ({type(exc).__name__})"
            raise CryptoError(msg) from None
        return Pkcs11SigningKey(library_path, token_label, pin, key_label)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def key_id(self) -> str:
        return key_id_of(public_key_pem(self._public))

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        pkcs11 = _pkcs11()
        if not isinstance(signature_algorithm, ec.ECDSA) or not isinstance(
            signature_algorithm.algorithm, hashes.SHA256
        ):
            msg = "the PKCS#11 signer supports ECDSA with SHA-256 (P-256 keys)"
            raise CryptoError(msg)
        digest = hashlib.sha256(data).digest()  # CKM_ECDSA signs a pre-computed hash
        try:
            with self._lock:
                raw = bytes(self._private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA))
        except pkcs11.PKCS11Error as exc:
            msg = f"PKCS#11 key {self.key_label!r}: signing failed ({type(exc).__name__})"
            raise CryptoError(msg) from None
        half = len(raw) // 2  # PKCS#11 returns r ‖ s; model-signing wants DER
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def __repr__(self) -> str:
        return f"Pkcs11SigningKey(label={self.key_label!r}, key_id={self.key_id[:16]}…)"


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        msg = "PKCS#11 signing needs the python-pkcs11 package (pip install python-pkcs11)"
        raise CryptoError(msg) from None
    return pkcs11
