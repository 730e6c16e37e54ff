#!/usr/bin/env bash
# bench/compress.sh -- what compression costs and saves: gzip levels 1/5/6 against brotli qualities 1/4/5 on typical bodies (size and CPU), then kiln serving a 10 KiB JSON body gzipped and not (req/s, server CPU per request).
#
# Usage: bench/compress.sh      (after building kiln; see bench/README.md "Compression")
# Environment: KILN_BUILD (build dir, default: the repo root), DURATION (wrk
# -d, 5s), CONNS (wrk -c, 32), THREADS (wrk -t, 2), WORKERS (2), ROUNDS (3),
# KEEP_TMP (1: keep the temp dir).  The bodies: a 10 KiB JSON array of
# records (generated, seeded), the first 100 KiB of Node.js's process.html
# (HTML_FILE) and 1 MiB of distinct JavaScript files concatenated as a
# bundler would (JS_DIRS).  Brotli is measured when libbrotlienc is found.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-3}
HTML_FILE=${HTML_FILE:-/usr/share/doc/nodejs/api/process.html}
JS_DIRS=${JS_DIRS:-/usr/share/javascript /usr/lib/node_modules/npm /usr/share/nodejs}
WRK_LIMIT=120
TICK=$(getconf CLK_TCK)

ME=compress.sh
. "$HERE/lib.sh"

[ -x "$KILN" ] || die "$KILN not found: build kiln first (or set KILN_BUILD)"
command -v cc >/dev/null || die "cc not found"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
pkg-config --exists zlib || die "zlib not found (apt-get install zlib1g-dev)"
[ -f "$HTML_FILE" ] || die "$HTML_FILE not found (apt-get install nodejs, or set HTML_FILE)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
KILN_PID=
cleanup() {
    stop_pid "$KILN_PID" TERM
    remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the bodies -------------------------------------------------------------------
python3 - "$TMP/json10k.json" <<'PY'
import json, random, sys
random.seed(1)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
rows = []
while len(json.dumps(rows, separators=(",", ":"))) < 10240:
    i = len(rows) + 1
    rows.append({"id": i, "randomNumber": random.randint(1, 10000),
                 "name": " ".join(random.sample(words, 2)), "active": random.random() < 0.5,
                 "created": "2026-%02d-%02dT%02d:%02d:%02dZ" % (
                     random.randint(1, 12), random.randint(1, 28), random.randint(0, 23),
                     random.randint(0, 59), random.randint(0, 59))})
open(sys.argv[1], "w").write(json.dumps(rows, separators=(",", ":")))
PY
head -c 102400 "$HTML_FILE" >"$TMP/page100k.html"
# shellcheck disable=SC2086
find $JS_DIRS -name '*.js' ! -name '*.min.js' -size +8k 2>/dev/null | LC_ALL=C sort |
    while read -r f; do cat "$f"; done 2>/dev/null | head -c 1048576 >"$TMP/bundle1m.js" || true
[ "$(stat -c %s "$TMP/bundle1m.js")" = 1048576 ] ||
    die "less than 1 MiB of JavaScript under $JS_DIRS (set JS_DIRS)"

# ---- sizes and CPU ------------------------------------------------------------------
if pkg-config --exists libbrotlienc; then
    BR_FLAGS="-DWITH_BROTLI $(pkg-config --cflags --libs libbrotlienc)"
else
    BR_FLAGS=
    echo "libbrotlienc not found: gzip only (apt-get install libbrotli-dev)"
fi
# shellcheck disable=SC2086
cc -O2 -o "$TMP/compress_sizes" "$HERE/compress_sizes.c" $(pkg-config --cflags --libs zlib) \
    $BR_FLAGS || die "building compress_sizes.c failed"
"$TMP/compress_sizes" "$TMP/json10k.json" "$TMP/page100k.html" "$TMP/bundle1m.js"
echo

# ---- kiln: the 10 KiB JSON, gzip on ------------------------------------------------
PORT=$(free_port)
mkdir -p "$TMP/kiln/plugins"
cc -O2 -shared -fPIC -I"$SRC/include" -o "$TMP/kiln/plugins/compressbench.so" \
    "$HERE/compress_plugin.c" || die "building compress_plugin.c failed"
kiln_conf "$TMP/kiln" "$PORT" warn "gzip = on" "" "[compressbench]" "file = $TMP/json10k.json"
"$KILN" -c "$TMP/kiln/kiln.conf" >"$TMP/kiln/kiln.out" 2>&1 </dev/null &
KILN_PID=$!
for _ in $(seq 150); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/body" && break
    sleep 0.1
done
cmp -s <(curl -s --compressed "http://127.0.0.1:$PORT/body") "$TMP/json10k.json" ||
    die "kiln's gzipped /body does not decode to the file"
GZ_LEN=$(curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/body" | wc -c)

# run MODE HEADER...: one wrk run; prints "req/s cpu_us/req"
run() {
    local before after out
    before=$(cpu_ticks "$KILN_PID")
    out=$(timeout "$WRK_LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$@" \
          "http://127.0.0.1:$PORT/body" 2>&1) || die "wrk failed: $out"
    after=$(cpu_ticks "$KILN_PID")
    awk -v t=$((after - before)) -v hz="$TICK" '
        / requests in / { n = $1; d = $4; sub(/,$/, "", d)
                          secs = d + 0; if (d ~ /ms$/) secs /= 1000; else if (d ~ /m$/) secs *= 60 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        END { good = n - bad; printf "%.0f %.1f\n", (secs > 0 ? good / secs : 0),
                                      (good > 0 ? t * 1e6 / hz / good : 0) }' <<<"$out"
}

echo "kiln: GET /body, 10 KiB JSON ($(stat -c %s "$TMP/json10k.json") bytes, gzipped $GZ_LEN)," \
     "$WORKERS workers, wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
run -d1s >/dev/null
printf '  %-10s %10s %12s\n' "round" "identity" "gzip"
for r in $(seq "$ROUNDS"); do
    read -r ir ic < <(run)
    read -r gr gc < <(run -H 'Accept-Encoding: gzip')
    printf '  %-10s %10s %12s   req/s\n' "$r" "$ir" "$gr"
    printf '  %-10s %10s %12s   server CPU us/req\n' "" "$ic" "$gc"
done
