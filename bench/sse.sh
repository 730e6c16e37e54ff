#!/usr/bin/env bash
# The memory of open Server-Sent Events streams: N streams on one kiln worker, each getting an event every INTERVAL seconds, the worker's RSS before and with them open, and bytes per stream; the same against a Node.js http server and an aiohttp StreamResponse (one process each) for ratios.
#
# Usage: bench/sse.sh           (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), STREAMS
# (10000), HOLD (seconds they stay open, 10), INTERVAL (seconds between two
# events, 2), SERVERS (kiln,node,aiohttp), KEEP_TMP (1: keep the temp dir).
# Every stream must get its 200, its first event and at least one tick
# while held; a stream that fails makes the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
STREAMS=${STREAMS:-10000}
HOLD=${HOLD:-10}
INTERVAL=${INTERVAL:-2}
SERVERS=${SERVERS:-kiln,node,aiohttp}
WORKERS=1
PYTHON=/usr/bin/python3

ME=sse.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
command -v cc >/dev/null || die "cc not found"
command -v curl >/dev/null || die "curl not found"
if ! [[ $STREAMS =~ ^[1-9][0-9]*$ ]] || [ "$STREAMS" -gt 30000 ]; then
    die "STREAMS must be 1..30000"
fi
[[ $HOLD =~ ^[1-9][0-9]?$ ]] || die "HOLD must be 1..99 (seconds)"
[[ $INTERVAL =~ ^[1-9]$ ]] || die "INTERVAL must be 1..9 (seconds)"
[ "$HOLD" -gt "$INTERVAL" ] || die "HOLD must be longer than INTERVAL (each stream must see a tick)"
IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
for s in "${SERVER_LIST[@]}"; do
    case $s in
        kiln) ;;
        node) command -v node >/dev/null || die "node not found (or leave it out of SERVERS)" ;;
        aiohttp) "$PYTHON" -c 'import aiohttp' 2>/dev/null ||
                     die "$PYTHON has no aiohttp (python3-aiohttp; or leave it out of SERVERS)" ;;
        *) die "unknown server $s (kiln, node, aiohttp)" ;;
    esac
done

# The client and the one server process each hold STREAMS sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((STREAMS + 100)) ]; then
    die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)): STREAMS=$STREAMS needs $((STREAMS + 100))"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-ssebench.XXXXXX")
SERVER_PID=
LOAD_PID=

cleanup() {
    stop_pid "$LOAD_PID" TERM
    stop_pid "$SERVER_PID" TERM
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() {  # rss_kb PID: VmRSS of PID in kB
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# start_server NAME: starts it on a free port; sets SERVER_PID, PORT and
# MEASURED (the pid whose RSS counts: kiln's one worker, node itself).
start_server() {
    PORT=$(free_port)
    case $1 in
        kiln)
            mkdir -p "$TMP/kiln/plugins"
            cc -O2 -shared -fPIC -I"$SRC/include" -o "$TMP/kiln/plugins/ssebench.so" \
                "$HERE/sse_plugin.c" || die "building sse_plugin.c failed"
            kiln_conf "$TMP/kiln" "$PORT" warn "graceful_timeout = 5s" \
                "max_connections = $((STREAMS + 16))" "" "[ssebench]" "interval = $INTERVAL"
            "$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
            SERVER_PID=$!
            wait_http "$PORT" ||
                { cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" >&2 || true; die "kiln did not answer"; }
            MEASURED=$(children "$SERVER_PID")
            [ "$(wc -w <<<"$MEASURED")" = 1 ] || die "kiln has workers '$MEASURED', not one"
            VERSION=$("$KILN" -V 2>&1 | head -1)
            ;;
        node)
            mkdir -p "$TMP/node"
            INTERVAL=$INTERVAL node "$HERE/sse_node.js" "$PORT" >"$TMP/node/node.out" 2>&1 </dev/null &
            SERVER_PID=$!
            wait_http "$PORT" || { cat "$TMP/node/node.out" >&2 || true; die "node did not answer"; }
            MEASURED=$SERVER_PID
            VERSION="node $(node --version)"
            ;;
        aiohttp)
            mkdir -p "$TMP/aiohttp"
            INTERVAL=$INTERVAL "$PYTHON" "$HERE/sse_aiohttp.py" "$PORT" >"$TMP/aiohttp/out" 2>&1 \
                </dev/null &
            SERVER_PID=$!
            wait_http "$PORT" || { cat "$TMP/aiohttp/out" >&2 || true; die "aiohttp did not answer"; }
            MEASURED=$SERVER_PID
            VERSION="aiohttp $("$PYTHON" -c 'import aiohttp; print(aiohttp.__version__)')"
            ;;
    esac
}

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run SERVER: appends "SERVER open kB_idle kB_open kB_closed bytes_per_stream
# errors ticks_min ticks_max".
run() {
    local idle open_kb closed opened errors tmin tmax rc=0
    start_server "$1"
    # one stream opened and closed first, so that the idle figure has the
    # code paths of a stream paged in
    "$PYTHON" "$HERE/sseload.py" 127.0.0.1 "$PORT" /events 1 $((INTERVAL + 1)) >/dev/null ||
        die "$1: a single stream failed"
    sleep 0.5
    idle=$(rss_kb "$MEASURED")
    "$PYTHON" "$HERE/sseload.py" 127.0.0.1 "$PORT" /events "$STREAMS" "$HOLD" \
        >"$TMP/load.out" 2>"$TMP/load.err" &
    LOAD_PID=$!
    for _ in $(seq 1200); do                   # up to 120 s to open them all
        grep -q '^open' "$TMP/load.out" && break
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    sleep $((HOLD / 2))                        # well inside the hold, ticks going
    open_kb=$(rss_kb "$MEASURED")
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    sleep 1
    closed=$(rss_kb "$MEASURED")
    opened=$(awk '/^open/ { print $2 }' "$TMP/load.out")
    errors=$(awk '/^closed/ { print $3 }' "$TMP/load.out")
    read -r tmin tmax < <(awk '/^ticks/ { print $3, $5 }' "$TMP/load.out")
    [ -n "$opened" ] && [ -n "$errors" ] ||
        { cat "$TMP/load.out" "$TMP/load.err" >&2; die "$1: the client did not finish (exit $rc)"; }
    [ "$rc" = 0 ] || cat "$TMP/load.err" >&2
    echo "$1 $opened $idle $open_kb $closed $(( opened > 0 ? (open_kb - idle) * 1024 / opened : 0 ))" \
         "$errors" \
         "${tmin:-0} ${tmax:-0}" >>"$RESULTS"
    echo "$1 ($VERSION): measured pid $MEASURED"
    stop_pid "$SERVER_PID" TERM
    SERVER_PID=
}

echo "$STREAMS streams on one process, an event every ${INTERVAL}s, held ${HOLD}s"
for s in "${SERVER_LIST[@]}"; do run "$s"; done
echo
echo "RSS of the one process serving them (kiln: its worker)"
printf "  %-8s %8s %10s %10s %12s %14s %7s %11s\n" server open "kB idle" "kB open" "kB closed" \
    "bytes/stream" errors "ticks/strm"
awk '{ printf "  %-8s %8s %10s %10s %12s %14s %7s %5s..%-4s%s\n", $1, $2, $3, $4, $5, $6, $7,
              $8, $9, ($7 > 0 || $8 == 0 ? "  FAILED" : "") }' "$RESULTS"
awk '{ b[$1] = $6 }
     END { print ""; if (b["kiln"] > 0) for (s in b) if (s != "kiln" && b[s] > 0)
               printf "  kiln/%s bytes per stream: %.2f\n", s, b["kiln"] / b[s] }' "$RESULTS"

failures=$(awk '{ n += $7 + ($8 == 0) } END { print n + 0 }' "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "sse.sh: $failures failed streams (see the table): the run is not valid" >&2
    exit 1
fi
