"""Streamed responses and Server-Sent Events (tests/plugins/stream.c): chunks arriving over time, read raw, with aiohttp and with curl -N, chunked framing, known lengths kept or not, HTTP/1.0 close-delimited bodies, HEAD, pipelining behind a stream, a client that leaves (cancel, then writes give -1), back-pressure against a client that does not read, graceful stop, and SSE events, retry, comments and heartbeats, in aiohttp, curl -N and headless Chromium's EventSource."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

import aiohttp
import pytest

from conftest import RawConn, wait_until
from test_browser import CHROMIUM, Chromium, run_page

HERE = os.path.dirname(os.path.abspath(__file__))
SSE_PAGE = os.path.join(HERE, "sse_page.html")
HIGH_WATER = 65536


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("hello", "stream", "ws_page"),
                             server=dict({"log_level": "debug"}, **server),
                             sections={"ws_page": {"file": SSE_PAGE}})


def read_raw_chunks(c, deadline):
    """Reads a chunked body as it comes: [(arrival time, chunk bytes)], checking
    every size line and CRLF, up to the last chunk."""
    got = []
    while True:
        size_line = c._read_until(b"\r\n", deadline)
        assert size_line[:-2] and all(ch in b"0123456789abcdef" for ch in size_line[:-2]), size_line
        size = int(size_line[:-2], 16)
        if size == 0:
            assert c._read_exact(2, deadline) == b"\r\n"
            return got
        data = c._read_exact(size, deadline)
        assert c._read_exact(2, deadline) == b"\r\n"
        got.append((time.monotonic(), data))


def test_chunks_arrive_over_time_with_exact_framing(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        t0 = time.monotonic()
        c.send("GET /chunks?n=5&ms=150 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        head_time = time.monotonic() - t0
        assert r.status == 200
        assert r.header("transfer-encoding") == "chunked"
        assert r.header("content-length") is None
        assert r.header("content-type") == "text/plain"
        assert r.header("x-stream") == "chunks"
        assert head_time < 0.12, head_time          # the head goes at once
        chunks = read_raw_chunks(c, time.monotonic() + 5)
        assert [d for _, d in chunks] == [b"chunk %d\n" % i for i in range(5)]
        gaps = [b[0] - a[0] for a, b in zip(chunks, chunks[1:])]
        assert all(g > 0.08 for g in gaps), gaps     # one per tick, not all at the end
        # the connection serves the next request
        c.send("GET /Ann HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"Hello, Ann"


def test_aiohttp_iter_chunked_sees_chunks_before_the_end(kiln_factory):
    k = make(kiln_factory)

    async def main():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/chunks?n=4&ms=200") as r:
                assert r.status == 200
                t0 = time.monotonic()
                seen = []
                async for data in r.content.iter_chunked(1024):
                    seen.append((time.monotonic() - t0, data))
                return seen

    seen = asyncio.run(asyncio.wait_for(main(), 20))
    assert b"".join(d for _, d in seen) == b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    assert seen[0][0] < 0.45, seen                  # the first before the last was written
    assert seen[-1][0] > 0.5, seen


def test_stream_from_a_pending_request_and_known_length(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /chunks?n=3&ms=50&defer=1 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /chunks?n=3&ms=50&len=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        a = c.read_response()
        b = c.read_response()
    assert a.header("transfer-encoding") == "chunked"
    assert a.body == b"chunk 0\nchunk 1\nchunk 2\n"
    assert (b.header("content-length"), b.header("transfer-encoding")) == ("24", None)
    assert b.body == b"chunk 0\nchunk 1\nchunk 2\n"
    k.wait_log(r"stream: stream from pending: pending now dead")


def test_pipelined_request_waits_for_the_stream(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /chunks?n=3&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Bob HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /chunks?n=2&ms=10 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Cy HTTP/1.1\r\nHost: x\r\n\r\n")
        bodies = [c.read_response().body for _ in range(4)]
    assert bodies == [b"chunk 0\nchunk 1\nchunk 2\n", b"Hello, Bob",
                      b"chunk 0\nchunk 1\n", b"Hello, Cy"]


def test_http10_body_ends_with_the_close(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /chunks?n=3&ms=20 HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.header("transfer-encoding") is None and r.header("content-length") is None
        assert r.header("connection") == "close"
        assert r.body == b"chunk 0\nchunk 1\nchunk 2\n"
        assert c.eof
    with RawConn(k.port) as c:                  # a known length keeps it open
        c.send("GET /chunks?n=2&ms=20&len=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert (r.header("content-length"), r.body) == ("16", b"chunk 0\nchunk 1\n")
        assert r.header("connection") == "keep-alive"
        c.send("GET /Di HTTP/1.0\r\n\r\n")
        assert c.read_response().body == b"Hello, Di"


def test_head_sends_the_head_only(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("HEAD /chunks?n=3&ms=20 HTTP/1.1\r\nHost: x\r\n\r\n"
               "HEAD /chunks?n=2&ms=20&len=1 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Eve HTTP/1.1\r\nHost: x\r\n\r\n")
        a = c.read_response(head=True)
        b = c.read_response(head=True)
        e = c.read_response()
    assert a.header("transfer-encoding") == "chunked"
    assert b.header("content-length") == "16"
    assert e.body == b"Hello, Eve"                  # nothing of the bodies in between


def test_short_and_overlong_streams_close_the_connection(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        assert r.header("content-length") == "100"
        assert c.wait_closed(5) == b"0123456789"
    k.wait_log(r"stream: GET /short: stream ended after 10 of its 100 bytes; closing")
    with RawConn(k.port) as c:
        c.send("GET /over HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        assert r.header("content-length") == "4"
        assert c.wait_closed(5) == b"abc"
    k.wait_log(r"stream: over: 1 -1, end -1")
    k.wait_log(r"passes the stream's length")
    assert k.get_text("/bad-status") == (200, "refused\n")


def test_client_gone_cancels_and_later_writes_fail(kiln_factory):
    k = make(kiln_factory)
    c = RawConn(k.port)
    c.send("GET /chunks?n=9&ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
    c.read_response(head=True)
    c._read_until(b"chunk 0\n", time.monotonic() + 5)
    c.close()
    k.wait_log(r"stream: chunks cancelled gone after \d, unsent 0")
    k.wait_log(r"stream: write after cancel: -1, end -1")
    assert k.get_text("/Fay") == (200, "Hello, Fay")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def test_slow_reader_bounds_unsent_output_then_ready_resumes(kiln_factory):
    # 64 MiB to a client that reads nothing at first: the plugin stops at
    # write() == 0, so kiln's unsent bytes never pass the high-water mark
    # plus one 16 KiB write, the worker's memory stays flat, and once the
    # client reads, the ready callbacks carry the rest.
    k = make(kiln_factory, workers=1)
    total = 64 * 1024 * 1024
    c = RawConn(k.port, timeout=30, rcvbuf=4096)
    c.send("GET /fill?kb=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (total // 1024))
    k.wait_log(r"stream: flood waits: \d+ bytes written, max unsent \d+")
    pid = k.worker_pids()[0]
    before = rss_kb(pid)
    time.sleep(1.0)
    assert rss_kb(pid) - before < 2048
    r = c.read_response(head=True)
    assert r.header("content-length") == str(total)
    n = len(c.buf)
    c.buf = b""
    c.sock.settimeout(30)
    while n < total:
        chunk = c.sock.recv(1 << 20)
        assert chunk, "closed after %d bytes" % n
        n += len(chunk)
    assert n == total
    m = k.wait_log(r"stream: flood done: %d bytes, (\d+) readies, max unsent (\d+)" % total,
                   timeout=30)
    readies, max_unsent = int(m.group(1)), int(m.group(2))
    assert readies > 10
    assert max_unsent < HIGH_WATER + 16384, max_unsent
    assert rss_kb(pid) - before < 4096
    c.close()


def test_stalled_client_is_dropped_after_body_timeout(kiln_factory):
    k = make(kiln_factory, workers=1, body_timeout=1)
    c = RawConn(k.port, rcvbuf=4096)
    c.send("GET /fill?kb=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
    k.wait_log(r"stream: flood waits")
    k.wait_log(r"the client took nothing of the stream for body_timeout", timeout=10)
    k.wait_log(r"stream: flood cancelled deadline after \d+ bytes, max unsent \d+, write -1")
    c.close()


def test_graceful_stop_lets_a_stream_end_then_cancels_the_rest(kiln_factory):
    k = make(kiln_factory, graceful_timeout=3)
    ended = RawConn(k.port, timeout=10)
    ended.send("GET /chunks?n=4&ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
    long = RawConn(k.port, timeout=10)
    long.send("GET /sse/beat HTTP/1.1\r\nHost: x\r\n\r\n")
    ended.read_response(head=True)
    long.read_response(head=True)
    mark = k.mark()
    k.signal(signal.SIGTERM)
    chunks = read_raw_chunks(ended, time.monotonic() + 5)
    assert [d for _, d in chunks][-1] == b"chunk 3\n"
    assert ended.wait_closed(3) == b""              # closes after the stream: draining
    k.wait_log(r"stream: sse cancelled stop after 0 events", timeout=10, since=mark)
    assert long.wait_closed(5).count(b": heartbeat\n") >= 3
    k.wait_exit(10)


# ---- Server-Sent Events ----------------------------------------------------------------

def parse_sse(text):
    """Events as the HTML standard reads them: [(fields dict, comment lines)]."""
    events, fields, comments = [], {}, []
    for line in text.split("\n"):
        if line == "":
            if fields:
                events.append(fields)
            fields = {}
            continue
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data" and "data" in fields:
            fields["data"] += "\n" + value
        else:
            fields[name] = value
    return events, comments


def test_sse_events_ids_and_retry_with_aiohttp(kiln_factory):
    k = make(kiln_factory)

    async def main():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/sse/clock?n=3", headers={"Last-Event-ID": "7"}) as r:
                lines = [line async for line in r.content]
                return r.status, r.headers, b"".join(lines).decode()

    status, headers, text = asyncio.run(asyncio.wait_for(main(), 10))
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Accel-Buffering"] == "no"
    assert text.startswith("retry: 300\n\n")
    events, _ = parse_sse(text)
    assert events[0] == {"retry": "300"}
    assert events[1:] == [{"event": "tick", "id": str(i), "data": "tick %d\nline two" % i}
                          for i in (8, 9, 10)]
    k.wait_log(r"stream: sse clock from 7")


def test_sse_comment_heartbeat_and_refused_fields(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /sse/beat HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_response(head=True)
        t0 = time.monotonic()
        body = b""
        while body.count(b": heartbeat\n") < 3:
            size_line = c._read_until(b"\r\n", time.monotonic() + 3)
            body += c._read_exact(int(size_line[:-2], 16), time.monotonic() + 3)
            assert c._read_exact(2, time.monotonic() + 3) == b"\r\n"
        elapsed = time.monotonic() - t0
    body = body.decode()
    assert body.startswith("data: hello\n\n: just a comment\n: heartbeat\n"), body
    assert body.count("\n") == 6                   # nothing but the beats after them
    assert 0.35 < elapsed < 2.0, elapsed
    k.wait_log(r"stream: sse cancelled gone after 0 events")
    assert k.get_text("/sse/bad") == (200, "event: ok\ndata:\n\n")
    k.wait_log(r"stream: sse bad: -1 -1, retry -1")
    k.wait_log(r"kiln_sse_send: CR or LF in the event name or id")


def test_chromium_eventsource_reconnects_with_last_event_id(kiln_factory):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % CHROMIUM)
    k = make(kiln_factory)
    browser = Chromium(os.path.join(k.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        raw = asyncio.run(asyncio.wait_for(run_page(port, k.url + "/page"), 60))
    finally:
        browser.stop()
    result = json.loads(raw)
    # three events, the server ends the stream, EventSource reconnects after
    # the 300 ms retry with Last-Event-ID: 3, and the ids go on from there
    assert result["ids"] == ["1", "2", "3", "4", "5", "6"], result
    assert result["data"][0] == "tick 1\nline two"
    assert result["types"] == ["tick"] * 6
    assert result["opens"] == 2
    k.wait_log(r"stream: sse clock from \(none\)")
    k.wait_log(r"stream: sse clock from 3")


def curl_lines(url, *args):
    """curl -N on `url`: [(seconds since the start, line)] as they arrived,
    then what --write-out printed (after the body's last newline)."""
    p = subprocess.Popen(["curl", "-sS", "-N", "--max-time", "10", *args, url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    lines = [(time.monotonic() - t0, line) for line in p.stdout]
    assert p.wait(20) == 0, p.stderr.read()
    p.stderr.close()
    tail = lines.pop()[1] if lines and not lines[-1][1].endswith(b"\n") else b""
    return lines, tail.decode()


def test_curl_no_buffer_sees_chunks_as_they_come(kiln_factory):
    k = make(kiln_factory)
    lines, tail = curl_lines(k.url + "/chunks?n=4&ms=200", "-w", "%{http_code} %{size_download}")
    assert [line for _, line in lines] == [b"chunk %d\n" % i for i in range(4)]
    assert tail == "200 32"
    assert lines[0][0] < 0.45 and lines[-1][0] > 0.5, lines      # over time, not at the end


def test_curl_reads_sse_events_with_last_event_id(kiln_factory):
    k = make(kiln_factory)
    lines, tail = curl_lines(k.url + "/sse/clock?n=3", "-H", "Last-Event-ID: 20",
                             "-w", "%{http_code} %{content_type}")
    assert tail == "200 text/event-stream"
    text = b"".join(line for _, line in lines).decode()
    events, _ = parse_sse(text)
    assert events == [{"retry": "300"}] + [
        {"event": "tick", "id": str(i), "data": "tick %d\nline two" % i} for i in (21, 22, 23)]
    ids = [t for t, line in lines if line.startswith(b"id: ")]
    assert all(b - a > 0.05 for a, b in zip(ids, ids[1:])), ids  # 100 ms apart
    k.wait_log(r"stream: sse clock from 20")
