"""What `make install DESTDIR=...` of the build puts on a system: the systemd unit and the logrotate rules with the configured paths (verified by systemd-analyze and logrotate, and a real rotation of a running kiln's log), and pytest_kiln, which tests an out-of-tree plugin built with pkg-config."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, wait_until

# The configured directories the checks compare the installed files with.
DIRS = ("prefix", "sbindir", "sysconfdir", "localstatedir", "pkgconfigdir", "pythondir",
        "plugindir", "systemdsystemunitdir", "logdir", "logrotatedir")


def make_env():
    """The environment of a make run apart from the one running this suite."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES")}


def make_vars(tmp):
    """The build's Makefile variables DIRS, expanded."""
    mk = os.path.join(tmp, "print.mk")
    with open(mk, "w") as f:
        f.write("print:\n" + "".join("\t@echo '%s=$(%s)'\n" % (v, v) for v in DIRS))
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", BUILD, "-f", "Makefile",
                        "-f", mk, "print"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=make_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(DESTDIR, the configured directories) after `make install DESTDIR=...`."""
    tmp = str(tmp_path_factory.mktemp("install"))
    dest = os.path.join(tmp, "root")
    r = subprocess.run(["make", "-s", "-C", BUILD, "install", "DESTDIR=" + dest],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=make_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest, make_vars(tmp)


def staged(dest, path):
    return dest + path


def test_unit_names_the_installed_paths(installed, tmp_path):
    dest, d = installed
    assert d["systemdsystemunitdir"], \
        "configure found no systemd unit directory (Debian 12's systemd has systemd.pc)"
    unit_path = staged(dest, os.path.join(d["systemdsystemunitdir"], "kiln.service"))
    with open(unit_path) as f:
        unit = f.read()
    kiln, conf = os.path.join(d["sbindir"], "kiln"), os.path.join(d["sysconfdir"], "kiln",
                                                                  "kiln.conf")
    assert "\nExecStart=%s -c %s\n" % (kiln, conf) in unit, unit
    assert "\nExecStartPre=%s -t -c %s\n" % (kiln, conf) in unit, unit
    assert "@" not in unit, "unfilled @NAME@ in kiln.service"
    assert os.access(staged(dest, kiln), os.X_OK) and os.path.isfile(staged(dest, conf))

    # systemd-analyze verify, in a root holding the unit, what it starts
    # (at the paths it names) and the targets it refers to.
    root = str(tmp_path / "root")
    units = os.path.join(root, "lib", "systemd", "system")
    os.makedirs(units)
    shutil.copy(unit_path, units)
    for target in ("sysinit.target", "basic.target", "multi-user.target", "network.target",
                   "shutdown.target", "sockets.target", "timers.target", "paths.target",
                   "slices.target", "system.slice", "-.slice", "local-fs.target", "swap.target"):
        if os.path.exists(os.path.join("/lib/systemd/system", target)):
            shutil.copy(os.path.join("/lib/systemd/system", target), units)
    for prog, src in ((kiln, staged(dest, kiln)), ("/bin/kill", "/bin/kill")):
        os.makedirs(os.path.dirname(root + prog), exist_ok=True)
        shutil.copy(src, root + prog)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "--root=" + root,
                        os.path.join(units, "kiln.service")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr


def logrotate_rules(dest, d):
    path = staged(dest, os.path.join(d["logrotatedir"], "kiln"))
    with open(path) as f:
        return path, f.read()


def test_logrotate_rules_name_the_installed_paths_and_parse(installed, tmp_path):
    dest, d = installed
    path, rules = logrotate_rules(dest, d)
    assert d["logrotatedir"] == os.path.join(d["sysconfdir"], "logrotate.d")
    assert rules.count("{") == 1 and "\n%s/*.log {\n" % d["logdir"] in rules, rules
    for word in ("delaycompress", "missingok", "notifempty", "sharedscripts"):
        assert re.search(r"^\s+%s$" % word, rules, re.M), "no %s in %s" % (word, path)
    reopen = "%s -c %s -s reopen" % (os.path.join(d["sbindir"], "kiln"),
                                     os.path.join(d["sysconfdir"], "kiln", "kiln.conf"))
    assert re.search(r"postrotate\n\s+%s\b.*\n\s+endscript" % re.escape(reopen), rules), rules
    assert os.path.isdir(staged(dest, d["logdir"])), "make install made no %s" % d["logdir"]
    r = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), path],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "rotating pattern: %s/*.log" % d["logdir"] in out, out
    assert not re.search(r"^error", out, re.M | re.I), out


def test_logrotate_rotates_a_running_kilns_logs(installed, kiln_factory, tmp_path):
    """The installed rules, with the log directory and kiln.conf those of a
    running test server (and the staged binary), rotate its log and its
    access log twice: kiln reopens both and writes on in the new files;
    delaycompress leaves the newest old log plain and compresses the one
    before."""
    dest, d = installed
    k = kiln_factory.make(start=False, plugins=("hello", "accesslog"))
    logs = os.path.dirname(k.log_path)
    access = os.path.join(logs, "access.log")
    k.sections["accesslog"] = {"path": access, "buffer": 0, "format": "%r %s"}
    k.write_config()
    k.start()
    _, rules = logrotate_rules(dest, d)
    rules = "".join(line for line in rules.splitlines(True) if not line.startswith("#"))
    kiln = os.path.join(d["sbindir"], "kiln")
    conf = os.path.join(d["sysconfdir"], "kiln", "kiln.conf")
    rules = (rules.replace(d["logdir"] + "/", logs + "/").replace(kiln, staged(dest, kiln))
             .replace(conf, k.conf))
    assert rules.count(logs + "/*.log {") == 1 and rules.count(k.conf) == 1, rules
    (tmp_path / "kiln.logrotate").write_text(rules)
    state = str(tmp_path / "state")

    def accessed():
        try:
            with open(access) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    for n in (1, 2):
        assert k.request("/before-%d" % n)[0] == 200
        assert wait_until(lambda: "GET /before-%d " % n in accessed(), 5), accessed()
        r = subprocess.run(["logrotate", "-f", "-s", state, str(tmp_path / "kiln.logrotate")],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        # The master and each worker log the reopen into the new file.
        k.wait_log(r"#master: log file reopened", timeout=5)
        for pid in k.worker_pids():
            k.wait_log(r"\b%d#worker: log file reopened" % pid, timeout=5)
        assert k.request("/after-%d" % n)[0] == 200
        assert wait_until(lambda: "GET /after-%d " % n in accessed(), 5), accessed()
        assert "/before-%d " % n not in accessed(), "the access log was not rotated"
    with open(k.log_path + ".1") as f:
        old = f.read()
    with open(access + ".1") as f:
        old_access = f.read()
    assert k.log().count("#master: log file reopened") == 1, k.log()
    assert "log file reopened" in old, "the first rotation's file is not kiln.log.1:\n" + old
    assert "GET /after-1 " in old_access and "/before-2 " in old_access, old_access
    for path in (k.log_path, access):
        assert os.path.isfile(path + ".2.gz"), os.listdir(logs)
        assert not os.path.exists(path + ".1.gz"), "delaycompress compressed %s.1" % path
    assert "generation 1 ready" not in k.log(), "kiln still writes into the rotated file"


GREET_C = r"""
#include <kiln.h>

static int greet(kiln_req *req, void *data)
{
    return kiln_text(req, 200, "%s, %s!", (const char *)data, kiln_match(req, "name"));
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/greet/{name}", greet,
                        (void *)kiln_config(app, "greeting", "Hello"));
}

KILN_PLUGIN("greet", init, NULL);
"""

# A plugin author's tests: conftest.py loads pytest_kiln, as README says.
AUTHOR_CONFTEST = 'pytest_plugins = ["pytest_kiln"]\n'
AUTHOR_TESTS = r'''
import os
import pytest_kiln


def test_the_installed_module_runs():
    assert pytest_kiln.__file__.startswith(os.environ["EXPECT_SITE"]), pytest_kiln.__file__
    assert pytest_kiln.kiln_binary() == os.environ["EXPECT_KILN"]


def test_greets(kiln_server):
    k = kiln_server(plugin="./greet.so", config={"greet": {"greeting": "Howdy"}})
    assert k.url == "http://127.0.0.1:%d" % k.port
    status, _, body = k.request("/greet/Alice")
    assert (status, body) == (200, b"Howdy, Alice!")
    assert k.reload(config={"greet": {"greeting": "Hi"}}) == 2
    assert k.request("/greet/Bob")[2] == b"Hi, Bob!"
    assert "generation 2 ready" in k.log()
    assert k.stop() == 0


def test_a_wrong_answer_fails(kiln_server):
    k = kiln_server(plugin="greet.so")
    assert k.request("/greet/Alice")[2] == b"Goodbye, Alice!"
'''


def test_pytest_kiln_tests_an_out_of_tree_plugin(installed, tmp_path):
    """The installed pytest_kiln (on PYTHONPATH, as it would be on sys.path
    after a real install) runs a plugin author's tests: the plugin is built
    with `pkg-config kiln` of the staged install, and kiln is the staged one,
    given by --kiln (or KILN_BINARY).  Of the author's three tests the last one must fail."""
    dest, d = installed
    work = tmp_path / "author"
    work.mkdir()
    (work / "greet.c").write_text(GREET_C)
    env = dict(os.environ, PKG_CONFIG_PATH=staged(dest, d["pkgconfigdir"]),
               PKG_CONFIG_SYSROOT_DIR=dest)
    cflags = subprocess.run(["pkg-config", "--cflags", "kiln"], capture_output=True, text=True,
                            env=env, check=True, timeout=30).stdout.split()
    r = subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"] + cflags +
                       ["-o", "greet.so", "greet.c"], cwd=str(work), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (work / "conftest.py").write_text(AUTHOR_CONFTEST)
    (work / "test_greet.py").write_text(AUTHOR_TESTS)
    site = staged(dest, d["pythondir"])
    kiln = staged(dest, os.path.join(d["sbindir"], "kiln"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "KILN_"))}
    env.update(PYTHONPATH=site, EXPECT_SITE=site + "/pytest_kiln/", EXPECT_KILN=kiln,
               PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--kiln=" + kiln, "-rf"], cwd=str(work), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, timeout=240)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and re.search(r"\b1 failed, 2 passed\b", out), out
    assert "FAILED test_greet.py::test_a_wrong_answer_fails" in out, out
    assert "b'Hello, Alice!' == b'Goodbye, Alice!'" in out, out

    # KILN_BINARY names the binary as --kiln does.
    env["KILN_BINARY"] = kiln
    r = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-k", "installed_module"], cwd=str(work), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and re.search(r"\b1 passed\b", r.stdout), r.stdout + r.stderr
