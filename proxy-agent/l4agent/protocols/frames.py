"""Sans-IO framing of the control-process ↔ worker-process link.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON (one
object). `FrameDecoder.feed` returns the complete messages received so far.
"""

from __future__ import annotations

import struct
from typing import Any

from l4agent.protocols import strictjson

MAX_FRAME = 256 << 20
_LENGTH = struct.Struct(">I")


class FrameError(ValueError):
    """The peer sent something that is not a frame; the link must be closed."""


def encode_frame(message: dict[str, Any]) -> bytes:
    body = strictjson.dumps(message)
    if len(body) > MAX_FRAME:
        raise FrameError(f"message of {len(body)} bytes exceeds the frame limit")
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        out: list[dict[str, Any]] = []
        while len(self._buf) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buf)
            if length > MAX_FRAME:
                raise FrameError(f"frame of {length} bytes exceeds the limit of {MAX_FRAME}")
            end = _LENGTH.size + length
            if len(self._buf) < end:
                break
            try:
                message = strictjson.loads(self._buf[_LENGTH.size : end])
            except ValueError as e:
                raise FrameError(f"frame is not JSON: {e}") from e
            if not isinstance(message, dict):
                raise FrameError("frame is not a JSON object")
            del self._buf[:end]
            out.append(message)
        return out
