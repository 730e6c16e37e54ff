#!/usr/bin/env bash
# Compares kiln's echo plugin with a Node.js `ws` server (cluster workers): echo messages/s, p99 round trip, server CPU per message, and RSS per idle WebSocket.
#
# Usage: bench/ws.sh            (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), CONNS (64),
# DURATION (seconds per echo run, 5), SIZE (message bytes, 32), ROUNDS (1),
# IDLE (idle connections, 10000), HOLD (seconds they stay open, 3),
# WORKERS (2), WS_PATH (the route, /echo), DEFLATE (1: permessage-deflate
# on both sides, 0), KEEP_TMP (1: keep the temp dir).
# Every echo is checked ("Hello, " and the message); failed connections and
# bad echoes are counted apart from the rate, shown in the tables, and make
# the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
ECHO_SO=$KILN_BUILD/plugins/echo/.libs/echo.so
CONNS=${CONNS:-64}
DURATION=${DURATION:-5}
SIZE=${SIZE:-32}
ROUNDS=${ROUNDS:-1}
IDLE=${IDLE:-10000}
HOLD=${HOLD:-3}
WORKERS=${WORKERS:-2}
WS_PATH=${WS_PATH:-/echo}
DEFLATE=${DEFLATE:-0}
NPM_LIMIT=180            # seconds npm may take to fetch `ws`
TICK=$(getconf CLK_TCK)

ME=ws.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
[ -f "$ECHO_SO" ] || die "$ECHO_SO not found: build kiln first"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
command -v cc >/dev/null || die "cc not found"
command -v curl >/dev/null || die "curl not found"
[[ $ROUNDS =~ ^[1-9]$ ]] || die "ROUNDS must be 1..9"
[[ $DURATION =~ ^[1-9][0-9]?$ ]] || die "DURATION must be 1..99 (seconds)"
if ! [[ $IDLE =~ ^[0-9]+$ ]] || [ "$IDLE" -gt 50000 ]; then die "IDLE must be 0..50000"; fi
[[ $HOLD =~ ^[1-9][0-9]?$ ]] || die "HOLD must be 1..99 (seconds)"
[[ $DEFLATE =~ ^[01]$ ]] || die "DEFLATE must be 0 or 1"
if [ "$DEFLATE" = 1 ]; then
    WSLOAD_MODE=deflate                 # wsload's last argument
    pkg-config --exists zlib || die "zlib's pkg-config file not found (zlib1g-dev)"
else
    WSLOAD_MODE=
fi

# The client holds IDLE sockets and each server's workers share them: raise
# the soft fd limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
    echo "ws.sh: ulimit -n is $(ulimit -n): IDLE lowered to $(($(ulimit -n) - 200))" >&2
    IDLE=$(($(ulimit -n) - 200))
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-wsbench.XXXXXX")
KILN_PID=
NODE_PID=
NODE_KIDS=
LOAD_PID=

cleanup() {
    local p
    stop_pid "$LOAD_PID" TERM
    stop_pid "$KILN_PID" TERM
    stop_pid "$NODE_PID" TERM
    for p in $NODE_KIDS; do stop_pid "$p" TERM; done
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

worker_rss_kb() {  # worker_rss_kb PID: summed VmRSS of PID's children (the workers)
    local p total=0 kb
    for p in $(children "$1"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# ---- the load client and the Node.js server's package --------------------------
cc -O2 -o "$TMP/wsload" "$HERE/wsload.c" $(pkg-config --cflags --libs zlib) ||
    die "building wsload failed"
mkdir -p "$TMP/node"
(cd "$TMP/node" && timeout "$NPM_LIMIT" npm install --no-audit --no-fund --silent \
    --no-package-lock ws@8 >"$TMP/node/npm.log" 2>&1) ||
    { cat "$TMP/node/npm.log" >&2; die "npm install ws failed"; }

# ---- kiln ----------------------------------------------------------------------
KILN_PORT=$(free_port)
mkdir -p "$TMP/kiln/plugins"
if [ "$DEFLATE" = 1 ]; then            # /echo with permessage-deflate
    cc -O2 -shared -fPIC -I"$SRC/include" -o "$TMP/kiln/plugins/wsbench.so" \
        "$HERE/ws_plugin.c" || die "building ws_plugin.c failed"
else
    cp "$ECHO_SO" "$TMP/kiln/plugins/echo.so"
fi
[ -f "$KILN_BUILD/plugins/hello/.libs/hello.so" ] &&
    cp "$KILN_BUILD/plugins/hello/.libs/hello.so" "$TMP/kiln/plugins/hello.so"
# Each worker may end up holding most of the idle connections.
kiln_conf "$TMP/kiln" "$KILN_PORT" warn "graceful_timeout = 5s" "max_connections = $((IDLE + CONNS + 16))"
"$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
KILN_PID=$!
wait_http "$KILN_PORT" ||
    { cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" >&2 || true; die "kiln did not answer"; }

# ---- Node.js ---------------------------------------------------------------------
NODE_PORT=$(free_port)
NODE_PATH="$TMP/node/node_modules" WORKERS=$WORKERS DEFLATE=$DEFLATE \
    node "$HERE/ws_node.js" "$NODE_PORT" >"$TMP/node/node.out" 2>&1 </dev/null &
NODE_PID=$!
wait_http "$NODE_PORT" || { cat "$TMP/node/node.out" >&2 || true; die "node did not answer"; }
NODE_KIDS=$(children "$NODE_PID" | tr '\n' ' ')

echo "kiln pid $KILN_PID port $KILN_PORT; node ($(node --version), ws $(cd "$TMP/node" &&
    node -p 'require("ws/package.json").version')) pid $NODE_PID port $NODE_PORT"
echo "$WORKERS workers each; echo: $CONNS connections, $SIZE-byte text, ${DURATION}s x $ROUNDS; idle: $IDLE connections"
echo "permessage-deflate: $([ "$DEFLATE" = 1 ] && echo "on, both sides" || echo off)"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

server_pid() { if [ "$1" = kiln ]; then echo "$KILN_PID"; else echo "$NODE_PID"; fi; }
server_port() { if [ "$1" = kiln ]; then echo "$KILN_PORT"; else echo "$NODE_PORT"; fi; }

# run_echo SERVER: one measured echo run; appends "echo SERVER rate p50 p99
# cpu_us errors bad" (rate and cpu_us over the good echoes only).
run_echo() {
    local pid port before after out rc=0
    pid=$(server_pid "$1") port=$(server_port "$1")
    kill -0 "$pid" 2>/dev/null || die "$1 (pid $pid) is gone"
    before=$(cpu_ticks "$pid")
    out=$(timeout $((DURATION + 90)) "$TMP/wsload" echo 127.0.0.1 "$port" "$WS_PATH" "$CONNS" \
          "$DURATION" "$SIZE" $WSLOAD_MODE) || rc=$?
    # 1: it ran and counted errors or bad echoes; anything else: it did not run
    [ "$rc" -le 1 ] && [[ $out == msgs* ]] || die "wsload failed against $1 (exit $rc): $out"
    after=$(cpu_ticks "$pid")
    awk -v s="$1" -v t=$((after - before)) -v hz="$TICK" '{
            for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
            printf "echo %s %s %s %s %.2f %s %s\n", s, v["rate"], v["p50_us"], v["p99_us"],
                   (v["msgs"] > 0 ? t * 1e6 / hz / v["msgs"] : 0), v["errors"], v["bad"]
        }' <<<"$out" >>"$RESULTS"
}

# run_idle SERVER: IDLE open connections; appends "idle SERVER open
# kB_before kB_after bytes_per_conn errors".
run_idle() {
    local pid port before after opened failed
    pid=$(server_pid "$1") port=$(server_port "$1")
    sleep 1                                   # let earlier runs' sockets go
    before=$(worker_rss_kb "$pid")
    "$TMP/wsload" idle 127.0.0.1 "$port" "$WS_PATH" "$IDLE" "$HOLD" $WSLOAD_MODE \
        >"$TMP/idle.out" 2>&1 &
    LOAD_PID=$!
    for _ in $(seq 900); do                    # up to 90 s to open them all
        grep -q '^open' "$TMP/idle.out" && break
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.5
    after=$(worker_rss_kb "$pid")
    opened=$(awk '/^open/ { print $2 }' "$TMP/idle.out")
    stop_pid "$LOAD_PID" TERM
    wait "$LOAD_PID" 2>/dev/null || true
    LOAD_PID=
    opened=${opened:-0}
    failed=$((IDLE - opened))
    echo "idle $1 $opened $before $after $(( opened > 0 ? (after - before) * 1024 / opened : 0 )) $failed" \
        >>"$RESULTS"
}

# Idle first, on workers that have only opened and closed CONNS connections:
# memory the echo runs free (zlib state with DEFLATE=1) would otherwise be
# reused by the idle connections and hide what they cost.
if [ "$IDLE" -gt 0 ]; then
    for p in "$KILN_PORT" "$NODE_PORT"; do
        "$TMP/wsload" idle 127.0.0.1 "$p" "$WS_PATH" "$CONNS" 1 $WSLOAD_MODE >/dev/null || true
    done
    run_idle kiln
    run_idle node
fi

# Warm-up, not measured (its errors show in the measured runs).
"$TMP/wsload" echo 127.0.0.1 "$KILN_PORT" "$WS_PATH" "$CONNS" 1 "$SIZE" $WSLOAD_MODE >/dev/null || true
"$TMP/wsload" echo 127.0.0.1 "$NODE_PORT" "$WS_PATH" "$CONNS" 1 "$SIZE" $WSLOAD_MODE >/dev/null || true

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="kiln node"; else order="node kiln"; fi
    for s in $order; do run_echo "$s"; done
done

echo "echo (one message in flight per connection; msgs/s counts good echoes only)"
printf "  %-6s %12s %10s %10s %14s %7s %9s\n" server "msgs/s" "p50 us" "p99 us" "cpu us/msg" \
    errors "bad echo"
awk '$1 == "echo" { printf "  %-6s %12.0f %10s %10s %14s %7s %9s%s\n", $2, $3, $4, $5, $6, $7, $8,
                           ($7 + $8 > 0 ? "  FAILED" : "") }' "$RESULTS"
echo
echo "medians over $ROUNDS round(s), and kiln/node"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("echo ")]
med = {s: [statistics.median(float(r[i]) for r in rows if r[1] == s) for i in (2, 4, 5)]
       for s in ("kiln", "node")}
print("  %-12s %12s %12s %10s" % ("", "kiln", "node", "kiln/node"))
for i, name in enumerate(("msgs/s", "p99 us", "cpu us/msg")):
    k, n = med["kiln"][i], med["node"][i]
    print("  %-12s %12.1f %12.1f %10.2f" % (name, k, n, k / n if n else float("nan")))
PY
if [ "$IDLE" -gt 0 ]; then
    echo
    echo "idle connections (summed RSS of the workers)"
    printf "  %-6s %8s %12s %12s %14s %7s\n" server open "kB before" "kB after" "bytes/conn" \
        errors
    awk '$1 == "idle" { printf "  %-6s %8s %12s %12s %14s %7s%s\n", $2, $3, $4, $5, $6, $7,
                               ($7 > 0 ? "  FAILED" : "") }' "$RESULTS"
fi

# Any failed connection or bad echo fails the run: its numbers mean nothing.
failures=$(awk '$1 == "echo" { n += $7 + $8 } $1 == "idle" { n += $7 } END { print n + 0 }' \
           "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "ws.sh: $failures failed connections or bad echoes (see the tables): the run is not valid" >&2
    exit 1
fi
