"""prefork.py -- starts the aiohttp peers as the bench runs them: WORKERS forked processes, each calling serve(port), all stopped by SIGTERM or SIGINT to the parent, which exits 1 when any of them failed."""

import os
import signal
import sys
import traceback


def run_workers(serve, port):
    kids = []
    for _ in range(int(os.environ.get("WORKERS", "2"))):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve(port)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        kids.append(pid)

    def stop(signum, frame):
        for pid in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = 0
    for pid in kids:
        _, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    sys.exit(1 if failed else 0)
