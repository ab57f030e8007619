"""The server's table of wrapped data keys (see :mod:`lineguard.crypto.datakeys`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["DataKeyRow"]


class DataKeyRow(Base):
    """One wrapped DEK; deleting the row crypto-shreds the object it protects.

    Indexed by key id (opening) and ``(category, object_id)`` (shredding) only: rotation
    walks the table by key id, so ``kek_id`` has no index (revision ``keystore_0001``).
    """

    __tablename__ = "data_keys"
    __table_args__ = (Index(None, "category", "object_id"),)

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(256))
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
