"""Tests of how new connections spread over the workers: clients that connect one at a time, a burst from wrk, and a worker that stops taking its share (SIGSTOP) holding nobody up."""

import collections
import os
import re
import signal
import socket
import subprocess
import time

import pytest

PLUGINS = ["hello"]
REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def per_worker(port):
    """Established server-side connections on `port`, counted by the pid
    holding them (ss -p; the client sides are not counted)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    return collections.Counter(int(p) for p in re.findall(r"pid=(\d+)", out))


def connect_served(port):
    """A keep-alive connection whose first request has been answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(REQUEST)
    assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
    return s


def one_at_a_time(port, n):
    return [connect_served(port) for _ in range(n)]


def test_clients_connecting_one_at_a_time_meet_both_workers(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS)
    socks = one_at_a_time(k.port, 40)
    try:
        counts = per_worker(k.port)
        assert sorted(counts) == sorted(k.worker_pids()), counts
        assert all(16 <= c <= 24 for c in counts.values()), counts
    finally:
        for s in socks:
            s.close()


def test_a_burst_spreads_over_four_workers(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, server={"workers": 4})
    wrk = subprocess.Popen(["wrk", "-t2", "-c64", "-d3s", k.url + "/"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)
        counts = per_worker(k.port)
    finally:
        out = wrk.communicate(timeout=30)[0]
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert sum(counts.values()) == 64, counts
    # Four workers and wrk on a small machine do not all get a core when the
    # burst arrives: the spread is loose (45/7/6/6 seen on two cores), but
    # every worker takes a share and none three quarters (before the
    # balance, two of the four took none).
    assert len(counts) == 4 and max(counts.values()) <= 48, counts


def test_a_stopped_worker_holds_no_connection_up(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS)
    stopped, other = k.worker_pids()
    os.kill(stopped, signal.SIGSTOP)
    try:
        started = time.monotonic()
        first = one_at_a_time(k.port, 40)
        took = time.monotonic() - started
        assert per_worker(k.port) == {other: 40}
        assert took < 2.0, "40 connections took %.2f s with a worker stopped" % took
    finally:
        os.kill(stopped, signal.SIGCONT)
    # Back, it takes its share again once its heartbeat shows it turning
    # (once a second): the next connections go mostly to it.
    time.sleep(2.5)
    second = one_at_a_time(k.port, 40)
    try:
        counts = per_worker(k.port)
        assert counts[stopped] >= 30, counts
    finally:
        for s in first + second:
            s.close()


@pytest.mark.parametrize("workers", [1])
def test_one_worker_takes_every_connection(kiln_factory, workers):
    k = kiln_factory.make(plugins=PLUGINS, server={"workers": workers})
    socks = one_at_a_time(k.port, 10)
    try:
        assert per_worker(k.port) == {k.worker_pids()[0]: 10}
    finally:
        for s in socks:
            s.close()
