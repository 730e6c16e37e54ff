#!/usr/bin/env bash
# bench/instructions.sh -- instructions per keep-alive request of one kiln worker, counted by callgrind: a figure that machine load does not move.
#
# Usage: bench/instructions.sh        (KILN_BUILD: the build to measure)
# Runs kiln with one worker and the hello plugin under valgrind's callgrind
# twice, replaying N1 then N2 identical keep-alive requests (GET /Ann on one
# connection, one at a time), and prints (I2 - I1) / (N2 - N1): the worker's
# instructions per request, start-up and shutdown cancelled out.  The same
# binary and inputs give the same figure to within a few instructions; quote
# it before and after a change of the hot path.
# CONF: [server] lines to add, separated by ';' (CONF='gzip = on');
# HEADERS: header lines the requests carry, separated by ';'
# (HEADERS='Accept-Encoding: gzip').
# PLUGIN_SO, REQ_PATH, WANT: other plugin files (separated by spaces), the path requested and the
# end of its answer (bench/routes.sh: its route-table plugin; a config
# section for it goes in CONF: CONF='[routesbench]; count = 500').
# The access log on: PLUGIN_SO="$B/plugins/hello/.libs/hello.so $B/plugins/accesslog/.libs/accesslog.so"
# CONF="[accesslog]; path = /tmp/access.log".
# TOP=N: also the N functions with the most instructions of their own per
# request (the difference of the two runs, by callgrind_annotate), to see
# where a request's instructions go.
# WS=1: WebSocket messages instead of requests: one connection upgraded on
# WS_PATH (/echo, the echo plugin by default), N1 then N2 text messages of
# 32 bytes, each echo read before the next; instructions per message.
set -euo pipefail
ME=instructions.sh
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh
BUILD=$(cd "${KILN_BUILD:-.}" && pwd)
N1=${N1:-2000}
N2=${N2:-6000}
TOP=${TOP:-0}
CONF=${CONF:-}
HEADERS=${HEADERS:-}
WS=${WS:-0}
WS_PATH=${WS_PATH:-/echo}
if [ "$WS" = 1 ]; then
    PLUGIN_SO=${PLUGIN_SO:-$BUILD/plugins/echo/.libs/echo.so}
    UNIT=message
else
    PLUGIN_SO=${PLUGIN_SO:-$BUILD/plugins/hello/.libs/hello.so}
    UNIT="keep-alive request"
fi
REQ_PATH=${REQ_PATH:-/Ann}
WANT=${WANT:-Hello, Ann}
WORKERS=1
[[ $TOP =~ ^[0-9]+$ ]] || die "TOP must be a number"
[[ $WS =~ ^[01]$ ]] || die "WS must be 0 or 1"
[ -x "$BUILD/kiln" ] || die "$BUILD/kiln not built"
for so in $PLUGIN_SO; do [ -f "$so" ] || die "$so not built"; done
command -v valgrind > /dev/null || die "valgrind not found (apt-get install valgrind)"
TMP=$(mktemp -d)
KILN_PID=
trap 'stop_pid "$KILN_PID" TERM; remove_tmp' EXIT

# replay PORT N: N requests on one connection, each answer read before the next.
replay() {
    timeout 300 python3 - "$1" "$2" "$HEADERS" "$REQ_PATH" "$WANT" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
extra = "".join(h.strip() + "\r\n" for h in sys.argv[3].split(";") if h.strip())
s = socket.create_connection(("127.0.0.1", port))
req = ("GET " + sys.argv[4] + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n").encode()
want = sys.argv[5].encode()
buf = b""
for _ in range(n):
    s.sendall(req)
    while not buf.endswith(want):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
    buf = b""
s.close()
PY
}

# replay_ws PORT N: one WebSocket on WS_PATH, N text messages of 32 bytes,
# each echo ("Hello, " and the message) read before the next, then a close.
replay_ws() {
    timeout 300 python3 - "$1" "$2" "$WS_PATH" <<'PY'
import socket, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed during the upgrade")
    head += chunk
if not head.startswith(b"HTTP/1.1 101"):
    sys.exit("no upgrade: " + head.split(b"\r\n")[0].decode(errors="replace"))
def frame(op, payload, mask=b"\x01\x02\x03\x04"):
    return bytes([0x80 | op, 0x80 | len(payload)]) + mask + \
        bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
msg = frame(1, b"x" * 32)
want = b"\x81\x27Hello, " + b"x" * 32     # unmasked text frame of 39 bytes
for _ in range(n):
    s.sendall(msg)
    got = b""
    while len(got) < len(want):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed")
        got += chunk
    if got != want:
        sys.exit("unexpected echo: %r" % got[:60])
s.sendall(frame(8, b"\x03\xe8"))
s.recv(4096)
s.close()
PY
}

# count N: the worker's instructions for N requests (Ir of its callgrind file).
count() {
    local n=$1 port out pid master
    rm -rf "$TMP/run" && mkdir -p "$TMP/run/plugins"
    for so in $PLUGIN_SO; do cp "$so" "$TMP/run/plugins/"; done
    port=$(free_port)
    local conf=()
    IFS=';' read -r -a conf <<<"$CONF"
    kiln_conf "$TMP/run" "$port" warn "${conf[@]}"
    valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$TMP/run/cg.%p" "$BUILD/kiln" -c "$TMP/run/kiln.conf" \
        > "$TMP/run/valgrind.log" 2>&1 &
    KILN_PID=$!
    # No probe requests (their number would vary): the replay's connection
    # waits in the listening socket's backlog until the worker accepts it.
    for _ in $(seq 300); do
        [ -s "$TMP/run/kiln.pid" ] && break
        sleep 0.1
    done
    if [ "$WS" = 1 ]; then replay_ws "$port" "$n"; else replay "$port" "$n"; fi
    master=$KILN_PID
    stop_pid "$KILN_PID" TERM
    KILN_PID=
    # The worker is the child: the file that is not the master's.
    out=
    for f in "$TMP"/run/cg.*; do
        pid=${f##*.}
        [ "$pid" = "$master" ] && continue
        grep -q "^cmd:" "$f" || continue
        out=$(awk '/^summary:/ { print $2 }' "$f")
        cp "$f" "$TMP/worker.$n"
    done
    [ "${VERBOSE:-0}" = 0 ] || grep -H "^summary:\|^cmd:\|^pid:" "$TMP"/run/cg.* >&2
    [ -n "$out" ] || die "no callgrind output of the worker (see $TMP/run/valgrind.log)"
    echo "$out"
}

i1=$(count "$N1")
i2=$(count "$N2")
echo "instructions per $UNIT: $(( (i2 - i1) / (N2 - N1) ))  ($N1 ${UNIT##* }s: $i1, $N2 ${UNIT##* }s: $i2)"
if [ "$TOP" -gt 0 ]; then
    command -v callgrind_annotate > /dev/null || die "callgrind_annotate not found (valgrind)"
    for n in "$N1" "$N2"; do
        callgrind_annotate --auto=no --inclusive=no --threshold=100 "$TMP/worker.$n" \
            > "$TMP/self.$n" || die "callgrind_annotate failed on $TMP/worker.$n"
    done
    python3 - "$TMP/self.$N1" "$TMP/self.$N2" $((N2 - N1)) "$TOP" "${UNIT##* }" <<'PY'
import re, sys
# "1,632,004 ( 3.92%)  /path/http.c:on_headers_complete [/path/kiln]"
line = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?):(\S+)(?: \[([^]]*)\])?$")
def self_costs(path):
    costs = {}
    for l in open(path):
        m = line.match(l)
        if m:
            where = m.group(2) if m.group(2) != "???" else (m.group(4) or "?").rsplit("/", 1)[-1]
            key = "%s  (%s)" % (m.group(3), where)
            costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return costs
a, b = self_costs(sys.argv[1]), self_costs(sys.argv[2])
n, top = int(sys.argv[3]), int(sys.argv[4])
rows = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
print("instructions of their own per %s, by function:" % sys.argv[5])
for per, name in list(reversed(rows))[:top]:
    print("  %8.1f  %s" % (per, name))
PY
fi
if [ "$WS" = 1 ]; then
    result instructions.ws kiln $(( (i2 - i1) / (N2 - N1) )) instr/msg
else
    result instructions kiln $(( (i2 - i1) / (N2 - N1) )) instr/req
fi
