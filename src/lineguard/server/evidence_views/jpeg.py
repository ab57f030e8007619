"""Is this upload really a JPEG? A structural check, without decoding the image.

The server never decodes evidence (no image library in the server stack); it checks
that the bytes are a well-formed JPEG stream a browser will decode: the SOI marker,
marker segments that fit inside the data, a frame header (SOF) with a non-zero size
before the scan (SOS), and the EOI marker at the end. Anything else raises
:class:`~lineguard.contracts.errors.ImageDecodeError` saying what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from lineguard.contracts.errors import ImageDecodeError

__all__ = ["JpegInfo", "check_jpeg"]

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
#: Start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT/JPG/DAC.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


@dataclass(frozen=True, slots=True)
class JpegInfo:
    width: int
    height: int
    components: int


def _fail(expected: str, got: str) -> NoReturn:
    msg = f"not a JPEG image: expected {expected}, got {got}"
    raise ImageDecodeError(msg)


def check_jpeg(data: bytes) -> JpegInfo:
    """The frame size of a well-formed JPEG stream; :class:`ImageDecodeError` otherwise."""
    if len(data) < 4 or data[0] != 0xFF or data[1] != _SOI:
        _fail("the SOI marker FF D8 at offset 0", data[:2].hex(" ") or "no data")
    if data[-2] != 0xFF or data[-1] != _EOI:
        _fail("the EOI marker FF D9 at the end", data[-2:].hex(" "))
    pos, info = 2, None
    while pos < len(data):
        if data[pos] != 0xFF:
            _fail(f"a marker at offset {pos}", f"byte {data[pos]:02x}")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            _fail("a marker code", "the end of the data")
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (_SOI, _EOI, 0x00):
            _fail(f"a segment marker at offset {pos - 1}", f"marker {marker:02x}")
        if pos + 2 > len(data):
            _fail(f"a segment length at offset {pos}", "the end of the data")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > len(data) - 2:
            _fail(f"segment {marker:02x} to fit in the data", f"length {length} at offset {pos}")
        if marker in _SOF:
            if length < 8:
                _fail("a frame header of at least 8 bytes", f"{length}")
            height = int.from_bytes(data[pos + 3 : pos + 5], "big")
            width = int.from_bytes(data[pos + 5 : pos + 7], "big")
            components = data[pos + 7]
            if width == 0 or height == 0 or components == 0:
                _fail("a non-empty frame", f"{width}x{height} with {components} components")
            info = JpegInfo(width, height, components)
        if marker == _SOS:
            if info is None:
                _fail("a frame header (SOF) before the scan", "a scan first")
            return info
        pos += length
    _fail("a scan (SOS marker)", "none")
