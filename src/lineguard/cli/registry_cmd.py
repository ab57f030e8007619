"""``lineguard registry``: register, approve, deploy and roll back model versions from the server host.

The same workflow as the dashboard's Models page and ``/api/v1/registry`` (see
docs/model-updates.md), for a plant that scripts it or has no browser at hand — and the
path ``lineguard demo`` takes to put its model in the registry. Each command runs the
registry's service functions on the server's database and TUF repository, so the
checks are the product's own: the package must verify against the server's signing
trust list, approval is four-eyes, releases only ever go up.

Every step names the person it is done for (``--as USERNAME``), and the access policy
decides with that person's active grants, exactly as for their browser session: a
quality engineer registers and deploys, someone else (a production supervisor, or a
second quality engineer) approves. The two four-eyes steps — registering (asking) and
approving or rejecting — authenticate that person themself, as at sign-in: their
password and a fresh authenticator code, read from the terminal (or stdin), never from
the command line; access to the server host does not stand in for anyone (review
finding 11). Deploy, rollback and list act with ``--as`` and are audited with the OS
user who ran them: ``cli:registry.<os user>:<username>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lineguard.cli.options import SERVER_CONFIG
from lineguard.contracts.errors import InputError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from lineguard.config.server import ServerConfig
    from lineguard.server.auth import Action, AuthRuntime, Target
    from lineguard.server.context import AuditHook
    from lineguard.server.registry import Registry

__all__ = ["registry"]

_AS = click.option(
    "--as",
    "username",
    required=True,
    help="The person this step is done for; their roles decide whether it is allowed.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@dataclass
class _Cli:
    settings: ServerConfig
    session: Session
    runtime: AuthRuntime
    audit: AuditHook
    sessions: sessionmaker[Session]

    def registry(self) -> Registry:
        from lineguard.server.registry import Registry

        return Registry.from_settings(self.settings)


@dataclass(frozen=True)
class _Person:
    user_id: str
    actor: str


@contextmanager
def _open(config_path: Path) -> Iterator[_Cli]:
    from lineguard.config import load_server_config
    from lineguard.server.auth import AuthRuntime
    from lineguard.server.protection import default_audit
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    with opened_storage(settings) as sessions, sessions() as session:
        runtime = AuthRuntime.build(settings.site_id, settings.auth)
        yield _Cli(settings, session, runtime, default_audit(settings), sessions)


def _person(cli: _Cli, username: str, action: Action, target: Target | None = None) -> _Person:
    """Who the step is for, if the policy lets them do ``action`` (on ``target``, or anywhere)."""
    from lineguard.cli.options import cli_actor
    from lineguard.contracts.audit import AccessDenied
    from lineguard.server.auth import Subject, active_grants, readable_scope, user_by_name

    user = user_by_name(cli.session, username)
    if user is None:
        msg = f"no user named {username!r}: see `lineguard user list`"
        raise NotFoundError(msg)
    actor = cli_actor("registry", user.username)
    now = cli.runtime.now()
    subject = Subject(user_id=user.id, grants=active_grants(cli.session, user_id=user.id, now=now), mfa=True)
    site = cli.runtime.site
    if user.disabled:
        allowed, reason = False, "the account is disabled"
    elif target is None:  # like a route guard: allowed somewhere on the site
        scope = readable_scope(cli.runtime.engine, subject, action, site=site, now=now)
        allowed, reason = not scope.empty, f"{user.username}'s roles do not include {action}"
    else:
        decision = cli.runtime.engine.decide(subject, action, target, now=now)
        allowed, reason = decision.allowed, decision.reason
    if not allowed:
        where = site if target is None or target.line is None else f"{site}/{target.line}"
        denied = AccessDenied(action=action.value, resource=where, reason=reason[:500], source_ip=None)
        cli.audit(cli.session, denied, actor=actor)
        cli.session.commit()
        msg = f"permission denied: {action} for {user.username} on {where} ({reason})"
        raise PermissionDeniedError(msg)
    return _Person(user_id=user.id, actor=actor)


def _confirm(cli: _Cli, username: str, purpose: str) -> None:
    """The person proves themself for this four-eyes step: password, then a fresh code."""
    from lineguard.cli.four_eyes import confirm_at_terminal
    from lineguard.cli.options import cli_actor

    confirm_at_terminal(
        settings=cli.settings,
        session=cli.session,
        sessions=cli.sessions,
        runtime=cli.runtime,
        audit=cli.audit,
        username=username,
        purpose=purpose,
        via=cli_actor("registry"),
    )


def _echo_version(version: Any, as_json: bool, done: str) -> None:
    from lineguard.server.registry import ModelVersionView

    view = ModelVersionView.of(version)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    click.echo(
        f"{done} {view.model_id} v{view.version} ({view.id}): {view.state}, "
        f"key {view.signer_key_id[:16]}…, graph sha256 {view.sha256[:16]}…"
    )


def _echo_release(row: Any, as_json: bool) -> None:
    from lineguard.server.registry import ReleaseView

    view = ReleaseView.of(row)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    targets = [f"line {x}" for x in view.lines] + [f"node {x}" for x in view.nodes]
    click.echo(f"release {view.release} ({view.kind}) of {view.model_version_id} to {', '.join(targets)}")


@click.group()
def registry() -> None:
    """Register, approve, deploy and roll back signed model versions (on the server host).

    \b
    Example:
      lineguard model sign models/bracket-v2 --config server.yaml
      lineguard registry register models/bracket-v2 --as q.engineer --config server.yaml
      lineguard registry approve mv_01J… --as p.supervisor --config server.yaml
      lineguard registry deploy mv_01J… --line line-1 --as q.engineer --config server.yaml
    """


@registry.command("register")
@click.argument("package", type=click.Path(path_type=Path))
@_AS
@SERVER_CONFIG
@_JSON
def register(package: Path, username: str, config_path: Path, as_json: bool) -> None:
    """Register a signed package (PACKAGE.sig beside the folder) as the model's next version.

    Asks for the registering person's password and authenticator code (typed, or on stdin).

    The package must verify against the server's signing trust list: unsigned, unknown
    or revoked key, or tampered packages are refused before anything is stored.

    \b
    Example:
      lineguard registry register models/bracket-v2 --as q.engineer --config server.yaml
    """
    from lineguard.server import registry as workflow
    from lineguard.server.auth import Action

    if not (package / "model.onnx").is_file():
        msg = f"{package} is not a model package folder (no model.onnx in it)"
        raise InputError(msg)
    with _open(config_path) as cli:
        person = _person(cli, username, Action.MODEL_CONFIGURATION_WRITE)
        _confirm(cli, username, "model_version.register")
        version = workflow.register(
            cli.session,
            registry=cli.registry(),
            package_dir=package,
            user_id=person.user_id,
            actor=person.actor,
            audit=cli.audit,
        )
        _echo_version(version, as_json, "registered")


def _decide(config_path: Path, username: str, version_id: str, reason: str | None, as_json: bool) -> None:
    from lineguard.server import registry as workflow
    from lineguard.server.auth import Action, Target

    with _open(config_path) as cli:
        version = workflow.get_version(cli.session, version_id)
        # The approval route's own question (check_approval): the forbid on approving one's own.
        target = Target(
            site=cli.runtime.site, line=None, kind="deployment", requested_by=version.registered_by
        )
        person = _person(cli, username, Action.MODEL_DEPLOYMENT_APPROVE, target)
        _confirm(cli, username, "model_version.approve" if reason is None else "model_version.reject")
        common = {"version_id": version_id, "approver_id": person.user_id, "actor": person.actor}
        if reason is None:
            decided = workflow.approve(cli.session, audit=cli.audit, **common)
        else:
            decided = workflow.reject(cli.session, audit=cli.audit, reason=reason, **common)
        _echo_version(decided, as_json, "approved" if reason is None else "rejected")


@registry.command("approve")
@click.argument("version_id")
@_AS
@SERVER_CONFIG
@_JSON
def approve(version_id: str, username: str, config_path: Path, as_json: bool) -> None:
    """Approve a registered version: someone other than whoever registered it (four eyes).

    Asks for the approver's password and authenticator code (typed, or on stdin).

    \b
    Example:
      lineguard registry approve mv_01J… --as p.supervisor --config server.yaml
    """
    _decide(config_path, username, version_id, None, as_json)


@registry.command("reject")
@click.argument("version_id")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@_AS
@SERVER_CONFIG
@_JSON
def reject(version_id: str, reason: str, username: str, config_path: Path, as_json: bool) -> None:
    """Reject a registered version (four eyes, like approval).

    \b
    Example:
      lineguard registry reject mv_01J… --reason "wrong batch" --as p.supervisor --config server.yaml
    """
    if not reason.strip():
        msg = "say why the version is rejected (it goes into the audit log)"
        raise InputError(msg)
    _decide(config_path, username, version_id, reason, as_json)


def _check_targets(cli: _Cli, username: str, lines: list[str], nodes: list[str]) -> _Person:
    """The deploy route's per-line check; a node counts as its line."""
    from lineguard.server.auth import Action, Target
    from lineguard.server.nodes import Node

    all_lines = list(lines)
    for node_id in nodes:
        node = cli.session.get(Node, node_id)
        if node is None:
            msg = f"no node {node_id!r} is enrolled"
            raise NotFoundError(msg)
        all_lines.append(node.line_id)
    if not all_lines:
        msg = "deploy to at least one --line or --node"
        raise InputError(msg)
    person = None
    for line in sorted(set(all_lines)):
        target = Target.for_action(Action.MODEL_DEPLOYMENT_REQUEST, site=cli.runtime.site, line=line)
        person = _person(cli, username, Action.MODEL_DEPLOYMENT_REQUEST, target)
    assert person is not None  # noqa: S101 - all_lines is not empty
    return person


@registry.command("deploy")
@click.argument("version_id")
@click.option("--line", "lines", multiple=True, help="A line to run the version on (repeatable).")
@click.option("--node", "nodes", multiple=True, help="A single node to run it on (repeatable).")
@_AS
@SERVER_CONFIG
@_JSON
def deploy(
    version_id: str,
    lines: tuple[str, ...],
    nodes: tuple[str, ...],
    username: str,
    config_path: Path,
    as_json: bool,
) -> None:
    """Deploy an approved version: a new release, published to the nodes through TUF.

    \b
    Example:
      lineguard registry deploy mv_01J… --line line-1 --as q.engineer --config server.yaml
    """
    from lineguard.server import registry as workflow

    with _open(config_path) as cli:
        person = _check_targets(cli, username, list(lines), list(nodes))
        row = workflow.deploy(
            cli.session,
            registry=cli.registry(),
            version_id=version_id,
            lines=list(lines),
            nodes=list(nodes),
            actor=person.actor,
            audit=cli.audit,
        )
        _echo_release(row, as_json)


@registry.command("rollback")
@click.option("--line", default=None, help="The line to roll back.")
@click.option("--node", default=None, help="Or the node to roll back.")
@click.option("--to", "to_version_id", default=None, help="Version to run (default: the one before).")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@_AS
@SERVER_CONFIG
@_JSON
def rollback(
    line: str | None,
    node: str | None,
    to_version_id: str | None,
    reason: str,
    username: str,
    config_path: Path,
    as_json: bool,
) -> None:
    """Roll a line or node back to an earlier approved version (a new, higher release).

    \b
    Example:
      lineguard registry rollback --line line-1 --reason "false rejects" --as q.engineer --config server.yaml
    """
    from lineguard.server import registry as workflow

    with _open(config_path) as cli:
        person = _check_targets(cli, username, [line] if line else [], [node] if node else [])
        row = workflow.rollback(
            cli.session,
            registry=cli.registry(),
            line=line,
            node=node,
            to_version_id=to_version_id,
            reason=reason,
            actor=person.actor,
            audit=cli.audit,
        )
        _echo_release(row, as_json)


@registry.command("list")
@SERVER_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_versions(config_path: Path, as_json: bool) -> None:
    """List registered versions and releases.

    \b
    Example:
      lineguard registry list --config server.yaml
    """
    from lineguard.server import registry as workflow
    from lineguard.server.registry import ModelVersionView, ReleaseView

    with _open(config_path) as cli:
        versions = [ModelVersionView.of(v) for v in workflow.list_versions(cli.session)]
        releases = [ReleaseView.of(r) for r in workflow.list_releases(cli.session)]
    if as_json:
        doc = {
            "versions": [v.model_dump(mode="json") for v in versions],
            "releases": [r.model_dump(mode="json") for r in releases],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if not versions:
        click.echo("no model version is registered yet: lineguard registry register PACKAGE …")
    for v in versions:
        click.echo(f"{v.id}  {v.model_id} v{v.version}  {v.state:<10} by {v.registered_by}")
    for r in releases:
        targets = ", ".join([f"line {x}" for x in r.lines] + [f"node {x}" for x in r.nodes])
        click.echo(f"release {r.release:<4} {r.kind:<8} {r.model_version_id}  {targets}")


@registry.command("software-bundle")
@click.option(
    "--wheels",
    "wheels_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with the LineGuard wheel and every dependency wheel (pip download / pip wheel).",
)
@click.option(
    "--requirements",
    "requirements_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The exact pins (requirements/constraints.txt or pip freeze).",
)
@click.option("--version", "version", required=True, help="The LineGuard version the bundle installs.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def software_bundle(wheels_dir: Path, requirements_file: Path, version: str, out_path: Path) -> None:
    """Pack node software (wheels + pinned requirements + manifest) into one reproducible bundle.

    \b
    Example:
      pip wheel --no-deps -w dist/ . && pip download -d dist/ -r requirements/edge.txt
      lineguard registry software-bundle --wheels dist/ --requirements requirements/constraints.txt \\
          --version 0.3.0 --out lineguard-0.3.0.tar.gz
    """
    from lineguard.crypto import atomic_write
    from lineguard.signing import build_software_bundle

    wheels = {path.name: path.read_bytes() for path in sorted(wheels_dir.glob("*.whl"))}
    if not any(name.startswith("lineguard-") for name in wheels):
        msg = f"{wheels_dir} holds no lineguard-*.whl: the bundle must carry LineGuard itself"
        raise InputError(msg)
    data = build_software_bundle(version, wheels, requirements_file.read_text(encoding="utf-8"))
    atomic_write(out_path, data, mode=0o644)
    click.echo(f"wrote {out_path}: {len(wheels)} wheels, {len(data):,} bytes")


@registry.command("publish-software")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The LineGuard version the bundle installs.")
@_AS
@SERVER_CONFIG
@_JSON
def publish_software(bundle: Path, version: str, username: str, config_path: Path, as_json: bool) -> None:
    """Publish a node-software bundle to this site's nodes, signed by the TUF software role.

    The person (``node_management.write``) authenticates as at a four-eyes step: their
    password and a fresh authenticator code. Nodes verify and install it themselves.

    \b
    Example:
      lineguard registry publish-software lineguard-0.3.0.tar.gz --version 0.3.0 \\
          --as i.admin --config server.yaml
    """
    from lineguard.server.auth import Action
    from lineguard.server.registry import publish_node_software

    with _open(config_path) as cli:
        person = _person(cli, username, Action.NODE_MANAGEMENT_WRITE)
        _confirm(cli, username, "node_software.publish")
        release = publish_node_software(
            cli.session,
            registry=cli.registry(),
            site_id=cli.settings.site_id,
            version=version,
            bundle=bundle.read_bytes(),
            actor=person.actor,
            audit=cli.audit,
        )
    if as_json:
        click.echo(release.model_dump_json(indent=2))
        return
    click.echo(
        f"published LineGuard {release.version} as software release {release.release} of {release.site_id}"
    )
