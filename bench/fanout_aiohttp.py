"""fanout_aiohttp.py -- the aiohttp peer of bench/fanout.sh: a WebSocket on /room, every connection in one room, each text message published to the Redis channel "room:aiohttp" (a name of its own: the Redis is shared with the other servers) with redis.asyncio and every message of the channel sent to the process's sockets; on uvloop, in WORKERS processes sharing the port (SO_REUSEPORT), as bench/peers/app_aiohttp.py runs.

Usage: /usr/bin/python3 fanout_aiohttp.py PORT
Environment: WORKERS (2), REDIS_ADDR (HOST:PORT).  The parent forks the
workers and waits; SIGTERM or SIGINT stops them.  Debian 12:
python3-aiohttp, python3-uvloop, python3-redis.
"""

import asyncio
import os
import sys

import redis.asyncio as aioredis
import uvloop
from aiohttp import web

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from prefork import run_workers  # noqa: E402

CHANNEL = "room:aiohttp"


async def room(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app["sockets"].add(ws)
    try:
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                await request.app["redis"].publish(CHANNEL, msg.data)
    finally:
        request.app["sockets"].discard(ws)
    return ws


async def forward(app, pubsub):
    """Sends every message of the channel to this process's sockets; one
    that is closing is skipped (its handler removes it)."""
    async for msg in pubsub.listen():
        if msg["type"] != "message":
            continue
        text = msg["data"].decode()
        for ws in list(app["sockets"]):
            if not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    pass


async def clients(app):
    host, port = os.environ["REDIS_ADDR"].rsplit(":", 1)
    app["sockets"] = set()
    app["redis"] = aioredis.Redis(host=host, port=int(port))
    pubsub = app["redis"].pubsub()
    await pubsub.subscribe(CHANNEL)
    task = asyncio.create_task(forward(app, pubsub))
    yield
    task.cancel()
    await pubsub.close()
    await app["redis"].close()


async def root(request):
    return web.Response(text="Hello, Anonymous")


def serve(port):
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = web.Application()
    app.cleanup_ctx.append(clients)
    app.add_routes([web.get("/room", room), web.get("/", root)])
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None,
                print=None)


def main():
    run_workers(serve, int(sys.argv[1]))


if __name__ == "__main__":
    main()
