#!/usr/bin/env bash
# What middlewares and the access log cost: the hello route bare, behind the access log, and behind three middlewares (cors, permissions, error_pages), as ratios to bare.
#
# Usage: bench/middleware.sh      (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), ROUNDS (3),
# DURATION (wrk -d, 5s), CONNS (wrk -c, 64), THREADS (wrk -t, 2), WORKERS (2),
# KEEP_TMP (1: keep the temp dir).
# Three kilns run side by side, each with its own plugin dir: `bare` (hello),
# `accesslog` (hello + the access log into a file, its default 64k buffer)
# and `mw3` (hello + cors, permissions and error_pages configured, none of
# which answers /Bench: each before and after runs and lets it through).
# Rounds interleave the three, alternating the order; the table gives the
# medians of keep-alive req/s and server CPU per request, and each one's
# ratio to bare.  Non-2xx answers or socket errors make the script exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KILN_BUILD=${KILN_BUILD:-$(cd "$HERE/.." && pwd)}
KILN=$KILN_BUILD/kiln
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
WRK_LIMIT=120
TICK=$(getconf CLK_TCK)
URL_PATH=/Bench

ME=middleware.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"
so() { local f=$KILN_BUILD/plugins/$1/.libs/$1.so; [ -f "$f" ] || die "$f not found"; echo "$f"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
declare -A PID PORT
cleanup() {
    for v in bare accesslog mw3; do stop_pid "${PID[$v]:-}" TERM; done
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start VARIANT PLUGIN... -- [LINE...]: a kiln serving those plugins, the
# lines after -- appended to its config.
start() {
    local v=$1 dir=$TMP/$1 p
    shift
    mkdir -p "$dir/plugins" "$dir/errors"
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do cp "$(so "$1")" "$dir/plugins/$1.so"; shift; done
    [ "${1:-}" = -- ] && shift
    PORT[$v]=$(free_port)
    kiln_conf "$dir" "${PORT[$v]}" warn "$@"
    "$KILN" -c "$dir/kiln.conf" >"$dir/kiln.out" 2>&1 </dev/null &
    PID[$v]=$!
    wait_http "${PORT[$v]}" || { cat "$dir/kiln.out" "$dir/kiln.log" >&2 || true; die "$v did not answer"; }
}

echo '<h1>{status}</h1>' >"$TMP/404.html"
start bare hello
start accesslog hello accesslog -- "" "[accesslog]" "path = $TMP/accesslog/access.log"
start mw3 hello cors permissions error_pages -- "" \
    "[cors]" "origins = https://app.example" "prefix = /api" \
    "[permissions]" "rules = /api bearer" \
    "[error_pages]" "dir = $TMP/mw3/errors"
cp "$TMP/404.html" "$TMP/mw3/errors/404.html"

RESULTS=$TMP/results.txt
: >"$RESULTS"

run_wrk() {  # run_wrk VARIANT: appends "round variant rps cpu_us errors"
    local v=$1 before after out
    kill -0 "${PID[$v]}" 2>/dev/null || die "$v (pid ${PID[$v]}) is gone"
    before=$(cpu_ticks "${PID[$v]}")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
          "http://127.0.0.1:${PORT[$v]}$URL_PATH" 2>&1) || die "wrk failed against $v: $out"
    after=$(cpu_ticks "${PID[$v]}")
    awk -v r="$ROUND" -v s="$v" -v t=$((after - before)) -v hz="$TICK" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { x = $i; sub(/,$/, "", x)
                                                       if (x ~ /^[0-9]+$/) bad += x } }
        END { good = n - bad
              printf "%s %s %.0f %.3f %d\n", r, s, (secs > 0 ? good / secs : 0),
                     (good > 0 ? t * 1e6 / hz / good : 0), bad }' <<<"$out" >>"$RESULTS"
    local rps cpu errs
    read -r _ _ rps cpu errs < <(tail -n 1 "$RESULTS")
    result middleware.rps "$v" "$rps" req/s
    result middleware.cpu "$v" "$cpu" us/req
    result middleware.errors "$v" "$errs" errors
}

for v in bare accesslog mw3; do      # warm-up, not measured
    timeout "$WRK_LIMIT" wrk -t1 -c8 -d1s "http://127.0.0.1:${PORT[$v]}$URL_PATH" >/dev/null
done
echo "wrk -t$THREADS -c$CONNS -d$DURATION $URL_PATH, $ROUNDS rounds, $WORKERS workers each"
for ROUND in $(seq "$ROUNDS"); do
    if [ $(((ROUND + ${ROUND_SHIFT:-0}) % 2)) = 1 ]; then order="bare accesslog mw3"; else order="mw3 accesslog bare"; fi
    for v in $order; do run_wrk "$v"; done
    awk -v r="$ROUND" '$1 == r { printf "  round %s %-10s %10s req/s %8s us/req %s\n", $1, $2, $3, $4,
                                        ($5 > 0 ? $5 " errors" : "") }' "$RESULTS"
done

median() {  # median VARIANT COLUMN (3 = req/s, 4 = cpu us/req)
    awk -v s="$1" -v c="$2" '$2 == s { print $c }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "medians over $ROUNDS rounds"
printf "  %-10s %12s %8s %12s %8s\n" variant "req/s" "/bare" "cpu us/req" "/bare"
br=$(median bare 3); bc=$(median bare 4)
for v in bare accesslog mw3; do
    awk -v v="$v" -v r="$(median "$v" 3)" -v c="$(median "$v" 4)" -v br="$br" -v bc="$bc" 'BEGIN {
        printf "  %-10s %12.0f %8.2f %12.2f %8.2f\n", v, r, (br > 0 ? r / br : 0), c, (bc > 0 ? c / bc : 0) }'
done
lines=$(wc -l <"$TMP/accesslog/access.log" 2>/dev/null || echo 0)
echo "access log: $lines lines"
failed=$(awk '{ n += $5 } END { print n + 0 }' "$RESULTS")
[ "$failed" = 0 ] || die "$failed failed requests"
