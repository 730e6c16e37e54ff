"""[server] metrics: kiln's Prometheus counters at /metrics, read with a real
Prometheus text parser; counts that match a known mix of traffic summed over
both workers, that survive a killed worker and a reload, the gauges of open
connections and pending requests, metrics_allow's 403, 405, and the path off
or taken by a plugin."""
import asyncio
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HELLO = "GET /{name}"


def scrape(k, path="/metrics"):
    """The metrics as {(sample name, frozenset of labels): value}, parsed by
    prometheus_client; fails on a status other than 200 or a wrong type."""
    st, hdrs, body = k.request(path)
    assert st == 200, (st, body, k.describe())
    assert hdrs.get("content-type") == CONTENT_TYPE
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0)


def requests_of(m, route, code):
    return value(m, "kiln_http_requests_total", route=route, code=code)


def metrics_server(kiln_factory, plugins=("hello",), sections=None, **server):
    srv = {"metrics": "/metrics"}
    srv.update(server)
    return kiln_factory.make(plugins=plugins, server=srv, sections=sections)


def in_parallel(k, paths, jobs=8):
    with ThreadPoolExecutor(jobs) as ex:
        return list(ex.map(lambda p: k.request(p)[0], paths))


def histogram(m, route):
    """The buckets (le -> count) in order, _sum and _count of a route."""
    buckets = sorted(((float(dict(lab)["le"]), v) for (n, lab), v in m.items()
                      if n == "kiln_http_request_duration_seconds_bucket"
                      and dict(lab)["route"] == route))
    return (buckets, value(m, "kiln_http_request_duration_seconds_sum", route=route),
            value(m, "kiln_http_request_duration_seconds_count", route=route))


def served_pids(log_path, path_prefix):
    """The worker pids of the access log's lines for paths under path_prefix."""
    pids = set()
    with open(log_path) as f:
        for line in f:
            pid, _status, path, _i, _o = line.split()
            if path.startswith(path_prefix):
                pids.add(int(pid))
    return pids


def log_bytes(log_path):
    """Request and response bytes over the access log's lines but /metrics'."""
    got_in = got_out = 0
    with open(log_path) as f:
        for line in f:
            _pid, _status, path, i, o = line.split()
            if path != "/metrics":
                got_in += int(i)
                got_out += int(o)
    return got_in, got_out


async def ws_hello(port):
    async with websockets.connect("ws://127.0.0.1:%d/echo" % port) as ws:
        await ws.send("you")
        return await ws.recv()


def test_counts_match_traffic_over_both_workers(kiln_factory, tmp_path):
    log = str(tmp_path / "access.log")
    k = metrics_server(kiln_factory, plugins=("hello", "answers", "echo", "accesslog"),
                       sections={"accesslog": {"path": log, "format": "%P %s %U %I %O",
                                               "flush": "100ms"}})
    n = 0
    for _ in range(10):             # until both workers answered some
        assert in_parallel(k, ["/hello%d" % i for i in range(40)]) == [200] * 40
        n += 40
        time.sleep(0.3)
        if len(served_pids(log, "/hello")) == 2:
            break
    assert served_pids(log, "/hello") == set(k.worker_pids()), k.describe()
    assert in_parallel(k, ["/no/such/%d" % i for i in range(7)]) == [404] * 7
    assert in_parallel(k, ["/err/500"] * 3) == [500] * 3
    assert asyncio.run(ws_hello(k.port)) == "Hello, you"
    time.sleep(0.3)                 # the access log's flush

    m = scrape(k)
    assert requests_of(m, HELLO, "2xx") == n
    assert requests_of(m, "none", "4xx") == 7
    assert requests_of(m, "* /err/{status}", "5xx") == 3
    assert requests_of(m, "GET /echo", "1xx") == 1
    assert requests_of(m, HELLO, "4xx") == 0
    buckets, total, count = histogram(m, HELLO)
    assert len(buckets) == 14 and buckets[-1][0] == float("inf")
    assert [b for b, _ in buckets[:3]] == [0.001, 0.0025, 0.005] and buckets[-2][0] == 10
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert counts[-1] == count == n
    assert 0 < total < n * 1.0
    got_in, got_out = log_bytes(log)
    assert value(m, "kiln_http_received_bytes_total") == got_in
    assert value(m, "kiln_http_sent_bytes_total") == got_out
    assert value(m, "kiln_workers") == 2
    for name in ("kiln_worker_crashes_total", "kiln_worker_restarts_total",
                 "kiln_reloads_total", "kiln_pubsub_published_total",
                 "kiln_pubsub_delivered_total", "kiln_pubsub_dropped_total"):
        assert (name, frozenset()) in m and value(m, name) == 0, name
    # a second scrape (whichever worker answers) sees the same, and the first
    assert requests_of(scrape(k), "GET /metrics", "2xx") >= 1
    assert requests_of(scrape(k), HELLO, "2xx") == n
    st, hdrs, body = k.request("/metrics", method="HEAD")
    assert st == 200 and body == b"" and hdrs["content-type"] == CONTENT_TYPE


def test_counters_survive_a_killed_worker_and_a_reload(kiln_factory):
    k = metrics_server(kiln_factory)
    assert in_parallel(k, ["/w%d" % i for i in range(60)]) == [200] * 60
    before = scrape(k)
    assert requests_of(before, HELLO, "2xx") == 60
    pids = k.wait_workers(2)
    mark = k.mark()
    os.kill(pids[0], signal.SIGKILL)
    k.wait_log(r"worker %d killed by signal 9" % pids[0], since=mark)
    k.wait_workers(2, exclude=(pids[0],))
    after = scrape(k)
    assert requests_of(after, HELLO, "2xx") == 60, "the dead worker's counts are kept"
    assert value(after, "kiln_worker_crashes_total") == 1
    assert value(after, "kiln_worker_restarts_total") == 1
    assert value(after, "kiln_http_received_bytes_total") >= \
        value(before, "kiln_http_received_bytes_total")
    assert value(after, "kiln_http_request_duration_seconds_count", route=HELLO) == 60

    # answers.so loads before hello.so: hello's route gets another row,
    # the totals follow its name
    k.install_plugin("answers")
    k.reload()
    assert in_parallel(k, ["/r%d" % i for i in range(5)]) == [200] * 5
    assert k.request("/err/503")[0] == 503
    k.wait_workers(2)               # the old generation's are gone (folded)
    m = scrape(k)
    assert value(m, "kiln_reloads_total") == 1
    assert value(m, "kiln_reload_failures_total") == 0
    assert requests_of(m, HELLO, "2xx") == 65, "totals kept across the reload"
    assert requests_of(m, "* /err/{status}", "5xx") == 1
    assert value(m, "kiln_worker_crashes_total") == 1
    assert value(m, "kiln_workers") == 2


def test_gauges_of_open_connections_and_pending_requests(kiln_factory):
    # deferred=off: the connection that sends nothing is kiln's at once, not
    # held by the kernel until its first bytes
    k = metrics_server(kiln_factory, plugins=("pending",), listen="127.0.0.1:0 deferred=off")
    held = socket.create_connection(("127.0.0.1", k.port))
    idle = socket.create_connection(("127.0.0.1", k.port))
    try:
        held.sendall(b"GET /late?ms=4000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)             # the other worker publishes once a second
        m = scrape(k)
        assert value(m, "kiln_http_requests_pending") == 1
        assert value(m, "kiln_http_requests_in_flight") == 2, "the pending one and the scrape"
        assert value(m, "kiln_http_connections") == 3
        assert value(m, "kiln_websockets") == 0
    finally:
        held.close()
        idle.close()
    time.sleep(1.5)
    m = scrape(k)
    assert value(m, "kiln_http_requests_pending") == 0
    assert value(m, "kiln_http_connections") == 1


def test_websocket_gauge(kiln_factory):
    k = metrics_server(kiln_factory, plugins=("echo",))

    async def run():
        async with websockets.connect("ws://127.0.0.1:%d/echo" % k.port) as ws:
            await ws.send("a")
            await ws.recv()
            await asyncio.sleep(1.5)
            return scrape(k)
    m = asyncio.run(run())
    assert value(m, "kiln_websockets") == 1


def test_peer_not_allowed_gets_403(kiln_factory):
    k = metrics_server(kiln_factory, metrics_allow="10.0.0.0/8, 192.0.2.1")
    st, _, body = k.request("/metrics")
    assert st == 403, body
    assert b"kiln_" not in body
    # a forwarded header from the peer changes nothing: the socket's address counts
    k2 = metrics_server(kiln_factory, metrics_allow="10.0.0.0/8",
                        trusted_proxies="127.0.0.1")
    st, _, _ = k2.request("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    assert st == 403


def test_only_get_and_head(kiln_factory):
    k = metrics_server(kiln_factory)
    st, hdrs, _ = k.request("/metrics", method="POST", body=b"x")
    assert st == 405 and hdrs["allow"] == "GET, HEAD"
    st, _, _ = k.request("/metrics", method="DELETE")
    assert st == 405


def test_off_by_default(kiln_factory):
    k = kiln_factory.make(plugins=("answers",))
    st, _, _ = k.request("/metrics")
    assert st == 404
    k2 = kiln_factory.make(plugins=("hello",))
    assert k2.get_text("/metrics") == (200, "Hello, metrics")


def test_another_path_leaves_metrics_to_the_plugin(kiln_factory):
    k = metrics_server(kiln_factory, metrics="/_kiln/metrics")
    assert k.get_text("/metrics") == (200, "Hello, metrics")
    m = scrape(k, "/_kiln/metrics")
    assert requests_of(m, HELLO, "2xx") == 1


@pytest.mark.parametrize("bad", ["metrics", "", "/a b"])
def test_bad_path_is_a_config_error(kiln_factory, bad):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"metrics": bad})
    rc, out = k.check()
    assert rc != 0
    assert "kiln.conf:" in out and "metrics: expected a path starting with '/'" in out, out


def test_route_at_the_metrics_path_is_refused(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("answers",), server={"metrics": "/method"})
    rc, out = k.check()
    assert rc != 0
    assert "metrics = /method: plugin answers has the route * /method" in out, out


def test_bad_allow_list_is_a_config_error(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",),
                          server={"metrics": "/metrics", "metrics_allow": "10.0.0.0/99"})
    rc, out = k.check()
    assert rc != 0 and "metrics_allow: " in out, out


def wait_metric(k, name, want, timeout=8.0):
    """Scrapes until `name` is `want`; the last metrics."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(k)
        if value(m, name) == want or time.monotonic() > deadline:
            return m
        time.sleep(0.2)


def test_postgres_pool_gauges(kiln_factory, pg_dsn):
    k = kiln_factory.make(plugins=("pg_probe",), server={"metrics": "/metrics"},
                          sections={"postgres": {"dsn": pg_dsn, "pool_size": 1}})
    m = wait_metric(k, "kiln_pg_pool_connections", 2)
    assert value(m, "kiln_pg_pool_connections") == 2, "one per worker, connected"
    assert value(m, "kiln_pg_pool_in_use") == 0 and value(m, "kiln_pg_pool_waiting") == 0
    held = [socket.create_connection(("127.0.0.1", k.port)) for _ in range(3)]
    try:
        for s in held:
            s.sendall(b"GET /pg-sleep?s=4 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)
        m = scrape(k)
        assert value(m, "kiln_http_requests_pending") == 3
        in_use, waiting = value(m, "kiln_pg_pool_in_use"), value(m, "kiln_pg_pool_waiting")
        assert in_use + waiting == 3 and 1 <= in_use <= 2, (in_use, waiting)
    finally:
        for s in held:
            s.close()


def test_redis_link_gauges(kiln_factory, redis_addr):
    k = kiln_factory.make(plugins=("hello",), server={"metrics": "/metrics"},
                          sections={"redis": {"address": redis_addr}})
    m = wait_metric(k, "kiln_redis_links_up", 2)
    assert value(m, "kiln_redis_links") == 2 and value(m, "kiln_redis_links_up") == 2
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                       # nothing listens there
    down = kiln_factory.make(plugins=("hello",), server={"metrics": "/metrics"},
                             sections={"redis": {"address": "127.0.0.1:%d" % port}})
    time.sleep(1.2)
    m = scrape(down)
    assert value(m, "kiln_redis_links") == 2 and value(m, "kiln_redis_links_up") == 0


def test_pubsub_counters(kiln_factory):
    """Messages published over HTTP to a subscribed WebSocket are counted
    published and delivered, summed over both workers (each worker's counts
    reach its slot on its once-a-second tick)."""
    k = metrics_server(kiln_factory, plugins=("pubsub",), workers=2)

    async def run():
        async with websockets.connect("ws://127.0.0.1:%d/ps/m" % k.port) as ws:
            await ws.recv()                         # the plugin's open notice
            for i in range(5):
                st, _, body = k.request("/publish?channel=m&text=n%d" % i)
                assert st == 200, body
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(5)]
            # each publish is its own connection, so its own publisher
            # (either worker): each message once, no order across them
            assert sorted(got) == ["n%d" % i for i in range(5)]
            await asyncio.sleep(1.5)
            return scrape(k)
    m = asyncio.run(run())
    assert value(m, "kiln_pubsub_published_total") == 5, m
    assert value(m, "kiln_pubsub_delivered_total") == 5
    assert value(m, "kiln_pubsub_dropped_total") == 0
