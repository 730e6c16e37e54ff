"""The hash plugin: yescrypt hashes made and checked on the worker's thread pool (POST /hash, POST /hash/verify), checked against Python's crypt, the loop serving others meanwhile, no pool (503), bodies refused, [hash] cost, and clients that leave mid-hash."""

import asyncio
import re
import signal
import time
import warnings

import aiohttp

from conftest import RawConn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)    # deprecated, still in 3.11
    import crypt

# $y$, the parameters, the salt, the 43-character hash; then kiln's newline.
YESCRYPT = re.compile(r"\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{43}\n\Z")


def make(kiln_factory, cost=None, start=True, **server):
    sections = {"hash": {"cost": cost}} if cost is not None else {}
    return kiln_factory.make(start=start, plugins=("hello", "hash"), sections=sections,
                             server=dict({"log_level": "debug"}, **server))


def post(k, path, body, timeout=10):
    st, headers, data = k.request(path, method="POST", body=body, timeout=timeout)
    return st, headers.get("content-type", ""), data.decode()


def make_hash(k, password):
    st, ctype, text = post(k, "/hash", password.encode())
    assert st == 200 and ctype.startswith("text/plain"), (st, ctype, text)
    assert YESCRYPT.match(text), text
    return text.rstrip("\n")


def verify(k, password, hashed, end="\n"):
    st, _, text = post(k, "/hash/verify", (password + "\n" + hashed + end).encode())
    return st, text


def test_hash_then_verify(kiln_factory):
    k = make(kiln_factory)
    for password in ("correct horse battery staple", "", "Jürgen", "two\nlines", "x" * 511):
        hashed = make_hash(k, password)
        assert hashed.startswith("$y$j9T$")               # the default cost, 5
        assert verify(k, password, hashed) == (200, "ok\n")
        assert verify(k, password, hashed, end="") == (200, "ok\n")
        assert verify(k, ("!" + password)[:511], hashed) == (403, "mismatch\n")
        # The same hash as libcrypt makes through Python's crypt module.
        assert crypt.crypt(password, hashed) == hashed
    # A salt of its own every time.
    assert make_hash(k, "same") != make_hash(k, "same")
    assert verify(k, "wrong", make_hash(k, "right")) == (403, "mismatch\n")


def test_hashes_made_elsewhere_verify(kiln_factory):
    k = make(kiln_factory)
    sha512 = crypt.crypt("from python", crypt.mksalt(crypt.METHOD_SHA512))
    assert verify(k, "from python", sha512) == (200, "ok\n")
    assert verify(k, "from pythons", sha512) == (403, "mismatch\n")
    # A yescrypt hash with a salt chosen here.
    y = crypt.crypt("pw", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1")
    assert verify(k, "pw", y) == (200, "ok\n")


def test_bodies_refused(kiln_factory):
    k = make(kiln_factory)
    st, _, text = post(k, "/hash", b"a" * 1025)
    assert (st, text) == (413, "the body is over 1024 bytes\n")
    st, _, text = post(k, "/hash", b"a" * 512)         # libcrypt's limit: 511
    assert (st, text) == (400, "the password is over 511 bytes\n")
    st, _, text = post(k, "/hash/verify", b"p" * 600 + b"\n" + make_hash(k, "p").encode())
    assert (st, text) == (400, "the password is over 511 bytes\n")
    st, _, text = post(k, "/hash/verify", b"p" * 1000 + b"\n" + make_hash(k, "p").encode())
    assert st == 413
    assert post(k, "/hash", b"nul\0byte")[0] == 400
    hashed = make_hash(k, "pw")
    assert post(k, "/hash/verify", hashed.encode())[0] == 400             # no password
    assert post(k, "/hash/verify", b"pw\n")[0] == 400                     # no hash
    assert verify(k, "pw", "not a hash")[0] == 400
    assert verify(k, "pw", crypt.crypt("pw", "ab"))[0] == 400             # DES: legacy
    assert verify(k, "pw", crypt.crypt("pw", crypt.mksalt(crypt.METHOD_MD5)))[0] == 400
    # Other methods are not routes of the plugin (GET /hash is hello's /{name}).
    assert k.get_text("/hash") == (200, "Hello, hash")
    st, headers, _ = k.request("/hash/verify", method="PUT", body=b"x")
    assert st == 405 and headers["allow"] == "POST"


def test_cost(kiln_factory):
    k = make(kiln_factory, cost=4)
    hashed = make_hash(k, "cheap")
    assert hashed.startswith("$y$j8T$") and crypt.crypt("cheap", hashed) == hashed
    for bad in ("0", "12", "five", "-1", ""):
        k = make(kiln_factory, cost=bad, start=False)
        rc, out = k.check()
        assert rc != 0 and "[hash] cost = %s: expected a number from 1 to 11" % bad in out, out


def test_hashes_on_the_pool_leave_the_loop_free(kiln_factory):
    # Eight hashes of cost 8 (128 MiB, a quarter of a second of a core
    # each) on two workers with four pool threads each: while they run,
    # plain requests are answered at once, long before the hashes are done.
    k = make(kiln_factory, cost=8, workers=2)

    async def main():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            url = "http://127.0.0.1:%d" % k.port

            async def hash_one(i):
                async with s.post(url + "/hash", data=b"password %d" % i) as r:
                    return r.status, await r.text(), time.monotonic()

            async def hello(i):
                async with s.get(url + "/n%d" % i) as r:
                    return r.status, await r.text()

            hashes = [asyncio.ensure_future(hash_one(i)) for i in range(8)]
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            quick = [await hello(i) for i in range(10)]
            t1 = time.monotonic()
            return await asyncio.gather(*hashes), quick, t0, t1

    hashes, quick, t0, t1 = asyncio.run(asyncio.wait_for(main(), 120))
    assert quick == [(200, "Hello, n%d" % i) for i in range(10)]
    assert t1 - t0 < 1.0, t1 - t0
    last = max(h[2] for h in hashes)
    assert t1 < last, "the hashes were done before the plain requests: %.3f s early" % (t1 - last)
    for i, (st, text, _) in enumerate(hashes):
        assert st == 200 and YESCRYPT.match(text), text
        assert crypt.crypt("password %d" % i, text.rstrip("\n")) == text.rstrip("\n")
    assert len({h[1] for h in hashes}) == 8


def test_no_thread_pool_is_503(kiln_factory):
    k = make(kiln_factory, thread_pool=0)
    st, _, text = post(k, "/hash", b"pw")
    assert (st, text) == (503, "no thread pool to hash on (thread_pool = 0)\n")
    st, _, text = post(k, "/hash/verify", b"pw\n" + crypt.crypt("pw", "$y$j9T$abcdefghijklmnop").encode())
    assert st == 503
    assert k.get_text("/after") == (200, "Hello, after")
    assert "[error]" not in k.log()


def test_a_client_gone_mid_hash(kiln_factory):
    # The client leaves while its hash (cost 9: half a second) runs: the
    # cancel callback marks the job, done() frees it without answering,
    # and the worker goes on (the sanitizer and valgrind runs check the
    # memory).
    k = make(kiln_factory, cost=9, workers=1)
    mark = k.mark()
    c = RawConn(k.port)
    c.send("POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecret")
    k.wait_log(r"hash: /hash: a job for the pool", since=mark)
    c.close()
    k.wait_log(r"POST /hash: pending request cancelled \(client gone\)", since=mark)
    k.wait_log(r"hash: /hash: cancelled before its job was done", timeout=10, since=mark)
    assert k.get_text("/still") == (200, "Hello, still")
    hashed = make_hash(k, "next")
    assert verify(k, "next", hashed) == (200, "ok\n")
    assert "[error]" not in k.log()[mark:]


def test_a_graceful_stop_waits_for_the_hash(kiln_factory):
    k = make(kiln_factory, cost=9, workers=1)
    with RawConn(k.port, timeout=15) as c:
        c.send("POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\npw")
        time.sleep(0.1)
        k.signal(signal.SIGTERM)
        r = c.read_response()
    assert r.status == 200 and YESCRYPT.match(r.body.decode()), r
    assert k.wait_exit(15) == 0
