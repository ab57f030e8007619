"""A server replica's identity: stable across restarts, claimed by one live process at a time.

A *replica* is one ``lineguard server`` on one host; its *processes* (``http.workers``)
each take part in the relay. Revocation (:mod:`.revocation`) is recorded against the
replica id, so it must survive a restart: a decommissioned host started again would
otherwise come back under a fresh id and be trusted again. The id comes from, in order:

1. ``LINEGUARD_REPLICA_ID`` in the environment (per host: every replica shares one
   ``server.yaml``), checked against :data:`REPLICA_ID_FORMAT`;
2. ``data_dir/replicas/<host name>.id``, made once (``O_EXCL``) with a fresh opaque id
   and read at every later start. Keyed by host name because replicas may share one
   ``data_dir`` volume; a container whose host name changes at each start must use 1.

Each process claims ``<replica id>`` (one worker) or ``<replica id>.w<k>`` (worker ``k``
of ``http.workers``) with a session advisory lock (:class:`~lineguard.server.storage.Leadership`),
which PostgreSQL drops the moment the process or its connection dies. A process that
finds every slot held refuses to start with :class:`ReplicaIdInUseError`: two hosts
claiming one id (a copied ``data_dir`` with the same host name, or one environment value
given to two hosts) would otherwise mix their views and share one revocation.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from lineguard.contracts.errors import ConflictError, InputError
from lineguard.contracts.ids import new_id
from lineguard.server.storage import Leadership

__all__ = [
    "REPLICA_ID_ENV",
    "REPLICA_ID_FORMAT",
    "ReplicaIdInUseError",
    "check_replica_id",
    "claim_process_id",
    "process_ids",
    "replica_id_file",
    "replica_of",
    "resolve_replica_id",
]

REPLICA_ID_ENV = "LINEGUARD_REPLICA_ID"
#: Lower-case letters, digits, ``_`` and ``-``, 3–48 characters; never a dot (the worker separator).
REPLICA_ID_FORMAT = re.compile(r"^[a-z0-9][a-z0-9_-]{2,47}$")
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9.-]")


class ReplicaIdInUseError(ConflictError):
    """Every process slot of this replica id is held by a live process (another host?)."""

    code = "replica_id_in_use"


def check_replica_id(value: str, *, source: str) -> str:
    if not REPLICA_ID_FORMAT.match(value):
        msg = (
            f"{source} is {value[:80]!r}: expected 3-48 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
        raise InputError(msg)
    return value


def replica_of(process_id: str) -> str:
    """The replica id a process id belongs to (``rep_x.w1`` → ``rep_x``)."""
    return process_id.split(".", 1)[0]


def replica_id_file(data_dir: Path, hostname: str | None = None) -> Path:
    name = _UNSAFE_IN_FILE_NAME.sub("_", hostname or socket.gethostname()) or "host"
    return data_dir / "replicas" / f"{name[:128]}.id"


def resolve_replica_id(
    data_dir: Path, *, environ: Mapping[str, str] | None = None, hostname: str | None = None
) -> str:
    """This host's replica id: the environment's, else the one kept in ``data_dir`` (made once)."""
    env = os.environ if environ is None else environ
    if given := env.get(REPLICA_ID_ENV):
        return check_replica_id(given, source=REPLICA_ID_ENV)
    path = replica_id_file(data_dir, hostname)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made at an earlier start (or by a worker a moment ago)
        return _read(path)
    made = new_id("rep")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(made + "\n")
        out.flush()
        os.fsync(out.fileno())
    return made


def _read(path: Path) -> str:
    for _ in range(50):  # a worker that created it may still be writing its one line
        text = path.read_text(encoding="ascii", errors="replace").strip()
        if text:
            return check_replica_id(text, source=str(path))
        time.sleep(0.02)
    msg = f"{path} is empty: remove it to make a new replica id, or set {REPLICA_ID_ENV}"
    raise InputError(msg)


def process_ids(replica_id: str, workers: int) -> list[str]:
    """The ids this replica's processes take: the replica id itself with one worker."""
    return [replica_id] if workers <= 1 else [f"{replica_id}.w{k}" for k in range(workers)]


def claim_process_id(leadership: Leadership, replica_id: str, workers: int) -> str:
    """Take the first free process slot of ``replica_id``; :class:`ReplicaIdInUseError` if none is."""
    slots = process_ids(replica_id, workers)
    # A host with another worker count claims other names (<id> against <id>.w0): probe the
    # first name of the other shape, so two hosts on one id conflict whatever their workers.
    other = process_ids(replica_id, 2 if workers <= 1 else 1)[0]
    for slot in slots:
        if leadership.holds(claim_name(slot)):
            if _free(leadership, other):
                return slot
            leadership.release(claim_name(slot))
            break
    msg = (
        f"server replica id {replica_id} is in use: all {len(slots)} of its process slots are held "
        "by live processes (GET /api/v1/replicas lists them). Another host runs with this id: give "
        f"each replica host its own {REPLICA_ID_ENV}, or remove the copied "
        "replicas/<host name>.id from data_dir on the new host"
    )
    raise ReplicaIdInUseError(msg)


def _free(leadership: Leadership, process_id: str) -> bool:
    """Whether no live process holds ``process_id`` (taken and given back at once to find out)."""
    if not leadership.holds(claim_name(process_id)):
        return False
    leadership.release(claim_name(process_id))
    return True


def claim_name(process_id: str) -> str:
    """The advisory lock that marks ``process_id`` as taken by a live process."""
    return f"replica-id:{process_id}"
