"""Tryton's JSON-RPC API, spoken through the egress gate: log in, then ``search_read`` page by page.

Tryton serves ``POST /<database>/rpc/`` with ``{"method": ..., "params": [...]}``.
``common.db.login`` with ``[login, {"password": ...}, language]`` answers
``[user_id, session, ...]`` (HTTP 401 for a wrong password, 429 when Tryton's login
throttle holds); every later call carries ``Authorization: Session
base64(login:user_id:session)``. Values Tryton cannot put in plain JSON come as
objects tagged ``__class__`` (``datetime``, ``date``, ``Decimal``, ``timedelta``,
``bytes``); :func:`decode` turns them into Python values (UTC datetimes; decimals as
strings, so no precision is lost on the way into the store).

Every failure is an :class:`UpstreamError` that says which call failed and whether
retrying can help; Tryton's own error messages are **not** repeated, only their kind
(``UserError``, ``AccessError``…), because they may quote record data and an error
message travels to logs and terminals that plant data must not reach.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lineguard.contracts.errors import UpstreamError
from lineguard.server.egress import GatedHttp, HttpResult

__all__ = ["TrytonClient", "decode", "encode_datetime", "read_answer"]

#: What an error kind must look like to be repeated in a message (``UserError``, ``LoginException``).
_ERROR_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,60}(Error|Exception|Warning)")

#: ``search_read`` records come as plain dicts of decoded values.
Record = dict[str, Any]


def encode_datetime(moment: datetime) -> dict[str, Any]:
    """A UTC datetime in Tryton's JSON form (Tryton stores naive UTC)."""
    m = moment.astimezone(UTC)
    return {
        "__class__": "datetime",
        "year": m.year,
        "month": m.month,
        "day": m.day,
        "hour": m.hour,
        "minute": m.minute,
        "second": m.second,
        "microsecond": m.microsecond,
    }


def _tagged(value: dict[str, Any]) -> Any:
    kind = value["__class__"]
    if kind == "datetime":
        return datetime(
            value["year"], value["month"], value["day"], value.get("hour", 0), value.get("minute", 0),
            value.get("second", 0), value.get("microsecond", 0), tzinfo=UTC,
        )  # fmt: skip
    if kind == "date":
        return date(value["year"], value["month"], value["day"])
    if kind == "Decimal":
        return str(value["decimal"])
    if kind == "timedelta":
        return timedelta(seconds=float(value["seconds"]))
    if kind == "bytes":
        return base64.b64decode(value["base64"])
    msg = f"unknown tagged value {kind!r}"
    raise ValueError(msg)


def decode(value: Any) -> Any:
    """Tryton's JSON (``__class__``-tagged objects included) as Python values."""
    if isinstance(value, dict):
        if "__class__" in value:
            return _tagged(value)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def read_answer(result: HttpResult, *, method: str, name: str) -> Any:
    """The decoded ``result`` of one JSON-RPC answer, or an :class:`UpstreamError` saying why not.

    Of an error Tryton reports, only its kind (``UserError``) is repeated, and only when it
    looks like a name: its text may quote record data.
    """
    if result.status in {401, 403}:
        what = "the login" if method == "common.db.login" else method
        msg = f"{name}: Tryton refused {what} (HTTP {result.status}): check erp.username and password"
        raise UpstreamError(msg, retryable=False)
    if result.status == 429:
        msg = f"{name}: Tryton is throttling logins (HTTP 429); try again later"
        raise UpstreamError(msg, retryable=True)
    if result.status == 404:
        msg = f"{name}: {result.url} answered HTTP 404: is erp.database right?"
        raise UpstreamError(msg, retryable=False)
    if not 200 <= result.status < 300:
        msg = f"{name}: {result.url} answered HTTP {result.status} to {method}"
        raise UpstreamError(msg, retryable=result.status >= 500)
    try:
        answer = json.loads(result.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
        msg = f"{name}: {result.url} answered {method} with something that is not JSON-RPC"
        raise UpstreamError(msg, retryable=True)
    if answer.get("error") is not None:
        error = answer["error"]
        named = str(error[0] if isinstance(error, list) and error else error).strip("'\"")
        kind = named if _ERROR_KIND.fullmatch(named) else "an error"
        msg = f"{name}: Tryton refused {method} ({kind})"
        raise UpstreamError(msg, retryable=False)
    try:
        return decode(answer["result"])
    except (KeyError, ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        msg = f"{name}: {result.url} answered {method} with a value Tryton's JSON cannot hold"
        raise UpstreamError(msg, retryable=True) from None


class TrytonClient:
    """One logged-in session with a Tryton database, every request through ``http`` (the gate)."""

    def __init__(self, http: GatedHttp, *, url: str, database: str, name: str) -> None:
        self._http = http
        self._endpoint = f"{url}/{database}/rpc/"
        self._name = name
        self._auth: str | None = None
        self._context: dict[str, Any] = {}
        self._ids = 0

    def _post(self, method: str, params: Sequence[Any]) -> Any:
        self._ids += 1
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        body = json.dumps({"id": self._ids, "method": method, "params": list(params)}).encode()
        result = self._http.request("POST", self._endpoint, headers=headers, content=body)
        return read_answer(result, method=method, name=self._name)

    def login(self, username: str, password: str) -> None:
        answer = self._post("common.db.login", [username, {"password": password}, "en"])
        if not isinstance(answer, list) or len(answer) < 2:
            msg = f"{self._name}: Tryton's login answer has no session"
            raise UpstreamError(msg, retryable=True)
        user_id, session = answer[0], answer[1]
        token = base64.b64encode(f"{username}:{user_id}:{session}".encode()).decode("ascii")
        self._auth = f"Session {token}"
        preferences = self._post("model.res.user.get_preferences", [True, {}])
        if isinstance(preferences, dict):
            # The user's company and language: multi-company values (prices, costs) are read in it.
            self._context = {
                k: v for k, v in preferences.items() if k in {"company", "language", "companies"}
            }

    def call(self, method: str, *params: Any) -> Any:
        if self._auth is None:
            msg = f"{self._name}: call {method} before logging in"
            raise UpstreamError(msg, retryable=False)
        return self._post(method, [*params, self._context])

    def search_read(
        self, model: str, domain: list[Any], fields: Sequence[str], *, page_size: int
    ) -> Iterator[Record]:
        """Every record of ``model`` matching ``domain``, in id order, ``page_size`` at a time.

        Pages by id (``id > last``), not by offset, so records created meanwhile neither
        shift a page nor get read twice.
        """
        last = 0
        while True:
            page = self.call(
                f"model.{model}.search_read",
                [list(domain), ("id", ">", last)],
                0,
                page_size,
                [("id", "ASC")],
                ["id", *fields],
            )
            if not isinstance(page, list):
                msg = f"{self._name}: {model}.search_read answered something that is not a list"
                raise UpstreamError(msg, retryable=True)
            for record in page:
                if not isinstance(record, dict) or not isinstance(record.get("id"), int):
                    msg = f"{self._name}: {model}.search_read answered a record without an id"
                    raise UpstreamError(msg, retryable=True)
                yield record
            if len(page) < page_size:
                return
            last = int(page[-1]["id"])
