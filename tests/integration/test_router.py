"""Tests of the router through the routes test plugin: typed captures, named routes and URL building, mounts, path normalization, kiln -t --routes."""

import pytest

from conftest import KilnFactory


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("router"))
    k = f.make(plugins=("routes",))
    yield k
    f.close()


@pytest.mark.parametrize("path,expected", [
    ("/notes/1", "note 1"),
    ("/notes/-42", "note -42"),
    ("/notes/0007", "note 7"),
    ("/notes/9223372036854775807", "note 9223372036854775807"),
    ("/notes/-9223372036854775808", "note -9223372036854775808"),
])
def test_int_capture(srv, path, expected):
    assert srv.get_text(path) == (200, expected)


@pytest.mark.parametrize("path", [
    "/notes/abc", "/notes/1x", "/notes/+1", "/notes/-", "/notes/1.5", "/notes/%201",
    "/notes/9223372036854775808", "/notes/-9223372036854775809",
    "/notes/99999999999999999999999",
])
def test_int_capture_refuses(srv, path):
    st, _ = srv.get_text(path)
    assert st == 404


@pytest.mark.parametrize("value,expected", [
    ("17", "17"), ("-3", "-3"), ("x", "-1"), ("12x", "-1"), ("99999999999999999999", "-1"),
])
def test_match_int_of_a_plain_capture(srv, value, expected):
    assert srv.get_text("/int/" + value) == (200, expected)
