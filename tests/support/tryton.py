"""A real Tryton ERP for the tests: a seeded plant database and a ``trytond`` server serving JSON-RPC.

Building the database is slow (creating it ~5-12 s, activating sale, purchase,
production, stock, account and quality ~20-65 s on two busy cores, seeding ~25 s), so
:func:`build_plant` does it **once per test session** into a directory the session
owns and every test gets a copy of the finished SQLite file (:class:`TrytonServer`):
tests may change their ERP without touching each other's.

* :func:`build_plant` — ``trytond-admin`` creates and activates the database, then
  ``tests/support/tryton_seed.py`` (a child process: trytond keeps process-wide state)
  seeds the small plant and the read-only user; returns a :class:`BuiltPlant`.
* :class:`TrytonServer` — copies the built database, writes a ``trytond.conf`` (loopback,
  a free port, TLS with a test certificate when given) and runs ``trytond`` until
  ``stop()``; ``call()`` speaks JSON-RPC as any user (the admin, to change records).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.test_pki import Leaf

__all__ = [
    "ADMIN_PASSWORD",
    "BUILD_BUDGET_S",
    "DATABASE",
    "READER_LOGIN",
    "READER_PASSWORD",
    "BuiltPlant",
    "PlantBuilder",
    "Tryton",
    "TrytonServer",
    "build_plant",
]

DATABASE = "plant"
ADMIN_PASSWORD = "tryton-admin-S3CRET"
READER_LOGIN = "lineguard-reader"
READER_PASSWORD = "reader-S3CRET-pw-8842"
MODULES = ("sale", "purchase", "production", "stock", "account", "quality")
#: Seconds a whole build may take (measured 125-240 s on two cores shared with other work).
BUILD_BUDGET_S = 900.0
_BIN = Path(sys.executable).parent
_SEED = Path(__file__).with_name("tryton_seed.py")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config_text(db_dir: Path, *, port: int, tls: Leaf | None = None) -> str:
    lines = ["[database]", "uri = sqlite://", f"path = {db_dir}", "[web]", f"listen = 127.0.0.1:{port}"]
    if tls is not None:
        lines += ["[ssl]", f"certificate = {tls.cert}", f"privatekey = {tls.key}"]
    return "\n".join([*lines, ""])


@dataclass(frozen=True)
class BuiltPlant:
    """A seeded database file and what the seed created (ERP ids by name, see tryton_seed.py)."""

    database_file: Path
    ids: dict[str, Any]
    #: Seconds spent building (creating, activating, seeding), for the notes on CI cost.
    build_s: float


def _cache_key() -> str:
    """What the built database depends on: the seed script, this module and Tryton's version."""
    from importlib.metadata import version

    digest = hashlib.sha256(_SEED.read_bytes() + Path(__file__).read_bytes() + version("trytond").encode())
    return digest.hexdigest()[:16]


def build_plant(directory: Path, *, budget_s: float = BUILD_BUDGET_S) -> BuiltPlant:
    """Create, activate and seed the plant database under ``directory`` (once per session).

    Each step is a child process, killed (and the build failed, naming the step) when the
    whole build passes ``budget_s``. With ``LINEGUARD_TRYTON_CACHE`` set to a directory, a
    database built earlier from the same seed script and Tryton version is copied from
    there instead (and a new build is left there): for a developer re-running the ERP
    tests, never needed by CI.
    """
    return PlantBuilder(directory, budget_s=budget_s).build()


class PlantBuilder:
    """Builds the plant in a background thread, so a session can start it early (see the ERP conftest).

    ``start()`` returns at once; ``result()`` waits for the plant (or raises what the build
    raised); ``close()`` kills a step still running. The budget bounds the build from its
    start, whoever waits.
    """

    def __init__(self, directory: Path, *, budget_s: float = BUILD_BUDGET_S) -> None:
        self.directory = directory
        self.budget_s = budget_s
        self._deadline = 0.0
        self._step: subprocess.Popen[bytes] | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome: BuiltPlant | BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tryton-plant-build", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = self.build()
        except BaseException as error:  # handed to whoever waits in result()
            self._outcome = error

    def result(self) -> BuiltPlant:
        if self._thread is None:
            self.start()
        assert self._thread is not None
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def step_running(self) -> bool:
        """Whether a step's process is running now."""
        step = self._step
        return step is not None and step.poll() is None

    def close(self) -> None:
        self._closed.set()
        step = self._step
        if step is not None and step.poll() is None:
            step.kill()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def build(self) -> BuiltPlant:
        self._deadline = time.monotonic() + self.budget_s
        cache_root = os.environ.get("LINEGUARD_TRYTON_CACHE")
        cached = Path(cache_root) / _cache_key() if cache_root else None
        directory = self.directory
        if cached is not None and (cached / "ids.json").is_file():
            (directory / "db").mkdir(parents=True)
            shutil.copyfile(cached / f"{DATABASE}.sqlite", directory / "db" / f"{DATABASE}.sqlite")
            ids = json.loads((cached / "ids.json").read_text())
            return BuiltPlant(database_file=directory / "db" / f"{DATABASE}.sqlite", ids=ids, build_s=0.0)
        built = self._build()
        if cached is not None:
            cached.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built.database_file, cached / f"{DATABASE}.sqlite")
            (cached / "ids.json").write_text(json.dumps(built.ids))
        return built

    def _step_run(self, name: str, command: list[str], env: dict[str, str], stdin: bytes = b"") -> bytes:
        if self._closed.is_set():
            msg = f"Tryton plant build closed before {name}"
            raise RuntimeError(msg)
        self._step = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = self._step.communicate(stdin, timeout=max(1.0, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._step.kill()
            self._step.communicate()
            msg = f"Tryton plant build passed its {self.budget_s:.0f} s budget during {name}"
            raise RuntimeError(msg) from None
        if self._step.returncode != 0:
            msg = f"Tryton plant build: {name} exited with {self._step.returncode}: {err.decode()[-2000:]}"
            raise RuntimeError(msg)
        return out

    def _build(self) -> BuiltPlant:
        started = time.monotonic()
        directory = self.directory
        db_dir = directory / "db"
        db_dir.mkdir(parents=True)
        config = directory / "trytond.conf"
        config.write_text(_config_text(db_dir, port=_free_port()))
        passfile = directory / "admin-password"
        passfile.write_text(ADMIN_PASSWORD)
        (db_dir / f"{DATABASE}.sqlite").touch()
        env = {**os.environ, "TRYTONPASSFILE": str(passfile)}
        admin = [str(_BIN / "trytond-admin"), "-c", str(config), "-d", DATABASE]
        # A fresh database asks for the admin's e-mail on stdin: an empty line is "none".
        # Modules cannot be activated together with --all on a new database, hence two steps.
        self._step_run("creating the database", [*admin, "--all"], env, stdin=b"\n")
        self._step_run("activating modules", [*admin, "-u", *MODULES, "--activate-dependencies"], env)
        seeded = self._step_run(
            "seeding", [sys.executable, str(_SEED), str(config), DATABASE, READER_LOGIN, READER_PASSWORD], env
        )
        ids = json.loads(seeded.decode().strip().splitlines()[-1])
        return BuiltPlant(
            database_file=db_dir / f"{DATABASE}.sqlite", ids=ids, build_s=time.monotonic() - started
        )


class TrytonServer:
    """A ``trytond`` process on loopback (HTTP, or HTTPS with ``tls``) serving the databases in its directory.

    Tryton serves every database of its ``[database] path`` by the name in the URL, so
    one process serves many tests: :attr:`first` is the database the server starts with,
    and :meth:`copy` hands out one of the ``copies`` of the built plant made before it
    starts, each under its own name. Starting ``trytond`` (imports) and loading a
    database's pool cost seconds each; a test reading a database another has loaded
    costs neither. Every database is loaded at the start (``-d``): Tryton loads a pool
    on a login only for the databases it was started with.
    """

    def __init__(
        self,
        plant: BuiltPlant,
        directory: Path,
        *,
        tls: Leaf | None = None,
        ca_file: Path | None = None,
        copies: int = 0,
    ) -> None:
        self.plant = plant
        self.directory = directory
        self.db_dir = directory / "db"
        self.db_dir.mkdir(parents=True, exist_ok=True)
        self._unused = [self._copy_file(f"{DATABASE}_{n}") for n in range(copies, 0, -1)]
        self.port = _free_port()
        self.scheme = "https" if tls is not None else "http"
        self.config = directory / "trytond.conf"
        self.config.write_text(_config_text(self.db_dir, port=self.port, tls=tls))
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "trytond.log"
        self.first = self._copy_file(DATABASE)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def _copy_file(self, name: str) -> Tryton:
        # Copied from the build's closed file, never from a database this server has open.
        shutil.copyfile(self.plant.database_file, self.db_dir / f"{name}.sqlite")
        return Tryton(self, name)

    def copy(self) -> Tryton:
        """An unused copy of the built plant, served under its own name."""
        if not self._unused:
            msg = "every copy made at the server's start is in use: start it with more copies"
            raise RuntimeError(msg)
        return self._unused.pop()

    def start(self, timeout_s: float = 120, per_database_s: float = 30) -> None:
        """Start ``trytond`` and wait until it serves (each database loaded adds ``per_database_s``)."""
        databases = [self.first.database, *(copy.database for copy in self._unused)]
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(_BIN / "trytond"), "-c", str(self.config), "-d", *databases],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s + per_database_s * (len(databases) - 1)
        while True:
            if self._process.poll() is not None:
                msg = f"trytond exited with {self._process.returncode}: {self._log.read_text()[-2000:]}"
                raise RuntimeError(msg)
            try:
                self.first.login("admin", ADMIN_PASSWORD)
                return
            except (httpx.TransportError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def post(self, database: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url()}/{database}/rpc/", json=body, headers=headers, verify=self._verify, timeout=60
        )


@dataclass(frozen=True)
class Tryton:
    """One database of a :class:`TrytonServer`: what a test talks to (as any user, the admin by default)."""

    server: TrytonServer
    database: str

    @property
    def ids(self) -> dict[str, Any]:
        return self.server.plant.ids

    @property
    def port(self) -> int:
        return self.server.port

    def login(self, login: str, password: str) -> str:
        """An ``Authorization`` header value for ``login`` (RuntimeError when refused)."""
        answer = self.server.post(
            self.database,
            {"id": 1, "method": "common.db.login", "params": [login, {"password": password}, "en"]},
            {},
        )
        if answer.status_code != 200 or "result" not in answer.json():
            msg = f"login of {login} refused: HTTP {answer.status_code}"
            raise RuntimeError(msg)
        user_id, session = answer.json()["result"][:2]
        return "Session " + base64.b64encode(f"{login}:{user_id}:{session}".encode()).decode()

    def call(self, method: str, *params: Any, login: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
        """Call ``method`` as ``login``; the result, or RuntimeError carrying Tryton's error."""
        auth = self.login(login, password)
        answer = self.server.post(
            self.database, {"id": 2, "method": method, "params": list(params)}, {"Authorization": auth}
        )
        body = answer.json()
        if "error" in body:
            msg = f"{method}: {body['error']}"
            raise RuntimeError(msg)
        return body["result"]

    def context(self, **kwargs: Any) -> dict[str, Any]:
        """The admin's context (company) for a call, with ``kwargs`` added."""
        return {"company": self.ids["company"], **kwargs}
