"""Tests of the pidfile and of what the config loads with but warns about: the built-in default pidfile, a pidfile added, moved or dropped by a reload, and [server] keys or sections that no one reads."""

import os
import re
import signal

from conftest import run_kiln, wait_until


def read_pid(path):
    with open(path) as f:
        return int(f.read())


def default_pidfile():
    """The built-in pidfile, as `kiln -V` reports it."""
    rc, out, _ = run_kiln(["-V"])
    assert rc == 0, out
    m = re.search(r"^pidfile: (.*)$", out, re.M)
    assert m, out
    return m.group(1)


def reload(k, generation):
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(generation, since=mark)
    return mark


# -- the pidfile across reloads ---------------------------------------------------------


def test_pidfile_added_moved_and_dropped_by_reloads(kiln_factory):
    k = kiln_factory.make(plugins=("hello",), server={"pidfile": ""})
    assert not os.path.exists(k.pidfile)
    assert k.signal_command("reload")[0] == 1
    # Added: written at the reload that reads it, and `kiln -s` finds the master.
    k.server["pidfile"] = k.pidfile
    k.write_config()
    mark = reload(k, 2)
    k.wait_log(r"pidfile %s written" % re.escape(k.pidfile), since=mark)
    assert read_pid(k.pidfile) == k.pid
    mark = k.mark()
    assert k.signal_command("reload") == (0, "")
    k.wait_ready(3, since=mark)
    # Moved: the new file is written, the old one removed.
    other = os.path.join(k.dir, "other.pid")
    k.server["pidfile"] = other
    k.write_config()
    mark = reload(k, 4)
    k.wait_log(r"pidfile %s written instead of %s" % (re.escape(other), re.escape(k.pidfile)),
               since=mark)
    assert read_pid(other) == k.pid and not os.path.exists(k.pidfile)
    # Dropped: "pidfile =" with no value removes it.
    k.server["pidfile"] = ""
    k.write_config()
    mark = reload(k, 5)
    k.wait_log(r"pidfile %s removed" % re.escape(other), since=mark)
    assert not os.path.exists(other)
    assert k.stop() == 0


def test_unwritable_pidfile_on_reload_keeps_the_old_one(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    k.server["pidfile"] = os.path.join(k.dir, "no-such-dir", "kiln.pid")
    k.write_config()
    mark = reload(k, 2)
    k.wait_log(r"\[error\].*writing pidfile .*no-such-dir/kiln.pid failed: No such file "
               r"or directory; keeping %s" % re.escape(k.pidfile), since=mark)
    assert read_pid(k.pidfile) == k.pid
    assert k.get_text("/P") == (200, "Hello, P")
    assert k.stop() == 0
    assert not os.path.exists(k.pidfile)


def test_pidfile_of_another_master_is_left_alone(kiln_factory):
    # Two masters given the same pidfile: the one that stops first must not
    # remove the file the other one wrote last.
    a = kiln_factory.make(plugins=("hello",))
    b = kiln_factory.make(plugins=("hello",), server={"pidfile": a.pidfile})
    assert read_pid(a.pidfile) == b.pid
    assert a.stop() == 0
    assert read_pid(a.pidfile) == b.pid
    assert b.stop() == 0
    assert not os.path.exists(a.pidfile)


def test_explicit_unwritable_pidfile_fails_the_start(kiln_factory):
    bad = os.path.join(kiln_factory.base, "no-such-dir", "kiln.pid")
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfile": bad})
    k.start(wait=False)
    assert k.wait_exit(10) == 1, k.describe()
    assert "writing pidfile %s failed: No such file or directory" % bad in k.output(), \
        k.describe()


def test_default_pidfile(kiln_factory):
    path = default_pidfile()
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfile": None})
    assert "\npidfile" not in k.config_text()
    if os.path.isdir(os.path.dirname(path)) and not os.path.exists(path):
        # An installed layout: the default is written, and `kiln -s` uses it.
        k.start()
        assert read_pid(path) == k.pid
        mark = k.mark()
        assert k.signal_command("reload") == (0, "")
        k.wait_ready(2, since=mark)
        assert k.stop() == 0
        assert not os.path.exists(path)
    else:
        # The default cannot be written here: a warning, and the server serves.
        k.start()
        k.wait_log(r"\[warn\].*writing pidfile %s failed: .*\(the default pidfile; set "
                   r"pidfile in \[server\]" % re.escape(path))
        assert k.get_text("/D") == (200, "Hello, D")
        assert k.stop() == 0


# -- warnings ---------------------------------------------------------------------------


SERVER_KEY_IN_SECTION = (r'kiln\.conf:(\d+): "pidfile" is a \[server\] key, but it is in '
                         r'\[hello\], where only the plugin named hello reads it')
UNCLAIMED = r"kiln\.conf:(\d+): \[helo\] names no loaded plugin"


def misplaced(k):
    """The config of README's `echo 'pidfile = ...' >> kiln.conf` mistake, and a typo'd
    section.  The line numbers the warnings must name."""
    text = k.config_text() + "\n[hello]\npidfile = %s\n[helo]\ngreeting = Hi\n" % k.pidfile
    k.write_config(text)
    lines = text.split("\n")
    key = len(lines) - lines[::-1].index("pidfile = %s" % k.pidfile)
    return key, lines.index("[helo]") + 2


def test_config_test_warns_with_file_and_line(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfile": None})
    key_line, section_line = misplaced(k)
    rc, out = k.check()
    assert rc == 0, out
    assert "[warn]" in out
    m = re.search(SERVER_KEY_IN_SECTION, out)
    assert m and int(m.group(1)) == key_line, out
    m = re.search(UNCLAIMED, out)
    assert m and int(m.group(1)) == section_line, out
    assert "test is successful" in out


def test_start_and_reload_warn_once_each(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",))
    key_line, section_line = misplaced(k)
    k.start()
    wait_until(lambda: re.search(UNCLAIMED, k.log()), 5)
    log = k.log()
    assert [int(x) for x in re.findall(SERVER_KEY_IN_SECTION, log)] == [key_line], k.describe()
    # Only one of the two workers reports the sections no plugin claims.
    assert [int(x) for x in re.findall(UNCLAIMED, log)] == [section_line], k.describe()
    mark = reload(k, 2)
    after = k.log()[mark:]
    assert len(re.findall(SERVER_KEY_IN_SECTION, after)) == 1, k.describe()
    assert len(re.findall(UNCLAIMED, after)) == 1, k.describe()
    assert k.stop() == 0


def test_unknown_server_key_is_an_error(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfle": "/tmp/x"})
    rc, out = k.check()
    lines = k.config_text().split("\n")
    line = [i for i, l in enumerate(lines) if l.startswith("pidfle")][0] + 1
    assert rc == 1 and 'kiln.conf:%d: unknown key "pidfle" in [server]' % line in out, out
