"""bench/soak.py -- the upload and WebSocket clients, the RSS sampler and the report of bench/soak.sh.

Run by bench/soak.sh with Debian's /usr/bin/python3 (python3-websockets):

  soak.py upload PORT SECONDS CONNS OUT
      CONNS threads POST bodies of 1 KiB to 1 MiB (log-uniform, random
      bytes; one in four chunked) to /inspect/body, which answers the body
      with X-Body-Length; each answer must be 200 with the same bytes.
      A connection is kept alive and replaced by a new one now and then.
  soak.py ws PORT SECONDS CONNS OUT
      CONNS WebSocket sessions on /echo, one after another on each slot:
      connect, echo 1 to 200 messages (text: "Hello, " + m; binary: m;
      1 B to 64 KiB) with one in flight, close, reconnect.  A session
      that kiln closes with 1001 (a reload drains its worker) while a
      message is in flight sends that message again first on the next one,
      so every message is echoed in the end.
  soak.py sample MASTER SECONDS EVERY CSV
      every EVERY s, the VmRSS of MASTER and of each of its children.
  soak.py report CSV LOG WARMUP SECONDS RELOADS_SENT
      the table and the verdict, from CSV, the master's LOG and the clients'
      results next to CSV (wrk-keepalive.txt, wrk-close.txt, upload.txt,
      ws.txt); exits 1 on FAIL.

A client writes one line "key value key value ..." to OUT when it ends,
and the first failures it saw, one a line, to OUT.err.
"""

import collections
import http.client
import os
import random
import re
import sys
import threading
import time

MIB = 1024 * 1024
UPLOAD_PATH = "/inspect/body"
UPLOAD_PAUSE = 0.005     # s between two uploads on a slot (well under the 1 s a draining
                         # worker leaves an idle keep-alive connection for one more request)
UPLOAD_NEW_CONN = 0.1    # the chance that the next upload goes on a new connection
WS_PATH = "/echo"
WS_PAUSE = 0.002         # s between two messages of a session
ANSWER_LIMIT = 15        # s an answer may take before it counts as failed
MAX_NOTES = 50           # failures written to OUT.err


class Counts:
    """Counters shared by a client's threads or tasks, and the first failures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = collections.Counter()
        self.notes = []

    def add(self, key, k=1):
        with self.lock:
            self.n[key] += k

    def fail(self, key, what):
        with self.lock:
            self.n[key] += 1
            self.n["failed"] += 1
            if len(self.notes) < MAX_NOTES:
                now = time.time()
                self.notes.append("%s.%03d %s: %s" % (time.strftime("%H:%M:%S", time.localtime(now)),
                                                      int(now * 1000) % 1000, key, what))

    def write(self, out, keys):
        with open(out + ".err", "w") as f:
            f.writelines(n + "\n" for n in self.notes)
        with open(out, "w") as f:
            f.write(" ".join("%s %d" % (k, self.n[k]) for k in keys) + "\n")


# ---- uploads -------------------------------------------------------------------

def chunks(body, rng):
    """The body in pieces of 1 B to 64 KiB, for a chunked upload."""
    at = 0
    while at < len(body):
        n = rng.randint(1, 64 * 1024)
        yield body[at:at + n]
        at += n


def upload_slot(port, until, counts, seed, data):
    rng = random.Random(seed)
    conn = None
    while time.monotonic() < until:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_LIMIT)
            counts.add("connections")
        size = int(1024 * 1024 ** rng.random())           # 1 KiB .. 1 MiB
        at = rng.randrange(len(data) - size + 1)
        body = data[at:at + size]
        chunked = rng.random() < 0.25
        try:
            if chunked:
                conn.request("POST", UPLOAD_PATH, body=chunks(body, rng),
                             headers={"Content-Type": "application/octet-stream"},
                             encode_chunked=True)
            else:
                conn.request("POST", UPLOAD_PATH, body=body,
                             headers={"Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            got = r.read()
            if r.status != 200:
                counts.fail("bad", "%d bytes%s: status %d" % (size, " chunked" * chunked,
                                                              r.status))
            elif got != body or r.getheader("X-Body-Length") != str(size):
                counts.fail("bad", "%d bytes%s: answer of %d bytes, X-Body-Length %s" %
                            (size, " chunked" * chunked, len(got), r.getheader("X-Body-Length")))
            else:
                counts.add("ok")
                counts.add("bytes", size)
                counts.add("chunked", chunked)
            if r.will_close:
                counts.add("closed_by_server")
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            counts.fail("errors", "%d bytes%s: %s: %s" % (size, " chunked" * chunked,
                                                          type(e).__name__, e))
            conn.close()
            conn = None
        if conn is not None and rng.random() < UPLOAD_NEW_CONN:
            conn.close()
            conn = None
        time.sleep(UPLOAD_PAUSE)
    if conn is not None:
        conn.close()


def upload(port, seconds, nconns, out):
    counts = Counts()
    data = os.urandom(2 * MIB)
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=upload_slot, args=(port, until, counts, i, data))
               for i in range(nconns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts.write(out, ("ok", "failed", "bad", "errors", "bytes", "chunked", "connections",
                       "closed_by_server"))


# ---- WebSockets ----------------------------------------------------------------

def ws(port, seconds, nconns, out):
    import asyncio
    import websockets

    counts = Counts()
    text = "".join(random.Random(1).choice("abcdefghijklmnopqrstuvwxyz 0123456789\u00e9\u20ac")
                   for _ in range(128 * 1024))
    data = os.urandom(128 * 1024)
    uri = "ws://127.0.0.1:%d%s" % (port, WS_PATH)

    def message(rng):
        """A message to send and the echo it must bring back."""
        size = int(64 * 1024 ** rng.random())          # 1 B .. 64 KiB
        if rng.random() < 0.3:
            at = rng.randrange(len(data) - size + 1)
            return data[at:at + size], data[at:at + size]
        at = rng.randrange(len(text) - size + 1)
        return text[at:at + size], "Hello, " + text[at:at + size]

    async def session(rng, until, carry):
        """One connection: 1 to 200 echoes, then a normal close.  carry is a
        message a 1001 left unanswered, sent first; returns the one this
        session leaves unanswered, or None."""
        try:
            async with websockets.connect(uri, max_size=None, open_timeout=ANSWER_LIMIT,
                                          close_timeout=ANSWER_LIMIT) as conn:
                counts.add("sessions")
                for _ in range(rng.randint(1, 200)):
                    if carry is None and time.monotonic() >= until:
                        break
                    msg, want = carry or message(rng)
                    carry = (msg, want)
                    await conn.send(msg)
                    got = await asyncio.wait_for(conn.recv(), ANSWER_LIMIT)
                    carry = None
                    if got == want:
                        counts.add("msgs")
                    else:
                        counts.fail("bad", "a %d-unit %s message: answer of %d units" %
                                    (len(msg), type(msg).__name__, len(got)))
                    await asyncio.sleep(WS_PAUSE)
            counts.add("closed_by_client")
        except websockets.ConnectionClosed as e:
            rcvd = getattr(e, "rcvd", None)
            code = rcvd.code if rcvd is not None else None
            if code == 1001:
                # A reload's old generation says "going away" to each session;
                # what reaches it after that is not delivered: sent again.
                counts.add("closed_1001")
                counts.add("resent", carry is not None)
                return carry
            counts.fail("errors", "closed with %s: %s" % (code, e))
        except websockets.InvalidStatusCode as e:
            counts.fail("refused", "handshake answered %s" % e.status_code)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
            counts.fail("errors", "%s: %s" % (type(e).__name__, e))
        return None

    async def slot(i, until):
        rng = random.Random(1000 + i)
        carry = None
        while time.monotonic() < until or carry is not None:
            carry = await session(rng, until, carry)

    async def main():
        until = time.monotonic() + seconds
        await asyncio.gather(*(slot(i, until) for i in range(nconns)))

    asyncio.run(main())
    counts.write(out, ("msgs", "failed", "bad", "errors", "refused", "resent", "sessions",
                       "closed_by_client", "closed_1001"))


# ---- RSS -------------------------------------------------------------------------

def children(master):
    """The pids whose parent is master."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                text = f.read()
        except OSError:
            continue
        if text[text.rfind(")") + 2:].split()[1] == str(master):
            kids.append(int(name))
    return kids


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sample(master, seconds, every, csv):
    t0 = time.monotonic()
    with open(csv, "w") as f:
        f.write("t,pid,ppid,rss_kb\n")
        k = 0
        while True:
            t = time.monotonic() - t0
            if t > seconds + 0.5 or not os.path.exists("/proc/%d" % master):
                break
            for pid, ppid in [(master, 0)] + [(p, master) for p in children(master)]:
                kb = rss_kb(pid)
                if kb is not None:
                    f.write("%.1f,%d,%d,%d\n" % (t, pid, ppid, kb))
            f.flush()
            k += 1
            time.sleep(max(0.0, t0 + k * every - time.monotonic()))


# ---- the report --------------------------------------------------------------------

# What the master's log says when a worker does not end as asked (the
# workers of a draining generation that exit are logged at debug level only
# as "exited", with no status: a crash while draining is not told apart).
DEATHS = re.compile(r"worker \d+ (?:\(.*\) )?(killed by signal|exited with code|stuck for"
                    r"|could not start|of generation \d+ did not stop within"
                    r"|, started to replace worker)|generations draining: killing"
                    r"|worker cannot start")
STARTED = re.compile(r"#master: worker (\d+) \(\d+ of generation (\d+)\) started")


def read_results(path):
    """The "key value ..." line a client wrote, as a dict of ints."""
    try:
        words = open(path).read().split()
    except OSError:
        return None
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def wrk_results(path):
    """served, failed, detail from a wrk output with soak's lua summary line."""
    try:
        text = open(path).read()
    except OSError:
        return None
    m = re.search(r"(\d+) requests in", text)
    if not m:
        return None
    total = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    sock = [int(x) for x in m.groups()] if m else [0, 0, 0, 0]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"soak: checked (\d+) bad (\d+)", text)
    bad = int(m.group(2)) if m else 0
    # a 2xx whose body was wrong is in bad too; count each request once
    failed = sum(sock) + max(non2xx, bad)
    detail = "connect %d read %d write %d timeout %d non-2xx %d bad body %d" % (*sock, non2xx,
                                                                                 bad)
    return {"ok": total - max(non2xx, bad), "failed": failed, "detail": detail,
            "checked": bool(m)}


def slope_kb_per_min(points):
    """Least-squares slope of (t, kb) points, in kB per minute."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mk = sum(k for _, k in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mt) * (k - mk) for t, k in points) / var


def report(csv, log, warmup, seconds, reloads_sent):
    tmp = os.path.dirname(csv)
    text = open(log, errors="replace").read()
    gen_of = {int(p): int(g) for p, g in STARTED.findall(text)}
    master = None
    samples = collections.OrderedDict()           # t -> [(pid, ppid, kb)]
    for line in open(csv).read().splitlines()[1:]:
        t, pid, ppid, kb = line.split(",")
        samples.setdefault(float(t), []).append((int(pid), int(ppid), int(kb)))
        if ppid == "0":
            master = int(pid)
    workers = int(re.search(r"starting, (\d+) workers", text).group(1))

    # A steady sample: the master and exactly one generation's workers, all of them.
    rows = []                                     # (t, master_kb, gen, workers_kb, total_kb)
    for t, procs in samples.items():
        mkb = sum(kb for pid, ppid, kb in procs if ppid == 0)
        kids = [(pid, kb) for pid, ppid, kb in procs if ppid != 0]
        gens = {gen_of.get(pid) for pid, _ in kids}
        if len(kids) == workers and len(gens) == 1 and None not in gens:
            wkb = sum(kb for _, kb in kids)
            rows.append((t, mkb, gens.pop(), wkb, mkb + wkb))
    by_pid = collections.OrderedDict()           # worker pid -> [(t, kb)]
    for t, procs in samples.items():
        for pid, ppid, kb in procs:
            if ppid != 0 and pid in gen_of:
                by_pid.setdefault(pid, []).append((t, kb))
    per_gen = collections.OrderedDict()
    for r in rows:
        per_gen.setdefault(r[2], []).append(r)
    # The figures compared: medians over the last WINDOW steady samples of the
    # warm-up and of the run (one sample may catch a worker holding a 1 MiB
    # body and its answer, which the next one does not).
    base = [r for r in rows if r[0] < warmup][-WINDOW:]
    end = [r for r in rows if r[0] >= warmup][-WINDOW:]
    problems = []
    if not base or not end:
        problems.append("too few steady RSS samples (warm-up %s s, run %s s)" % (warmup, seconds))

    def med(rs, i):
        v = sorted(r[i] for r in rs)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) // 2

    print()
    print("RSS in kB (VmRSS), medians of the last %d steady samples (the master and one whole "
          "generation, no other child)" % WINDOW)
    print("  %-30s %14s %14s %10s %8s" % ("", "after warm-up", "at the end", "growth", ""))
    b = e = None
    if base and end:
        span = lambda rs: "%.0f-%.0f s" % (rs[0][0], rs[-1][0])
        gens = lambda rs: "/".join(str(g) for g in sorted({r[2] for r in rs}))
        print("  %-30s %14s %14s" % ("samples", span(base), span(end)))
        b = [None, med(base, 1), None, med(base, 3), med(base, 4)]
        e = [None, med(end, 1), None, med(end, 3), med(end, 4)]
        for name, i in (("master (pid %d)" % master, 1),
                        ("workers (gen %s -> gen %s)" % (gens(base), gens(end)), 3),
                        ("total", 4)):
            g = e[i] - b[i]
            print("  %-30s %14d %14d %+10d %7.1f%%" % (name, b[i], e[i], g,
                                                      100.0 * g / b[i] if b[i] else 0))
        after = [r for r in rows if r[0] >= warmup]
        mslope = slope_kb_per_min([(r[0], r[1]) for r in after])
        # Workers live one reload period: a leak in them shows as growth
        # within each worker's life.  Measured on its floor (the least RSS
        # over the first and over the second half of its samples from SETTLE
        # s of age on and after warm-up): large bodies come and go above it.
        floors = []
        for pid, pts in by_pid.items():
            pts = [(t, k) for t, k in pts if t >= warmup and t - pts[0][0] >= SETTLE]
            if len(pts) >= 6:
                h = len(pts) // 2
                floors.append(min(k for _, k in pts[h:]) - min(k for _, k in pts[:h]))
        # The median over the workers: a leak raises them all (the traffic is
        # spread over them), an allocator's step one now and then.
        floors.sort()
        n = len(floors)
        fmed = (floors[n // 2] if n % 2 else (floors[n // 2 - 1] + floors[n // 2]) / 2) if n else 0
        print("  master trend after warm-up: %+.1f kB/min (least squares over %d samples)"
              % (mslope, len(after)))
        print("  worker floor growth within a life (2nd half - 1st half): median %+.0f kB over "
              "%d workers (min %+d, max %+d)" % (fmed, n, min(floors or [0]), max(floors or [0])))

    print()
    print("workers per generation (summed RSS of its workers in kB, steady samples; floor: the "
          "sum of each worker's least RSS from %d s of age on)" % SETTLE)
    print("  %-4s %8s %8s %8s %10s %10s %10s %10s" % ("gen", "from s", "to s", "samples",
                                                     "first", "median", "max", "floor"))
    for g, rs in per_gen.items():
        pids = [p for p in by_pid if gen_of[p] == g]
        floor = sum(min([k for t, k in by_pid[p] if t - by_pid[p][0][0] >= SETTLE] or [0])
                    for p in pids)
        print("  %-4d %8.0f %8.0f %8d %10d %10d %10d %10d" % (
            g, rs[0][0], rs[-1][0], len(rs), rs[0][3], med(rs, 3), max(r[3] for r in rs),
            floor))

    # ---- traffic
    print()
    print("traffic")
    print("  %-12s %12s %8s  %s" % ("client", "done", "failed", "detail"))
    failed_total = 0
    for name in ("keepalive", "close"):
        r = wrk_results(os.path.join(tmp, "wrk-%s.txt" % name))
        if r is None:
            problems.append("no result from the %s client" % name)
            print("  %-12s %12s %8s  no result" % (name, "-", "-"))
            continue
        if not r["checked"]:
            problems.append("the %s client's bodies were not checked" % name)
        failed_total += r["failed"]
        print("  %-12s %12d %8d  requests; %s" % (name, r["ok"], r["failed"], r["detail"]))
    u = read_results(os.path.join(tmp, "upload.txt"))
    if u is None:
        problems.append("no result from the upload client")
        print("  %-12s %12s %8s  no result" % ("upload", "-", "-"))
    else:
        failed_total += u["failed"]
        print("  %-12s %12d %8d  uploads (%.0f MiB, %d chunked); bad answer %d, errors %d; "
              "%d connections, %d closed by kiln" % (
                  "upload", u["ok"], u["failed"], u["bytes"] / MIB, u["chunked"], u["bad"],
                  u["errors"], u["connections"], u["closed_by_server"]))
    w = read_results(os.path.join(tmp, "ws.txt"))
    if w is None:
        problems.append("no result from the WebSocket client")
        print("  %-12s %12s %8s  no result" % ("websocket", "-", "-"))
    else:
        failed_total += w["failed"]
        print("  %-12s %12d %8d  messages; bad echo %d, errors %d, handshakes refused %d; "
              "%d sessions: %d closed by the client, %d by kiln with 1001 (%d with a message "
              "in flight, sent again)" % (
                  "websocket", w["msgs"], w["failed"], w["bad"], w["errors"], w["refused"],
                  w["sessions"], w["closed_by_client"], w["closed_1001"], w["resent"]))
    for name in ("upload", "ws"):
        try:
            notes = open(os.path.join(tmp, name + ".txt.err")).read().splitlines()
        except OSError:
            notes = []
        for n in notes[:5]:
            print("    %s: %s" % (name, n))
    if failed_total:
        problems.append("%d failed requests or messages" % failed_total)

    # ---- reloads and deaths
    committed = len(re.findall(r"reload: generation \d+ ready", text))
    failed_reloads = len(re.findall(r"reload failed", text))
    deaths = [l for l in text.splitlines() if DEATHS.search(l)]
    drained = len(re.findall(r"worker \d+ of generation \d+ exited", text))
    print()
    print("reloads: %d SIGHUP sent, %d committed, %d failed; %d workers of old generations "
          "exited after draining" % (reloads_sent, committed, failed_reloads, drained))
    print("workers killed, crashed or not started (master's log): %d" % len(deaths))
    for l in deaths[:10]:
        print("    " + l)
    if committed != reloads_sent:
        problems.append("%d of %d reloads committed" % (committed, reloads_sent))
    if failed_reloads:
        problems.append("%d reloads failed" % failed_reloads)
    if deaths:
        problems.append("%d workers killed or crashed" % len(deaths))
    errors = [l for l in text.splitlines() if "[error]" in l or "[alert]" in l]
    if errors:
        problems.append("%d error lines in the log" % len(errors))
        for l in errors[:5]:
            print("    " + l)

    # ---- memory criteria
    # After warm-up the footprint must be flat, by three measures (soak.sh
    # fixes glibc's mmap threshold, so that freed large bodies leave the
    # heap; without that a worker may keep 3-4 MiB more for the rest of its
    # life, and these limits are too tight):
    # - the master does no per-request work, only reloads: MASTER_GROWTH_KB
    #   (512) lets a page or two of allocator noise through, not a leak of
    #   tens of kB per reload;
    # - the total, compared between generations of the same age (with the
    #   defaults, the first at 45-55 s and the last at 590-600 s), shows what
    #   outlives a generation: the master, or what each new generation
    #   inherits from it.  A sample may catch a worker holding a 1 MiB body
    #   and its answer (up to 2-3 MiB more), hence medians of 3 samples and
    #   max(TOTAL_GROWTH_KB, TOTAL_GROWTH_PCT) = max(2 MiB, 10 %), against
    #   some 14 MiB in all;
    # - workers live one reload period, so a leak in them shows as growth
    #   within each worker's life, measured on its RSS floor, which noise
    #   moves by a few hundred kB: WORKER_FLOOR_KB (256 kB in about 25 s,
    #   some 10 kB/s, median over the workers) is a few bytes per request or
    #   message at the soak's rates (about 2500 a second per worker).
    if b and e:
        total_limit = max(TOTAL_GROWTH_KB, b[4] * TOTAL_GROWTH_PCT / 100)
        if e[1] - b[1] > MASTER_GROWTH_KB:
            problems.append("master RSS grew %d kB (limit %d kB)" % (e[1] - b[1],
                                                                    MASTER_GROWTH_KB))
        if e[4] - b[4] > total_limit:
            problems.append("total RSS grew %d kB (limit %d kB)" % (e[4] - b[4], total_limit))
        if floors and fmed > WORKER_FLOOR_KB:
            problems.append("worker RSS floors grow %.0f kB within a life, median over the "
                            "workers (limit %d kB)" % (fmed, WORKER_FLOOR_KB))
        if not floors:
            problems.append("no worker has 6 samples past %d s of age after warm-up: no "
                            "growth within a life measured" % SETTLE)
        print()
        print("limits: master growth <= %d kB; total growth <= max(%d kB, %d%% of %d kB); "
              "worker floor growth <= %d kB" % (
                  MASTER_GROWTH_KB, TOTAL_GROWTH_KB, TOTAL_GROWTH_PCT, b[4], WORKER_FLOOR_KB))
    print()
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("PASS: no failed request or message, no worker killed or crashed, every reload "
          "committed, RSS flat after warm-up")
    return 0


WINDOW = 3              # steady samples whose median is compared
SETTLE = 10             # s of a generation's life left out of its trend
WORKER_FLOOR_KB = int(os.environ.get("WORKER_FLOOR_KB", "256"))
MASTER_GROWTH_KB = int(os.environ.get("MASTER_GROWTH_KB", "512"))
TOTAL_GROWTH_KB = int(os.environ.get("TOTAL_GROWTH_KB", "2048"))
TOTAL_GROWTH_PCT = int(os.environ.get("TOTAL_GROWTH_PCT", "10"))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "upload" and len(argv) == 6:
        upload(int(argv[2]), float(argv[3]), int(argv[4]), argv[5])
    elif cmd == "ws" and len(argv) == 6:
        ws(int(argv[2]), float(argv[3]), int(argv[4]), argv[5])
    elif cmd == "sample" and len(argv) == 6:
        sample(int(argv[2]), float(argv[3]), float(argv[4]), argv[5])
    elif cmd == "report" and len(argv) == 7:
        return report(argv[2], argv[3], float(argv[4]), float(argv[5]), int(argv[6]))
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
