#!/usr/bin/env bash
# Compares kiln's static plugin with nginx (sendfile on, tcp_nopush on) serving the same directory: a 4 KiB and a 1 MiB file, requests per second and server CPU time per request.
#
# Usage: bench/static.sh          (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), ROUNDS (3),
# DURATION (wrk -d, 5s), CONNS (wrk -c, 32), THREADS (wrk -t, 2), WORKERS (2),
# WARMUP (1s), KEEP_TMP (1: keep the temp dir).  wrk keeps its connections
# alive and sends no Accept-Encoding (no precompressed sibling is looked for).
# Only 2xx answers count; any other answer or socket error fails the run.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KILN_BUILD=${KILN_BUILD:-$(cd "$HERE/.." && pwd)}
KILN=$KILN_BUILD/kiln
STATIC=$KILN_BUILD/plugins/static/.libs/static.so
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-1s}
WRK_LIMIT=120
TICK=$(getconf CLK_TCK)
FILES="small.bin big.bin"

ME=static.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
[ -f "$STATIC" ] || die "$STATIC not found: build kiln first"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (apt-get install nginx-light)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
KILN_PID=
NGINX_PID=
cleanup() {
    stop_pid "$KILN_PID" TERM
    stop_pid "$NGINX_PID" QUIT
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP/www/static"
head -c 4096 /dev/urandom >"$TMP/www/static/small.bin"
head -c 1048576 /dev/urandom >"$TMP/www/static/big.bin"

wait_file() {  # wait_file PORT: until /static/small.bin answers 200, 15 s
    local _
    for _ in $(seq 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
              "http://127.0.0.1:$1/static/small.bin" 2>/dev/null || true)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- kiln: [static] root = www/static under /static -----------------------------
KILN_PORT=$(free_port)
mkdir -p "$TMP/kiln/plugins"
cp "$STATIC" "$TMP/kiln/plugins/static.so"
kiln_conf "$TMP/kiln" "$KILN_PORT" warn "" "[static]" "prefix = /static" "root = $TMP/www/static"
"$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
KILN_PID=$!
wait_file "$KILN_PORT" || { cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" >&2 || true; die "kiln did not serve on port $KILN_PORT"; }

# ---- nginx: root www, the same files under /static ------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@WORKERS@|$WORKERS|g" \
    -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    -e "s|@ROOT@|$TMP/www|g" "$HERE/nginx-static.conf" >"$TMP/nginx/nginx.conf"
if [ "$(id -u)" != 0 ]; then
    sed -i '/^user /d' "$TMP/nginx/nginx.conf"   # only meaningful for root
fi
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
    >"$TMP/nginx/nginx.out" 2>&1 </dev/null &
NGINX_PID=$!
wait_file "$NGINX_PORT" || { cat "$TMP/nginx/nginx.out" "$TMP/nginx/error.log" >&2 || true; die "nginx did not serve on port $NGINX_PORT"; }

for f in $FILES; do
    cmp -s <(curl -s "http://127.0.0.1:$KILN_PORT/static/$f") "$TMP/www/static/$f" ||
        die "kiln's /static/$f differs from the file"
done

echo "kiln  pid $KILN_PID  port $KILN_PORT;  nginx pid $NGINX_PID  port $NGINX_PORT"
echo "wrk -t$THREADS -c$CONNS -d$DURATION (keep-alive), $ROUNDS rounds, $WORKERS workers each, CLK_TCK $TICK"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run_wrk SERVER FILE: one measured run; appends "round file server rps cpu_us errors".
run_wrk() {
    local server=$1 file=$2 port pid before after out
    if [ "$server" = kiln ]; then port=$KILN_PORT pid=$KILN_PID; else port=$NGINX_PORT pid=$NGINX_PID; fi
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is gone"
    before=$(cpu_ticks "$pid")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
          "http://127.0.0.1:$port/static/$file" 2>&1) || die "wrk failed against $server: $out"
    after=$(cpu_ticks "$pid")
    awk -v r="$ROUND" -v f="$file" -v s="$server" -v t=$((after - before)) -v hz="$TICK" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        /Non-2xx or 3xx responses:/ { non2xx += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v)
                                                       if (v ~ /^[0-9]+$/) sock += v } }
        END { good = n - non2xx
              printf "%s %s %s %.0f %.2f %d\n", r, f, s, (secs > 0 ? good / secs : 0),
                     (good > 0 ? t * 1e6 / hz / good : 0), non2xx + sock }' <<<"$out" >>"$RESULTS"
    local rps cpu errs
    read -r _ _ _ rps cpu errs < <(tail -n 1 "$RESULTS")
    result "static.${file%.bin}.rps" "$server" "$rps" req/s
    result "static.${file%.bin}.cpu" "$server" "$cpu" us/req
    result "static.${file%.bin}.errors" "$server" "$errs" errors
}

for f in $FILES; do
    for port in "$KILN_PORT" "$NGINX_PORT"; do
        timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" \
            "http://127.0.0.1:$port/static/$f" >/dev/null
    done
done

for ROUND in $(seq "$ROUNDS"); do
    order=$(rotate "$ROUND" kiln nginx)
    for f in $FILES; do
        for server in $order; do
            run_wrk "$server" "$f"
        done
    done
    echo "round $ROUND"
    awk -v r="$ROUND" '$1 == r { printf "  %-10s %-6s %10s req/s %10s us/req %6s errors\n",
                                        $2, $3, $4, $5, $6 }' "$RESULTS"
done

median() {  # median FILE SERVER COLUMN (4 = req/s, 5 = cpu us/req)
    awk -v f="$1" -v s="$2" -v c="$3" '$2 == f && $3 == s { print $c }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "medians over $ROUNDS rounds"
printf "  %-10s %12s %12s %10s   %12s %12s %10s\n" file "kiln req/s" "nginx req/s" "kiln/nginx" \
    "kiln us/req" "nginx us/req" "kiln/nginx"
for f in $FILES; do
    awk -v f="$f" -v kr="$(median "$f" kiln 4)" -v nr="$(median "$f" nginx 4)" \
        -v kc="$(median "$f" kiln 5)" -v nc="$(median "$f" nginx 5)" 'BEGIN {
        printf "  %-10s %12.0f %12.0f %10.2f   %12.2f %12.2f %10.2f\n", f, kr, nr,
               (nr > 0 ? kr / nr : 0), kc, nc, (nc > 0 ? kc / nc : 0) }'
done
bad=$(awk '{ n += $6 } END { print n + 0 }' "$RESULTS")
[ "$bad" = 0 ] || die "$bad failed requests (see the rounds above)"
