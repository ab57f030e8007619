"""Network camera sources: frame arrival latency and reader CPU, MJPEG vs RTSP.

Each scenario starts a fresh camera process on loopback that draws its wall-clock time
(milliseconds) into every 1280x720 frame as a row of black and white blocks, at 30 fps:

* ``mjpeg-http``: MJPEG over HTTP (the baseline), served by this script in a subprocess
  (``--serve-mjpeg``), JPEG-encoded with OpenCV;
* ``rtsp-h264-tcp`` / ``rtsp-h264-udp``: GStreamer's RTSP server (x264, zero-latency
  tuning, one encoder thread), RTP interleaved on the RTSP connection or over UDP;
* ``rtsp-h264-tcp-threads0``: as ``rtsp-h264-tcp`` with ``decoder_threads: 0`` (FFmpeg's
  default, one decoder thread per core);
* ``rtsp-jpeg-tcp``: RTP/JPEG over the RTSP connection.

The reader is the node's own :class:`StreamFrameSource`, configured as ``edge.yaml``
would. For each frame it decodes the stamp and takes ``now - stamp``: the time from the
frame's creation at the camera to its decoded arrival in the node (camera-side encode,
packetising, loopback transport, demux and decode). The first 3 s are warm-up (the
frames buffered while the stream opened). Reader CPU is this process's CPU time over
the measured window, in percent of one core. Ratios are against ``mjpeg-http`` in the
same run.

Usage::

    python bench/bench_stream_sources.py --seconds 15
    python bench/bench_stream_sources.py --seconds 15 --only rtsp-h264-tcp --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.unit.edge.rtsp_camera: the RTSP camera of the tests

from tests.unit.edge.rtsp_camera import (  # noqa: E402
    STAMP_BITS,
    STAMP_BLOCK,
    RtspCamera,
    decode_stamp,
    free_port,
    rtsp_server_missing,
    texture,
)

from lineguard.config.edge import RtspSource  # noqa: E402
from lineguard.edge.capture import StreamFrameSource  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30
WARMUP_S = 3.0
SCENARIOS = ["mjpeg-http", "rtsp-h264-tcp", "rtsp-h264-udp", "rtsp-h264-tcp-threads0", "rtsp-jpeg-tcp"]


def _now_ms() -> int:
    return int(time.time() * 1000) % (1 << STAMP_BITS)


def _textures() -> list[np.ndarray]:
    """The RTSP camera's moving stripes (``rtsp_server.texture``), one BGR frame per tick."""
    t = np.frombuffer(texture(), np.uint8)
    x, y = np.arange(WIDTH)[None, :], np.arange(HEIGHT)[:, None]
    frames = []
    for k in range(FPS):
        luma = t[(x + y + 4 * k) % len(t)]
        frames.append(np.repeat(luma[:, :, None], 3, axis=2))
    return frames


def _stamped_bgr(base: np.ndarray, now_ms: int) -> np.ndarray:
    image = base.copy()
    for bit in range(STAMP_BITS):
        value = 235 if (now_ms >> (STAMP_BITS - 1 - bit)) & 1 else 16
        image[:STAMP_BLOCK, bit * STAMP_BLOCK : (bit + 1) * STAMP_BLOCK] = value
    return image


def serve_mjpeg(port: int) -> None:
    """``--serve-mjpeg``: stamped 1280x720 JPEG frames at 30 fps on loopback HTTP."""
    bases = _textures()
    boundary = b"lineguardframe"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=" + boundary.decode())
            self.end_headers()
            due = time.monotonic()
            k = 0
            try:
                while True:
                    k += 1
                    due += 1 / FPS
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        due = time.monotonic()
                    data = cv2.imencode(
                        ".jpg", _stamped_bgr(bases[k % FPS], _now_ms()), [cv2.IMWRITE_JPEG_QUALITY, 85]
                    )[1]
                    self.wfile.write(b"--" + boundary + b"\r\nContent-Type: image/jpeg\r\n")
                    self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(data) + data.tobytes() + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("READY", flush=True)
    server.serve_forever()


class MjpegProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> MjpegProcess:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-mjpeg", str(self.port)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if not self.process.stdout.readline().startswith("READY"):
            raise RuntimeError("MJPEG camera did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


def measure(source: StreamFrameSource, seconds: float) -> dict[str, Any]:
    source.open()
    latencies: list[int] = []
    start = time.monotonic()
    cpu_start = wall_start = None
    frames = 0
    while time.monotonic() - start < WARMUP_S + seconds:
        frame = source.read()
        if frame is None:
            continue
        arrived = _now_ms()
        if time.monotonic() - start < WARMUP_S:
            continue
        if cpu_start is None:
            cpu_start, wall_start = time.process_time(), time.monotonic()
        frames += 1
        latencies.append((arrived - decode_stamp(frame.image)) % (1 << STAMP_BITS))
    cpu = time.process_time() - (cpu_start or 0.0)
    wall = time.monotonic() - (wall_start or time.monotonic())
    source.close()
    if not latencies:
        return {"frames": 0, "state": source.state.value, "last_error": source.last_error}
    values = np.array(latencies, dtype=np.float64)
    return {
        "frames": frames,
        "fps": round(frames / wall, 1) if wall else 0.0,
        "latency_p50_ms": float(np.percentile(values, 50)),
        "latency_p99_ms": float(np.percentile(values, 99)),
        "reader_cpu_pct": round(100 * cpu / wall, 1) if wall else 0.0,
        "reconnects": source.reconnects,
    }


def run(name: str, seconds: float) -> dict[str, Any]:
    if name == "mjpeg-http":
        with MjpegProcess() as cam:
            url = f"http://127.0.0.1:{cam.port}/stream.mjpg"
            return measure(StreamFrameSource("bench", RtspSource(type="mjpeg", url=url)), seconds)
    _, codec, transport, *rest = name.split("-")
    threads = 0 if rest == ["threads0"] else 1
    with RtspCamera(width=WIDTH, height=HEIGHT, fps=FPS, stamp=True) as cam:
        config = RtspSource(type="rtsp", url=cam.url(codec), transport=transport, decoder_threads=threads)  # type: ignore[arg-type]
        return measure(StreamFrameSource("bench", config), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per scenario")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run only these (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve-mjpeg", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mjpeg:
        serve_mjpeg(args.serve_mjpeg)
        return 0
    missing = rtsp_server_missing()
    if missing:
        sys.exit(
            f"needs GStreamer's RTSP server under the system Python ({missing}): "
            "python3 dev.py test installs it"
        )
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    for name in args.only or SCENARIOS:
        results[name] = run(name, args.seconds)
        print(name, json.dumps(results[name]), flush=True)
    load_after = os.getloadavg()
    base = results.get("mjpeg-http", {})
    print(f"\n{WIDTH}x{HEIGHT} @ {FPS} fps, {args.seconds:g} s measured per scenario")
    print(
        f"{'source':<24}{'fps':>6}{'p50 ms':>9}{'p99 ms':>9}{'p50 ×mjpeg':>12}{'cpu %':>8}{'cpu ×mjpeg':>12}"
    )
    for name, r in results.items():
        if not r.get("frames"):
            print(f"{name:<24} no frames: {r.get('state')} {r.get('last_error')}")
            continue
        ratio_p50 = r["latency_p50_ms"] / base["latency_p50_ms"] if base.get("frames") else float("nan")
        ratio_cpu = r["reader_cpu_pct"] / base["reader_cpu_pct"] if base.get("frames") else float("nan")
        print(
            f"{name:<24}{r['fps']:>6.1f}{r['latency_p50_ms']:>9.0f}{r['latency_p99_ms']:>9.0f}"
            f"{ratio_p50:>12.2f}{r['reader_cpu_pct']:>8.1f}{ratio_cpu:>12.2f}"
        )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); cores {os.cpu_count()}"
    )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "load": [load_before, load_after]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
