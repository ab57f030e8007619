"""A TCP port forwarder standing in for NAT or a container's published port in tests.

``TcpForwarder(listen=("127.0.0.2", 0), target=("127.0.0.1", port))`` accepts on the outside
address and pipes each connection, byte for byte, to the inside one (TLS passes through
untouched), counting the connections it carried.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

__all__ = ["TcpForwarder"]


class TcpForwarder:
    def __init__(self, *, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(listen)
        self.host, self.port = self._listener.getsockname()[:2]
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> TcpForwarder:
        self._spawn(self._accept)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(10)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                outside, _ = self._listener.accept()
            except OSError:
                return
            try:
                inside = socket.create_connection(self._target, timeout=10)
            except OSError:
                outside.close()
                continue
            self.connections += 1
            self._spawn(self._carry, outside, inside)

    def _carry(self, outside: socket.socket, inside: socket.socket) -> None:
        back = threading.Thread(target=self._pipe, args=(inside, outside), daemon=True)
        back.start()
        self._pipe(outside, inside)
        back.join(30)
        outside.close()
        inside.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
