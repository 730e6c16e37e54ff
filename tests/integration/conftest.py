"""kiln's own fixtures: the pytest_kiln plugin of python/ (a real kiln from a temporary config, on loopback) run on the build tree's binary and plugins, and the test services."""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("KILN_BUILD", ROOT))
SRC = os.path.abspath(os.environ.get("KILN_SRC", ROOT))
KILN = os.path.join(BUILD, "kiln")

# The plugin of this source tree, not one installed elsewhere.
sys.path.insert(0, os.path.join(ROOT, "python"))
pytest.register_assert_rewrite("pytest_kiln")

from pytest_kiln import (  # noqa: E402  (the path above first)
    READY_TIMEOUT, SANITIZER_EXIT, SANITIZER_REPORT, STOP_TIMEOUT, Background, Kiln,
    KilnFactory, RawConn, Response, children_of, configure, curl, fail_on_sanitizer_report,
    http_request, pid_alive, plugin_path, proc_ppid, parse_curl_i, raw_exchange,
    require_build, run_kiln, sanitized_build, sanitizer_report, server_read_all, tcp_socket,
    wait_until)

pytest_plugins = ["pytest_kiln"]

__all__ = [
    "HERE", "ROOT", "BUILD", "SRC", "BUNDLED", "READY_TIMEOUT", "SANITIZER_EXIT",
    "SANITIZER_REPORT", "STOP_TIMEOUT", "Background", "Kiln", "KilnFactory", "RawConn",
    "Response", "children_of", "curl", "fail_on_sanitizer_report", "http_request",
    "pid_alive", "plugin_path", "proc_ppid", "parse_curl_i", "raw_exchange", "require_build",
    "run_kiln", "sanitized_build", "sanitizer_report", "server_read_all", "tcp_socket",
    "wait_until", "service_env", "services",
]

# Plugins shipped with kiln (plugins/NAME/); the others are test plugins.
BUNDLED = ("hello", "echo", "sleep", "counter", "hash", "db", "static", "accesslog", "cors",
           "permissions", "error_pages")
# The example applications (examples/NAME/), each one plugin.
EXAMPLES = ("backend",)


def build_plugin_path(name):
    """Where the build leaves the shared object of plugin `name`."""
    if name in BUNDLED:
        return os.path.join(BUILD, "plugins", name, ".libs", name + ".so")
    if name in EXAMPLES:
        return os.path.join(BUILD, "examples", name, ".libs", name + ".so")
    return os.path.join(BUILD, "tests", "plugins", ".libs", name + ".so")


# The build's kiln and plugins; a server that names no plugin loads hello.
configure(binary=KILN, plugin_path=build_plugin_path, default_plugins=("hello",))


# Modules whose tests stop or restart the shared test services, and the
# fixtures that use those services: with pytest-xdist (tests/run's
# KILN_TEST_JOBS) all of these run in one process, one after another.
SERVICE_MODULES = ("test_pg.py", "test_redis.py", "test_services.py")
SERVICE_FIXTURES = ("pg_dsn", "redis_addr")


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): run in one pytest-xdist process")


def pytest_collection_modifyitems(items):
    for item in items:
        if (os.path.basename(str(item.fspath)) in SERVICE_MODULES
                or set(SERVICE_FIXTURES) & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.xdist_group("services"))


# -- the test services (scripts/services) ------------------------------------------

SERVICES_HINT = ("run through scripts/test, or start the services with "
                 "scripts/services start DIR and source DIR/env")


def service_env(name):
    """The value scripts/services wrote for `name` (DIR/env); fails the test
    when it is not set: a test that needs a service never skips.  DIR/env is
    read again when it exists: `services("up", ...)` rewrites it with the
    restarted server's pid."""
    value = os.environ.get(name, "")
    d = os.environ.get("KILN_TEST_SERVICES_DIR", "")
    try:
        with open(os.path.join(d, "env")) if d else open(os.devnull) as f:
            for line in f:
                m = re.match(r"export %s='?([^']*)'?$" % re.escape(name), line.strip())
                if m:
                    value = m.group(1)
    except FileNotFoundError:
        pass
    if not value:
        pytest.fail("%s is not set: %s" % (name, SERVICES_HINT))
    return value


@pytest.fixture
def pg_dsn():
    """The libpq connection string of the test PostgreSQL's kiln_test
    database ("host=127.0.0.1 port=N dbname=kiln_test user=kiln")."""
    return service_env("KILN_TEST_PG_DSN")


@pytest.fixture
def redis_addr():
    """The test redis-server's address, "127.0.0.1:N"."""
    return service_env("KILN_TEST_REDIS")


def services(cmd, which):
    """scripts/services down|up DIR pg|redis on the suite's services: stops
    the PostgreSQL or Redis server, or starts it again on its port with its
    data (for a test of a database restarted under traffic; the test brings
    it back up, in a finally)."""
    d = service_env("KILN_TEST_SERVICES_DIR")
    subprocess.run(["bash", os.path.join(SRC, "scripts", "services"), cmd, d, which],
                   check=True, stdin=subprocess.DEVNULL, timeout=120)
