"""Every log line of the server is one line of printable text.

Log messages quote what clients send (paths, user names, node ids). A NUL, a newline or
an ANSI escape in such a value would cut a log line in two, forge a second entry, or
drive the terminal of whoever reads it. :func:`install` replaces the log record factory
so that the formatted message of *every* record (ours, uvicorn's access and error logs,
libraries') has its control characters escaped as ``\\xNN`` — tab included. Tracebacks
are formatted separately and keep their line breaks. Idempotent; process-wide by
nature (the logging module is), installed by ``create_app``.
"""

from __future__ import annotations

import logging

__all__ = ["escape_controls", "install"]

#: C0 controls, DEL and C1 controls → ``\xNN``.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def escape_controls(text: str) -> str:
    return text.translate(_ESCAPES)


class _SafeRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 - the logging API's name
        return escape_controls(super().getMessage())


def install() -> None:
    """Make every log record created from now on escape its message."""
    if logging.getLogRecordFactory() is not _SafeRecord:
        logging.setLogRecordFactory(_SafeRecord)
