#!/usr/bin/env bash
# Compares kiln's hello plugin with nginx and h2o returning the same body: requests per second (keep-alive, Connection: close, pipelined) and server CPU time per request, total and user-space, and the memory of idle keep-alive connections.
#
# Usage: bench/http.sh            (after building kiln; see bench/README.md)
# Environment: KILN_BUILD (build dir, default: the repo root), ROUNDS (3),
# DURATION (wrk -d, 5s), CONNS (wrk -c, 64), THREADS (wrk -t, 2), WORKERS (2),
# WARMUP (1s), IDLE (idle connections for the memory figure, 2000; 0: skip),
# MODES (keepalive close pipeline), PEERS (nginx h2o), PIPELINE (requests per
# write in the pipelined mode, 16), URL_PATH (the path wrk requests, /),
# KEEP_TMP (1: keep the temp dir), CONF (kiln's [server] lines to add,
# separated by ';': CONF='metrics = /metrics').
# h2o runs in keepalive and close only; the pipelined mode is kiln and nginx.
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
MODES=${MODES:-keepalive close pipeline}
PEERS=${PEERS:-nginx h2o}
PIPELINE=${PIPELINE:-16}
IDLE=${IDLE:-2000}
WRK_LIMIT=120            # seconds any one wrk run may take before it is killed
BODY="Hello, Anonymous"
TICK=$(getconf CLK_TCK)

ME=http.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
[ -f "$HELLO" ] || die "$HELLO not found: build kiln first"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"
[[ $URL_PATH == /* ]] || die "URL_PATH must start with /"
[[ $PIPELINE =~ ^[1-9][0-9]?$ ]] || die "PIPELINE must be 1..99"
[[ $IDLE =~ ^[0-9]+$ ]] || die "IDLE must be a number"
for m in $MODES; do
    case $m in keepalive|close|pipeline) ;; *) die "MODES: unknown mode \"$m\" (keepalive, close, pipeline)" ;; esac
done
for p in $PEERS; do
    case $p in nginx|h2o) ;; *) die "PEERS: unknown peer \"$p\" (nginx, h2o)" ;; esac
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
H2O=$(command -v h2o || echo /usr/sbin/h2o)
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
if has_peer nginx; then [ -x "$NGINX" ] || die "nginx not found (scripts/deps --bench)"; fi
if has_peer h2o; then [ -x "$H2O" ] || die "h2o not found (scripts/deps --bench, or PEERS=nginx)"; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
declare -A PID PORT
cleanup() {
    stop_pid "${PID[kiln]:-}" TERM
    stop_pid "${PID[nginx]:-}" QUIT
    stop_pid "${PID[h2o]:-}" TERM
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fill TEMPLATE DIR: the template with @PREFIX@, @PORT@, ... of the server in DIR.
fill() {
    sed -e "s|@PREFIX@|$2|g" -e "s|@PORT@|$3|g" -e "s|@WORKERS@|$WORKERS|g" \
        -e "s|@THREADS@|$WORKERS|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" "$1"
}

# ---- kiln ----------------------------------------------------------------------
PORT[kiln]=$(free_port)
mkdir -p "$TMP/kiln/plugins"
cp "$HELLO" "$TMP/kiln/plugins/hello.so"
KILN_EXTRA=()
IFS=';' read -r -a KILN_EXTRA <<<"$CONF"
kiln_conf "$TMP/kiln" "${PORT[kiln]}" warn "${KILN_EXTRA[@]}"
"$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
PID[kiln]=$!
wait_http "${PORT[kiln]}" || { cat "$TMP/kiln/kiln.out" "$TMP/kiln/kiln.log" >&2 || true; die "kiln did not answer on port ${PORT[kiln]}"; }

# ---- nginx: return 200 "Hello, Anonymous" ----------------------------------------
if has_peer nginx; then
    PORT[nginx]=$(free_port)
    mkdir -p "$TMP/nginx"
    fill "$HERE/nginx.conf" "$TMP/nginx" "${PORT[nginx]}" >"$TMP/nginx/nginx.conf"
    if [ "$(id -u)" != 0 ]; then
        sed -i '/^user /d' "$TMP/nginx/nginx.conf"   # only meaningful for root
    fi
    "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
        >"$TMP/nginx/nginx.out" 2>&1 </dev/null &
    PID[nginx]=$!
    wait_http "${PORT[nginx]}" || { cat "$TMP/nginx/nginx.out" "$TMP/nginx/error.log" >&2 || true; die "nginx did not answer on port ${PORT[nginx]}"; }
fi

# ---- h2o: the same 16 bytes from a file, WORKERS threads -------------------------
if has_peer h2o; then
    PORT[h2o]=$(free_port)
    mkdir -p "$TMP/h2o"
    printf '%s' "$BODY" >"$TMP/h2o/hello.txt"
    fill "$HERE/h2o.conf" "$TMP/h2o" "${PORT[h2o]}" >"$TMP/h2o/h2o.conf"
    "$H2O" -c "$TMP/h2o/h2o.conf" >"$TMP/h2o/h2o.out" 2>&1 </dev/null &
    PID[h2o]=$!
    wait_http "${PORT[h2o]}" || { cat "$TMP/h2o/h2o.out" "$TMP/h2o/error.log" >&2 || true; die "h2o did not answer on port ${PORT[h2o]}"; }
fi

SERVERS="kiln $PEERS"
for s in $SERVERS; do echo "$s pid ${PID[$s]} port ${PORT[$s]}"; done
echo "wrk -t$THREADS -c$CONNS -d$DURATION $URL_PATH, modes: $MODES (pipelined: $PIPELINE per write), $ROUNDS rounds, $WORKERS workers each, CLK_TCK $TICK"
echo

RESULTS=$TMP/results.txt
: >"$RESULTS"

# run_wrk SERVER MODE: one measured wrk run; appends "round mode server rps
# cpu_us user_us errors" to RESULTS, rps and the CPU figures over the 2xx
# answers only (cpu_us: utime + stime, user_us: utime alone).
run_wrk() {
    local server=$1 mode=$2 port=${PORT[$1]} pid=${PID[$1]} u0 s0 u1 s1 out
    local args=()
    case $mode in
        close) args=(-H "Connection: close") ;;
        pipeline) args=(-s "$HERE/pipeline.lua") ;;
    esac
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is gone"
    read -r u0 s0 < <(cpu_split "$pid")
    out=$(PIPELINE=$PIPELINE timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
          "${args[@]}" "http://127.0.0.1:$port$URL_PATH" 2>&1) || die "wrk failed against $server: $out"
    read -r u1 s1 < <(cpu_split "$pid")
    grep -q 'requests in' <<<"$out" || die "no request count from wrk against $server: $out"
    # "N requests in 5.00s" (or ms, m), "Non-2xx or 3xx responses: N",
    # "Socket errors: connect N, read N, write N, timeout N"
    awk -v r="$ROUND" -v m="$mode" -v s="$server" -v u=$((u1 - u0)) -v k=$((s1 - s0)) -v hz="$TICK" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        /Non-2xx or 3xx responses:/ { non2xx += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; sub(/,$/, "", v)
                                                       if (v ~ /^[0-9]+$/) sock += v } }
        END { good = n - non2xx
              printf "%s %s %s %.0f %.2f %.2f %d\n", r, m, s, (secs > 0 ? good / secs : 0),
                     (good > 0 ? (u + k) * 1e6 / hz / good : 0),
                     (good > 0 ? u * 1e6 / hz / good : 0), non2xx + sock }' <<<"$out" >>"$RESULTS"
    local line
    line=$(tail -n 1 "$RESULTS")
    read -r _ _ _ rps cpu ucpu errs <<<"$line"
    result "$mode.rps" "$server" "$rps" req/s
    result "$mode.cpu" "$server" "$cpu" us/req
    result "$mode.ucpu" "$server" "$ucpu" us/req
    result "$mode.errors" "$server" "$errs" errors
    [ "$errs" = 0 ] || echo "  $server $mode: $(awk '/Socket errors|Non-2xx/' <<<"$out")" >&2
}

mode_servers() {  # mode_servers MODE ROUND: the servers a mode measures, who goes first rotating
    if [ "$1" = pipeline ]; then
        # shellcheck disable=SC2046
        rotate "$2" $(for s in kiln nginx; do [[ " $SERVERS " == *" $s "* ]] && echo "$s"; done)
    else
        # shellcheck disable=SC2086
        rotate "$2" $SERVERS
    fi
}

# Warm all up (not measured).
for s in $SERVERS; do
    timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "http://127.0.0.1:${PORT[$s]}/" >/dev/null
done

for ROUND in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        for server in $(mode_servers "$mode" "$ROUND"); do
            run_wrk "$server" "$mode"
        done
    done
    echo "round $ROUND"
    awk -v r="$ROUND" 'BEGIN { printf "  %-10s %-6s %12s %12s %12s %9s\n", "mode", "server", "req/s",
                                      "cpu us/req", "user us/req", "errors" }
        $1 == r { printf "  %-10s %-6s %12s %12s %12s %9s%s\n", $2, $3, $4, $5, $6, $7,
                         ($7 > 0 ? "  FAILED" : "") }' "$RESULTS"
done

echo
echo "medians over $ROUNDS rounds (errors: summed), and kiln's ratio to each peer"
python3 - "$RESULTS" "$MODES" "$PEERS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
modes, peers = sys.argv[2].split(), sys.argv[3].split()
def med(m, s, c):
    v = [float(r[c]) for r in rows if r[1] == m and r[2] == s]
    return statistics.median(v) if v else None
print("  %-10s %-6s %12s %12s %12s %9s   %s" % ("mode", "server", "req/s", "cpu us/req",
                                               "user us/req", "errors", "kiln/server: req/s cpu user"))
for m in modes:
    for s in ["kiln"] + peers:
        if med(m, s, 3) is None:
            continue
        errs = sum(int(r[6]) for r in rows if r[1] == m and r[2] == s)
        ratio = ""
        if s != "kiln":
            ratio = "  ".join("%.2f" % (med(m, "kiln", c) / med(m, s, c)) if med(m, s, c) else "-"
                              for c in (3, 4, 5))
        print("  %-10s %-6s %12.0f %12.2f %12.2f %9d   %s%s" % (m, s, med(m, s, 3), med(m, s, 4),
              med(m, s, 5), errs, ratio, "  FAILED" if errs else ""))
PY

# ---- memory per idle keep-alive connection --------------------------------------
# IDLE connections each send one request, read the answer and stay open; the
# growth of the servers' summed RSS (master + workers), divided by IDLE.

# idle_rss SERVER: "before after" summed RSS (kB) while IDLE connections are open.
idle_rss() {
    python3 - "${PORT[$1]}" "$IDLE" "${PID[$1]}" <<'PY'
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

if [ "$IDLE" -gt 0 ]; then
    ulimit -n $((IDLE + 1024)) 2>/dev/null || true
    echo
    echo "memory per idle keep-alive connection ($IDLE open, summed RSS of master + workers)"
    printf "  %-6s %12s %12s\n" server "bytes/conn" "kiln/server"
    kiln_b=
    for s in kiln nginx; do
        [[ " $SERVERS " == *" $s "* ]] || continue
        read -r b0 b1 < <(idle_rss "$s")
        b=$(( (b1 - b0) * 1024 / IDLE ))
        [ -n "$kiln_b" ] || kiln_b=$b
        result idle.bytes "$s" "$b" B/conn
        awk -v s="$s" -v b="$b" -v k="$kiln_b" 'BEGIN {
            printf "  %-6s %12d %12s\n", s, b, (s == "kiln" ? "" : (b > 0 ? sprintf("%.2f", k / b) : "-")) }'
    done
fi

# A run with failed requests (non-2xx answers, socket errors) is not valid.
failures=$(awk '{ n += $7 } END { print n + 0 }' "$RESULTS")
if [ "$failures" -gt 0 ]; then
    echo
    echo "http.sh: $failures requests failed (see the errors columns): the run is not valid" >&2
    exit 1
fi
