"""Fixtures of the notes example's tests: pytest_kiln's (a real kiln on an ephemeral loopback port), the test PostgreSQL, a schema of the test database made by init/init.py with the sample data, and a kiln serving the backend plugin on it."""

import importlib.util
import os
import secrets
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.dirname(HERE)
SRC = os.path.abspath(os.environ.get("KILN_SRC", os.path.dirname(os.path.dirname(EXAMPLE))))
BUILD = os.path.abspath(os.environ.get("KILN_BUILD", SRC))

# pytest_kiln from this source tree (kiln_factory, RawConn, ...), run on
# the build's kiln; a server that names no plugin loads the example's.
sys.path.insert(0, os.path.join(SRC, "python"))
pytest.register_assert_rewrite("pytest_kiln")
import pytest_kiln  # noqa: E402  (the path above first)

pytest_plugins = ["pytest_kiln"]


def plugin_path(name):
    """The build's backend.so, or a plugin bundled with kiln."""
    if name == "backend":
        return os.path.join(BUILD, "examples", "backend", ".libs", "backend.so")
    return os.path.join(BUILD, "plugins", name, ".libs", name + ".so")


pytest_kiln.configure(binary=os.path.join(BUILD, "kiln"), plugin_path=plugin_path,
                      default_plugins=("backend",))


def load(name, path):
    """The module of kiln's tests/integration/`path`, under `name`."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SRC, "tests",
                                                                     "integration", path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Chromium over the DevTools protocol, as kiln's own browser tests drive it.
kiln_browser = load("kiln_browser", "test_browser.py")


@pytest.fixture
def pg_dsn():
    """The test PostgreSQL's libpq connection string (scripts/services
    start DIR, then . DIR/env); fails when it is not set: never a skip."""
    dsn = os.environ.get("KILN_TEST_PG_DSN", "")
    if not dsn:
        pytest.fail("KILN_TEST_PG_DSN is not set: run through tests/run under scripts/test, "
                    "or start the services with scripts/services start DIR and source DIR/env")
    return dsn


INIT = os.path.join(EXAMPLE, "init", "init.py")
STATIC = os.path.join(EXAMPLE, "static")
SESSION_LIFETIME = 3600


def psql(dsn, sql):
    r = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def backend_db(pg_dsn):
    """A fresh schema of the test database, made by init/init.py --sample:
    the libpq dsn that reaches it (search_path set), for kiln's [postgres]."""
    schema = "backend_" + secrets.token_hex(6)
    r = subprocess.run(["/usr/bin/python3", INIT, "--dsn", pg_dsn, "--schema", schema,
                        "--sample"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    assert "applied sql/migrations/001_sessions.sql" in r.stdout, r.stdout
    yield "%s options='-c search_path=%s'" % (pg_dsn, schema)
    psql(pg_dsn, "DROP SCHEMA %s CASCADE" % schema)


def backend_sections(dsn, **backend):
    section = {"session_lifetime": SESSION_LIFETIME, "static_dir": STATIC}
    section.update(backend)
    return {"postgres": {"dsn": dsn}, "backend": section}


@pytest.fixture
def backend(kiln_factory, backend_db):
    """A kiln running the backend plugin on backend_db, with one worker (its
    WebSocket pushes reach the sockets of the worker that made a change)."""
    return kiln_factory.make(plugins=("backend",), server={"workers": 1},
                             sections=backend_sections(backend_db))
