"""sse_aiohttp.py -- the aiohttp peer of bench/sse.sh: GET /events as bench/sse_plugin.c serves it ("event: hello" at once, "event: tick" to every open stream from one timer every INTERVAL seconds) with web.StreamResponse, GET / "Hello, Anonymous"; one process.  Usage: sse_aiohttp.py PORT"""

import asyncio
import os
import sys

from aiohttp import web

INTERVAL = float(os.environ.get("INTERVAL", "2"))
subs = set()


async def events(request):
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    await resp.write(b"event: hello\ndata: welcome\n\n")
    done = asyncio.get_running_loop().create_future()
    subs.add((resp, done))
    try:
        await done                      # until the client leaves (the task is cancelled)
    finally:
        subs.discard((resp, done))
    return resp


async def ticker(app):
    async def run():
        n = 0
        while True:
            await asyncio.sleep(INTERVAL)
            n += 1
            event = b"event: tick\ndata: %d\n\n" % n
            for resp, _ in list(subs):
                try:
                    await resp.write(event)
                except (ConnectionError, RuntimeError):
                    pass
    task = asyncio.create_task(run())
    yield
    task.cancel()


async def root(request):
    return web.Response(text="Hello, Anonymous")


app = web.Application()
app.router.add_get("/events", events)
app.router.add_get("/", root)
app.cleanup_ctx.append(ticker)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
