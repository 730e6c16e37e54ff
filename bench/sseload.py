"""sseload.py -- the client of bench/sse.sh: holds many Server-Sent Events streams open on one server and checks what each receives.

    sseload.py HOST PORT PATH N HOLD

Opens N connections (CONCURRENT connects at a time), each sending one
GET PATH; a stream counts as open once its 200 head and its first event
("event: hello") have come.  Prints "open N errors E" when every stream is
open or has failed, holds them HOLD seconds while reading, then prints
"ticks min A max B" (the "event: tick" lines each open stream received
meanwhile), closes them, and prints "closed errors E".  Exits 1 when E is
not 0 or a stream got no tick while held.  Loopback only; bounded: every
connect and first event has 30 s, the whole run N / 100 + HOLD + 60 s.
"""

import asyncio
import sys

CONCURRENT = 256


class Stream:
    def __init__(self):
        self.reader = self.writer = None
        self.buf = b""
        self.ticks = 0


async def open_one(host, port, path, sem, s):
    async with sem:
        s.reader, s.writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        s.writer.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n"
                        % (path, host, port)).encode())
        while b"event: hello\n" not in s.buf:
            chunk = await asyncio.wait_for(s.reader.read(4096), 30)
            if not chunk:
                raise ConnectionError("closed before the first event")
            s.buf += chunk
        if not s.buf.startswith(b"HTTP/1.1 200 ") or b"text/event-stream" not in s.buf:
            raise ConnectionError("not an event stream: %r" % s.buf[:200])
        s.buf = s.buf[s.buf.index(b"event: hello\n"):]


async def hold(s, seconds):
    """Reads for `seconds`, counting the ticks."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        left = end - loop.time()
        if left <= 0:
            return
        try:
            chunk = await asyncio.wait_for(s.reader.read(4096), left)
        except asyncio.TimeoutError:
            return
        if not chunk:
            raise ConnectionError("closed while held")
        s.buf = s.buf[-16:] + chunk
        s.ticks += chunk.count(b"event: tick\n")


async def main(host, port, path, n, seconds):
    sem = asyncio.Semaphore(CONCURRENT)
    streams = [Stream() for _ in range(n)]
    results = await asyncio.gather(*(open_one(host, port, path, sem, s) for s in streams),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    good = [s for s, r in zip(streams, results) if not isinstance(r, BaseException)]
    print("open %d errors %d" % (len(good), len(errors)), flush=True)
    if errors:
        print("first error: %r" % (errors[0],), file=sys.stderr)
    held = await asyncio.gather(*(hold(s, seconds) for s in good), return_exceptions=True)
    lost = sum(isinstance(r, BaseException) for r in held)
    ticks = [s.ticks for s, r in zip(good, held) if not isinstance(r, BaseException)]
    print("ticks min %d max %d" % (min(ticks, default=0), max(ticks, default=0)), flush=True)
    for s in streams:
        if s.writer is not None:
            s.writer.close()
    await asyncio.sleep(0.5)
    print("closed errors %d" % (len(errors) + lost), flush=True)
    return 1 if errors or lost or not ticks or min(ticks) == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    host, port, path, n, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        int(sys.argv[4]), float(sys.argv[5])
    sys.exit(asyncio.run(asyncio.wait_for(main(host, port, path, n, seconds),
                                          n / 100 + seconds + 60)))
