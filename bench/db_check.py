"""db_check.py -- bench/db.sh's check of one server before it is measured: /db, /queries and /counter answer what kiln's db and counter plugins answer, with values that are really in PostgreSQL and Redis.

Usage: db_check.py NAME PORT ROUTES QUERIES DSN REDIS_ADDR
  ROUTES: comma-separated, of db, queries, counter; QUERIES: the n of
  /queries?n=N; DSN: the libpq connection string (read with psql);
  REDIS_ADDR: HOST:PORT (read with redis-cli).
Prints one line per route checked; exits 1 with the first mismatch.
"""

import http.client
import json
import os
import re
import subprocess
import sys

ROW = re.compile(r'\{"id":([0-9]+),"randomNumber":([0-9]+)\}\Z')


class Mismatch(Exception):
    pass


def get(conn, path):
    conn.request("GET", path, headers={"Host": "bench"})
    r = conn.getresponse()
    return r.status, r.getheader("Content-Type", ""), r.read().decode("utf-8", "replace")


def expect(cond, what, path, status, ctype, body):
    if not cond:
        raise Mismatch("GET %s: %s; got %d, Content-Type %r, body %r"
                       % (path, what, status, ctype, body[:200]))


def world(dsn):
    """{id: randomnumber} of the world table."""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", " ", dsn, "-c",
                          "SELECT id, randomnumber FROM world"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return {int(a): int(b) for a, b in (line.split() for line in out.splitlines())}


def check_row(obj, rows):
    """A {"id","randomNumber"} object whose values are the table's."""
    return (isinstance(obj, dict) and list(obj) == ["id", "randomNumber"] and
            rows.get(obj["id"]) == obj["randomNumber"])


def check_db(conn, rows):
    ids = set()
    for _ in range(20):
        status, ctype, body = get(conn, "/db")
        m = ROW.match(body)
        expect(status == 200 and ctype.startswith("application/json") and m is not None,
               'expected 200 application/json {"id":N,"randomNumber":M}', "/db",
               status, ctype, body)
        expect(rows.get(int(m.group(1))) == int(m.group(2)),
               "expected a row of the world table", "/db", status, ctype, body)
        ids.add(m.group(1))
    expect(len(ids) > 1, "expected random ids, got only %s" % ids, "/db", status, ctype, body)
    return "20 rows of world"


def check_queries(conn, rows, n):
    path = "/queries?n=%d" % n
    status, ctype, body = get(conn, path)
    expect(status == 200 and ctype.startswith("application/json"),
           "expected 200 application/json", path, status, ctype, body)
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    expect(isinstance(value, list) and len(value) == n and
           all(check_row(v, rows) for v in value) and
           body == json.dumps(value, separators=(",", ":")),
           "expected a compact array of %d rows of world" % n, path, status, ctype, body)
    return "%d rows of world" % n


def check_counter(conn, name, redis_addr):
    host, port = redis_addr.rsplit(":", 1)
    key = "check-%s-%d" % (name, os.getpid())
    path = "/counter/" + key
    for want in ("1\n", "2\n"):
        status, ctype, body = get(conn, path)
        expect(status == 200 and ctype.startswith("text/plain") and body == want,
               "expected 200 text/plain %r" % want, path, status, ctype, body)
    cli = ["redis-cli", "-h", host, "-p", port]
    stored = subprocess.run(cli + ["GET", "counter:" + key], check=True, capture_output=True,
                            text=True, timeout=10).stdout.strip()
    subprocess.run(cli + ["DEL", "counter:" + key], check=True, capture_output=True, timeout=10)
    if stored != "2":
        raise Mismatch("GET %s twice: Redis holds counter:%s = %r, not 2" % (path, key, stored))
    return "1 then 2, and Redis agrees"


def main():
    name, port, routes, queries, dsn, redis_addr = sys.argv[1:7]
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    rows = world(dsn) if {"db", "queries"} & set(routes.split(",")) else {}
    try:
        for route in routes.split(","):
            if route == "db":
                what = check_db(conn, rows)
            elif route == "queries":
                what = check_queries(conn, rows, int(queries))
            else:
                what = check_counter(conn, name, redis_addr)
            print("  %-8s %-8s ok: %s" % (name, route, what))
    except (Mismatch, OSError, http.client.HTTPException, subprocess.SubprocessError) as e:
        sys.exit("db.sh: %s on port %s does not answer as kiln does: %s" % (name, port, e))


if __name__ == "__main__":
    main()
