"""Wrapped data keys in the server's own database: :class:`SqlDataKeyStore`.

Implements :class:`lineguard.crypto.datakeys.DataKeyStore` on the ``data_keys`` table,
so the keys live, are backed up and are restored with the records they protect, on
SQLite and PostgreSQL alike. Two modes:

* ``SqlDataKeyStore(sessions)`` runs each call in its own short transaction (the
  envelope used by request handlers and by ``lineguard keys rotate``);
* ``SqlDataKeyStore.bound(session)`` works inside the caller's transaction, so a
  retention sweep deletes rows and their keys atomically: commit both or neither.
  A failed write (a duplicate key id) leaves that transaction to be rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from sqlalchemy import Select, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import CryptoError
from lineguard.crypto.datakeys import WrappedKey
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.storage import TableRows, insert_rows

__all__ = ["SqlDataKeyStore"]


class SqlDataKeyStore:
    """The ``data_keys`` table as a :class:`~lineguard.crypto.datakeys.DataKeyStore`."""

    def __init__(
        self, sessions: sessionmaker[Session] | None = None, *, session: Session | None = None
    ) -> None:
        if (sessions is None) == (session is None):
            msg = "give exactly one of sessions (own transactions) or session (the caller's)"
            raise TypeError(msg)
        self._sessions = sessions
        self._session = session

    @classmethod
    def bound(cls, session: Session) -> SqlDataKeyStore:
        """A store that works inside ``session``'s transaction and never commits."""
        return cls(session=session)

    @contextmanager
    def _scope(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
            return
        assert self._sessions is not None  # noqa: S101 - guaranteed by __init__
        with self._sessions.begin() as session:
            yield session

    def put(self, key: WrappedKey) -> None:
        self.put_many([key])

    @staticmethod
    def table_rows(keys: Sequence[WrappedKey]) -> TableRows:
        """``keys`` as rows of the ``data_keys`` table, for a caller that writes them
        together with other tables (:func:`~lineguard.server.storage.insert_many`)."""
        # A WrappedKey's fields are the table's columns, by the same names: its instance
        # dict is the row (read, never written, by insert_many), not a copy per key.
        return TableRows(cast(Table, DataKeyRow.__table__), [vars(k) for k in keys])

    def put_many(self, keys: Sequence[WrappedKey]) -> None:
        if not keys:
            return
        write = self.table_rows(keys)
        # One statement for all keys (an ingest batch stores a hundred). No savepoint in
        # bound mode: key ids are fresh, so a duplicate is a bug, and the caller's
        # transaction (which holds the rows these keys open) must roll back as a whole.
        try:
            with self._scope() as session:
                insert_rows(session, write.table, write.rows)
        except IntegrityError:
            msg = f"a data key among {[k.key_id for k in keys][:3]} already exists"
            raise CryptoError(msg) from None

    def put_if_absent(self, key: WrappedKey) -> WrappedKey:
        # INSERT ... ON CONFLICT DO NOTHING, then read the row back: the same statement on
        # SQLite and PostgreSQL. In its own transaction (committed before anything is sealed
        # under the key) unless bound; a concurrent inserter's row is the one returned.
        write = self.table_rows([key])
        with self._scope() as session:
            insert_rows(session, write.table, write.rows, on_conflict=["key_id"])
        return self.get(key.key_id)

    def get(self, key_id: str) -> WrappedKey:
        with self._scope() as session:
            row = session.get(DataKeyRow, key_id)
            if row is None:
                msg = f"data key {key_id} does not exist: the object was crypto-shredded or never sealed here"
                raise CryptoError(msg)
            return _key(row)

    def delete_object(self, category: str, object_id: str) -> int:
        return self.delete_objects(category, [object_id])

    def delete_objects(self, category: str, object_ids: Sequence[str]) -> int:
        """Crypto-shred many objects of one category in one statement per 500 ids."""
        deleted = 0
        with self._scope() as session:
            for start in range(0, len(object_ids), 500):
                chunk = list(object_ids[start : start + 500])
                result = session.execute(
                    delete(DataKeyRow).where(DataKeyRow.category == category, DataKeyRow.object_id.in_(chunk))
                )
                deleted += int(getattr(result, "rowcount", 0) or 0)
        return deleted

    def delete_selected(self, category: str, object_ids: Select[tuple[str]]) -> int:
        """Crypto-shred every object of ``category`` that ``object_ids`` (a query) names, in
        one statement: retention shreds a whole month of records before dropping it."""
        with self._scope() as session:
            chosen = DataKeyRow.object_id.in_(object_ids)
            result = session.execute(delete(DataKeyRow).where(DataKeyRow.category == category, chosen))
        return int(getattr(result, "rowcount", 0) or 0)

    def wrapped_under(self, kek_ids: Iterable[str], limit: int, *, after: str = "") -> list[WrappedKey]:
        ids = list(kek_ids)
        if not ids:
            return []
        k = DataKeyRow
        with self._scope() as session:
            # A walk along the primary key from ``after`` (no index on kek_id: see keystore_0001).
            rows = session.scalars(
                select(k).where(k.key_id > after, k.kek_id.in_(ids)).order_by(k.key_id).limit(limit)
            ).all()
            return [_key(r) for r in rows]

    def rewrap(self, key_id: str, *, old_kek_id: str, new_kek_id: str, wrapped: bytes) -> bool:
        with self._scope() as session:
            result = session.execute(
                update(DataKeyRow)
                .where(DataKeyRow.key_id == key_id, DataKeyRow.kek_id == old_kek_id)
                .values(kek_id=new_kek_id, wrapped=wrapped)
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    def count_by_kek(self) -> dict[str, int]:
        with self._scope() as session:
            rows = session.execute(select(DataKeyRow.kek_id, func.count()).group_by(DataKeyRow.kek_id)).all()
            return {str(k): int(n) for k, n in rows}

    def __repr__(self) -> str:
        return "SqlDataKeyStore(bound)" if self._session is not None else "SqlDataKeyStore()"


def _key(row: DataKeyRow) -> WrappedKey:
    return WrappedKey(row.key_id, row.category, row.object_id, row.kek_id, bytes(row.wrapped), row.created_at)
