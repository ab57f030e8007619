"""``lineguard keys``: the server keyring — create it, inspect it, rotate and prune KEKs.

Rotation never stops the server: ``rotate`` adds a new active KEK, then re-wraps every
data key in batches (the running server reloads the keyring on its own); ``prune``
destroys retired KEKs once no data key needs them and running processes have had
time to notice. Each step is recorded in the audit log.
"""

from __future__ import annotations

from pathlib import Path

import click

from lineguard.cli.options import SERVER_CONFIG, cli_actor
from lineguard.config import load_server_config
from lineguard.contracts.audit import KekDestroyed, KeysRotated
from lineguard.contracts.errors import CryptoError
from lineguard.crypto import Keyring, keyring_path, rewrap_all

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Manage the server keyring (key-encryption keys)."""


@keys.command("init")
@SERVER_CONFIG
def init(config_path: Path) -> None:
    """Create the keyring under data_dir/keys with one active KEK.

    The passphrase comes from keyring.passphrase in the config (an environment
    variable or a secrets file), never from the command line.

    \b
    Example:
      export LINEGUARD_KEYRING_PASSPHRASE="$(cat /etc/lineguard/keyring-pass)"
      lineguard keys init --config /etc/lineguard/server.yaml
    """
    from lineguard.contracts.audit import KeyringCreated
    from lineguard.server.admin import admin_session
    from lineguard.server.keystore import open_keyring

    settings = load_server_config(config_path)
    if settings.keyring.backend != "file":
        msg = "keys init creates a file keyring; the pkcs11 backend creates its first KEK on first use"
        raise CryptoError(msg)
    path = keyring_path(settings.data_dir)
    if path.exists():
        msg = f"keyring {path} already exists; refusing to replace it (rotate with `lineguard keys rotate`)"
        raise CryptoError(msg)
    provider = open_keyring(settings, create=True)
    assert isinstance(provider, Keyring)  # noqa: S101 - file backend
    with admin_session(settings, actor=cli_actor("keys")) as admin:
        admin.audit(admin.session, KeyringCreated(kek_id=provider.active_id), actor=admin.actor)
        admin.session.commit()
    click.echo(f"keyring {provider.path}: active KEK {provider.active_id}")


@keys.command("status")
@SERVER_CONFIG
def status(config_path: Path) -> None:
    """List the KEKs and how many data keys each one wraps.

    \b
    Example:
      lineguard keys status --config server.yaml
      kek_0193…  active   created 2026-11-22T00:47:02Z   data keys: 120433
    """
    from lineguard.server.admin import all_data_key_stores
    from lineguard.server.keystore import open_keyring
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    provider = open_keyring(settings)
    with opened_storage(settings) as sessions:
        counts: dict[str, int] = {}
        for store in all_data_key_stores(settings, sessions).values():
            for kek_id, n in store.count_by_kek().items():
                counts[kek_id] = counts.get(kek_id, 0) + n
    if isinstance(provider, Keyring):
        for info in provider.describe():
            retired = f"   retired {info.retired_at:%Y-%m-%dT%H:%M:%SZ}" if info.retired_at else ""
            click.echo(
                f"{info.kek_id}  {info.state:<7}  created {info.created_at:%Y-%m-%dT%H:%M:%SZ}{retired}"
                f"   data keys: {counts.pop(info.kek_id, 0)}"
            )
    else:
        active = provider.active().kek_id
        for kek_id in provider.kek_ids():
            state = "active" if kek_id == active else "retired"
            click.echo(f"{kek_id}  {state:<7}  data keys: {counts.pop(kek_id, 0)}")
    for kek_id, n in counts.items():
        click.secho(f"{kek_id}  MISSING  data keys: {n} (their objects cannot be opened)", fg="red")


@keys.command("rotate")
@SERVER_CONFIG
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
def rotate(config_path: Path, batch_size: int) -> None:
    """Make a new KEK active and re-wrap every data key under it, without downtime.

    The server keeps serving: until a data key is re-wrapped, the retired KEK still
    opens it, and the running server picks up the new KEK by itself. Destroy retired
    KEKs afterwards with `lineguard keys prune`.

    \b
    Example:
      lineguard keys rotate --config /etc/lineguard/server.yaml
      new active KEK kek_0193…; re-wrapped 120433 data keys in 241 batches
    """
    from rich.progress import Progress, TaskID

    from lineguard.server.admin import all_data_key_stores
    from lineguard.server.audit import record
    from lineguard.server.keystore import open_keyring
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    provider = open_keyring(settings)
    old_id = provider.active().kek_id
    new_id = provider.rotate()
    with opened_storage(settings) as sessions:
        total = rewrapped = batches = 0
        with Progress(transient=True) as progress:
            for name, store in all_data_key_stores(settings, sessions).items():
                task = progress.add_task(f"re-wrapping {name}", total=None)

                def show(done: int, of: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=of)

                report = rewrap_all(provider, store, batch_size=batch_size, progress=show)
                rewrapped, batches = rewrapped + report.rewrapped, batches + report.batches
                total += sum(report.remaining.values())
        with sessions.begin() as session:
            record(
                session,
                KeysRotated(old_kek_id=old_id, new_kek_id=new_id, rewrapped=rewrapped),
                actor=cli_actor("keys"),
            )
    click.echo(f"new active KEK {new_id}; re-wrapped {rewrapped} data keys in {batches} batches")
    if total:
        click.secho(f"{total} data keys remain under retired KEKs; run rotate again", fg="yellow")


@keys.command("prune")
@SERVER_CONFIG
@click.option(
    "--grace-s",
    default=300,
    show_default=True,
    type=click.IntRange(0, 10**7),
    help="Keep KEKs retired less than this long (running servers reload the keyring once a second).",
)
def prune(config_path: Path, grace_s: int) -> None:
    """Destroy retired KEKs that no data key needs any more.

    A KEK that still wraps a data key anywhere is kept, whatever you ask: destroying
    it would make those objects unreadable for good.

    \b
    Example:
      lineguard keys prune --config /etc/lineguard/server.yaml
      destroyed kek_0193…
    """
    from lineguard.server.admin import all_data_key_stores
    from lineguard.server.audit import record
    from lineguard.server.keystore import open_keyring
    from lineguard.server.storage import open_storage

    settings = load_server_config(config_path)
    provider = open_keyring(settings)
    engine, sessions = open_storage(settings)
    destroyed: list[str] = []
    try:
        in_use: set[str] = set()
        for store in all_data_key_stores(settings, sessions).values():
            in_use |= {k for k, n in store.count_by_kek().items() if n}
        active = provider.active().kek_id
        if isinstance(provider, Keyring):
            candidates = [i.kek_id for i in provider.describe() if i.state == "retired"]
        else:
            candidates = [k for k in provider.kek_ids() if k != active]
        for kek_id in candidates:
            if kek_id in in_use:
                click.echo(f"kept {kek_id}: data keys still wrapped under it (run `lineguard keys rotate`)")
                continue
            try:
                if isinstance(provider, Keyring):
                    provider.destroy(kek_id, min_retired_s=grace_s)
                else:
                    provider.destroy(kek_id)
            except CryptoError as exc:
                click.echo(f"kept {kek_id}: {exc.message}")
                continue
            destroyed.append(kek_id)
            with sessions.begin() as session:
                record(session, KekDestroyed(kek_id=kek_id), actor=cli_actor("keys"))
            click.echo(f"destroyed {kek_id}")
    finally:
        engine.dispose()
    if not destroyed:
        click.echo("nothing to destroy")


@keys.command("change-passphrase")
@SERVER_CONFIG
@click.option(
    "--new-passphrase-env",
    required=True,
    metavar="VAR",
    help="Environment variable holding the new passphrase (never typed on the command line).",
)
def change_passphrase(config_path: Path, new_passphrase_env: str) -> None:
    """Re-protect the keyring file under a new passphrase (KEKs and data keys unchanged).

    Afterwards, point keyring.passphrase in the config at the new secret.

    \b
    Example:
      NEW_PASS="$(cat /etc/lineguard/keyring-pass.new)" \\
        lineguard keys change-passphrase --config server.yaml --new-passphrase-env NEW_PASS
    """
    from lineguard.config import SecretRef
    from lineguard.server.keystore import open_keyring

    settings = load_server_config(config_path)
    provider = open_keyring(settings)
    if not isinstance(provider, Keyring):
        msg = "the pkcs11 backend has no passphrase: change the token PIN with the HSM's tools"
        raise CryptoError(msg)
    provider.change_passphrase(SecretRef(env=new_passphrase_env).resolve())
    click.echo(f"keyring {provider.path} now opens with the passphrase in ${new_passphrase_env}")


# Model-signing keys live with the registry (issue 7); the module imports only click at load.
from lineguard.cli.signing_keys_cmd import signing as _signing  # noqa: E402

keys.add_command(_signing)
