#!/usr/bin/env bash
# A 1 GiB upload to one kiln worker, as a multipart file spooled to upload_dir and as a body read as it arrives (kiln_body_stream), while the worker's RSS is sampled every 0.2 s: RSS before, the most during, after.
#
# Usage: bench/upload.sh        (after `scripts/build` and `make check TESTS=`, which
#                                builds the test plugins uploads and bodyread)
# Environment: KILN_BUILD (build dir, default: the repo root), SIZE (bytes
# uploaded, default 1g: 1073741824), LIMIT (seconds one upload may take
# before curl gives up, 300), KEEP_TMP (1: keep the temp dir).
# The file sent is sparse (a hole read as zeros), so the figure is kiln's,
# not the disk's; its answer (the byte count and CRC-32 the plugin worked
# out) is checked against the file's, and the script exits 1 on any
# mismatch.  Nothing runs longer than LIMIT per upload.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$SRC}
KILN=$KILN_BUILD/kiln
SIZE=${SIZE:-1073741824}
LIMIT=${LIMIT:-300}
ME=upload.sh
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

for p in uploads bodyread; do
    [ -f "$KILN_BUILD/tests/plugins/$p.so" ] ||
        die "no $KILN_BUILD/tests/plugins/$p.so: run make check TESTS= first"
done
[ -x "$KILN" ] || die "no $KILN: run scripts/build first"
command -v curl >/dev/null || die "curl is needed"

TMP=$(mktemp -d /tmp/kiln-bench-upload.XXXXXX)
KILN_PID=
cleanup() { stop_pid "$KILN_PID" TERM; remove_tmp; }
trap cleanup EXIT
mkdir -p "$TMP/plugins" "$TMP/up"
cp "$KILN_BUILD/tests/plugins/uploads.so" "$KILN_BUILD/tests/plugins/bodyread.so" "$TMP/plugins/"
truncate -s "$SIZE" "$TMP/zeros"
PORT=$(free_port)
cat > "$TMP/kiln.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
workers = 1
plugin_dir = $TMP/plugins
log_file = $TMP/kiln.log
pidfile =
upload_dir = $TMP/up
upload_spool_size = 64k
CONF
"$KILN" -c "$TMP/kiln.conf" &
KILN_PID=$!
for _ in $(seq 100); do
    curl -s --max-time 1 "http://127.0.0.1:$PORT/body/stats" >/dev/null 2>&1 && break
    sleep 0.1
done
WORKER=$(children "$KILN_PID" | head -1)
[ -n "$WORKER" ] || die "no worker"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# The zeros' CRC-32, as zlib.crc32 gives it, computed in pieces.
WANT_CRC=$(python3 -c '
import sys, zlib
n, crc, block = int(sys.argv[1]), 0, bytes(1 << 20)
while n > 0:
    take = min(n, len(block)); crc = zlib.crc32(block[:take], crc); n -= take
print(crc)' "$SIZE")

# measure NAME EXPECTED CURL-ARGS...: runs curl (its stdin: $STDIN, default
# /dev/null) while sampling the worker's RSS.
measure() {
    local name=$1 want=$2 before peak after out rc
    shift 2
    before=$(rss_kib "$WORKER")
    peak=$before
    local t0
    t0=$(date +%s.%N)
    curl -sS --max-time "$LIMIT" -o "$TMP/answer" "$@" < "${STDIN:-/dev/null}" &
    local cpid=$!
    while kill -0 "$cpid" 2>/dev/null; do
        local now
        now=$(rss_kib "$WORKER")
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.2
    done
    rc=0
    wait "$cpid" || rc=$?
    [ "$rc" = 0 ] || die "$name: curl exited with $rc"
    after=$(rss_kib "$WORKER")
    local secs
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    out=$(cat "$TMP/answer")
    case "$out" in
        *"$want"*) ;;
        *) die "$name: answer $out, expected $want";;
    esac
    [ -z "$(ls -A "$TMP/up")" ] || die "$name: files left in upload_dir"
    printf '%-30s RSS before %6d KiB, max during %6d KiB, after %6d KiB (%.1f s)\n' \
        "$name" "$before" "$peak" "$after" "$secs"
}

echo "kiln, one worker, $SIZE bytes uploaded over loopback"
measure "multipart, spooled (curl -F)" "$SIZE 1 $WANT_CRC" \
    -F "f=@$TMP/zeros;type=application/octet-stream" "http://127.0.0.1:$PORT/upload/fd"
measure "streamed, Content-Length (-T)" "\"len\": $SIZE, \"crc\": $WANT_CRC" \
    -X POST -T "$TMP/zeros" "http://127.0.0.1:$PORT/body"
STDIN=$TMP/zeros measure "streamed, chunked (-T -)" "\"len\": $SIZE, \"crc\": $WANT_CRC" \
    -X POST -T - -H "Transfer-Encoding: chunked" "http://127.0.0.1:$PORT/body"
