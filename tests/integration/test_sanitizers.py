"""Sanitizer reports fail the tests: a plugin that leaks on purpose is caught in `kiln -t`, in a reload's plugin check and in a worker, each with the sanitizers' own exit status (a sanitizer build only)."""

import os
import signal

import pytest

from conftest import SANITIZER_EXIT, run_kiln, sanitized_build

pytestmark = pytest.mark.skipif(not sanitized_build(), reason="not a sanitizer build")


def test_sanitizers_exit_with_their_own_status():
    # What scripts/test sets: a sanitizer exit is never kiln's exit 1.
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        opts = os.environ.get(var, "").split(":")
        assert "exitcode=%d" % SANITIZER_EXIT in opts, "%s=%r" % (var, os.environ.get(var))


def test_leak_in_kiln_t_fails_the_test(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello", "leak"))
    with pytest.raises(pytest.fail.Exception) as e:
        k.check()
    assert "LeakSanitizer: detected memory leaks" in str(e.value), str(e.value)
    rc, out, _ = run_kiln(["-t", "-c", k.conf], merge=True, expect_report=True)
    assert rc == SANITIZER_EXIT, out


def test_leak_in_the_reload_check_fails_the_reload(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    k.install_plugin("leak")
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"reload failed: the plugin check exited with code %d" % SANITIZER_EXIT,
               timeout=10, since=mark)
    report = k.take_sanitizer_reports()
    assert report is not None, k.describe()
    assert "LeakSanitizer: detected memory leaks" in report, report
    assert "check_child" in report, report
    # Without the leaking plugin the check passes, and nothing else leaked.
    k.remove_plugin("leak")
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, timeout=10, since=mark)
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert k.stop() == 0


def test_leak_in_a_worker_fails_its_stop(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "leak"), server={"workers": 1})
    assert k.get_text("/leak") == (200, "leaked")
    k.signal(signal.SIGTERM)
    with pytest.raises(pytest.fail.Exception) as e:
        k.wait_exit(10)
    assert "LeakSanitizer: detected memory leaks" in str(e.value), str(e.value)
    assert k.take_sanitizer_reports() is not None
