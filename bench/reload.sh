#!/usr/bin/env bash
# Measures kiln's reloads under wrk load: requests served and failed during 10 SIGHUPs, the time from a signal to the first answer of the new workers, and the same for a SIGUSR2 binary upgrade.
#
# Usage: bench/reload.sh      (after `make check`, which builds the hello2 test plugin)
# Environment: KILN_BUILD (build dir, default: the repo root), DURATION (seconds
# of each wrk run during the HUPs, 12), RELOADS (10), CONNS (wrk -c, 32),
# THREADS (wrk -t, 2), WORKERS (2), URL_PATH (what wrk requests, /),
# MODES (the runs, in order: keepalive close usr2; also steady),
# KEEP_TMP (1: keep the temp dir).
#
# The runs, each against a fresh kiln on 127.0.0.1:
#   steady     wrk over persistent connections for DURATION seconds, no signal
#              (the reference for keepalive's req/s; not run by default)
#   keepalive  wrk over persistent connections while RELOADS SIGHUPs are sent
#   close      the same with "Connection: close" (a new connection per request)
#   usr2       wrk over persistent connections through SIGUSR2, SIGWINCH to the
#              old master, then SIGQUIT to it
# Before each signal the hello plugin is swapped with tests/plugins/hello2
# (which answers "Hi, ..." instead of "Hello, ..."), so a poller that opens a
# new connection every millisecond or so sees when the new workers answer:
# that is the "signal -> new code" time.  Failed = wrk's socket errors (connect,
# read, write, timeout) + non-2xx responses; served = the 2xx answers.  A run
# with a failed request, a failed reload, a signal whose new code never
# answered or an old master left running is marked FAILED in the summary, and
# the script exits 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KILN_BUILD=${KILN_BUILD:-$(cd "$HERE/.." && pwd)}
KILN=$KILN_BUILD/kiln
HELLO=$KILN_BUILD/plugins/hello/.libs/hello.so
HELLO2=$KILN_BUILD/tests/plugins/.libs/hello2.so
DURATION=${DURATION:-12}
RELOADS=${RELOADS:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
URL_PATH=${URL_PATH:-/}
WRK_LIMIT=120            # seconds any one wrk run may take before it is killed

ME=reload.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
[ -f "$HELLO" ] || die "$HELLO not found: build kiln first"
[ -f "$HELLO2" ] || die "$HELLO2 not found: run 'make check TESTS=' first"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 not found"
[[ $DURATION =~ ^[1-9][0-9]?$ ]] || die "DURATION must be 1..99 seconds"
[[ $RELOADS =~ ^[1-9][0-9]?$ ]] || die "RELOADS must be 1..99"

[[ $URL_PATH == /* ]] || die "URL_PATH must start with /"
MODES=${MODES:-keepalive close usr2}
for m in $MODES; do
    case $m in steady|keepalive|close|usr2) ;; *) die "MODES: unknown run \"$m\" (steady, keepalive, close, usr2)" ;; esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-reload.XXXXXX")
PIDS=()                  # every master this script started or saw started
SUMMARY=()               # one "run served failed problems" line per run

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 1
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# start_kiln NAME: a kiln with only hello.so, in $TMP/NAME; sets DIR, PORT, MASTER.
start_kiln() {
    DIR=$TMP/$1
    PORT=$(free_port)
    mkdir -p "$DIR/plugins"
    cp "$HELLO" "$DIR/plugins/hello.so"
    kiln_conf "$DIR" "$PORT" info "graceful_timeout = 10s"
    "$KILN" -c "$DIR/kiln.conf" </dev/null >"$DIR/kiln.out" 2>&1 &
    MASTER=$!
    PIDS+=("$MASTER")
    for _ in $(seq 100); do
        grep -q "generation 1 ready" "$DIR/kiln.log" 2>/dev/null && return 0
        sleep 0.05
    done
    die "kiln did not start: $(cat "$DIR/kiln.out" "$DIR/kiln.log" 2>/dev/null)"
}

# The signal driver: sends the signals, swapping hello/hello2 before each, and
# polls for the new answer.  Prints one "signal -> new code" time per signal
# and, for usr2, the new master's pid.
driver() {
    python3 - "$@" <<'PY'
import os, shutil, signal, socket, sys, time

mode, master, port, plugdir, hello, hello2 = sys.argv[1:7]
master, port = int(master), int(port)
reloads, duration = int(sys.argv[7]), float(sys.argv[8])
codes = [(hello, b"Hello, Anonymous"), (hello2, b"Hi, Anonymous")]

def answer():
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data.split(b"\r\n\r\n", 1)[-1]
            data += chunk
    finally:
        s.close()

def install(path):
    tmp = os.path.join(plugdir, ".hello.so.tmp")
    shutil.copyfile(path, tmp)
    os.rename(tmp, os.path.join(plugdir, "hello.so"))

def until_new(body, t0, limit=10.0):
    while time.monotonic() - t0 < limit:
        try:
            if answer() == body:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.001)
    return None

def show(name, times):
    ms = sorted(t * 1000 for t in times if t is not None)
    missed = sum(t is None for t in times)
    if ms:
        print("%s -> new code: min %.1f ms, median %.1f ms, max %.1f ms over %d signals%s"
              % (name, ms[0], ms[len(ms) // 2], ms[-1], len(ms),
                 ", %d never answered within 10 s" % missed if missed else ""))
    else:
        print("%s -> new code: never within 10 s" % name)

time.sleep(1.0)
if mode == "usr2":
    path, body = codes[1]
    install(path)
    t0 = time.monotonic()
    os.kill(master, signal.SIGUSR2)
    took = until_new(body, t0)
    show("SIGUSR2", [took])
    time.sleep(1.0)
    with open(os.path.join(os.path.dirname(plugdir), "kiln.pid")) as f:
        new = int(f.read())
    print("new master %d" % new)
    os.kill(master, signal.SIGWINCH)
    time.sleep(1.5)
    os.kill(master, signal.SIGQUIT)
    sys.exit(0)

gap = max(0.3, (duration - 2.0) / reloads)
times = []
for i in range(reloads):
    path, body = codes[(i + 1) % 2]
    install(path)
    t0 = time.monotonic()
    os.kill(master, signal.SIGHUP)
    times.append(until_new(body, t0))
    time.sleep(max(0.0, gap - (time.monotonic() - t0)))
show("SIGHUP", times)
PY
}

# run_wrk SECONDS [wrk args...]: wrk against $PORT, its output in $TMP/wrk.txt.
run_wrk() {
    local secs=$1
    shift
    timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" "$@" \
        "http://127.0.0.1:$PORT$URL_PATH" >"$TMP/wrk.txt" 2>&1 || die "wrk failed: $(cat "$TMP/wrk.txt")"
}

# wrk_counts: "SERVED FAILED DETAIL" from $TMP/wrk.txt: the 2xx answers, the
# failed requests (socket errors + non-2xx), and what the failures were.
wrk_counts() {
    python3 - "$TMP/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
sock = [int(x) for x in m.groups()] if m else [0, 0, 0, 0]
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(m.group(1)) if m else 0
print("%d %d (socket errors: connect %d, read %d, write %d, timeout %d; non-2xx %d)"
      % (total - bad, sum(sock) + bad, *sock, bad))
PY
}

# report NAME PROBLEMS: prints the wrk counts of run NAME and adds it to SUMMARY;
# PROBLEMS (may be empty) are what else went wrong in it.
report() {
    local name=$1 problems=$2 served failed detail
    read -r served failed detail < <(wrk_counts)
    echo "   $served requests served (2xx), $failed failed $detail"
    [ "$failed" -eq 0 ] || problems="$problems $failed failed requests;"
    SUMMARY+=("$name $served $failed ${problems:-ok}")
    # For bench/run: req/s of the run (steady, or the reloads under load), its
    # failed requests, and a problem as one more error.
    local secs=$DURATION
    [ "$name" = usr2 ] && secs=8
    result "reload.$name.rps" kiln $((served / secs)) req/s
    result "reload.$name.errors" kiln $((failed + (${#problems} > 0 ? 1 : 0))) errors
}

steady_run() {  # the same load, no signal: what the reloads' req/s compare with
    start_kiln steady
    sleep 1                       # as the driver waits before its first signal
    run_wrk "$DURATION"
    echo "== steady: no signal, wrk -t$THREADS -c$CONNS -d${DURATION}s $URL_PATH"
    report steady ""
    stop_master "$MASTER"
}

stop_master() {  # stop_master PID: SIGTERM, and wait for it
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

hup_run() {  # hup_run NAME [wrk args...]
    local name=$1
    shift
    start_kiln "$name"
    driver hup "$MASTER" "$PORT" "$DIR/plugins" "$HELLO" "$HELLO2" "$RELOADS" "$DURATION" \
        >"$TMP/driver.txt" &
    local drv=$!
    run_wrk "$DURATION" "$@"
    wait "$drv"
    echo "== $name: $RELOADS x SIGHUP under wrk -t$THREADS -c$CONNS -d${DURATION}s $URL_PATH"
    local times committed failed problems=
    times=$(grep -- '->' "$TMP/driver.txt" || echo "SIGHUP -> new code: no report")
    committed=$(grep -c 'reload: generation' "$DIR/kiln.log" || true)
    failed=$(grep -c 'reload failed' "$DIR/kiln.log" || true)
    [ "$committed" -eq "$RELOADS" ] || problems="$problems $committed of $RELOADS reloads committed;"
    [ "$failed" -eq 0 ] || problems="$problems $failed reloads failed;"
    [[ $times == *never* || $times == *"no report"* ]] && problems="$problems new code not seen;"
    report "$name" "$problems"
    echo "   $times"
    echo "   reloads committed: $committed, failed: $failed"
    stop_master "$MASTER"
}

usr2_run() {
    local new
    start_kiln usr2
    driver usr2 "$MASTER" "$PORT" "$DIR/plugins" "$HELLO" "$HELLO2" 1 8 >"$TMP/driver.txt" &
    local drv=$!
    run_wrk 8
    wait "$drv"
    new=$(sed -n 's/^new master //p' "$TMP/driver.txt")
    [ -n "$new" ] && PIDS+=("$new")
    echo "== usr2: SIGUSR2, SIGWINCH and SIGQUIT to the old master under wrk -t$THREADS -c$CONNS -d8s $URL_PATH"
    local times problems=
    times=$(grep -- '->' "$TMP/driver.txt" || echo "SIGUSR2 -> new code: no report")
    [[ $times == *never* || $times == *"no report"* ]] && problems="$problems new code not seen;"
    [ -n "$new" ] || problems="$problems no new master;"
    if kill -0 "$MASTER" 2>/dev/null; then problems="$problems old master still running;"; fi
    report usr2 "$problems"
    echo "   $times"
    if kill -0 "$MASTER" 2>/dev/null; then
        echo "   the old master is still running"
    else
        echo "   old master gone; the new master ($new) serves"
    fi
    [ -n "$new" ] && stop_master "$new"
}

for m in $MODES; do
    case $m in
        steady) steady_run ;;
        keepalive) hup_run keepalive ;;
        close) hup_run close -H "Connection: close" ;;
        usr2) usr2_run ;;
    esac
done

echo
echo "summary"
printf "  %-10s %10s %8s  %s\n" run served failed verdict
bad=0
for line in "${SUMMARY[@]}"; do
    read -r name served failed problems <<<"$line"
    if [ "$problems" = ok ]; then
        printf "  %-10s %10s %8s  ok\n" "$name" "$served" "$failed"
    else
        printf "  %-10s %10s %8s  FAILED: %s\n" "$name" "$served" "$failed" "$problems"
        bad=$((bad + 1))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "reload.sh: $bad of ${#SUMMARY[@]} runs failed (see the summary)" >&2
    exit 1
fi
