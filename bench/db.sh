#!/usr/bin/env bash
# Compares kiln's db and counter plugins with the same routes in aiohttp (uvloop, asyncpg, redis.asyncio) and Node.js (cluster, pg, ioredis) on one PostgreSQL and one Redis: requests per second, p99 latency, and CPU per request of each server and, apart, of the database.
#
# Usage: bench/db.sh           (after building kiln with plugins/db and plugins/counter;
#                               see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), SERVERS
# (kiln,aiohttp,node), ROUTES (db,counter; also: queries), ROUNDS (3),
# DURATION (wrk -d, 5s), CONNS (wrk -c, 64), THREADS (wrk -t, 2), WORKERS (2),
# POOL (PostgreSQL connections per worker, 4), QUERIES (the n of
# /queries?n=N, 20), WARMUP (2s), ASYNCPG_RESET (1; 0: asyncpg's pool takes
# connections back without its reset query), NODE_CACHE (where npm installs
# pg and ioredis), KEEP_TMP (1: keep the temp dir).
# It starts the test services (scripts/services) in its temp dir and stops
# them at the end.  Every server's answers are checked before it is measured;
# only 2xx answers count, and any failed request makes the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
SERVERS=${SERVERS:-kiln,aiohttp,node}
ROUTES=${ROUTES:-db,counter}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
POOL=${POOL:-4}
QUERIES=${QUERIES:-20}
ASYNCPG_RESET=${ASYNCPG_RESET:-1}   # 0: the aiohttp peer skips asyncpg's reset query
WARMUP=${WARMUP:-2s}
PYTHON=/usr/bin/python3          # Debian's, with its python3-* packages
NODE_CACHE=${NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-bench/node}
NPM_PG=8.23.1                    # the npm packages of the Node.js peer, pinned
NPM_IOREDIS=5.11.1
WRK_LIMIT=120                    # seconds any one wrk run may take before it is killed
NPM_LIMIT=180                    # seconds npm may take
TICK=$(getconf CLK_TCK)

ME=db.sh
. "$HERE/lib.sh"

# ---- settings and tools -----------------------------------------------------------
IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
IFS=, read -r -a ROUTE_LIST <<<"$ROUTES"
[ "${#SERVER_LIST[@]}" -gt 0 ] || die "SERVERS is empty"
[ "${#ROUTE_LIST[@]}" -gt 0 ] || die "ROUTES is empty"
for s in "${SERVER_LIST[@]}"; do
    case $s in kiln|aiohttp|node) ;; *) die "SERVERS: unknown server \"$s\" (kiln, aiohttp, node)" ;; esac
done
for r in "${ROUTE_LIST[@]}"; do
    case $r in db|queries|counter) ;; *) die "ROUTES: unknown route \"$r\" (db, queries, counter)" ;; esac
done
[ "$(printf '%s\n' "${SERVER_LIST[@]}" | sort | uniq -d)" = "" ] || die "SERVERS names a server twice"
[ "$(printf '%s\n' "${ROUTE_LIST[@]}" | sort | uniq -d)" = "" ] || die "ROUTES names a route twice"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || die "WORKERS must be 1..99"
[[ $POOL =~ ^[1-9][0-9]?$ ]] || die "POOL must be 1..99"
[[ $ASYNCPG_RESET =~ ^[01]$ ]] || die "ASYNCPG_RESET must be 0 or 1"
if ! [[ $QUERIES =~ ^[1-9][0-9]{0,2}$ ]] || [ "$QUERIES" -gt 500 ]; then die "QUERIES must be 1..500"; fi
# PostgreSQL takes 100 connections; keep some for psql and the checks.
[ $((${#SERVER_LIST[@]} * WORKERS * POOL)) -le 90 ] ||
    die "servers x WORKERS x POOL = $((${#SERVER_LIST[@]} * WORKERS * POOL)) connections: PostgreSQL takes 100"

has() {  # has WORD LIST...: whether WORD is one of LIST
    local w=$1 x
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

for tool in wrk curl timeout psql redis-cli; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/deps --test --bench)"
done
[ -x "$PYTHON" ] || die "$PYTHON not found"
if has kiln "${SERVER_LIST[@]}"; then
    [ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
    for r in "${ROUTE_LIST[@]}"; do
        p=db
        [ "$r" = counter ] && p=counter
        [ -f "$KILN_BUILD/plugins/$p/.libs/$p.so" ] ||
            die "plugins/$p.so not built ($KILN_BUILD/plugins/$p/.libs/$p.so missing); SERVERS=aiohttp,node measures the peers alone"
    done
fi
if has aiohttp "${SERVER_LIST[@]}"; then
    "$PYTHON" -c 'import aiohttp, asyncpg, uvloop, redis.asyncio' 2>/dev/null ||
        die "the aiohttp peer needs python3-aiohttp python3-asyncpg python3-uvloop python3-redis (scripts/deps --bench)"
fi
if has node "${SERVER_LIST[@]}"; then
    command -v node >/dev/null || die "node not found (Node.js 20)"
    command -v npm >/dev/null || die "npm not found"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-dbbench.XXXXXX")
# As root, scripts/services runs the servers as its own user, which must be
# able to enter the directory.
[ "$(id -u)" != 0 ] || chmod 711 "$TMP"
SVC=$TMP/svc
SVC_STARTED=0
declare -A PID PORT KIDS

cleanup() {
    local s p
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

route_path() {
    case $1 in
        db) echo /db ;;
        queries) echo "/queries?n=$QUERIES" ;;
        counter) echo /counter/wrk ;;
    esac
}

# ---- the Node.js peer's packages, cached outside the tree ----------------------
if has node "${SERVER_LIST[@]}"; then
    npm_ensure "$NODE_CACHE" "$NPM_LIMIT" "$TMP/npm.log" "pg@$NPM_PG" "ioredis@$NPM_IOREDIS"
fi

# ---- PostgreSQL and Redis ----------------------------------------------------------
SVC_STARTED=1
"$SRC/scripts/services" start "$SVC" >"$TMP/services.log" 2>&1 ||
    { cat "$TMP/services.log" >&2; die "scripts/services start failed"; }
# shellcheck disable=SC1091
. "$SVC/env"
DSN=$KILN_TEST_PG_DSN
REDIS_ADDR=$KILN_TEST_REDIS
PG_PID=$KILN_TEST_PG_PID
REDIS_PID=$KILN_TEST_REDIS_PID
for kv in $DSN; do
    case $kv in
        host=*) PG_HOST=${kv#host=} ;;
        port=*) PG_PORT=${kv#port=} ;;
        dbname=*) PG_DB=${kv#dbname=} ;;
        user=*) PG_USER=${kv#user=} ;;
    esac
done

# wait_up SERVER: until the server answers its first route with a 200, 20 s.
wait_up() {
    local _ path
    path=$(route_path "${ROUTE_LIST[0]}")
    for _ in $(seq 200); do
        kill -0 "${PID[$1]}" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
              "http://127.0.0.1:${PORT[$1]}$path" 2>/dev/null || true)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

start_kiln() {
    local d=$TMP/kiln r
    mkdir -p "$d/plugins"
    for r in "${ROUTE_LIST[@]}"; do
        [ "$r" = counter ] || r=db
        cp "$KILN_BUILD/plugins/$r/.libs/$r.so" "$d/plugins/$r.so"
    done
    kiln_conf "$d" "${PORT[kiln]}" warn \
        "" "[postgres]" "dsn = $DSN" "pool_size = $POOL" "" "[redis]" "address = $REDIS_ADDR"
    "$KILN" -c "$d/kiln.conf" >"$d/kiln.out" 2>&1 </dev/null &
    PID[kiln]=$!
}

start_aiohttp() {
    mkdir -p "$TMP/aiohttp"
    WORKERS=$WORKERS POOL=$POOL PGHOST=$PG_HOST PGPORT=$PG_PORT PGDATABASE=$PG_DB \
        PGUSER=$PG_USER REDIS_ADDR=$REDIS_ADDR ASYNCPG_RESET=$ASYNCPG_RESET \
        "$PYTHON" "$HERE/peers/app_aiohttp.py" "${PORT[aiohttp]}" \
        >"$TMP/aiohttp/out" 2>&1 </dev/null &
    PID[aiohttp]=$!
}

start_node() {
    mkdir -p "$TMP/node"
    NODE_PATH=$NODE_CACHE/node_modules WORKERS=$WORKERS POOL=$POOL PGHOST=$PG_HOST \
        PGPORT=$PG_PORT PGDATABASE=$PG_DB PGUSER=$PG_USER REDIS_ADDR=$REDIS_ADDR \
        node "$HERE/peers/app_node.js" "${PORT[node]}" >"$TMP/node/out" 2>&1 </dev/null &
    PID[node]=$!
}

server_logs() {  # what a server said, for a failure
    case $1 in
        kiln) cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" 2>/dev/null | tail -n 30 ;;
        *) tail -n 30 "$TMP/$1/out" 2>/dev/null ;;
    esac
}

echo "PostgreSQL pid $PG_PID ($DSN), redis-server pid $REDIS_PID ($REDIS_ADDR)"
for s in "${SERVER_LIST[@]}"; do
    PORT[$s]=$(free_port)
    "start_$s"
    wait_up "$s" || { server_logs "$s" >&2; die "$s did not answer on port ${PORT[$s]}"; }
    KIDS[$s]=$(children "${PID[$s]}" | tr '\n' ' ')
    case $s in
        kiln) v=$("$KILN" -V 2>&1 | head -n 1) ;;
        aiohttp) v=$("$PYTHON" -c 'import aiohttp, asyncpg, uvloop, redis
print("aiohttp %s, asyncpg %s, uvloop %s, redis-py %s" % (aiohttp.__version__,
      asyncpg.__version__, uvloop.__version__, redis.__version__))')
            [ "$ASYNCPG_RESET" = 1 ] || v="$v (ASYNCPG_RESET=0: no reset query)" ;;
        node) v="node $(node --version), pg $NPM_PG, ioredis $NPM_IOREDIS" ;;
    esac
    echo "$s pid ${PID[$s]} (workers ${KIDS[$s]% }) port ${PORT[$s]}: $v"
done
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency; $ROUNDS rounds; $WORKERS workers and $POOL PostgreSQL connections per worker each; CLK_TCK $TICK"
echo

echo "answers checked before measuring"
for s in "${SERVER_LIST[@]}"; do
    "$PYTHON" "$HERE/db_check.py" "$s" "${PORT[$s]}" "$ROUTES" "$QUERIES" "$DSN" "$REDIS_ADDR" ||
        { server_logs "$s" >&2; die "$s's answers are not kiln's: not measured"; }
done
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run_wrk ROUTE SERVER: one measured run; appends "round route server rps
# p99_ms cpu_us db_us errors" to RESULTS (rps and the CPU figures over the
# 2xx answers only; db_us: PostgreSQL's CPU for db and queries, Redis' for
# counter).  A worker that died during the run (its CPU time is lost from
# the sum) counts as an error.
run_wrk() {
    local route=$1 s=$2 path db_pid out before after dbefore dafter reqs errs kids changed=0
    path=$(route_path "$route")
    if [ "$route" = counter ]; then db_pid=$REDIS_PID; else db_pid=$PG_PID; fi
    kill -0 "${PID[$s]}" 2>/dev/null || die "$s (pid ${PID[$s]}) is gone"
    kids=$(children "${PID[$s]}" | sort)
    before=$(cpu_ticks "${PID[$s]}") dbefore=$(cpu_ticks "$db_pid")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
          "http://127.0.0.1:${PORT[$s]}$path" 2>&1) || die "wrk failed against $s $path: $out"
    after=$(cpu_ticks "${PID[$s]}") dafter=$(cpu_ticks "$db_pid")
    if [ "$(children "${PID[$s]}" | sort)" != "$kids" ]; then
        echo "  $s $route: its workers changed during the run (one died?): its CPU figure is wrong" >&2
        changed=1
        KIDS[$s]="${KIDS[$s]:-} $(children "${PID[$s]}" | tr '\n' ' ')"
    fi
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    [ -n "$reqs" ] || die "no request count from wrk against $s: $out"
    errs=$(awk '/Socket errors|Non-2xx/ { printf "%s; ", $0 }' <<<"$out")
    [ -z "$errs" ] || echo "  $s $route: $errs" >&2
    # "N requests in 5.00s", "Non-2xx or 3xx responses: N", "Socket errors:
    # connect N, read N, write N, timeout N", and under "Latency
    # Distribution" the line "99%  1.23ms" (us, ms or s).
    awk -v r="$ROUND" -v route="$route" -v s="$s" -v t=$((after - before)) \
        -v dt=$((dafter - dbefore)) -v hz="$TICK" -v changed="$changed" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        $1 == "99%" { v = $2; p99 = v + 0
                      if (v ~ /us$/) p99 /= 1000; else if (v ~ /ms$/) ; else if (v ~ /m$/) p99 *= 60000
                      else if (v ~ /s$/) p99 *= 1000 }
        /Non-2xx or 3xx responses:/ { non2xx += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v)
                                                       if (v ~ /^[0-9]+$/) sock += v } }
        END { good = n - non2xx
              printf "%s %s %s %.0f %.2f %.2f %.2f %d\n", r, route, s, (secs > 0 ? good / secs : 0),
                     p99, (good > 0 ? t * 1e6 / hz / good : 0),
                     (good > 0 ? dt * 1e6 / hz / good : 0), non2xx + sock + changed }' <<<"$out" >>"$RESULTS"
    local rps cpu errs
    read -r _ _ _ rps _ cpu _ errs < <(tail -n 1 "$RESULTS")
    result "$route.rps" "$s" "$rps" req/s
    result "$route.cpu" "$s" "$cpu" us/req
    result "$route.errors" "$s" "$errs" errors
}

# Warm-up, not measured: pools filled, Node's JIT and Python's caches warm.
for route in "${ROUTE_LIST[@]}"; do
    for s in "${SERVER_LIST[@]}"; do
        timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" \
            "http://127.0.0.1:${PORT[$s]}$(route_path "$route")" >/dev/null ||
            die "the warm-up run against $s failed"
    done
done

n=${#SERVER_LIST[@]}
for ROUND in $(seq "$ROUNDS"); do
    # Who goes first rotates from one round to the next, so that drift
    # (caches, the database's own state, other work) favours no one.
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${SERVER_LIST[$(((i + ROUND - 1 + ${ROUND_SHIFT:-0}) % n))]}"); done
    for route in "${ROUTE_LIST[@]}"; do
        for s in "${order[@]}"; do run_wrk "$route" "$s"; done
    done
    echo "round $ROUND"
    awk -v r="$ROUND" 'BEGIN { printf "  %-8s %-8s %10s %9s %12s %11s %7s\n", "route", "server",
                                      "req/s", "p99 ms", "cpu us/req", "db us/req", "errors" }
        $1 == r { printf "  %-8s %-8s %10s %9s %12s %11s %7s%s\n", $2, $3, $4, $5, $6, $7, $8,
                         ($8 > 0 ? "  FAILED" : "") }' "$RESULTS"
done

echo
"$PYTHON" - "$RESULTS" "$ROUNDS" "$SERVERS" "$ROUTES" <<'PY'
import statistics, sys

path, rounds, servers, routes = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
rows = [l.split() for l in open(path)]
# What kiln must do against each peer: (the most CPU per request it may
# spend, as a share of the peer's); and at least the best peer's req/s.
CPU_TARGET = {"aiohttp": 0.4, "node": 0.7}


def med(route, server, col):
    vals = [float(r[col]) for r in rows if r[1] == route and r[2] == server]
    return statistics.median(vals) if vals else float("nan")


def errors(route, server):
    return sum(int(r[7]) for r in rows if r[1] == route and r[2] == server)


print("medians over %s round(s) (errors: summed); db us/req: PostgreSQL's CPU for db and "
      "queries, Redis' for counter" % rounds)
print("  %-8s %-8s %10s %9s %12s %11s %7s" % ("route", "server", "req/s", "p99 ms", "cpu us/req",
                                              "db us/req", "errors"))
for route in routes:
    for s in servers:
        e = errors(route, s)
        print("  %-8s %-8s %10.0f %9.2f %12.2f %11.2f %7d%s" % (
            route, s, med(route, s, 3), med(route, s, 4), med(route, s, 5), med(route, s, 6), e,
            "  FAILED" if e else ""))

peers = [s for s in servers if s != "kiln"]
if "kiln" in servers and peers:
    print()
    print("kiln against the peers and the targets (medians)")
    print("  %-8s %-8s %14s %16s  %s" % ("route", "peer", "req/s kiln/peer", "cpu/req kiln/peer",
                                         "targets"))
    met = total = 0
    for route in routes:
        kr, kc = med(route, "kiln", 3), med(route, "kiln", 5)
        for p in peers:
            pr, pc = med(route, p, 3), med(route, p, 5)
            ratio = kc / pc if pc > 0 else float("nan")
            ok = ratio <= CPU_TARGET[p]
            met, total = met + ok, total + 1
            print("  %-8s %-8s %14.2f %16.2f  cpu/req <= %.1f x %s's: %s" % (
                route, p, kr / pr if pr > 0 else float("nan"), ratio, CPU_TARGET[p], p,
                "met" if ok else "MISSED"))
        best = max(peers, key=lambda p: med(route, p, 3))
        ok = kr >= med(route, best, 3)
        met, total = met + ok, total + 1
        print("  %-8s %-8s %14s %16s  req/s >= the best peer's (%s, %.0f): %s" % (
            route, "", "", "", best, med(route, best, 3), "met" if ok else "MISSED"))
    print("  %d of %d targets met" % (met, total))
PY

# A run with failed requests (non-2xx answers, socket errors) is not valid.
failures=$(awk '{ n += $8 } END { print n + 0 }' "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "db.sh: $failures requests failed (see the errors columns): the run is not valid" >&2
    exit 1
fi
