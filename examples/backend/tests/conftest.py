"""Fixtures of the notes example's tests: kiln's own (tests/integration/conftest.py: a real kiln on an ephemeral loopback port, the test PostgreSQL), a schema of the test database made by init/init.py with the sample data, and a kiln serving the backend plugin on it."""

import importlib.util
import os
import secrets
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.dirname(HERE)
SRC = os.path.dirname(os.path.dirname(EXAMPLE))



def load(name, path):
    """The module of tests/integration/`path`, under `name` (this file is
    "conftest" too, so kiln's conftest cannot be imported as such)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SRC, "tests",
                                                                     "integration", path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


kiln_conftest = load("kiln_conftest", "conftest.py")
# Chromium over the DevTools protocol, as kiln's own browser tests drive it.
kiln_browser = load("kiln_browser", "test_browser.py")
kiln_factory = kiln_conftest.kiln_factory
pg_dsn = kiln_conftest.pg_dsn

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
