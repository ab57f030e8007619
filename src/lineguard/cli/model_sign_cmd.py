"""``lineguard model sign PACKAGE`` and ``lineguard model verify PACKAGE``.

A signature is an OpenSSF model-signing bundle written beside the package folder
(``PACKAGE.sig``), made with the active key of a signing key store (an encrypted key
file, or a key on a PKCS#11 token). ``verify`` runs every check of
:class:`lineguard.signing.PackageVerifier` and, on failure, exits 2 with
``error: check '<name>' failed: <what was expected and what was found>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.signing_keys_cmd import (
    load_signing_key,
    open_store,
    passphrase_options,
    store_options,
)
from lineguard.contracts.errors import InputError

__all__ = ["sign", "verify"]

PACKAGE = click.argument("package", type=click.Path(path_type=Path, file_okay=False))
SIGNATURE = click.option(
    "--signature",
    "signature_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Signature file (default: PACKAGE.sig beside the folder).",
)


@click.command("sign")
@PACKAGE
@SIGNATURE
@store_options
@passphrase_options
@click.option("--key-id", help="Sign with this key instead of the active one.")
def sign(
    package: Path,
    signature_path: Path | None,
    store_dir: Path | None,
    config_path: Path | None,
    passphrase_file: Path | None,
    pin_env: str,
    key_id: str | None,
) -> None:
    """Sign a model package with the active signing key (no network, no transparency log).

    \b
    Example:
      export LINEGUARD_SIGNING_PASSPHRASE="$(cat ~/.lineguard-signing-pass)"
      lineguard model sign models/tile-v3 --store ~/lineguard-signing
      signed models/tile-v3 → models/tile-v3.sig (key 6360a28cd19cc529…, graph sha256 d6e6fbf7…)
    """
    from lineguard.signing.sign import sign_package

    key = load_signing_key(store_dir, config_path, passphrase_file, pin_env, key_id)
    signed = sign_package(package, key, signature_path=signature_path)
    click.echo(
        f"signed {signed.package_dir} → {signed.signature_path} "
        f"(key {signed.key_id[:16]}…, graph sha256 {signed.digest[:16]}…)"
    )


@click.command("verify")
@PACKAGE
@SIGNATURE
@click.option(
    "--trust",
    "trust_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A trust list (signers.json) with revocations.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Accept exactly this public key (PEM).",
)
@store_options
def verify(
    package: Path,
    signature_path: Path | None,
    trust_file: Path | None,
    key_file: Path | None,
    store_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Verify a package: signed, by a trusted unrevoked key, every file unchanged, loadable.

    Exits 2 naming the failed check: unsigned, signature_format, unknown_key,
    revoked_key, signature, tampered or package.

    \b
    Example:
      lineguard model verify models/tile-v3 --trust signers.json
      verified models/tile-v3: key 6360a28cd19cc529… (qa-2026), graph sha256 d6e6fbf7…
      lineguard model verify models/tile-v3 --key qa.pub.pem
      error: check 'tampered' failed: … model.onnx: signed sha256 d6e6…, file hashes to 7d37…
    """
    from lineguard.signing import (
        KeyVerifier,
        PackageVerifier,
        SignerTrust,
        TrustListVerifier,
        load_public_key,
    )

    sources = [x is not None for x in (trust_file, key_file, store_dir, config_path)]
    if sum(sources) != 1:
        msg = "say whom to trust: exactly one of --trust FILE, --key PEM, --store DIR or --config server.yaml"
        raise InputError(msg)
    verifier: PackageVerifier
    label = ""
    if trust_file is not None:
        trust = SignerTrust.from_bytes(trust_file.read_bytes(), source=str(trust_file))
        verifier = TrustListVerifier(trust)
    elif key_file is not None:
        verifier = KeyVerifier(load_public_key(key_file.read_bytes()))
        trust = None
    else:
        trust = open_store(store_dir, config_path).trust()
        verifier = TrustListVerifier(trust)
    verified = verifier.verify(package, signature_path)
    if trust is not None and (entry := trust.get(verified.key_id)) is not None:
        label = f" ({entry.label or entry.state})"
    click.echo(
        f"verified {package}: key {verified.key_id[:16]}…{label}, graph sha256 {verified.digest[:16]}…, "
        f"model {verified.package.metadata.model_id}"
    )
