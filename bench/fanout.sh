#!/usr/bin/env bash
# The fan-out of publish/subscribe: messages/s delivered to 1,000 WebSocket subscribers of one room spread over 2 workers, their p99 delivery latency and the server CPU per delivery, for kiln (local fan-out, and through Redis), Node.js (ws + ioredis, cluster) and aiohttp (redis.asyncio pub/sub, SO_REUSEPORT processes), with ratios.
#
# Usage: bench/fanout.sh       (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), SERVERS
# (kiln,kiln-redis,node,aiohttp), ROUNDS (3), DURATION (seconds of the
# saturated run, 10), LAT_RATE (messages/s of the latency run, 20),
# LAT_DURATION (its seconds, 5), SUBS (1000), PUBS (4), SIZE (message
# bytes, 64), WORKERS (2), NODE_CACHE (where npm installs ws and ioredis),
# KEEP_TMP (1: keep the temp dir).
# It starts a Redis (scripts/services) in its temp dir and stops it at the
# end.  A delivery lost, out of order or a connection failed marks the line
# FAILED and makes the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
SERVERS=${SERVERS:-kiln,kiln-redis,node,aiohttp}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
LAT_RATE=${LAT_RATE:-20}
LAT_DURATION=${LAT_DURATION:-5}
SUBS=${SUBS:-1000}
PUBS=${PUBS:-4}
SIZE=${SIZE:-64}
WORKERS=${WORKERS:-2}
PYTHON=/usr/bin/python3          # Debian's, with its python3-* packages
NODE_CACHE=${NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-bench/fanout-node}
NPM_WS=8.23.1                    # the npm packages of the Node.js peer, pinned
NPM_IOREDIS=5.11.1
NPM_LIMIT=180                    # seconds npm may take
TICK=$(getconf CLK_TCK)

ME=fanout.sh
. "$HERE/lib.sh"

# ---- settings and tools -----------------------------------------------------------
IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
[ "${#SERVER_LIST[@]}" -gt 0 ] || die "SERVERS is empty"
for s in "${SERVER_LIST[@]}"; do
    case $s in kiln|kiln-redis|node|aiohttp) ;;
        *) die "SERVERS: unknown server \"$s\" (kiln, kiln-redis, node, aiohttp)" ;;
    esac
done
[ "$(printf '%s\n' "${SERVER_LIST[@]}" | sort | uniq -d)" = "" ] || die "SERVERS names a server twice"
[[ $ROUNDS =~ ^[1-9]$ ]] || die "ROUNDS must be 1..9"
[[ $DURATION =~ ^[1-9][0-9]?$ ]] || die "DURATION must be 1..99 (seconds)"
[[ $LAT_DURATION =~ ^[1-9][0-9]?$ ]] || die "LAT_DURATION must be 1..99 (seconds)"
[[ $LAT_RATE =~ ^[1-9][0-9]{0,4}$ ]] || die "LAT_RATE must be 1..99999 (messages/s)"
if ! [[ $SUBS =~ ^[1-9][0-9]*$ ]] || [ "$SUBS" -gt 50000 ]; then die "SUBS must be 1..50000"; fi
if ! [[ $PUBS =~ ^[1-9][0-9]?$ ]] || [ "$PUBS" -gt 64 ]; then die "PUBS must be 1..64"; fi
if ! [[ $SIZE =~ ^[1-9][0-9]*$ ]] || [ "$SIZE" -gt 60000 ]; then die "SIZE must be 1..60000"; fi
[[ $WORKERS =~ ^[1-9]$ ]] || die "WORKERS must be 1..9"

has() {  # has WORD LIST...: whether WORD is one of LIST
    local w=$1 x
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

for tool in cc curl timeout; do command -v "$tool" >/dev/null || die "$tool not found"; done
if has kiln "${SERVER_LIST[@]}" || has kiln-redis "${SERVER_LIST[@]}"; then
    [ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
fi
if has aiohttp "${SERVER_LIST[@]}"; then
    "$PYTHON" -c 'import aiohttp, uvloop, redis.asyncio' 2>/dev/null ||
        die "the aiohttp peer needs python3-aiohttp python3-uvloop python3-redis (scripts/deps --bench)"
fi
if has node "${SERVER_LIST[@]}"; then
    command -v node >/dev/null || die "node not found (Node.js 20)"
    command -v npm >/dev/null || die "npm not found"
fi

# The client holds SUBS + PUBS sockets, and so may one server process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SUBS + PUBS + 200)) ]; then
    die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)): SUBS=$SUBS needs $((SUBS + PUBS + 200))"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fanoutbench.XXXXXX")
# As root, scripts/services runs Redis as its own user, which must enter it.
[ "$(id -u)" != 0 ] || chmod 711 "$TMP"
SVC=$TMP/svc
SVC_STARTED=0
LOAD_PID=
declare -A PID PORT KIDS

cleanup() {
    local s p
    stop_pid "$LOAD_PID" TERM
    for s in "${!PID[@]}"; do
        stop_pid "${PID[$s]}" TERM
        for p in ${KIDS[$s]:-}; do stop_pid "$p" TERM; done
    done
    if [ "$SVC_STARTED" = 1 ]; then
        "$SRC/scripts/services" stop "$SVC" >/dev/null || echo "$ME: scripts/services stop $SVC failed" >&2
    fi
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the load client, the kiln plugin, the Node.js peer's packages ----------------
cc -O2 -o "$TMP/fanout" "$HERE/fanout.c" "$HERE/wsclient.c" || die "building fanout.c failed"
if has kiln "${SERVER_LIST[@]}" || has kiln-redis "${SERVER_LIST[@]}"; then
    cc -O2 -shared -fPIC -I"$SRC/include" -o "$TMP/fanoutbench.so" "$HERE/fanout_plugin.c" ||
        die "building fanout_plugin.c failed"
fi
if has node "${SERVER_LIST[@]}"; then
    npm_ensure "$NODE_CACHE" "$NPM_LIMIT" "$TMP/npm.log" "ws@$NPM_WS" "ioredis@$NPM_IOREDIS"
fi

# ---- Redis (scripts/services also starts a PostgreSQL, unused here) ----------------
SVC_STARTED=1
"$SRC/scripts/services" start "$SVC" >"$TMP/services.log" 2>&1 ||
    { cat "$TMP/services.log" >&2; die "scripts/services start failed"; }
# shellcheck disable=SC1091
. "$SVC/env"
REDIS_ADDR=$KILN_TEST_REDIS
REDIS_PID=$KILN_TEST_REDIS_PID

# ---- the servers ---------------------------------------------------------------------
start_kiln_as() {  # start_kiln_as NAME [CONFIG-LINE]...
    local name=$1 d=$TMP/$1
    shift
    mkdir -p "$d/plugins"
    cp "$TMP/fanoutbench.so" "$d/plugins/"
    kiln_conf "$d" "${PORT[$name]}" warn "graceful_timeout = 5s" \
        "max_connections = $((SUBS + PUBS + 64))" "$@"
    "$KILN" -c "$d/kiln.conf" >"$d/kiln.out" 2>&1 </dev/null &
    PID[$name]=$!
}
start_kiln() { start_kiln_as kiln; }
start_kiln-redis() { start_kiln_as kiln-redis "pubsub = redis://$REDIS_ADDR"; }

start_node() {
    mkdir -p "$TMP/node"
    NODE_PATH=$NODE_CACHE/node_modules WORKERS=$WORKERS REDIS_ADDR=$REDIS_ADDR \
        node "$HERE/fanout_node.js" "${PORT[node]}" >"$TMP/node/out" 2>&1 </dev/null &
    PID[node]=$!
}

start_aiohttp() {
    mkdir -p "$TMP/aiohttp"
    WORKERS=$WORKERS REDIS_ADDR=$REDIS_ADDR "$PYTHON" "$HERE/fanout_aiohttp.py" \
        "${PORT[aiohttp]}" >"$TMP/aiohttp/out" 2>&1 </dev/null &
    PID[aiohttp]=$!
}

server_logs() {  # what a server said, for a failure
    case $1 in
        kiln*) cat "$TMP/$1/kiln.out" "$TMP/$1/kiln.log" 2>/dev/null | tail -n 30 ;;
        *) tail -n 30 "$TMP/$1/out" 2>/dev/null ;;
    esac
}

echo "redis-server pid $REDIS_PID ($REDIS_ADDR)"
for s in "${SERVER_LIST[@]}"; do
    PORT[$s]=$(free_port)
    "start_$s"
    wait_http "${PORT[$s]}" || { server_logs "$s" >&2; die "$s did not answer on port ${PORT[$s]}"; }
    sleep 1                     # every worker listening, not only the first
    KIDS[$s]=$(children "${PID[$s]}" | tr '\n' ' ')
    case $s in
        kiln) v=$("$KILN" -V 2>&1 | head -n 1)", local fan-out" ;;
        kiln-redis) v=$("$KILN" -V 2>&1 | head -n 1)", pubsub = redis://$REDIS_ADDR" ;;
        aiohttp) v=$("$PYTHON" -c 'import aiohttp, uvloop, redis
print("aiohttp %s, uvloop %s, redis-py %s; %s processes, SO_REUSEPORT" % (aiohttp.__version__,
      uvloop.__version__, redis.__version__, '"$WORKERS"'))') ;;
        node) v="node $(node --version), ws $NPM_WS, ioredis $NPM_IOREDIS; $WORKERS cluster workers" ;;
    esac
    echo "$s pid ${PID[$s]} (workers ${KIDS[$s]% }) port ${PORT[$s]}: $v"
done
echo "$SUBS subscribers and $PUBS publishers in one room, $SIZE-byte messages; saturated runs of" \
     "${DURATION}s (at most 8 messages not yet delivered to all), latency runs of ${LAT_DURATION}s" \
     "at $LAT_RATE messages/s; $ROUNDS rounds; CLK_TCK $TICK"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run_load SERVER RATE SECONDS: one fanout run; its output line (rc 0 or 1).
run_load() {
    local out rc=0
    kill -0 "${PID[$1]}" 2>/dev/null || die "$1 (pid ${PID[$1]}) is gone"
    out=$(timeout $(($3 + 120)) "$TMP/fanout" 127.0.0.1 "${PORT[$1]}" /room "$SUBS" "$PUBS" \
          "$2" "$3" "$SIZE" 2>&1) || rc=$?
    [ "$rc" -le 1 ] && [[ $out == *sent* ]] || die "fanout failed against $1 (exit $rc): $out"
    printf '%s\n' "$out" | grep '^sent'
}

# run_pair SERVER: the saturated run (with the CPU of the server and of
# Redis), then the latency run; appends "round server rate p99_ms cpu_us
# redis_us lat_p99_ms failures" to RESULTS.
run_pair() {
    local s=$1 before after rbefore rafter sat lat
    before=$(cpu_ticks "${PID[$s]}") rbefore=$(cpu_ticks "$REDIS_PID")
    sat=$(run_load "$s" 0 "$DURATION")
    after=$(cpu_ticks "${PID[$s]}") rafter=$(cpu_ticks "$REDIS_PID")
    lat=$(run_load "$s" "$LAT_RATE" "$LAT_DURATION")
    awk -v r="$ROUND" -v s="$s" -v t=$((after - before)) -v rt=$((rafter - rbefore)) \
        -v hz="$TICK" -v lat="$lat" '{
            for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
            n = split(lat, l, " "); for (i = 1; i < n; i += 2) w[l[i]] = l[i + 1]
            printf "%s %s %s %.1f %.2f %.2f %.1f %d\n", r, s, v["rate"], v["p99_us"] / 1000,
                   (v["delivered"] > 0 ? t * 1e6 / hz / v["delivered"] : 0),
                   (v["delivered"] > 0 ? rt * 1e6 / hz / v["delivered"] : 0), w["p99_us"] / 1000,
                   v["lost"] + v["disorder"] + v["errors"] + w["lost"] + w["disorder"] + w["errors"]
        }' <<<"$sat" >>"$RESULTS"
}

# Warm-up, not measured: connections, JIT, caches.
for s in "${SERVER_LIST[@]}"; do run_load "$s" 0 2 >/dev/null; done

n=${#SERVER_LIST[@]}
for ROUND in $(seq "$ROUNDS"); do
    # Who goes first rotates from one round to the next.
    for i in $(seq 0 $((n - 1))); do run_pair "${SERVER_LIST[$(((i + ROUND - 1) % n))]}"; done
    echo "round $ROUND"
    awk -v r="$ROUND" 'BEGIN { printf "  %-11s %12s %9s %12s %13s %14s %9s\n", "server",
                                      "delivered/s", "p99 ms", "cpu us/dlv", "redis us/dlv",
                                      "p99 ms fixed", "failures" }
        $1 == r { printf "  %-11s %12s %9s %12s %13s %14s %9s%s\n", $2, $3, $4, $5, $6, $7, $8,
                         ($8 > 0 ? "  FAILED" : "") }' "$RESULTS"
done

echo
"$PYTHON" - "$RESULTS" "$ROUNDS" "$SERVERS" "$LAT_RATE" <<'PY'
import statistics, sys

path, rounds, servers, lat_rate = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
rows = [l.split() for l in open(path)]


def med(server, col):
    vals = [float(r[col]) for r in rows if r[1] == server]
    return statistics.median(vals) if vals else float("nan")


def failures(server):
    return sum(int(r[7]) for r in rows if r[1] == server)


print("medians over %s round(s) (failures: summed); delivered/s and p99 ms: saturated runs;"
      " cpu and redis us/dlv: CPU per delivered message of the server's processes and of"
      " Redis; p99 ms fixed: at %s messages/s" % (rounds, lat_rate))
print("  %-11s %12s %9s %12s %13s %14s %9s" % ("server", "delivered/s", "p99 ms", "cpu us/dlv",
                                               "redis us/dlv", "p99 ms fixed", "failures"))
for s in servers:
    f = failures(s)
    print("  %-11s %12.0f %9.1f %12.2f %13.2f %14.1f %9d%s" % (
        s, med(s, 2), med(s, 3), med(s, 4), med(s, 5), med(s, 6), f, "  FAILED" if f else ""))

kilns = [s for s in ("kiln", "kiln-redis") if s in servers]
others = [s for s in servers if s not in ("kiln",)]
pairs = [(k, o) for k in kilns for o in others if o != k and not (k == "kiln-redis" and o == "kiln")]
if pairs:
    print()
    print("ratios (medians): delivered/s and p99 ms both ways as X/Y; above 1 is more")
    print("  %-22s %12s %9s %12s %14s" % ("X / Y", "delivered/s", "p99 ms", "cpu us/dlv",
                                         "p99 ms fixed"))
    for k, o in pairs:
        def ratio(col):
            a, b = med(k, col), med(o, col)
            return a / b if b > 0 else float("nan")
        print("  %-22s %12.2f %9.2f %12.2f %14.2f" % ("%s / %s" % (k, o), ratio(2), ratio(3),
                                                      ratio(4), ratio(6)))
PY

failures=$(awk '{ n += $8 } END { print n + 0 }' "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "$ME: $failures deliveries lost or out of order, or connections failed (see the tables): the run is not valid" >&2
    exit 1
fi
