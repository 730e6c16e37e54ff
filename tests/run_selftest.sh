#!/usr/bin/env bash
# tests/run_selftest.sh -- checks that tests/run fails on a build that did not really run its tests (missing programs, short TAP plans, fuzz corpora not replayed, nothing collected, refused skips).
#
# Usage: bash tests/run_selftest.sh    (about 5 s; scripts/test runs it)
# Builds small fake trees in a temp dir, each a KILN_SRC with its
# tests/unit/test_*.c and tests/integration/test_*.py and a KILN_BUILD with
# stand-in unit programs (shell scripts printing TAP), runs tests/run on each
# and compares its exit status and last line with what it owes.  Prints TAP
# and ends with "N passed, N failed".
set -uo pipefail

RUN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-runtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0
bad=0

# tree NAME: a fresh source and build dir under $TMP/NAME; sets SRC and BLD.
tree() {
    SRC=$TMP/$1/src BLD=$TMP/$1/build
    mkdir -p "$SRC/tests/unit" "$SRC/tests/integration" "$BLD/tests/unit"
}

# unit NAME BODY: a unit test source and a stand-in program running BODY (sh).
unit() {
    : >"$SRC/tests/unit/$1.c"
    printf '#!/bin/sh\n%s\n' "$2" >"$BLD/tests/unit/$1"
    chmod +x "$BLD/tests/unit/$1"
}

# pyfile NAME TEXT: an integration test file.
pyfile() {
    printf '%s\n' "$2" >"$SRC/tests/integration/$1.py"
}

PASSING='def test_one():
    assert 1 + 1 == 2'

# expect WHAT RC LAST [CI]: runs tests/run on SRC/BLD; its exit status must be
# RC (0, or 1 for "non-zero") and its last line LAST.
expect() {
    local what=$1 want_rc=$2 want_last=$3 out rc last
    out=$(CI=${4:-} KILN_CHECK=${CHECK:-} KILN_SMOKE=${SMOKE_FILES:-} KILN_SRC=$SRC KILN_BUILD=$BLD bash "$RUN" 2>&1)
    rc=$?
    [ "$rc" -ne 0 ] && rc=1
    last=$(printf '%s\n' "$out" | tail -n 1)
    n=$((n + 1))
    if [ "$rc" = "$want_rc" ] && [ "$last" = "$want_last" ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what: exit $rc, last line \"$last\"; want exit $want_rc, \"$want_last\""
        printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
        bad=$((bad + 1))
    fi
}

tree good
unit test_a 'echo "ok 1 - a"; echo "ok 2 - b"; echo "1..2"'
pyfile test_x "$PASSING"
expect "a good build passes" 0 "3 passed, 0 failed"

tree empty
expect "an empty build fails" 1 "0 passed, 2 failed"

tree short_plan
unit test_a 'echo "ok 1 - a"; echo "1..3"'
pyfile test_x "$PASSING"
expect "fewer oks than the plan fail" 1 "2 passed, 1 failed"

tree no_plan
unit test_a 'echo "ok 1 - a"'
pyfile test_x "$PASSING"
expect "a missing plan fails" 1 "2 passed, 1 failed"

tree exit_status
unit test_a 'echo "ok 1 - a"; echo "1..1"; exit 3'
pyfile test_x "$PASSING"
expect "a non-zero exit with all ok fails" 1 "2 passed, 1 failed"

tree not_ok
unit test_a 'echo "ok 1 - a"; echo "not ok 2 - b"; echo "1..2"; exit 1'
pyfile test_x "$PASSING"
expect "a not ok fails" 1 "2 passed, 1 failed"

tree missing_unit
unit test_a 'echo "ok 1 - a"; echo "1..1"'
: >"$SRC/tests/unit/test_b.c"
pyfile test_x "$PASSING"
expect "a unit test that was not built fails" 1 "2 passed, 1 failed"

# fuzz NAME BODY: a fuzz harness source, its corpus, and a stand-in replayer
# running BODY (sh; "$@" are the directories it is given).
fuzz() {
    mkdir -p "$SRC/tests/fuzz/corpus/fuzz_$1" "$BLD/tests/fuzz"
    : >"$SRC/tests/fuzz/fuzz_$1.c"
    : >"$SRC/tests/fuzz/corpus/fuzz_$1/seed"
    printf '#!/bin/sh\n%s\n' "$2" >"$BLD/tests/fuzz/replay_$1"
    chmod +x "$BLD/tests/fuzz/replay_$1"
}

tree fuzz_replayed
unit test_a 'echo "ok 1 - a"; echo "1..1"'
fuzz x 'for d; do test -f "$d/seed" || exit 1; done; echo "ok 1 - corpus"; echo "1..1"'
pyfile test_x "$PASSING"
expect "a fuzz corpus replayed passes" 0 "3 passed, 0 failed"

tree fuzz_not_built
unit test_a 'echo "ok 1 - a"; echo "1..1"'
fuzz x 'echo "ok 1 - corpus"; echo "1..1"'
rm "$BLD/tests/fuzz/replay_x"
pyfile test_x "$PASSING"
expect "a fuzz harness whose replayer was not built fails" 1 "2 passed, 1 failed"

tree fuzz_crash
unit test_a 'echo "ok 1 - a"; echo "1..1"'
fuzz x 'kill -SEGV $$'
pyfile test_x "$PASSING"
expect "a replayer that crashes fails" 1 "2 passed, 2 failed"

tree no_integration
unit test_a 'echo "ok 1 - a"; echo "1..1"'
expect "no integration test file fails" 1 "1 passed, 1 failed"

tree nothing_collected
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x 'X = 1'
expect "pytest collecting nothing fails" 1 "1 passed, 1 failed"

tree example
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x "from conftest import WHERE
def test_one():
    assert WHERE == 'kiln'"
pyfile conftest "WHERE = 'kiln'"
mkdir -p "$SRC/examples/app/tests"
printf '%s\n' "WHERE = 'app'" >"$SRC/examples/app/tests/conftest.py"
printf '%s\n' "from conftest import WHERE" "def test_y():" "    assert WHERE == 'app'" \
    "def test_z():" "    assert WHERE == 'elsewhere'" >"$SRC/examples/app/tests/test_y.py"
expect "an example's tests run, with their own conftest" 1 "3 passed, 1 failed"

tree failing_py
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x "$PASSING
def test_two():
    assert 1 + 1 == 3"
expect "a failing integration test fails" 1 "2 passed, 1 failed"

tree skip
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x "import pytest
$PASSING
@pytest.mark.skipif(True, reason=\"no such thing here\")
def test_two():
    pass"
expect "a skip outside CI passes" 0 "2 passed, 0 failed"
expect "a skip not on the allow-list fails in CI" 1 "2 passed, 1 failed" true

tree allowed_skip
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_valgrind "import pytest
$PASSING
@pytest.mark.skipif(True, reason=\"the sanitizer build runs under ASan instead\")
def test_two():
    pass
@pytest.mark.skipif(True, reason=\"valgrind is not installed\")
def test_three():
    pass"
expect "an allowed skip passes in CI, another reason for the same test does not" \
    1 "2 passed, 1 failed" true

# KILN_CHECK=smoke (make distcheck): only the smoke files run, but a file
# that does not import fails the run, and so does a smoke file that is gone.
tree smoke
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x "$PASSING"
pyfile test_y 'def test_not_run():
    assert False'
CHECK=smoke SMOKE_FILES=test_x.py expect "a smoke run runs only its files" 0 "2 passed, 0 failed"
pyfile test_z 'import no_such_module'
CHECK=smoke SMOKE_FILES=test_x.py expect "a smoke run fails on a file that does not import" \
    1 "2 passed, 1 failed"
tree smoke_gone
unit test_a 'echo "ok 1 - a"; echo "1..1"'
pyfile test_x "$PASSING"
CHECK=smoke SMOKE_FILES="test_x.py test_gone.py" expect "a smoke run fails on a missing smoke file" \
    1 "2 passed, 1 failed"

echo "1..$n"
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
