# bench/lib.sh -- helpers the benchmark scripts share: stopping what they started, free ports, CPU and readiness of a server, kiln's config, the Node.js peers' npm packages.
#
# Sourced by bench/*.sh after they set ME (their name, for messages).
# BENCH_RESULTS (a file) and ROUND_SHIFT (a number added to the round, so that
# who goes first still alternates when bench/run calls a script one round at
# a time) are bench/run's; see bench/README.md.

die() { echo "$ME: $*" >&2; exit 1; }

stop_pid() {  # stop_pid PID SIGNAL: signal, wait up to 10 s, then SIGKILL
    local pid=$1 sig=$2 _
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$ME: pid $pid ignored SIG$sig; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

npm_have() {  # npm_have DIR PKG@VERSION...: "PKG@V " for each package, V as installed in DIR/node_modules (empty: none)
    local dir=$1 p
    shift
    for p in "$@"; do
        printf '%s@%s ' "${p%@*}" \
            "$(NODE_PATH=$dir/node_modules node -p "require('${p%@*}/package.json').version" 2>/dev/null || true)"
    done
}

npm_ensure() {  # npm_ensure DIR LIMIT LOG PKG@VERSION...: those versions in DIR/node_modules (npm install within LIMIT s, its output in LOG, when one is missing or another)
    local dir=$1 limit=$2 log=$3
    shift 3
    [ "$(npm_have "$dir" "$@")" = "$(printf '%s ' "$@")" ] && return 0
    echo "npm: installing $* into $dir"
    mkdir -p "$dir"
    (cd "$dir" && timeout "$limit" npm install --no-audit --no-fund --silent --no-package-lock "$@" >"$log" 2>&1) ||
        { cat "$log" >&2; die "npm install $* failed"; }
    [ "$(npm_have "$dir" "$@")" = "$(printf '%s ' "$@")" ] || die "npm did not install $*"
}

remove_tmp() {  # remove_tmp: removes $TMP, or keeps it (and says where) with KEEP_TMP=1
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "temp dir kept: $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}

free_port() {  # free_port: a TCP port on 127.0.0.1 that nothing listens on now
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

children() {  # children PID: the pids whose parent is PID
    awk -v root="$1" '{
            rest = substr($0, match($0, /\)[^)]*$/) + 2); split(rest, f, " ")
            if (f[2] == root) print substr($0, 1, index($0, " ") - 1)
        }' < <(cat /proc/[0-9]*/stat 2>/dev/null || true)
}

cpu_ticks() {  # cpu_ticks PID: utime + stime (clock ticks) of PID and its direct children
    awk -v root="$1" '{
            # the command name may hold spaces: the fields follow the last ")"
            rest = substr($0, match($0, /\)[^)]*$/) + 2); split(rest, f, " ")
            pid = substr($0, 1, index($0, " ") - 1)
            # f[2] = ppid, f[12] = utime, f[13] = stime
            if (pid == root || f[2] == root) total += f[12] + f[13]
        } END { print total + 0 }' < <(cat /proc/[0-9]*/stat 2>/dev/null || true)
}

cpu_split() {  # cpu_split PID: "utime stime" (clock ticks) of PID and its direct children
    awk -v root="$1" '{
            rest = substr($0, match($0, /\)[^)]*$/) + 2); split(rest, f, " ")
            pid = substr($0, 1, index($0, " ") - 1)
            if (pid == root || f[2] == root) { u += f[12]; s += f[13] }
        } END { print u + 0, s + 0 }' < <(cat /proc/[0-9]*/stat 2>/dev/null || true)
}

result() {  # result FIGURE SERVER VALUE UNIT: a line for bench/run, appended to $BENCH_RESULTS when set
    [ -n "${BENCH_RESULTS:-}" ] || return 0
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_RESULTS"
}

rotate() {  # rotate ROUND NAME...: the NAMEs rotated by ROUND - 1 + $ROUND_SHIFT (who goes first)
    local r=$(($1 - 1 + ${ROUND_SHIFT:-0})) n
    shift
    n=$#
    local names=("$@") i
    for i in $(seq 0 $((n - 1))); do printf '%s ' "${names[$(((i + r) % n))]}"; done
    echo
}

wait_http() {  # wait_http PORT [BODY]: until GET / answers BODY (default "Hello, Anonymous"), 15 s
    local _ want=${2:-Hello, Anonymous}
    for _ in $(seq 150); do
        [ "$(curl -s --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null || true)" = "$want" ] &&
            return 0
        sleep 0.1
    done
    return 1
}

kiln_conf() {  # kiln_conf DIR PORT LEVEL [LINE]...: DIR/kiln.conf serving DIR/plugins on 127.0.0.1:PORT
    local dir=$1 port=$2 level=$3
    shift 3
    {
        echo "# kiln configuration written by bench/$ME"
        echo "[server]"
        echo "listen = 127.0.0.1:$port"
        echo "workers = $WORKERS"
        echo "plugin_dir = $dir/plugins"
        echo "log_file = $dir/kiln.log"
        echo "log_level = $level"
        echo "pidfile = $dir/kiln.pid"
        if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; fi
    } >"$dir/kiln.conf"
}
