#!/usr/bin/env bash
# Compares kiln's echo plugin with a Node.js `ws` server (cluster workers): echo messages/s, p99 round trip, server CPU per message, plain and with permessage-deflate, and RSS per idle WebSocket; the plain echo also against a bare epoll server, the machine's floor.
#
# Usage: bench/ws.sh            (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), CONNS (64),
# DURATION (seconds per echo run, 5), SIZE (message bytes, 32), ROUNDS (1),
# IDLE (idle connections, 10000), HOLD (seconds they stay open, 3),
# WORKERS (2), WS_PATH (the route, /echo), MODES (echo deflate idle: what
# to measure), DEFLATE_SIZE (message bytes of the deflate mode, 1024),
# NODE_CACHE (where npm installs `ws`, once), KEEP_TMP (1: keep the temp dir).
# deflate: both sides negotiate permessage-deflate (no context takeover
# either way) on /echo-deflate (kiln: bench/wsdeflate_plugin.c; Node: a
# threshold of 0, so that every answer is compressed on both sides) and
# the client sends the message deflated.
# FLOOR (1; 0: leave it out): the plain echo also runs against
# bench/wsfloor.c, a bare epoll server doing one recv and one send per
# message and nothing else: what the machine's kernel costs per message,
# below which no server goes.
# Every echo is checked ("Hello, " and the message); failed connections and
# bad echoes are counted apart from the rate, shown in the tables, and make
# the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KILN_BUILD=${KILN_BUILD:-$(cd "$HERE/.." && pwd)}
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
MODES=${MODES:-echo deflate idle}
DEFLATE_SIZE=${DEFLATE_SIZE:-1024}
FLOOR=${FLOOR:-1}
NODE_CACHE=${NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-bench/ws-node}
NPM_WS=8.23.1            # the Node.js peer's package, pinned
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
[[ $FLOOR =~ ^[01]$ ]] || die "FLOOR must be 0 or 1"
for m in $MODES; do
    case $m in echo|deflate|idle) ;; *) die "MODES: unknown mode \"$m\" (echo, deflate, idle)" ;; esac
done
[[ " $MODES " == *" idle "* ]] || IDLE=0

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
FLOOR_PID=
LOAD_PID=

cleanup() {
    local p
    stop_pid "$LOAD_PID" TERM
    stop_pid "$KILN_PID" TERM
    stop_pid "$NODE_PID" TERM
    for p in $NODE_KIDS; do stop_pid "$p" TERM; done
    stop_pid "$FLOOR_PID" TERM
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
cc -O2 -o "$TMP/wsload" "$HERE/wsload.c" "$HERE/wsload_z.c" "$HERE/wsclient.c" -lz || die "building wsload failed"
cc -O2 -o "$TMP/wsfloor" "$HERE/wsfloor.c" || die "building wsfloor failed"
cc -O2 -shared -fPIC -I"$HERE/../include" -o "$TMP/wsdeflate.so" "$HERE/wsdeflate_plugin.c" ||
    die "building bench/wsdeflate_plugin.c failed"
mkdir -p "$TMP/node"
npm_ensure "$NODE_CACHE" "$NPM_LIMIT" "$TMP/node/npm.log" "ws@$NPM_WS"

# ---- kiln ----------------------------------------------------------------------
KILN_PORT=$(free_port)
mkdir -p "$TMP/kiln/plugins"
cp "$ECHO_SO" "$TMP/kiln/plugins/echo.so"
cp "$TMP/wsdeflate.so" "$TMP/kiln/plugins/wsdeflate.so"
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
NODE_PATH="$NODE_CACHE/node_modules" WORKERS=$WORKERS \
    node "$HERE/ws_node.js" "$NODE_PORT" >"$TMP/node/node.out" 2>&1 </dev/null &
NODE_PID=$!
wait_http "$NODE_PORT" || { cat "$TMP/node/node.out" >&2 || true; die "node did not answer"; }
NODE_KIDS=$(children "$NODE_PID" | tr '\n' ' ')

# ---- the floor: bench/wsfloor.c, WORKERS processes ----------------------------------
FLOOR_PORT=
if [ "$FLOOR" = 1 ] && [[ " $MODES " == *" echo "* ]]; then
    FLOOR_PORT=$(free_port)
    "$TMP/wsfloor" "$FLOOR_PORT" "$WORKERS" >"$TMP/floor.out" 2>&1 </dev/null &
    FLOOR_PID=$!
    wait_http "$FLOOR_PORT" || { cat "$TMP/floor.out" >&2 || true; die "wsfloor did not answer"; }
fi

echo "kiln pid $KILN_PID port $KILN_PORT; node ($(node --version), ws $NPM_WS) pid $NODE_PID port $NODE_PORT${FLOOR_PID:+; floor (bench/wsfloor.c) pid $FLOOR_PID port $FLOOR_PORT}"
echo "$WORKERS workers each; echo: $CONNS connections, $SIZE-byte text, ${DURATION}s x $ROUNDS; idle: $IDLE connections"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

server_pid() { case $1 in kiln) echo "$KILN_PID" ;; node) echo "$NODE_PID" ;; *) echo "$FLOOR_PID" ;; esac; }
server_port() { case $1 in kiln) echo "$KILN_PORT" ;; node) echo "$NODE_PORT" ;; *) echo "$FLOOR_PORT" ;; esac; }
# echo_servers MODE: who answers in MODE (the floor speaks plain echo only)
echo_servers() { if [ "$1" = echo ] && [ -n "$FLOOR_PID" ]; then echo kiln node floor; else echo kiln node; fi; }

# run_echo SERVER MODE: one measured echo run (MODE echo or deflate); appends
# "MODE SERVER rate p50 p99 cpu_us errors bad user_us" (rate and the CPU over
# the good echoes only).
run_echo() {
    local pid port u0 s0 u1 s1 out rc=0 args=("$WS_PATH" "$CONNS" "$DURATION" "$SIZE")
    [ "$2" = echo ] || args=(/echo-deflate "$CONNS" "$DURATION" "$DEFLATE_SIZE" deflate)
    pid=$(server_pid "$1") port=$(server_port "$1")
    kill -0 "$pid" 2>/dev/null || die "$1 (pid $pid) is gone"
    read -r u0 s0 < <(cpu_split "$pid")
    out=$(timeout $((DURATION + 90)) "$TMP/wsload" echo 127.0.0.1 "$port" "${args[@]}") || rc=$?
    # 1: it ran and counted errors or bad echoes; anything else: it did not run
    [ "$rc" -le 1 ] && [[ $out == msgs* ]] || die "wsload failed against $1 (exit $rc): $out"
    read -r u1 s1 < <(cpu_split "$pid")
    if [ "$2" = deflate ] && ! [[ $out == *" uncompressed 0"* ]]; then
        echo "  $1 deflate: some answers came uncompressed: $out" >&2
    fi
    awk -v s="$1" -v m="$2" -v t=$((u1 + s1 - u0 - s0)) -v u=$((u1 - u0)) -v hz="$TICK" '{
            for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
            printf "%s %s %s %s %s %.2f %s %s %.2f\n", m, s, v["rate"], v["p50_us"], v["p99_us"],
                   (v["msgs"] > 0 ? t * 1e6 / hz / v["msgs"] : 0), v["errors"], v["bad"],
                   (v["msgs"] > 0 ? u * 1e6 / hz / v["msgs"] : 0)
        }' <<<"$out" >>"$RESULTS"
    local rate cpu errs bad ucpu fig=ws
    [ "$2" = echo ] || fig=wsdeflate
    read -r _ _ rate _ _ cpu errs bad ucpu < <(tail -n 1 "$RESULTS")
    result "$fig.rate" "$1" "$rate" msg/s
    result "$fig.cpu" "$1" "$cpu" us/msg
    result "$fig.ucpu" "$1" "$ucpu" us/msg
    result "$fig.errors" "$1" $((errs + bad)) errors
}

# run_idle SERVER: IDLE open connections; appends "idle SERVER open
# kB_before kB_after bytes_per_conn errors".
run_idle() {
    local pid port before after opened failed
    pid=$(server_pid "$1") port=$(server_port "$1")
    sleep 1                                   # let the echo run's sockets go
    before=$(worker_rss_kb "$pid")
    "$TMP/wsload" idle 127.0.0.1 "$port" "$WS_PATH" "$IDLE" "$HOLD" >"$TMP/idle.out" 2>&1 &
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
    result wsidle.bytes "$1" $(( opened > 0 ? (after - before) * 1024 / opened : 0 )) B/conn
    result wsidle.errors "$1" "$failed" errors
}

ECHO_MODES=$(for m in $MODES; do [ "$m" = idle ] || printf '%s ' "$m"; done)
# Idle connections first, on workers that have served nothing yet: memory
# the echo runs free (zlib state, buffers) would be reused by the idle
# connections and hide what they cost.
if [ "$IDLE" -gt 0 ]; then
    run_idle kiln
    run_idle node
fi
# Warm-up, not measured (its errors show in the measured runs).
for m in $ECHO_MODES; do
    for s in $(echo_servers "$m"); do
        port=$(server_port "$s")
        if [ "$m" = echo ]; then
            "$TMP/wsload" echo 127.0.0.1 "$port" "$WS_PATH" "$CONNS" 1 "$SIZE" >/dev/null || true
        else
            "$TMP/wsload" echo 127.0.0.1 "$port" /echo-deflate "$CONNS" 1 "$DEFLATE_SIZE" deflate \
                >/dev/null || true
        fi
    done
done

for round in $(seq "$ROUNDS"); do
    for m in $ECHO_MODES; do
        # shellcheck disable=SC2046
        for s in $(rotate "$round" $(echo_servers "$m")); do run_echo "$s" "$m"; done
    done
done
for m in $ECHO_MODES; do
    if [ "$m" = echo ]; then
        echo "echo, $SIZE-byte text (one message in flight per connection; msgs/s counts good echoes only)"
    else
        echo "echo with permessage-deflate, $DEFLATE_SIZE-byte text"
    fi
    printf "  %-6s %12s %10s %10s %14s %7s %9s\n" server "msgs/s" "p50 us" "p99 us" "cpu us/msg" \
        errors "bad echo"
    awk -v m="$m" '$1 == m { printf "  %-6s %12.0f %10s %10s %14s %7s %9s%s\n", $2, $3, $4, $5, $6, $7, $8,
                                   ($7 + $8 > 0 ? "  FAILED" : "") }' "$RESULTS"
    echo
    echo "medians over $ROUNDS round(s), and their ratios"
    python3 - "$RESULTS" "$m" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
servers = [s for s in ("kiln", "node", "floor") if any(r[1] == s for r in rows)]
med = {s: [statistics.median(float(r[i]) for r in rows if r[1] == s) for i in (2, 4, 5, 8)]
       for s in servers}
pairs = [(a, b) for a, b in (("kiln", "node"), ("kiln", "floor"), ("floor", "node"))
         if a in servers and b in servers]
print("  %-12s" % "" + "".join("%12s" % s for s in servers) +
      "".join("%12s" % (a + "/" + b) for a, b in pairs))
for i, name in enumerate(("msgs/s", "p99 us", "cpu us/msg", "user us/msg")):
    ratio = lambda a, b: med[a][i] / med[b][i] if med[b][i] else float("nan")
    print("  %-12s" % name + "".join("%12.1f" % med[s][i] for s in servers) +
          "".join("%12.2f" % ratio(a, b) for a, b in pairs))
PY
    echo
done
if [ "$IDLE" -gt 0 ]; then
    echo
    echo "idle connections (summed RSS of the workers)"
    printf "  %-6s %8s %12s %12s %14s %7s\n" server open "kB before" "kB after" "bytes/conn" \
        errors
    awk '$1 == "idle" { printf "  %-6s %8s %12s %12s %14s %7s%s\n", $2, $3, $4, $5, $6, $7,
                               ($7 > 0 ? "  FAILED" : "") }' "$RESULTS"
fi

# Any failed connection or bad echo fails the run: its numbers mean nothing.
failures=$(awk '$1 != "idle" { n += $7 + $8 } $1 == "idle" { n += $7 } END { print n + 0 }' \
           "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "ws.sh: $failures failed connections or bad echoes (see the tables): the run is not valid" >&2
    exit 1
fi
