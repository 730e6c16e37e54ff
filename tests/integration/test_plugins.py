"""Tests of plugin loading and config checking: `kiln -t` and refused plugins at start."""

import os
import re

import pytest

LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\w+: ", re.M)


def without_noise(out, *paths):
    """The output with log prefixes and the given paths removed (they hold digits)."""
    out = LOG_PREFIX.sub("", out)
    for p in paths:
        out = out.replace(p, "<path>")
    return out


@pytest.fixture
def make(kiln_factory):
    """Makes an unstarted server; the factory stops (and checks) it after the test."""
    def make(**kw):
        return kiln_factory.make(start=False, **kw)
    return make


def test_check_good(make):
    k = make(plugins=("hello", "inspect", "slow"))
    rc, out = k.check()
    assert rc == 0, out
    assert not os.path.exists(k.pidfile), "kiln -t must not write the pidfile"


def test_check_no_plugins(make):
    k = make(plugins=())
    rc, out = k.check()
    assert rc == 0, out


def test_check_abi_major(make):
    k = make(plugins=("hello", "abi_major"))
    path = os.path.join(k.plugin_dir, "abi_major.so")
    rc, out = k.check()
    assert rc == 1, out
    assert path in out, out
    text = without_noise(out, path, k.dir)
    assert re.search(r"\b2(\.\d+)?\b", text), "plugin's ABI major 2 not named:\n" + out
    assert re.search(r"\b1(\.\d+)?\b", text), "server's ABI major 1 not named:\n" + out


def test_check_no_descriptor(make):
    k = make(plugins=("no_descriptor", "hello"))
    rc, out = k.check()
    assert rc == 1, out
    assert os.path.join(k.plugin_dir, "no_descriptor.so") in out, out
    assert "kiln_plugin" in out, out


def test_check_init_fails(make):
    k = make(plugins=("hello", "init_fails"))
    rc, out = k.check()
    assert rc == 1, out
    assert os.path.join(k.plugin_dir, "init_fails.so") in out, out
    assert "refusing to initialize on purpose" in out, out


def test_check_not_a_shared_object(make):
    k = make(plugins=("hello",))
    bogus = os.path.join(k.plugin_dir, "bogus.so")
    with open(bogus, "w") as f:
        f.write("not an ELF file\n")
    rc, out = k.check()
    assert rc == 1, out
    assert bogus in out, out


def test_check_ignores_other_files(make):
    k = make(plugins=("hello",))
    with open(os.path.join(k.plugin_dir, "README"), "w") as f:
        f.write("not a plugin\n")
    with open(os.path.join(k.plugin_dir, "old.so.bak"), "w") as f:
        f.write("not a plugin\n")
    rc, out = k.check()
    assert rc == 0, out


@pytest.mark.parametrize("plugin", ["abi_major", "no_descriptor", "init_fails"])
def test_start_refused_plugin(make, plugin):
    k = make(plugins=("hello", plugin))
    k.start(wait=False)
    rc = k.wait_exit(10)
    if rc is None:
        k.stop()
        pytest.fail("kiln kept running with a refused plugin\n" + k.describe())
    assert rc == 1, k.describe()
    text = k.log() + k.output()
    assert os.path.join(k.plugin_dir, plugin + ".so") in text, k.describe()
    assert not re.search(r"generation 1 ready", text), k.describe()
    assert k.stop() == 1  # reaps any worker left behind (and fails if one was)


def config_with_line(k, line_text):
    """Writes k's config plus one line at the end of [server]; returns that line's number."""
    base = k.config_text().rstrip("\n").split("\n")
    end = len(base)
    for i, line in enumerate(base):
        if i > 0 and line.startswith("["):
            end = i
            break
    lines = base[:end] + [line_text] + base[end:]
    k.write_config("\n".join(lines) + "\n")
    return end + 1


@pytest.mark.parametrize("line", [
    "bogus_key = 1",
    "workers = many",
    "max_body_size = 12q",
    "header_timeout = soon",
    "this line is not ini",
])
def test_check_bad_config(make, line):
    k = make(plugins=("hello",))
    n = config_with_line(k, line)
    rc, out = k.check()
    assert rc == 1, out
    assert "%s:%d" % (k.conf, n) in out, "expected %s:%d in:\n%s" % (k.conf, n, out)


def test_start_bad_config(make):
    k = make(plugins=("hello",))
    n = config_with_line(k, "bogus_key = 1")
    k.start(wait=False)
    rc = k.wait_exit(10)
    if rc is None:
        k.stop()
        pytest.fail("kiln started with a bad config\n" + k.describe())
    assert rc == 1, k.describe()
    assert "%s:%d" % (k.conf, n) in k.log() + k.output()


def test_check_missing_config(make):
    k = make(plugins=())
    os.unlink(k.conf)
    rc, out = k.check()
    assert rc == 1, out
    assert k.conf in out, out
