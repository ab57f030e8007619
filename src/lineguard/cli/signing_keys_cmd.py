"""``lineguard keys signing``: the keys that sign model packages — create, rotate, revoke, list.

Keys live in a signing key store (:mod:`lineguard.signing.keystore`): ``--store DIR``
on a signing workstation, or ``--config server.yaml`` for the server's own store under
``data_dir/signing`` — whose trust list the registry accepts and publishes to nodes. With
``--config``, a change is published through TUF at once and recorded in the audit log.
Private keys are encrypted under the signing passphrase (``LINEGUARD_SIGNING_PASSPHRASE``
or a secrets file), or stay on a PKCS#11 token (PIN in ``LINEGUARD_PKCS11_PIN``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lineguard.cli.options import optional_server_config
from lineguard.config.secrets import SecretRef
from lineguard.contracts.errors import InputError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from lineguard.signing.keystore import Pkcs11KeyRef, SigningKeyStore
    from lineguard.signing.sign import SigningKey
    from lineguard.signing.trust import SignerKey

__all__ = ["load_signing_key", "open_store", "passphrase_options", "signing", "store_options"]

PASSPHRASE_ENV = "LINEGUARD_SIGNING_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PIN_ENV = "LINEGUARD_PKCS11_PIN"


def store_options(func: Any) -> Any:
    func = optional_server_config(
        "server.yaml: use the server's store (data_dir/signing) and publish changes."
    )(func)
    return click.option(
        "--store",
        "store_dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="A signing key store directory (a signing workstation).",
    )(func)


def passphrase_options(func: Any) -> Any:
    func = click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help=f"File holding the signing passphrase (default: ${PASSPHRASE_ENV}).",
    )(func)
    return click.option(
        "--pin-env", default=PIN_ENV, show_default=True, help="Environment variable with the PKCS#11 PIN."
    )(func)


def open_store(store_dir: Path | None, config_path: Path | None) -> SigningKeyStore:
    from lineguard.signing.keystore import SigningKeyStore

    if (store_dir is None) == (config_path is None):
        msg = "give exactly one of --store DIR or --config server.yaml"
        raise InputError(msg)
    if store_dir is not None:
        return SigningKeyStore(store_dir)
    from lineguard.config import load_server_config

    assert config_path is not None  # noqa: S101 - checked above
    return SigningKeyStore(load_server_config(config_path).data_dir / "signing")


def read_passphrase(passphrase_file: Path | None) -> SecretStr:
    ref = SecretRef(file=passphrase_file) if passphrase_file else SecretRef(env=PASSPHRASE_ENV)
    return ref.resolve()


def read_pin(pin_env: str) -> SecretStr:
    return SecretRef(env=pin_env).resolve()


def load_signing_key(
    store_dir: Path | None,
    config_path: Path | None,
    passphrase_file: Path | None,
    pin_env: str,
    key_id: str | None = None,
) -> SigningKey:
    """The store's active key (or ``key_id``), unlocked by PIN (PKCS#11) or passphrase."""
    store = open_store(store_dir, config_path)
    entry = store.trust().require(key_id) if key_id else store.trust().active
    pin = read_pin(pin_env) if entry is not None and entry.backend == "pkcs11" else None
    passphrase = None if pin is not None else read_passphrase(passphrase_file)
    return store.load_signing_key(passphrase, key_id=key_id, pin=pin)


def _pkcs11_ref(library: str | None, token_label: str | None, key_label: str | None) -> Pkcs11KeyRef | None:
    from lineguard.signing.keystore import Pkcs11KeyRef

    given = [v is not None for v in (library, token_label, key_label)]
    if not any(given):
        return None
    if not all(given):
        msg = "a PKCS#11 key needs --pkcs11-library, --token-label and --key-label together"
        raise InputError(msg)
    return Pkcs11KeyRef(library=str(library), token_label=str(token_label), key_label=str(key_label))


def _pkcs11_options(func: Any) -> Any:
    func = click.option("--key-label", help="Label of the key pair on the token.")(func)
    func = click.option("--token-label", help="Label of the PKCS#11 token.")(func)
    return click.option("--pkcs11-library", help="Vendor PKCS#11 module (.so): create the key on an HSM.")(
        func
    )


def _after_change(config_path: Path | None, setting: str, before: Any, after: Any) -> None:
    """With --config: publish the new trust list through TUF and audit the change."""
    if config_path is None:
        return
    from lineguard.cli.options import cli_actor
    from lineguard.config import load_server_config
    from lineguard.contracts.audit import ConfigChanged
    from lineguard.crypto import canonical_json
    from lineguard.server.audit import record
    from lineguard.server.registry import Registry
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    published = Registry.from_settings(settings).publish_trust()
    with opened_storage(settings) as sessions, sessions.begin() as session:
        event = ConfigChanged(
            setting=setting,
            before=None if before is None else canonical_json(before).decode(),
            after=None if after is None else canonical_json(after).decode(),
        )
        record(session, event, actor=cli_actor("keys"))
    if published:
        click.echo("published the new trust list to nodes (TUF target trust/signers.json)")


def _summary(entry: Any) -> dict[str, str]:
    return {"key_id": entry.key_id, "state": entry.state, "label": entry.label}


@click.group("signing")
def signing() -> None:
    """Model-signing keys: create, rotate, revoke, list."""


def _new_key_options(func: Any) -> Any:
    func = click.option("--label", default="", help="A name for people (e.g. the team and year).")(func)
    return store_options(passphrase_options(_pkcs11_options(func)))


def _new_key(options: dict[str, Any], *, rotate: bool) -> tuple[SigningKeyStore, SignerKey]:
    """Create (or rotate to) a key on disk or on a token, as the options say."""
    store = open_store(options["store_dir"], options["config_path"])
    ref = _pkcs11_ref(options["pkcs11_library"], options["token_label"], options["key_label"])
    pin = read_pin(options["pin_env"]) if ref else None
    passphrase = None if ref else read_passphrase(options["passphrase_file"])
    make = store.rotate if rotate else store.create
    return store, make(passphrase, label=options["label"], pkcs11=ref, pin=pin)


@signing.command("create")
@_new_key_options
def create(**options: Any) -> None:
    """Create the first signing key (EC P-256), encrypted at rest or on a PKCS#11 token.

    \b
    Example:
      export LINEGUARD_SIGNING_PASSPHRASE="$(cat /etc/lineguard/signing-pass)"
      lineguard keys signing create --store ~/lineguard-signing --label qa-2026
      lineguard keys signing create --config server.yaml --pkcs11-library /usr/lib/softhsm/libsofthsm2.so \\
          --token-label qa --key-label model-signing-1
    """
    store, entry = _new_key(options, rotate=False)
    click.echo(f"created signing key {entry.key_id} ({entry.backend}); trust list: {store.trust_file}")
    _after_change(options["config_path"], f"signing.keys.{entry.key_id[:16]}", None, _summary(entry))


@signing.command("rotate")
@_new_key_options
def rotate(**options: Any) -> None:
    """Make a new active signing key; the old one is retired (what it signed stays valid).

    \b
    Example:
      lineguard keys signing rotate --config /etc/lineguard/server.yaml --label qa-2027
    """
    before = open_store(options["store_dir"], options["config_path"]).trust().active
    _, entry = _new_key(options, rotate=True)
    retired = f"; retired {before.key_id}" if before else ""
    click.echo(f"new active signing key {entry.key_id}{retired}")
    summary = None if before is None else _summary(before)
    _after_change(options["config_path"], "signing.keys.active", summary, _summary(entry))


@signing.command("revoke")
@store_options
@click.argument("key_id")
@click.option("--reason", required=True, help="Why (kept in the trust list and the audit log).")
def revoke(store_dir: Path | None, config_path: Path | None, key_id: str, reason: str) -> None:
    """Revoke a signing key: nodes refuse every package it signed, its private PEM is destroyed.

    KEY_ID may be abbreviated to its first 8 or more hex digits.

    \b
    Example:
      lineguard keys signing revoke --config server.yaml 6360a28cd19c --reason "laptop stolen"
    """
    store = open_store(store_dir, config_path)
    before = store.trust().get(key_id)
    entry = store.revoke(key_id, reason=reason)
    click.echo(f"revoked signing key {entry.key_id}")
    _after_change(
        config_path,
        f"signing.keys.{entry.key_id[:16]}",
        None if before is None else _summary(before),
        _summary(entry),
    )


@signing.command("list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_keys(store_dir: Path | None, config_path: Path | None, as_json: bool) -> None:
    """List signing keys and their states (no key material is printed).

    \b
    Example:
      lineguard keys signing list --store ~/lineguard-signing
      6360a28cd19cc529…  active   file    qa-2026   2026-11-22T01:00:00+00:00
    """
    rows = open_store(store_dir, config_path).describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no signing keys yet: lineguard keys signing create …")
    for row in rows:
        click.echo(
            f"{row['key_id'][:16]}…  {row['state']:<8} {row['backend']:<7} {row['label'] or '-':<12} "
            f"{row['created_at']}  {row['revoked']}"
        )
