"""Checks of the test suite itself: kiln runs only through conftest's helpers (which scan for sanitizer reports), and RawConn tells a clean close from a reset."""

import ast
import glob
import os
import socket
import struct
import subprocess

from conftest import HERE, SRC, RawConn

# Functions of pytest_kiln (python/pytest_kiln/) that may name the kiln
# binary in a subprocess: the one runner of short-lived kilns, the server
# start, and ldd.
KILN_RUNNERS = {"run_kiln", "start", "sanitized_build"}
PLUGIN_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "python", "pytest_kiln")
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def parse(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def names_in(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def enclosing_functions(tree):
    """{id(node): name of the innermost function holding it} for every node."""
    owner = {}

    def visit(node, fn):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                else fn
            owner[id(child)] = inner
            visit(child, inner)
    visit(tree, None)
    return owner


def test_kiln_runs_only_through_conftest_helpers():
    """The tests name neither the binary (conftest's KILN) nor pytest_kiln's
    kiln_binary(); in pytest_kiln only its runners start the binary."""
    bad = []
    binary_names = {"KILN", "kiln_binary"}
    for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
        tree = parse(path)
        name = os.path.basename(path)
        if name == "conftest.py":
            bad += ["conftest.py:%d runs a subprocess" % n.lineno for n in ast.walk(tree)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.attr in SUBPROCESS_CALLS and names_in(n) & binary_names]
            continue
        bad += ["%s:%d uses %s" % (name, n.lineno, n.id) for n in ast.walk(tree)
                if isinstance(n, ast.Name) and n.id in binary_names]
        bad += ["%s:%d imports the binary" % (name, n.lineno) for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and any(a.name in binary_names for a in n.names)]
    paths = sorted(glob.glob(os.path.join(PLUGIN_DIR, "*.py")))
    assert paths, "no pytest_kiln in %s" % PLUGIN_DIR
    for path in paths:
        tree = parse(path)
        owner = enclosing_functions(tree)
        for n in ast.walk(tree):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.attr in SUBPROCESS_CALLS and "kiln_binary" in names_in(n)
                    and owner.get(id(n)) not in KILN_RUNNERS):
                bad.append("%s:%d runs kiln outside %s"
                           % (os.path.basename(path), n.lineno, KILN_RUNNERS))
    assert bad == [], "kiln must be run through pytest_kiln's run_kiln or Kiln.start:\n" + \
        "\n".join(bad)


def test_closed_within_results_are_compared():
    """closed_within() returns "rst" for a reset, which is true: a bare
    `assert c.closed_within(t)` would pass on a reset."""
    bad = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        tree = parse(path)
        ok = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Compare):
                ok.update(id(x) for x in [n.left] + n.comparators)
            elif isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
                ok.add(id(n.value))
        for n in ast.walk(tree):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                    and n.func.attr == "closed_within" and id(n) not in ok):
                bad.append("%s:%d" % (os.path.basename(path), n.lineno))
    assert bad == [], "closed_within() used as a truth value (use assert_fin): %s" % bad


def listener():
    """A loopback listener for one connection: (socket, port)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    return ls, ls.getsockname()[1]


def test_raw_conn_tells_fin_from_rst():
    # The peer closes at once: with a FIN, or with a reset (SO_LINGER 0).
    for reset, want in ((False, "fin"), (True, "rst")):
        ls, port = listener()
        try:
            with RawConn(port) as c:
                s, _ = ls.accept()
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                assert c.closed_within(2) == want
        finally:
            ls.close()
    ls, port = listener()
    try:
        with RawConn(port) as c:
            s, _ = ls.accept()
            try:
                assert c.closed_within(0.2) is False
            finally:
                s.close()
    finally:
        ls.close()


def test_scripts_run_installs_only_what_building_and_running_need():
    """scripts/run (plain scripts/deps) leaves test tools and benchmark peers
    to scripts/test (--test) and bench/ (--bench)."""
    def packages(*args):
        r = subprocess.run(["bash", os.path.join(SRC, "scripts", "deps"), "--list"] + list(args),
                           stdout=subprocess.PIPE, check=True)
        return set(r.stdout.decode().split())
    base, test = packages(), packages("--test")
    assert {"gcc", "make", "autoconf", "automake", "libtool", "pkg-config", "libev-dev",
            "libhttp-parser-dev", "libinih-dev", "libwebsockets-dev",
            "libwebsockets-evlib-ev", "libpq-dev", "libhiredis-dev", "libjansson-dev",
            "zlib1g-dev"} <= base, base
    # The test services and the clients.
    tools = {"chromium", "valgrind", "wrk", "nginx-light", "curl", "python3-pytest",
             "postgresql", "postgresql-client", "redis-server"}
    assert not tools & base, tools & base
    assert base < test and {"chromium", "valgrind", "python3-pytest", "postgresql",
                            "postgresql-client", "redis-server", "redis-tools"} <= test, test
    assert "nginx-light" in packages("--bench")
