"""Forward audit entries to a SIEM over syslog (RFC 5424), picking up where it left off.

Each entry becomes one message: facility 13 ("log audit"), severity notice (5) for a
success and warning (4) for a failure or denial, MSGID the event name, and the whole
entry (hashes included, so the SIEM can verify the chain later) as JSON in MSG. UDP
sends one datagram per entry; TCP uses octet-counting framing (RFC 6587) and TLS the same
framing over TLS 1.2+ (RFC 5425, ``tls://siem:6514``; the certificate is checked
against the SIEM's name and the CA pinned in its egress rule). Every connection goes
through the egress gate (``syslog+udp``, ``syslog+tcp`` or ``syslog+tls`` rules). The highest
forwarded ``seq`` is kept in ``data_dir/audit/forwarded.seq``, written only after a
batch was handed to the socket, so a restart resends at most one batch and never skips.
Forwarding is a copy for monitoring: the signed chain in the database stays the record.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError, UpstreamError
from lineguard.crypto import atomic_write
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.audit.records import Entry
from lineguard.server.egress import Destination, EgressGate

__all__ = ["SyslogTarget", "format_message", "forward_new_entries"]

_FACILITY_LOG_AUDIT = 13


class SyslogTarget:
    """``udp://host:port``, ``tcp://host:port`` or ``tls://host:port``, reached through ``gate``."""

    def __init__(self, url: str, gate: EgressGate) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"udp", "tcp", "tls"} or not parts.hostname or parts.port is None:
            msg = (
                f"syslog target must look like udp://host:514, tcp://host:601 or tls://host:6514, got {url!r}"
            )
            raise InputError(msg)
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self._gate = gate
        self._destination = Destination(scheme=f"syslog+{self.scheme}", host=self.host, port=self.port)

    def send(self, messages: Iterable[bytes]) -> None:
        try:
            if self.scheme == "udp":
                with self._gate.open_udp(self._destination, purpose="siem") as sock:
                    for message in messages:
                        sock.send(message)
                return
            opener = self._gate.open_tls if self.scheme == "tls" else self._gate.open_tcp
            with opener(self._destination, purpose="siem", timeout_s=10) as sock:
                for message in messages:
                    # Octet counting: "MSG-LEN SP SYSLOG-MSG" (RFC 6587 3.4.1, RFC 5425 4.3).
                    sock.sendall(str(len(message)).encode() + b" " + message)
                if isinstance(sock, ssl.SSLSocket):
                    # close_notify (RFC 5425 4.4). It also reads what the SIEM sent us (TLS 1.3
                    # session tickets): closing with unread data would reset the connection and
                    # the SIEM could lose the end of the batch it had not read yet.
                    with contextlib.suppress(OSError):
                        sock.unwrap()
        except UpstreamError as exc:
            msg = f"cannot send to syslog at {self.scheme}://{self.host}:{self.port} ({exc.message})"
            raise InputError(msg) from None
        except OSError as exc:
            msg = f"cannot send to syslog at {self.scheme}://{self.host}:{self.port} ({exc.strerror or exc})"
            raise InputError(msg) from None


def format_message(row: AuditEntryRow, *, hostname: str, app_name: str = "lineguard") -> bytes:
    severity = 5 if row.outcome == "success" else 4
    entry = Entry.from_row(row).to_json()
    del entry["type"]
    pri = _FACILITY_LOG_AUDIT * 8 + severity
    header = f"<{pri}>1 {entry['recorded_at']} {hostname} {app_name} - {row.name[:32]} -"
    return header.encode("ascii", "replace") + b" " + json.dumps(entry, ensure_ascii=False).encode("utf-8")


def _read_state(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except FileNotFoundError:
        return 0
    except ValueError:
        msg = f"{path} does not hold a sequence number; delete it to resend everything"
        raise InputError(msg) from None


def forward_new_entries(
    session: Session, target: SyslogTarget, *, state_path: Path, hostname: str, batch: int = 500
) -> int:
    """Send every entry after the last forwarded one; return how many were sent."""
    sent = 0
    last = _read_state(state_path)
    while True:
        rows = session.scalars(
            select(AuditEntryRow).where(AuditEntryRow.seq > last).order_by(AuditEntryRow.seq).limit(batch)
        ).all()
        if not rows:
            return sent
        target.send(format_message(r, hostname=hostname) for r in rows)
        last = rows[-1].seq
        atomic_write(state_path, f"{last}\n".encode())
        sent += len(rows)
