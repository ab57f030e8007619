"""A real RTSP camera for tests and benchmarks: GStreamer's RTSP server on loopback.

Runs under the *system* Python (``/usr/bin/python3``), which has PyGObject and the
GStreamer RTSP server bindings from Debian (``python3 dev.py test`` installs them); the
project's virtual environment does not need them. It serves two mounts:

- ``/h264``: H.264 (x264, zero-latency tuning), RTP payload type 96;
- ``/jpeg``: RTP/JPEG (RFC 2435), payload type 26.

By default the picture is GStreamer's moving test pattern. With ``--stamp`` the picture
is moving textured stripes (:func:`texture`) and every frame carries its creation time
(wall clock, milliseconds) as a row of black and white blocks along the top edge, so a
reader can measure how long a frame took to arrive (:func:`decode_stamp` in
``tests/unit/edge/rtsp_camera.py`` reads it back).

Optional credentials (``--user``/``--password``, ``--auth basic|digest``) and a
transport restriction (``--protocols tcp|udp|any``). When the server listens it prints
``READY <port>`` on stdout and flushes, so the parent knows it answers.

    /usr/bin/python3 tests/unit/edge/rtsp_server.py --port 8554 --width 320 --height 240
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

#: Timestamp blocks: STAMP_BITS blocks of STAMP_BLOCK x STAMP_BLOCK pixels along the top.
STAMP_BITS = 40
STAMP_BLOCK = 16

ENCODERS = {
    "h264": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=4000 threads=1"
        " ! rtph264pay name=pay0 pt=96 config-interval=1"
    ),
    "jpeg": "jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26",
}


def texture(length: int = 4096) -> bytes:
    """Smooth diagonal stripes with fine detail: pixel (x, y) of frame k is ``t[(x + y + 4k) % len]``.

    Every pixel moves, so the encoder works as on a real line (a flat picture would
    make H.264 look far cheaper than it is). The benchmark's MJPEG camera draws the same.
    """
    return bytes(int(128 + 60 * math.sin(i / 9.0) + 25 * math.sin(i / 2.3)) for i in range(length))


def _textured_luma(width: int, height: int, k: int) -> bytearray:
    t = texture()
    doubled = t + t
    luma = bytearray()
    for y in range(height):
        start = (y + 4 * k) % len(t)
        luma += doubled[start : start + width]
    return luma


def _stamped_frame(base: bytearray, width: int, now_ms: int) -> bytes:
    """An I420 frame: ``base`` with ``now_ms`` as bits in the luma plane's top rows."""
    frame = bytearray(base)
    for bit in range(STAMP_BITS):
        value = 235 if (now_ms >> (STAMP_BITS - 1 - bit)) & 1 else 16
        x0 = bit * STAMP_BLOCK
        block = bytes([value]) * STAMP_BLOCK
        for y in range(STAMP_BLOCK):
            start = y * width + x0
            frame[start : start + STAMP_BLOCK] = block
    return bytes(frame)


class StampPusher:
    """Pushes stamped frames at ``fps`` into every appsrc the factory configures."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        chroma = bytearray([128]) * (width * height // 2)
        self.bases = [_textured_luma(width, height, k) + chroma for k in range(fps)]
        self.sources: list[Gst.Element] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def on_media_configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("src")
        with self.lock:
            self.sources.append(appsrc)

    def _run(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        k = 0
        while True:
            k += 1
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                due = time.monotonic()  # fell behind: no burst
            now_ms = int(time.time() * 1000) % (1 << STAMP_BITS)
            data = _stamped_frame(self.bases[k % len(self.bases)], self.width, now_ms)
            with self.lock:
                sources = list(self.sources)
            for appsrc in sources:
                if appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(data)) != Gst.FlowReturn.OK:
                    with self.lock:
                        if appsrc in self.sources:
                            self.sources.remove(appsrc)


def _factory(
    args: argparse.Namespace, codec: str, pusher: StampPusher | None
) -> GstRtspServer.RTSPMediaFactory:
    caps = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
    if pusher is not None:
        source = (
            f"appsrc name=src is-live=true do-timestamp=true format=time block=false"
            f' caps="{caps},format=I420" ! queue max-size-buffers=2 leaky=downstream'
        )
    else:
        source = f"videotestsrc is-live=true pattern=ball ! {caps},format=I420"
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {source} ! {ENCODERS[codec].format(fps=args.fps)} )")
    factory.set_shared(True)
    factory.set_latency(0)
    protocols = {
        "tcp": GstRtsp.RTSPLowerTrans.TCP,
        "udp": GstRtsp.RTSPLowerTrans.UDP,
        "any": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
    }[args.protocols]
    factory.set_protocols(protocols)
    if pusher is not None:
        factory.connect("media-configure", pusher.on_media_configure)
    if args.user:
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("camera-user", "media.factory.access", True)
        permissions.add_permission_for_role("camera-user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    return factory


def _auth(args: argparse.Namespace) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "camera-user")
    if args.auth == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(args.user, args.password, token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
    return auth


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--stamp", action="store_true", help="encode the creation time in every frame")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--auth", choices=["basic", "digest"], default="basic")
    parser.add_argument("--protocols", choices=["tcp", "udp", "any"], default="any")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    if args.user:
        server.set_auth(_auth(args))
    pusher = StampPusher(args.width, args.height, args.fps) if args.stamp else None
    mounts = server.get_mount_points()
    for codec in ENCODERS:
        mounts.add_factory(f"/{codec}", _factory(args, codec, pusher))
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr, flush=True)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
