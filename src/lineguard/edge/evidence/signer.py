"""Provenance: each evidence object's content hash is signed by the node at capture.

The node signs with its enrolled identity key (EC P-256, ECDSA-SHA256, the key behind
its client certificate from the plant CA) when it has one, otherwise with an Ed25519
key of its own under ``data_dir/keys/evidence-signing.pem`` (0600). Every public key
that ever signed is kept under ``data_dir/evidence/signers/<key_id>.pem`` (key id =
sha256 of the public key), so signatures stay verifiable after a certificate renewal;
an enrolled key's certificate is kept beside it (``<key_id>.crt.pem``) for the server.
Verification raises :class:`~lineguard.contracts.errors.SignatureError` saying what
was expected and what was found; it never returns a bool.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from lineguard.contracts.errors import CryptoError, SignatureError

__all__ = ["EvidenceSigner", "verify_signature"]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _key_id(public_pem: bytes) -> str:
    return hashlib.sha256(public_pem).hexdigest()[:32]


class EvidenceSigner:
    """Signs statements with the node key; publishes its public key for verifiers."""

    def __init__(self, key: PrivateKey, signers_dir: Path) -> None:
        self._key = key
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = _key_id(self.public_pem)
        self.algorithm = "ecdsa-p256-sha256" if isinstance(key, ec.EllipticCurvePrivateKey) else "ed25519"
        signers_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._signers_dir = signers_dir
        published = signers_dir / f"{self.key_id}.pem"
        if not published.exists():
            published.write_bytes(self.public_pem)

    @classmethod
    def for_node(cls, data_dir: Path) -> EvidenceSigner:
        """The enrolled identity key if present, else the node's own Ed25519 key (created once)."""
        signers = data_dir / "evidence" / "signers"
        from lineguard.edge.identity import IdentityStore

        identity = IdentityStore(data_dir)
        if identity.enrolled:
            signer = cls(identity.load_key(), signers)
            signer.publish_certificate(identity.certificate().public_bytes(serialization.Encoding.PEM))
            return signer
        path = data_dir / "keys" / "evidence-signing.pem"
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except ValueError as exc:
                msg = f"{path}: not a readable private key ({exc})"
                raise CryptoError(msg) from None
            if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
                msg = f"{path}: expected an Ed25519 or EC key, got {type(key).__name__}"
                raise CryptoError(msg)
            return cls(key, signers)
        key = ed25519.Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return cls(key, signers)

    def publish_certificate(self, cert_pem: bytes) -> None:
        """Keep the plant-CA certificate of this key beside it (``<key_id>.crt.pem``), so the
        server can check later, after renewals, that the key was certified for this node."""
        path = self._signers_dir / f"{self.key_id}.crt.pem"
        if not path.exists():
            path.write_bytes(cert_pem)

    def sign(self, statement: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(statement, ec.ECDSA(hashes.SHA256()))
        return self._key.sign(statement)

    def __repr__(self) -> str:
        return f"EvidenceSigner(key_id={self.key_id}, algorithm={self.algorithm})"


def verify_signature(statement: bytes, signature: bytes, *, key_id: str, signers_dir: Path) -> None:
    """Check ``signature`` over ``statement`` by the published key ``key_id``."""
    path = signers_dir / f"{key_id}.pem"
    try:
        public_pem = path.read_bytes()
    except OSError:
        msg = f"signed by key {key_id}, but no such signer key is published in {signers_dir}"
        raise SignatureError(msg) from None
    if _key_id(public_pem) != key_id:
        msg = f"signer file {path.name} hashes to {_key_id(public_pem)}, expected {key_id}"
        raise SignatureError(msg)
    public = serialization.load_pem_public_key(public_pem)
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, statement, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, statement)
        else:
            msg = f"signer key {key_id} is a {type(public).__name__}, expected EC or Ed25519"
            raise SignatureError(msg)
    except InvalidSignature:
        msg = f"signature by key {key_id} does not match the statement: the evidence record was altered"
        raise SignatureError(msg) from None
