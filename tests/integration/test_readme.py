"""Runs the commands of README's Install, "A plugin" and "Replacing a plugin safely" sections, and its WebSocket one-liner, as written, against a kiln built from a copy of the source tree and installed in a temporary prefix.

The commands run in one bash session, in order, with these rules and no
other change:
- `./configure` gets `--prefix=PREFIX` and a systemd unit directory in
  it (not this system's own), and PREFIX/sbin and
  PREFIX/lib/pkgconfig are put on PATH and PKG_CONFIG_PATH (what README says
  to do for another prefix); MAKEFLAGS=-j2;
- the session runs in a network namespace of its own (unshare -n, or -rn
  when not root) with only loopback up, so 127.0.0.1:8080 is free whatever
  else runs here;
- a line that starts the server (`kiln` with no -t, -s, -V or -h) runs in
  the background, and the session goes on once it answers;
- after `kiln -s reload`, the session waits until the new generation serves
  (a person typing the next command is slower than a reload);
- a `curl` line's comment is its expected output, and so is the comment
  "prints: TEXT" that ends a multi-line command; the session fails if the
  output differs;
- a C block is saved, in the session's directory, under the file name that
  the text after it gives ("Saved as `greet.c`").
"""

import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import SANITIZER_REPORT, SRC, sanitized_build

README = os.path.join(SRC, "README.md")
SECTIONS = ("## Install", "## A plugin", "### Replacing a plugin safely")

# Brings the loopback interface of a new network namespace up (no iproute2 needed).
LO_UP = r"""/usr/bin/python3 -c '
import fcntl, socket, struct
s = socket.socket()
req = struct.pack("16sH", b"lo", 0)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))'"""

PRELUDE = r"""set -euo pipefail
export PATH="$PREFIX/sbin:/usr/bin:/bin:$PATH" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" MAKEFLAGS=-j2
generation=1
kiln_pid=
trap '[ -z "$kiln_pid" ] || kill "$kiln_pid" 2>/dev/null || :' EXIT
serve() {               # the README's serving line, in the background
    "$@" > "$WORK/kiln.out" 2>&1 &
    kiln_pid=$!
    for _ in $(seq 100); do
        grep -q "generation 1 ready" "$WORK/kiln.out" && return 0
        kill -0 "$kiln_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "README-TEST: the server did not start"; cat "$WORK/kiln.out"; exit 1
}
reloaded() {            # after `kiln -s reload`: the next generation serves
    generation=$((generation + 1))
    for _ in $(seq 100); do
        grep -q "generation $generation ready" "$WORK/kiln.out" && return 0
        sleep 0.1
    done
    echo "README-TEST: generation $generation not ready"; cat "$WORK/kiln.out"; exit 1
}
expect() {              # expect TEXT COMMAND...: the command prints TEXT
    local want=$1 got
    shift
    got=$("$@")
    if [ "$got" != "$want" ]; then
        echo "README-TEST: $* printed '$got', README says '$want'"; exit 1
    fi
    echo "README-TEST: ok: $* -> $got"
}
"""


def sections(text):
    """{heading: [(lang, code, text before the block)]} for the SECTIONS."""
    out = {}
    for heading in SECTIONS:
        start = text.find("\n" + heading + "\n")
        assert start >= 0, "README has no section %r" % heading
        body = text[start + len(heading) + 2:]
        # A section ends at the next heading of any level: its subsections
        # (the database examples under "A plugin") are not part of the session.
        end = re.search(r"^#{1,6} ", body, re.M)
        body = body[:end.start()] if end else body
        blocks, pos = [], 0
        for m in re.finditer(r"^```(\w*)\n(.*?)^```$", body, re.M | re.S):
            blocks.append((m.group(1), m.group(2), body[pos:m.start()]))
            pos = m.end()
        assert blocks, "no code block in README's %r" % heading
        out[heading] = blocks
    return out


def websocket_snippet(text):
    """README's shell command that tries the echo WebSocket: (code, expected output)."""
    m = re.search(r"^```sh\n(python3 -c '.*?websockets\.connect.*?)\s+# prints: (.*?)\n```$",
                  text, re.M | re.S)
    assert m, "README shows no python3 websockets command with a '# prints:' comment"
    return m.group(1), m.group(2)


def serving(cmd):
    """Whether a command line starts the server (kiln without -t, -s, -V, -h)."""
    words = shlex.split(cmd)
    return bool(words) and words[0] == "kiln" and not {"-t", "-s", "-V", "-h"} & set(words)


def shell_line(line):
    """One README command line, as the session runs it (see the module's rules)."""
    code, _, comment = line.partition("  #")
    code, comment = code.strip(), comment.strip()
    if not code or code.startswith("#"):
        return ""
    if re.match(r"^\./configure\b", code):
        code = code.replace("./configure", './configure --prefix="$PREFIX" '
                            '--with-systemdsystemunitdir="$PREFIX/lib/systemd/system"', 1)
    if serving(code):
        return "serve " + code
    if code.startswith("curl ") and comment:
        return "expect %s %s" % (shlex.quote(comment), code)
    if code == "kiln -s reload":
        return code + " && reloaded"
    return code


def session(blocks, after_install):
    """The bash session of the README's blocks, in order; `after_install` runs
    after the Install section's blocks."""
    lines = [PRELUDE]
    pending_c = None
    for i, (lang, code, before) in enumerate(blocks):
        if i == after_install[0]:
            lines.append(after_install[1])
        if lang == "c":
            pending_c = code
            continue
        if pending_c is not None:
            m = re.search(r"[Ss]aved as `([\w.]+\.c)`", before)
            assert m, "README does not say which file its C block is saved as"
            lines.append("cat > %s <<'README_C'\n%sREADME_C" % (m.group(1), pending_c))
            pending_c = None
        assert lang == "sh", "README block of language %r" % lang
        for line in code.splitlines():
            lines.append(shell_line(line))
    lines.append('kiln -s quit\nwait "$kiln_pid"\nkiln_pid=\necho "README-TEST: done"')
    return "\n".join(lines) + "\n"


def copy_source(dest):
    """The source tree as a new user has it: a git checkout's files, or the tarball's."""
    # .git is a directory in a clone and a file in a worktree (git worktree add).
    if os.path.exists(os.path.join(SRC, ".git")):
        files = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "-co", "--exclude-standard"],
                               stdout=subprocess.PIPE, check=True).stdout.split(b"\0")
        for f in filter(None, (x.decode() for x in files)):
            src = os.path.join(SRC, f)
            if os.path.isfile(src) and not f.startswith("build-asan/"):
                os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
                shutil.copy2(src, os.path.join(dest, f))
    else:
        shutil.copytree(SRC, dest, dirs_exist_ok=True)
        for root, dirs, _ in os.walk(dest):
            os.chmod(root, 0o755)


# The session builds its own kiln, without sanitizers, from the source tree:
# in the sanitizer build's run it would repeat the normal build's run.
@pytest.mark.skipif(sanitized_build(), reason="the session builds its own kiln, as in the normal build")
def test_readme_commands_as_written(tmp_path):
    if shutil.which("unshare") is None:
        pytest.fail("this test needs unshare(1) (util-linux) for a network namespace")
    with open(README) as f:
        text = f.read()
    found = sections(text)
    blocks = [b for h in SECTIONS for b in found[h]]
    ws_code, ws_prints = websocket_snippet(text)
    ws_line = "expect %s bash -c %s" % (shlex.quote(ws_prints), shlex.quote(ws_code))
    src, prefix, work = tmp_path / "src", tmp_path / "prefix", tmp_path / "work"
    for d in (src, work):
        d.mkdir()
    copy_source(str(src))
    script = tmp_path / "session.sh"
    script.write_text(session(blocks, (len(found[SECTIONS[0]]), ws_line)))
    env = dict(os.environ, PREFIX=str(prefix), WORK=str(work))
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CFLAGS", "LDFLAGS", "ASAN_OPTIONS"):
        env.pop(var, None)
    # As root a network namespace; otherwise inside a user namespace too.
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    r = subprocess.run(unshare + ["--", "bash", "-c",
                        LO_UP + ' && cd "$1" && exec bash "$2"', "sh", str(src), str(script)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=600)
    out = r.stdout.decode(errors="replace")
    served = (work / "kiln.out").read_text() if (work / "kiln.out").exists() else ""
    report = "--- session ---\n%s\n--- output ---\n%s\n--- server ---\n%s" % (
        script.read_text(), out[-12000:], served[-4000:])
    assert r.returncode == 0 and "README-TEST: done" in out, report
    assert "test is successful" in out, report
    assert len(re.findall(r"README-TEST: ok:", out)) == 4, report
    # Quiet and clean: no libtool advice about LD_LIBRARY_PATH, no compiler warning.
    assert "LD_LIBRARY_PATH" not in out and "libtool --finish" not in out, report
    assert "warning:" not in out, report
    assert not SANITIZER_REPORT.search(out + served), report
    assert "killed by signal" not in served and "[error]" not in served, report
    # What the installed files say is true of the installed system.
    conf = (prefix / "etc" / "kiln" / "kiln.conf").read_text()
    assert "build tree" not in conf and str(prefix / "lib" / "kiln" / "plugins") in conf, conf
    example = prefix / "share" / "doc" / "kiln" / "kiln.conf.example"
    assert example.is_file() and str(example) in conf, conf
    man = (prefix / "share" / "man" / "man8" / "kiln.8").read_text()
    left = re.findall(r"@[A-Za-z_]+@", re.sub(r"^\.\\\".*$", "", man, flags=re.M))
    assert not left, "unfilled %s in kiln.8" % left
    assert str(prefix / "etc" / "kiln" / "kiln.conf") in man
    assert not (prefix / "var" / "run" / "kiln.pid").exists(), "the pidfile outlived the server"
    unit = (prefix / "lib" / "systemd" / "system" / "kiln.service").read_text()
    assert "ExecStart=%s -c %s\n" % (prefix / "sbin" / "kiln",
                                     prefix / "etc" / "kiln" / "kiln.conf") in unit, unit
