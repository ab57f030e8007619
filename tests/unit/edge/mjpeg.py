"""A tiny MJPEG-over-HTTP camera on loopback, served from a test thread."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = b"lineguardframe"


class MjpegCamera:
    def __init__(self, width: int = 160, height: int = 120, fps: float = 20.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.frames_served = 0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def _jpeg(self, i: int) -> bytes:
        image = np.full((self.height, self.width, 3), (i * 7) % 255, np.uint8)
        cv2.putText(image, str(i), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        return bytes(cv2.imencode(".jpg", image)[1].tobytes())

    def start(self) -> None:
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=" + BOUNDARY.decode())
                self.end_headers()
                i = 0
                try:
                    while cam._server is not None:
                        data = cam._jpeg(i)
                        self.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(data) + data + b"\r\n")
                        cam.frames_served += 1
                        i += 1
                        time.sleep(1 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
