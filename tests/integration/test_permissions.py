"""The bundled permissions plugin: HTTP Basic against a password file written by Debian's htpasswd (bcrypt, SHA-512 and SHA-256 crypt), 401 with WWW-Authenticate for missing or wrong credentials, 403 for a user the rule does not name, the longest prefix deciding; bearer tokens checked by a function another plugin exports; remote_user handed to the handler and the access log; checks on the thread pool while other requests are served; and a password file with htpasswd's default MD5 refused naming the file and line."""

import asyncio
import base64
import subprocess

import aiohttp

from conftest import curl


def htpasswd(path, user, password, method):
    subprocess.run(["htpasswd", "-b", method, str(path), user, password], check=True,
                   capture_output=True, timeout=30)


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def password_file(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("")
    htpasswd(path, "alice", "wonder land", "-B")     # bcrypt, $2y$
    htpasswd(path, "bob", "builder", "-5")          # SHA-512 crypt, $6$
    htpasswd(path, "carol", "c4r0l", "-2")          # SHA-256 crypt, $5$
    return path


def guarded(kiln_factory, tmp_path, **keys):
    section = {"htpasswd": str(password_file(tmp_path)), "realm": "kiln tests",
               "rules": "/admin basic alice bob, /admin/public basic, /private basic, "
                        "/api bearer"}
    section.update(keys)
    return kiln_factory.make(plugins=("guarded", "permissions", "accesslog"),
                             sections={"permissions": section,
                                       "accesslog": {"path": str(tmp_path / "access.log"),
                                                     "buffer": "0", "format": "%u %s %U"}})


def get(k, path, auth=None):
    return k.request(path, headers={"Authorization": auth} if auth else None)


def test_basic(kiln_factory, tmp_path):
    k = guarded(kiln_factory, tmp_path)
    st, h, body = get(k, "/admin/x")
    assert st == 401
    assert h["www-authenticate"] == 'Basic realm="kiln tests", charset="UTF-8"'
    assert b"credentials required" in body
    assert get(k, "/admin/x", basic("alice", "wonder land"))[::2] == (200, b"user=alice")
    assert get(k, "/admin/x", basic("bob", "builder"))[::2] == (200, b"user=bob")
    st, h, _ = get(k, "/admin/x", basic("alice", "wrong"))
    assert st == 401 and "www-authenticate" in h
    assert get(k, "/admin/x", basic("mallory", "x"))[0] == 401          # not in the file
    st, _, body = get(k, "/admin/x", basic("carol", "c4r0l"))           # right, not named
    assert st == 403 and b"carol may not reach /admin" in body
    # the longest prefix decides: /admin/public lets every user of the file in
    assert get(k, "/admin/public/y", basic("carol", "c4r0l"))[::2] == (200, b"user=carol")
    assert get(k, "/private/z", basic("carol", "c4r0l"))[::2] == (200, b"user=carol")
    assert get(k, "/open")[::2] == (200, b"user=-")                     # no rule
    assert get(k, "/administrator")[0] == 404        # a prefix is a whole segment
    assert get(k, "/admin/x", "Basic !!!notbase64")[0] == 401
    assert get(k, "/admin/x", "Digest x")[0] == 401


def test_remote_user_logged(kiln_factory, tmp_path):
    k = guarded(kiln_factory, tmp_path)
    assert get(k, "/private/a", basic("bob", "builder"))[0] == 200
    assert get(k, "/private/a")[0] == 401
    k.stop()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        "bob 200 /private/a", "- 401 /private/a"]


def test_bearer(kiln_factory, tmp_path):
    k = guarded(kiln_factory, tmp_path, rules="/api bearer, /api/admin bearer token-user")
    st, h, _ = get(k, "/api/x")
    assert st == 401 and h["www-authenticate"] == 'Bearer realm="kiln tests"'
    assert get(k, "/api/x", "Bearer good")[::2] == (200, b"user=token-user")
    assert get(k, "/api/x", "Bearer forbidden")[0] == 403
    st, h, _ = get(k, "/api/x", "Bearer nope")
    assert st == 401 and h["www-authenticate"].startswith("Bearer")
    assert get(k, "/api/admin/1", "Bearer good")[0] == 200
    assert get(k, "/api/admin/1", "Bearer other")[0] == 403             # someone, not named


def test_bearer_without_exporter(kiln_factory, tmp_path):
    k = kiln_factory.make(plugins=("hello", "permissions"),
                          sections={"permissions": {"rules": "/api bearer"}})
    k.wait_log(r"no plugin exports permissions\.bearer")
    assert get(k, "/api/x", "Bearer good")[0] == 500
    assert k.get_text("/") == (200, "Hello, Anonymous")


def test_checks_do_not_block(kiln_factory, tmp_path):
    """40 Basic checks at once on one worker (each a hash on the pool, the
    first with no cache), and the hello route answering meanwhile."""
    k = guarded(kiln_factory, tmp_path, cache="0")
    k.install_plugin("hello")

    async def run():
        async with aiohttp.ClientSession() as s:
            async def one(i):
                user, pw = [("alice", "wonder land"), ("bob", "builder")][i % 2]
                async with s.get(k.url + "/admin/%d" % i,
                                 headers={"Authorization": basic(user, pw)}) as r:
                    return r.status, await r.text()
            got = await asyncio.gather(*(one(i) for i in range(40)))
        return got
    got = asyncio.run(asyncio.wait_for(run(), 60))
    assert sorted(set(got)) == [(200, "user=alice"), (200, "user=bob")]


def test_no_thread_pool(kiln_factory, tmp_path):
    k = kiln_factory.make(plugins=("guarded", "permissions"), server={"thread_pool": 0},
                          sections={"permissions": {"htpasswd": str(password_file(tmp_path)),
                                                    "rules": "/private basic"}})
    st, _, body = get(k, "/private/a", basic("bob", "builder"))
    assert st == 503 and b"thread_pool = 0" in body


def test_md5_refused(kiln_factory, tmp_path):
    path = password_file(tmp_path)
    htpasswd(path, "dave", "d", "-m")              # htpasswd's default, $apr1$
    k = kiln_factory.make(start=False, plugins=("guarded", "permissions"),
                          sections={"permissions": {"htpasswd": str(path),
                                                    "rules": "/private basic"}})
    rc, out = k.check()
    assert rc != 0
    assert "%s:4: an Apache MD5 ($apr1$) hash" % path in out, out


def test_bad_rule(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("guarded", "permissions"),
                          sections={"permissions": {"rules": "/x digest"}})
    rc, out = k.check()
    assert rc != 0 and 'got "/x digest"' in out, out


def test_curl_basic(kiln_factory, tmp_path):
    """curl's own --user, and --anyauth answering the challenge."""
    k = guarded(kiln_factory, tmp_path)
    rc, out, err = curl("--user", "alice:wonder land", k.url + "/admin/q")
    assert rc == 0 and out == b"user=alice", err
    rc, out, err = curl("--anyauth", "--user", "bob:builder", k.url + "/admin/q")
    assert rc == 0 and out == b"user=bob", err
