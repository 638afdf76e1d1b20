"""WebSocket framing (RFC 6455) for what the server sends: unmasked, unfragmented frames."""

from __future__ import annotations

import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes) -> bytes:
    """One complete server frame (FIN set, no mask, no compression)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


#: A control frame carries at most 125 payload bytes: the close code takes 2 of them.
MAX_CLOSE_REASON_BYTES = 123


def fit_close_reason(reason: str) -> str:
    """``reason`` cut to fit a close frame (123 bytes of UTF-8), never inside a character:
    a browser that receives a close reason that is not valid UTF-8 reports 1006 instead."""
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit (see :func:`fit_close_reason`)."""
    return frame(OP_CLOSE, struct.pack("!H", code) + fit_close_reason(reason).encode())
