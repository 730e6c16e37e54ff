"""app_aiohttp.py -- bench/db.sh's aiohttp peer: GET /db, /queries?n=N and /counter/{name}, as kiln's db and counter plugins answer them, on uvloop with an asyncpg pool and redis.asyncio, in WORKERS processes sharing the port (SO_REUSEPORT).

Usage: /usr/bin/python3 app_aiohttp.py PORT
Environment: WORKERS (2), POOL (asyncpg connections per process, 4),
PGHOST, PGPORT, PGDATABASE, PGUSER (the PostgreSQL server), REDIS_ADDR
(HOST:PORT), ASYNCPG_RESET (1; 0: a connection goes back to the pool
without asyncpg's reset query, one round trip and some server CPU less per
request).  The parent forks the workers and waits; SIGTERM or SIGINT
stops them.  Debian 12: python3-aiohttp, python3-asyncpg, python3-uvloop,
python3-redis (redis.asyncio; python3-hiredis makes it parse faster).
"""

import asyncio
import json
import os
import random
import sys

import asyncpg
import redis.asyncio as aioredis
import uvloop
from aiohttp import web

from prefork import run_workers

WORLD = "SELECT id, randomnumber FROM world WHERE id = $1"


class NoReset(asyncpg.Connection):
    """A connection the pool takes back as it is: asyncpg otherwise sends
    "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL" at
    every release (ASYNCPG_RESET=0)."""

    async def reset(self, *, timeout=None):
        pass


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


def queries_count(text):
    """TechEmpower's rule: a number from 1 to 500, 1 when it is not a number."""
    try:
        n = int(text)
    except (TypeError, ValueError):
        return 1
    return min(max(n, 1), 500)


async def db(request):
    row = await request.app["pg"].fetchrow(WORLD, random.randint(1, 10000))
    return web.Response(text=dumps({"id": row["id"], "randomNumber": row["randomnumber"]}),
                        content_type="application/json")


async def queries(request):
    n = queries_count(request.query.get("n"))
    async with request.app["pg"].acquire() as conn:
        rows = [await conn.fetchrow(WORLD, random.randint(1, 10000)) for _ in range(n)]
    return web.Response(text=dumps([{"id": r["id"], "randomNumber": r["randomnumber"]}
                                    for r in rows]),
                        content_type="application/json")


async def counter(request):
    value = await request.app["redis"].incr("counter:" + request.match_info["name"])
    return web.Response(text="%d\n" % value)


async def clients(app):
    """The worker's database clients, for as long as it serves."""
    pool = int(os.environ.get("POOL", "4"))
    host, port = os.environ["REDIS_ADDR"].rsplit(":", 1)
    app["pg"] = await asyncpg.create_pool(
        host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]),
        database=os.environ["PGDATABASE"], user=os.environ["PGUSER"],
        min_size=pool, max_size=pool,
        connection_class=NoReset if os.environ.get("ASYNCPG_RESET") == "0" else asyncpg.Connection)
    app["redis"] = aioredis.Redis(host=host, port=int(port))
    yield
    await app["redis"].close()
    await app["pg"].close()


def serve(port):
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = web.Application()
    app.cleanup_ctx.append(clients)
    app.add_routes([web.get("/db", db), web.get("/queries", queries),
                    web.get("/counter/{name}", counter)])
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None,
                print=None)


def main():
    run_workers(serve, int(sys.argv[1]))


if __name__ == "__main__":
    main()
