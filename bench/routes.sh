#!/usr/bin/env bash
# bench/routes.sh -- what a big route table costs: wrk keep-alive on one route among 500 (bench/routes_plugin.c) against the same route alone, interleaved rounds, medians and their ratio.
#
# Usage: bench/routes.sh   (KILN_BUILD: the build to measure; builds the
# bench plugin with cc).  ROUTES (500), ROUNDS (3), DURATION (wrk -d, 5s),
# CONNS (64), THREADS (2), WORKERS (2), WARMUP (1s), KEEP_TMP (1: keep the
# temp dir); INSTRUCTIONS=1 also counts the worker's instructions per
# request of both with bench/instructions.sh (callgrind; a figure that the
# machine's load does not move).
set -euo pipefail
ME=routes.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh
BUILD=$(cd "${KILN_BUILD:-.}" && pwd)
ROUTES=${ROUTES:-500}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-1s}
WRK_LIMIT=120
URL_PATH=/api/v1/users/42/posts/hello
WANT="post 42 hello"
[ -x "$BUILD/kiln" ] || die "$BUILD/kiln not built"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v cc >/dev/null || die "cc not found"
TICK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
MANY_PID= ONE_PID=
trap 'stop_pid "$MANY_PID" TERM; stop_pid "$ONE_PID" TERM; remove_tmp' EXIT
cc -O2 -shared -fPIC -I"$PWD/include" -o "$TMP/routesbench.so" bench/routes_plugin.c ||
    die "building bench/routes_plugin.c failed"

# start NAME COUNT: a kiln serving COUNT routes in $TMP/NAME; sets PORT and PID.
start() {
    local dir=$TMP/$1
    mkdir -p "$dir/plugins"
    cp "$TMP/routesbench.so" "$dir/plugins/"
    PORT=$(free_port)
    kiln_conf "$dir" "$PORT" warn "" "[routesbench]" "count = $2"
    "$BUILD/kiln" -c "$dir/kiln.conf" >"$dir/kiln.out" 2>&1 &
    PID=$!
    for _ in $(seq 150); do
        [ "$(curl -s --max-time 1 "http://127.0.0.1:$PORT$URL_PATH" || true)" = "$WANT" ] && return 0
        sleep 0.1
    done
    die "kiln with $2 routes did not answer $URL_PATH (see $dir/kiln.out)"
}
# both ROUND: restarts both servers, the one started first alternating from
# one round to the next (the first one started measured slower here, with
# the same table on both sides), then warms both up.
both() {
    stop_pid "$MANY_PID" TERM; stop_pid "$ONE_PID" TERM
    MANY_PID= ONE_PID=
    rm -rf "$TMP/many" "$TMP/one"
    if [ $((($1 + ${ROUND_SHIFT:-0}) % 2)) = 1 ]; then
        start many "$ROUTES"; MANY_PID=$PID; MANY_PORT=$PORT
        start one 1; ONE_PID=$PID; ONE_PORT=$PORT
    else
        start one 1; ONE_PID=$PID; ONE_PORT=$PORT
        start many "$ROUTES"; MANY_PID=$PID; MANY_PORT=$PORT
    fi
    timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$MANY_PORT$URL_PATH" >/dev/null
    timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$ONE_PORT$URL_PATH" >/dev/null
}

RESULTS=$TMP/results
: >"$RESULTS"
# run NAME PORT PID: one measured wrk run; appends "NAME rps cpu_us_per_req errors".
run() {
    local out reqs errs before after secs=${DURATION%s}
    before=$(cpu_ticks "$3")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
          "http://127.0.0.1:$2$URL_PATH" 2>&1) || die "wrk failed against $1: $out"
    after=$(cpu_ticks "$3")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/[^0-9 ]/, " "); for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }' <<<"$out")
    awk -v n="$1" -v r="$reqs" -v e="$errs" -v s="$secs" -v t=$((after - before)) -v hz="$TICK" \
        'BEGIN { ok = r - e; printf "%s %.0f %.2f %d\n", n, ok / s, ok ? t * 1e6 / hz / ok : 0, e }' \
        >>"$RESULTS"
    local rps cpu errors
    read -r _ rps cpu errors < <(tail -n 1 "$RESULTS")
    result routes.rps "$1" "$rps" req/s
    result routes.cpu "$1" "$cpu" us/req
    result routes.errors "$1" "$errors" errors
    tail -1 "$RESULTS" | awk -v R="$ROUND" '{ printf "  round %s  %-5s %10s req/s %8s cpu us/req  errors %s\n", R, $1, $2, $3, $4 }'
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION $URL_PATH: $ROUTES routes against 1, $ROUNDS rounds, $WORKERS workers each"
for ROUND in $(seq "$ROUNDS"); do
    both "$ROUND"
    if [ $(((ROUND + ${ROUND_SHIFT:-0}) % 2)) = 1 ]; then
        run many "$MANY_PORT" "$MANY_PID"; run one "$ONE_PORT" "$ONE_PID"
    else
        run one "$ONE_PORT" "$ONE_PID"; run many "$MANY_PORT" "$MANY_PID"
    fi
done

median() {  # median NAME COLUMN (2 = req/s, 3 = cpu us/req)
    awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mr=$(median many 2); or=$(median one 2); mc=$(median many 3); oc=$(median one 3)
errors=$(awk '{ n += $4 } END { print n + 0 }' "$RESULTS")
echo "medians over $ROUNDS rounds"
awk -v mr="$mr" -v or="$or" -v mc="$mc" -v oc="$oc" -v n="$ROUTES" 'BEGIN {
    printf "  %d routes: %s req/s, %s cpu us/req\n", n, mr, mc
    printf "  1 route:   %s req/s, %s cpu us/req\n", or, oc
    printf "  ratio %d/1: req/s %.3f, cpu us/req %.3f\n", n, mr / or, mc / oc }'
if [ "${INSTRUCTIONS:-0}" = 1 ]; then
    for n in "$ROUTES" 1; do
        printf '  instructions, %s routes: ' "$n"
        PLUGIN_SO=$TMP/routesbench.so REQ_PATH=$URL_PATH WANT="$WANT" \
            CONF="[routesbench]; count = $n" KILN_BUILD=$BUILD BENCH_RESULTS='' bash bench/instructions.sh |
            sed 's/^instructions per keep-alive request: //'
    done
fi
[ "$errors" = 0 ] || die "$errors requests failed"
