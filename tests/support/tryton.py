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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.test_pki import Leaf

__all__ = [
    "ADMIN_PASSWORD",
    "DATABASE",
    "READER_LOGIN",
    "READER_PASSWORD",
    "BuiltPlant",
    "TrytonServer",
    "build_plant",
]

DATABASE = "plant"
ADMIN_PASSWORD = "tryton-admin-S3CRET"
READER_LOGIN = "lineguard-reader"
READER_PASSWORD = "reader-S3CRET-pw-8842"
MODULES = ("sale", "purchase", "production", "stock", "account", "quality")
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


def build_plant(directory: Path) -> BuiltPlant:
    """Create, activate and seed the plant database under ``directory`` (once per session).

    With ``LINEGUARD_TRYTON_CACHE`` set to a directory, a database built earlier from the
    same seed script and Tryton version is copied from there instead (and a new build
    is left there): for a developer re-running the ERP tests, never needed by CI.
    """
    cache_root = os.environ.get("LINEGUARD_TRYTON_CACHE")
    cached = Path(cache_root) / _cache_key() if cache_root else None
    if cached is not None and (cached / "ids.json").is_file():
        (directory / "db").mkdir(parents=True)
        shutil.copyfile(cached / f"{DATABASE}.sqlite", directory / "db" / f"{DATABASE}.sqlite")
        ids = json.loads((cached / "ids.json").read_text())
        return BuiltPlant(database_file=directory / "db" / f"{DATABASE}.sqlite", ids=ids, build_s=0.0)
    built = _build(directory)
    if cached is not None:
        cached.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built.database_file, cached / f"{DATABASE}.sqlite")
        (cached / "ids.json").write_text(json.dumps(built.ids))
    return built


def _build(directory: Path) -> BuiltPlant:
    started = time.monotonic()
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
    subprocess.run([*admin, "--all"], input=b"\n", env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(
        [*admin, "-u", *MODULES, "--activate-dependencies"],
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    seeded = subprocess.run(
        [sys.executable, str(_SEED), str(config), DATABASE, READER_LOGIN, READER_PASSWORD],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    ids = json.loads(seeded.stdout.decode().strip().splitlines()[-1])
    return BuiltPlant(
        database_file=db_dir / f"{DATABASE}.sqlite", ids=ids, build_s=time.monotonic() - started
    )


class TrytonServer:
    """A ``trytond`` process serving a copy of a built plant on loopback (HTTP, or HTTPS with ``tls``)."""

    def __init__(
        self, plant: BuiltPlant, directory: Path, *, tls: Leaf | None = None, ca_file: Path | None = None
    ) -> None:
        self.plant = plant
        self.directory = directory
        db_dir = directory / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plant.database_file, db_dir / f"{DATABASE}.sqlite")
        self.port = _free_port()
        self.scheme = "https" if tls is not None else "http"
        self.config = directory / "trytond.conf"
        self.config.write_text(_config_text(db_dir, port=self.port, tls=tls))
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "trytond.log"

    @property
    def ids(self) -> dict[str, Any]:
        return self.plant.ids

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def start(self, timeout_s: float = 120) -> None:
        with self._log.open("ab") as log:
            # -d preloads the database's pool, so the first login does not race its loading.
            self._process = subprocess.Popen(
                [str(_BIN / "trytond"), "-c", str(self.config), "-d", DATABASE],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.poll() is not None:
                msg = f"trytond exited with {self._process.returncode}: {self._log.read_text()[-2000:]}"
                raise RuntimeError(msg)
            try:
                self.login("admin", ADMIN_PASSWORD)
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

    def _post(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url()}/{DATABASE}/rpc/", json=body, headers=headers, verify=self._verify, timeout=60
        )

    def login(self, login: str, password: str) -> str:
        """An ``Authorization`` header value for ``login`` (RuntimeError when refused)."""
        answer = self._post(
            {"id": 1, "method": "common.db.login", "params": [login, {"password": password}, "en"]}, {}
        )
        if answer.status_code != 200 or "result" not in answer.json():
            msg = f"login of {login} refused: HTTP {answer.status_code}"
            raise RuntimeError(msg)
        user_id, session = answer.json()["result"][:2]
        return "Session " + base64.b64encode(f"{login}:{user_id}:{session}".encode()).decode()

    def call(self, method: str, *params: Any, login: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
        """Call ``method`` as ``login``; the result, or RuntimeError carrying Tryton's error."""
        auth = self.login(login, password)
        answer = self._post({"id": 2, "method": method, "params": list(params)}, {"Authorization": auth})
        body = answer.json()
        if "error" in body:
            msg = f"{method}: {body['error']}"
            raise RuntimeError(msg)
        return body["result"]

    def context(self, **kwargs: Any) -> dict[str, Any]:
        """The admin's context (company) for a call, with ``kwargs`` added."""
        return {"company": self.ids["company"], **kwargs}
