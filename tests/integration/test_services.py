"""The real PostgreSQL and Redis servers of scripts/services answer real clients (psql, redis-cli) on 127.0.0.1 only, with the kiln_test data loaded."""

import os
import socket
import subprocess

import pytest

from conftest import service_env


def run(args):
    """Runs a client program; its stdout, stripped (fails the test on an error)."""
    r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        pytest.fail("%s exited with %d: %s" % (" ".join(args), r.returncode,
                                               r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


def psql(dsn, sql):
    return run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql])


def redis_cli(addr, *args):
    host, port = addr.rsplit(":", 1)
    return run(["redis-cli", "-h", host, "-p", port] + list(args))


def dsn_port(dsn):
    return int(dict(kv.split("=", 1) for kv in dsn.split())["port"])


def test_postgres_holds_the_world_table(pg_dsn):
    # TechEmpower's "single query" table: ids 1..10000, numbers in 1..10000.
    out = psql(pg_dsn, "SELECT count(*), count(DISTINCT id), min(id), max(id), "
                       "min(randomnumber) >= 1 AND max(randomnumber) <= 10000 FROM world")
    assert out == "10000|10000|1|10000|t", out
    assert psql(pg_dsn, "SELECT current_database()") == "kiln_test"


def test_redis_answers_ping_and_incr(redis_addr):
    assert redis_cli(redis_addr, "PING") == "PONG"
    key = "kiln:test_services:%d" % os.getpid()
    redis_cli(redis_addr, "DEL", key)
    assert [redis_cli(redis_addr, "INCR", key) for _ in range(3)] == ["1", "2", "3"]
    redis_cli(redis_addr, "DEL", key)


def listening(port):
    """The local addresses of the TCP sockets listening on `port` (/proc/net/tcp, tcp6)."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, p = fields[1].split(":")
                if int(p, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.append(addr)
    return found


def test_services_listen_on_127_0_0_1_only(pg_dsn, redis_addr):
    for port in (dsn_port(pg_dsn), int(redis_addr.rsplit(":", 1)[1])):
        assert listening(port) == ["0100007F"], (port, listening(port))  # 127.0.0.1
        # Another loopback address has no listener on that port.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=5).close()


def test_servers_do_not_run_as_root(pg_dsn, redis_addr):
    # PostgreSQL refuses root; scripts/services runs both as an unprivileged user.
    for name in ("KILN_TEST_PG_PID", "KILN_TEST_REDIS_PID"):
        pid = int(service_env(name))
        with open("/proc/%d/status" % pid) as f:
            uid = next(line for line in f if line.startswith("Uid:")).split()[1]
        assert int(uid) != 0, (name, pid)
