"""pytest_kiln -- a pytest plugin that runs a real kiln on a loopback port for the tests of a kiln plugin.

Load it from a conftest.py with

    pytest_plugins = ["pytest_kiln"]

and ask for the `kiln_server` fixture:

    def test_greets(kiln_server):
        k = kiln_server(plugin="./greet.so", config={"greet": {"name": "you"}})
        status, headers, body = k.request("/greet")
        assert status == 200 and body == b"hello, you\\n"

The kiln run is the one --kiln=PATH or $KILN_BINARY names, else the
installed one, else `kiln` on PATH.  Each server gets a directory of its own
under the test's tmp_path (config, plugin dir, log, pidfile), listens on an
ephemeral port of 127.0.0.1 and is stopped after the test; a sanitizer report
in its output or log fails the test.
"""

import pytest

from .client import (Background, RawConn, Response, curl, http_request, parse_curl_i,
                     raw_exchange, server_read_all)
from .server import (READY_TIMEOUT, SANITIZER_EXIT, SANITIZER_REPORT, STOP_TIMEOUT, Kiln,
                     KilnFactory, configure, fail_on_sanitizer_report, kiln_binary,
                     plugin_path, require_build, run_kiln, sanitized_build, sanitizer_report)
from .system import children_of, pid_alive, proc_ppid, tcp_socket, wait_until

__all__ = [
    "Background", "RawConn", "Response", "curl", "http_request", "parse_curl_i",
    "raw_exchange", "server_read_all", "READY_TIMEOUT", "SANITIZER_EXIT", "SANITIZER_REPORT",
    "STOP_TIMEOUT", "Kiln", "KilnFactory", "configure", "fail_on_sanitizer_report",
    "kiln_binary", "plugin_path", "require_build", "run_kiln", "sanitized_build",
    "sanitizer_report", "children_of", "pid_alive", "proc_ppid", "tcp_socket", "wait_until",
    "kiln_factory", "kiln_server",
]


def pytest_addoption(parser):
    parser.addoption("--kiln", metavar="PATH", default=None,
                     help="the kiln binary to test (default: $KILN_BINARY, the installed "
                          "kiln, or kiln on PATH)")


def pytest_configure(config):
    if config.getoption("kiln", None):
        configure(binary=config.getoption("kiln"))


@pytest.fixture
def kiln_factory(tmp_path):
    """A KilnFactory: make(plugins=..., server=..., sections=...) starts a
    server in a numbered directory of tmp_path; all are stopped after the test."""
    f = KilnFactory(tmp_path)
    yield f
    f.close()


@pytest.fixture
def kiln_server(kiln_factory):
    """start(plugin=None, config=None, plugins=(), start=True, **kw): a
    started Kiln loading `plugin` (a path to a .so or an installed plugin's
    name) and `plugins`, with `config` {"server": {...}, "NAME": {...}}: keys
    of [server] and sections of their own.  The server has .url, .port,
    .log(), .request(path), .reload(config=None) and .stop()."""
    def start(plugin=None, config=None, plugins=(), start=True, **kw):
        names = ([plugin] if plugin else []) + list(plugins)
        k = kiln_factory.make(start=False, plugins=names or None, **kw)
        if config:
            k.apply_config(config)
            k.write_config()
        if start:
            k.start()
        return k
    return start
