"""A WebSocket client on a plain socket, frame by frame, for tests that need what a library would hide: masking, reserved bits, chopped writes, control frames, the close handshake's timing."""

import base64
import hashlib
import os
import struct
import time

from conftest import RawConn

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode, payload=b"", fin=True, mask=True, rsv1=False):
    """One WebSocket frame as a client sends it (masked); `rsv1` marks a
    compressed message (permessage-deflate)."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    k = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big") if n else b""
    return head + key + masked


class RawWS(RawConn):
    """A WebSocket client on a plain socket: handshake by hand, frames by hand, never answers pings."""

    def __init__(self, port, path="/echo", extra="", after=b"", rcvbuf=None, timeout=5.0):
        super().__init__(port, timeout, rcvbuf=rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n%s\r\n" % (path, key, extra))
        self.sock.sendall(req.encode() + after)
        head = self._read_until(b"\r\n\r\n", time.monotonic() + timeout)
        self.status = int(head.split(b" ")[1])
        self.head = head.decode("latin-1")
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            assert "sec-websocket-accept: " + want.lower() in self.head.lower(), self.head

    def _need(self, n, deadline):
        """Whether n bytes are buffered before EOF (reading until then)."""
        while len(self.buf) < n:
            if self.eof or not self._fill(deadline):
                return False
        return True

    def recv_frame(self, timeout=5.0):
        """(fin, opcode, payload), or None at EOF."""
        f = self.recv_frame_bits(timeout)
        return None if f is None else (f[0], f[2], f[3])

    def recv_frame_bits(self, timeout=5.0):
        """(fin, rsv1, opcode, payload) as on the wire, or None at EOF."""
        deadline = time.monotonic() + timeout
        if not self._need(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self._need(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._need(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        assert not b1 & 0x80, "server frames must not be masked"
        if not self._need(off + n, deadline):
            return None
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload

    def recv_close(self, timeout=5.0):
        """Skips frames up to a close frame: (code, reason), or None at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(deadline - time.monotonic(), 0.01))
            if f is None:
                return None
            if f[1] == 8:
                code = struct.unpack("!H", f[2][:2])[0] if len(f[2]) >= 2 else 1005
                return code, f[2][2:].decode("utf-8", "replace")

    def wait_eof(self, timeout):
        """Reads and discards until EOF; True if it came within `timeout`."""
        deadline = time.monotonic() + timeout
        try:
            while not self.eof:
                self.buf = b""
                self._fill(deadline)
        except TimeoutError:
            return False
        return True
