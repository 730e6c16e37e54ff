#!/usr/bin/env bash
# Compares kiln's hello plugin with nginx returning the same body: requests per second and server CPU time per request.
#
# Usage: bench/http.sh            (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), ROUNDS (3),
# DURATION (wrk -d, 5s), CONNS (wrk -c, 64), THREADS (wrk -t, 2), WORKERS (2),
# WARMUP (1s), IDLE (idle connections for the memory figure, 2000; 0: skip),
# URL_PATH (the path wrk requests, /), KEEP_TMP (1: keep the temp dir),
# CONF (kiln's [server] lines to add, separated by ';': CONF='metrics = /metrics').
# Only 2xx answers count toward req/s and cpu us/req; non-2xx answers and
# socket errors are shown in the tables' errors column and make the script
# exit 1.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KILN_BUILD=${KILN_BUILD:-$(cd "$HERE/.." && pwd)}
KILN=$KILN_BUILD/kiln
HELLO=$KILN_BUILD/plugins/hello/.libs/hello.so
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-1s}
URL_PATH=${URL_PATH:-/}
CONF=${CONF:-}
WRK_LIMIT=120            # seconds any one wrk run may take before it is killed
BODY="Hello, Anonymous"
TICK=$(getconf CLK_TCK)

ME=http.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
[ -f "$HELLO" ] || die "$HELLO not found: build kiln first"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (apt-get install nginx-light)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"
[[ $URL_PATH == /* ]] || die "URL_PATH must start with /"

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

# ---- kiln ----------------------------------------------------------------------
KILN_PORT=$(free_port)
mkdir -p "$TMP/kiln/plugins"
cp "$HELLO" "$TMP/kiln/plugins/hello.so"
KILN_EXTRA=()
IFS=';' read -r -a KILN_EXTRA <<<"$CONF"
kiln_conf "$TMP/kiln" "$KILN_PORT" warn "${KILN_EXTRA[@]}"
"$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
KILN_PID=$!
wait_http "$KILN_PORT" || { cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" >&2 || true; die "kiln did not answer on port $KILN_PORT"; }

# ---- nginx ---------------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@WORKERS@|$WORKERS|g" \
    -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    "$HERE/nginx.conf" >"$TMP/nginx/nginx.conf"
if [ "$(id -u)" != 0 ]; then
    sed -i '/^user /d' "$TMP/nginx/nginx.conf"   # only meaningful for root
fi
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
    >"$TMP/nginx/nginx.out" 2>&1 </dev/null &
NGINX_PID=$!
wait_http "$NGINX_PORT" || { cat "$TMP/nginx/nginx.out" "$TMP/nginx/error.log" >&2 || true; die "nginx did not answer on port $NGINX_PORT"; }

echo "kiln  pid $KILN_PID  port $KILN_PORT  ($(cpu_ticks "$KILN_PID") ticks so far)"
echo "nginx pid $NGINX_PID  port $NGINX_PORT"
echo "wrk -t$THREADS -c$CONNS -d$DURATION $URL_PATH, $ROUNDS rounds, $WORKERS workers each, CLK_TCK $TICK"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run_wrk SERVER MODE: one measured wrk run; appends "round mode server rps
# cpu_us errors" to RESULTS, rps and cpu_us over the 2xx answers only.
run_wrk() {
    local server=$1 mode=$2 port pid before after out reqs errs
    if [ "$server" = kiln ]; then port=$KILN_PORT pid=$KILN_PID; else port=$NGINX_PORT pid=$NGINX_PID; fi
    local hdr=()
    [ "$mode" = close ] && hdr=(-H "Connection: close")
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is gone"
    before=$(cpu_ticks "$pid")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "${hdr[@]}" \
          "http://127.0.0.1:$port$URL_PATH" 2>&1) || die "wrk failed against $server: $out"
    after=$(cpu_ticks "$pid")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    [ -n "$reqs" ] || die "no request count from wrk against $server: $out"
    errs=$(awk '/Socket errors|Non-2xx/ { printf "%s; ", $0 }' <<<"$out")
    [ -z "$errs" ] || echo "  $server $mode: $errs" >&2
    # "N requests in 5.00s" (or ms, m), "Non-2xx or 3xx responses: N",
    # "Socket errors: connect N, read N, write N, timeout N"
    awk -v r="$ROUND" -v m="$mode" -v s="$server" -v t=$((after - before)) -v hz="$TICK" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        /Non-2xx or 3xx responses:/ { non2xx += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v)
                                                       if (v ~ /^[0-9]+$/) sock += v } }
        END { good = n - non2xx
              printf "%s %s %s %.0f %.2f %d\n", r, m, s, (secs > 0 ? good / secs : 0),
                     (good > 0 ? t * 1e6 / hz / good : 0), non2xx + sock }' <<<"$out" >>"$RESULTS"
}

# Warm both up (not measured).
timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$KILN_PORT/" >/dev/null
timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:$NGINX_PORT/" >/dev/null

for ROUND in $(seq "$ROUNDS"); do
    # Alternate who goes first so drift (thermal, caches) does not favour one side.
    if [ $((ROUND % 2)) = 1 ]; then order="kiln nginx"; else order="nginx kiln"; fi
    for mode in keepalive close; do
        for server in $order; do
            run_wrk "$server" "$mode"
        done
    done
    echo "round $ROUND"
    awk -v r="$ROUND" 'BEGIN { printf "  %-10s %-6s %12s %14s %9s\n", "mode", "server", "req/s",
                                      "cpu us/req", "errors" }
        $1 == r { printf "  %-10s %-6s %12s %14s %9s%s\n", $2, $3, $4, $5, $6,
                         ($6 > 0 ? "  FAILED" : "") }' "$RESULTS"
done

# median MODE SERVER COLUMN (4 = req/s, 5 = cpu us/req)
median() {
    awk -v m="$1" -v s="$2" -v c="$3" '$2 == m && $3 == s { print $c }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# errors MODE SERVER: failed requests summed over the rounds
errors() {
    awk -v m="$1" -v s="$2" '$2 == m && $3 == s { n += $6 } END { print n + 0 }' "$RESULTS"
}

echo
echo "medians over $ROUNDS rounds (errors: summed)"
printf "  %-10s %12s %12s %10s   %12s %12s %10s   %11s %12s\n" mode "kiln req/s" "nginx req/s" \
    "kiln/nginx" "kiln us/req" "nginx us/req" "kiln/nginx" "kiln errors" "nginx errors"
for mode in keepalive close; do
    kr=$(median "$mode" kiln 4); nr=$(median "$mode" nginx 4)
    kc=$(median "$mode" kiln 5); nc=$(median "$mode" nginx 5)
    ke=$(errors "$mode" kiln); ne=$(errors "$mode" nginx)
    awk -v m="$mode" -v kr="$kr" -v nr="$nr" -v kc="$kc" -v nc="$nc" -v ke="$ke" -v ne="$ne" 'BEGIN {
        printf "  %-10s %12.0f %12.0f %10.2f   %12.2f %12.2f %10.2f   %11d %12d%s\n", m, kr, nr,
               (nr > 0 ? kr / nr : 0), kc, nc, (nc > 0 ? kc / nc : 0), ke, ne,
               (ke + ne > 0 ? "  FAILED" : "") }'
done

# ---- memory per idle keep-alive connection --------------------------------------
# IDLE connections each send one request, read the answer and stay open; the
# growth of the servers' summed RSS (master + workers), divided by IDLE.

# idle_rss SERVER: "before after" summed RSS (kB) while IDLE connections are open.
idle_rss() {
    local port pid
    if [ "$1" = kiln ]; then port=$KILN_PORT pid=$KILN_PID; else port=$NGINX_PORT pid=$NGINX_PID; fi
    python3 - "$port" "$IDLE" "$pid" <<'PY'
import glob, socket, sys, time
port, n, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def rss():
    """VmRSS of root and its direct children, in kB."""
    total = 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = open(stat).read()
            pid, ppid = text.split()[0], text[text.rfind(")") + 2:].split()[1]
            if root in (pid, ppid):
                for line in open(stat[:-4] + "status"):
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, IndexError):
            pass
    return total

time.sleep(0.5)
before = rss()
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    conns.append(s)
for s in conns:
    data = b""
    while b"Hello, Anonymous" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed by the server")
        data += chunk
time.sleep(1.0)
print(before, rss())
for s in conns:
    s.close()
PY
}

IDLE=${IDLE:-2000}
if [ "$IDLE" -gt 0 ]; then
    ulimit -n $((IDLE + 1024)) 2>/dev/null || true
    read -r kb0 kb1 < <(idle_rss kiln)
    read -r nb0 nb1 < <(idle_rss nginx)
    echo
    echo "memory per idle keep-alive connection ($IDLE open, summed RSS of master + workers)"
    awk -v n="$IDLE" -v k0="$kb0" -v k1="$kb1" -v n0="$nb0" -v n1="$nb1" 'BEGIN {
        k = (k1 - k0) * 1024 / n; g = (n1 - n0) * 1024 / n
        printf "  %-10s %12s %12s %10s\n", "", "kiln", "nginx", "kiln/nginx"
        printf "  %-10s %12.0f %12.0f %10.2f\n", "bytes/conn", k, g, (g > 0 ? k / g : 0) }'
fi

# A run with failed requests (non-2xx answers, socket errors) is not valid.
failures=$(awk '{ n += $6 } END { print n + 0 }' "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "http.sh: $failures requests failed (see the errors columns): the run is not valid" >&2
    exit 1
fi
