"""Hostile and careless inputs (issue 19): each case reproduced with a real subprocess, real
signals, a real server on 127.0.0.1 or a real full or read-only file system.

The cases: floods on a command's pipes and the whole-call timeout, a grandchild holding
stdout, secrets in URLs and argv, a slow-drip HTTP server, redirects, symlinks planted in a
store, shards shorter than their manifest, wrong-typed manifests, lock contention, a full
disk, a read-only store, SIGTERM / SIGINT / SIGKILL, a closed stdout, early checks of
--out and --device, a tiny theta, a read-only install (numba's cache), a model changed
outside argv, a zero-acceptance calibrator and a huge --samples.  Docs: docs/operations.md.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from bbcollapse.blackbox import BlackBoxError, GaussianLatentModel, identity_descriptor, identity_of
from bbcollapse.blackbox.adapters import CommandGenerator, HttpGenerator, post_array, run_command
from bbcollapse.cli import main
from bbcollapse.store import EmbeddingStore
from bbcollapse.subjects.synthetic import PlantedSphere

ROOT = Path(__file__).resolve().parents[1]
BBCOLLAPSE = str(Path(sys.executable).parent / "bbcollapse")
IS_ROOT = os.geteuid() == 0
UNSHARE = shutil.which("unshare")

W = np.random.default_rng(5).standard_normal((4, 8)).astype(np.float32)

#: A command generator: latents (n, 4) on stdin -> unit vectors (n, 8) on stdout.
GEN = """
import io, sys, numpy as np
W = np.random.default_rng(5).standard_normal((4, 8)).astype(np.float32)
z = np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False)
x = np.tanh(z @ W); x /= np.linalg.norm(x, axis=1, keepdims=True)
buf = io.BytesIO(); np.save(buf, x.astype(np.float32)); sys.stdout.buffer.write(buf.getvalue())
"""


def reference(z):
    x = np.tanh(np.asarray(z, np.float32) @ W)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def script(tmp_path, name, body) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def gone(pid: int, wait: float = 10.0) -> bool:
    """True once no process ``pid`` exists (a zombie child of ours counts as gone once reaped by its parent)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < wait:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def wait_for(path: Path, proc=None, timeout: float = 60.0) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def one_line_error(err: str) -> str:
    """The error line of a CLI failure; fails on a traceback or on more than one error line.

    A black box's own stderr may follow the line, quoted after a ``--- stderr tail ---`` marker.
    """
    head = err.split("--- stderr tail ---")[0]
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    lines = [line for line in head.splitlines() if line.strip() and "WARNING" not in line]
    assert len(lines) == 1 and lines[0].startswith("bbcollapse: error:"), head[-3000:]
    return lines[0]


def diagnose_argv(sampler, out, *extra, anchors=20, samples=200):
    return [
        "diagnose",
        "--sampler",
        sampler,
        "--anchors",
        str(anchors),
        "--samples",
        str(samples),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def cmd_spec(path) -> str:
    return f"cmd:{sys.executable} {path}"


def limit(as_bytes=None, fsize=None):
    """preexec_fn setting RLIMIT_AS and / or RLIMIT_FSIZE in the child."""

    def apply():
        if as_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
        if fsize:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def run_cli(argv, *, timeout=240, prefix=(), **kw):
    return subprocess.run([*prefix, BBCOLLAPSE, *argv], capture_output=True, text=True, timeout=timeout, **kw)


# == commands: floods, the whole-call timeout, grandchildren =========================================
STDOUT_FLOOD = """
import sys
sys.stdin.buffer.read()
block = b"\\0" * (1 << 20)
while True:
    sys.stdout.buffer.write(block)
"""
STDERR_FLOOD = """
import sys
sys.stdin.buffer.read()
block = b"x" * (1 << 20)
while True:
    sys.stderr.buffer.write(block)
"""


@pytest.mark.parametrize("flood", ["stdout", "stderr"])
def test_cli_under_2gb_against_a_flooding_command_ends_with_one_line_within_its_timeout(tmp_path, flood):
    """The issue's done-when: the whole CLI under a 2 GB address-space limit, against a flood."""
    body = STDOUT_FLOOD if flood == "stdout" else STDERR_FLOOD
    argv = diagnose_argv(cmd_spec(script(tmp_path, "flood.py", body)), tmp_path / "o", "--latent-dim", "4")
    timeout = 6
    t0 = time.monotonic()
    proc = run_cli(argv + ["--timeout", str(timeout)], preexec_fn=limit(as_bytes=2_000_000_000), timeout=120)
    elapsed = time.monotonic() - t0
    line = one_line_error(proc.stderr)
    assert proc.returncode == 1
    if flood == "stdout":
        assert "more than" in line and "bytes on stdout" in line
    else:
        assert f"timed out after {timeout} s" in line
    assert elapsed < timeout + 40  # start-up (torch, numba) on a loaded 2-core machine, plus the timeout


def test_stderr_flood_is_drained_in_bounded_memory_and_the_timeout_bounds_the_call(tmp_path):
    flood = script(tmp_path, "flood.py", STDERR_FLOOD)
    tracemalloc.start()
    t0 = time.monotonic()
    with pytest.raises(BlackBoxError, match="timed out after 2 s") as err:
        run_command([sys.executable, flood], np.zeros((2, 4), np.float32), timeout=2)
    elapsed = time.monotonic() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 8
    assert peak < 64 * 2**20  # the stderr of a flood is drained, only its tail is kept
    assert len(str(err.value)) < 3000


def test_stdout_over_max_bytes_is_refused(tmp_path):
    flood = script(tmp_path, "flood.py", STDOUT_FLOOD)
    with pytest.raises(BlackBoxError, match=r"more than max_bytes=4194304 bytes on stdout"):
        run_command([sys.executable, flood], np.zeros((2, 4), np.float32), timeout=30, max_bytes=4 * 2**20)
    big = script(tmp_path, "big.py", GEN.replace("x.astype(np.float32)", "np.zeros((len(z), 2**20), np.float32)"))
    gen = CommandGenerator([sys.executable, big], latent_dim=4, timeout=30, max_bytes=2**20)
    with pytest.raises(BlackBoxError, match="raise max_bytes or send smaller batches"):
        gen(0, 2)


def test_slow_drip_on_stdout_is_bounded_by_the_timeout(tmp_path):
    drip = script(
        tmp_path,
        "drip.py",
        """
        import sys, time
        sys.stdin.buffer.read()
        while True:
            sys.stdout.buffer.write(b"\\0"); sys.stdout.flush(); time.sleep(0.05)
        """,
    )
    t0 = time.monotonic()
    with pytest.raises(BlackBoxError, match="timed out after 1.5 s"):
        run_command([sys.executable, drip], np.zeros((2, 4), np.float32), timeout=1.5)
    assert time.monotonic() - t0 < 8


def test_a_grandchild_holding_stdout_does_not_turn_success_into_a_timeout(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    body = f"""
        import subprocess
        p = subprocess.Popen(["sleep", "60"])          # inherits our stdout and stderr
        open({str(pidfile)!r}, "w").write(str(p.pid))
    """
    gen = script(tmp_path, "gen.py", textwrap.dedent(body) + GEN)
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    t0 = time.monotonic()
    out = run_command([sys.executable, gen], z, timeout=20)
    assert time.monotonic() - t0 < 10
    np.testing.assert_allclose(out, reference(z), atol=1e-6)
    assert gone(int(pidfile.read_text()))  # the command's process group is killed when it exits


# == signals ====================================================================================
HANG = """
import os, subprocess, sys, time
sys.stdin.buffer.read()
child = subprocess.Popen(["sleep", "120"])
open({pids!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_kill_the_command_group_and_give_one_line(tmp_path, sig):
    pids = tmp_path / "pids"
    hang = script(tmp_path, "hang.py", HANG.format(pids=str(pids)))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    argv = diagnose_argv(cmd_spec(hang), tmp_path / "o", "--latent-dim", "4", "--store", str(tmp_path / "st"))
    env = dict(os.environ, TMPDIR=str(tmp))
    # a run launched in the background by a non-interactive shell (nohup ... &) inherits SIGINT ignored, and so
    # would the CLI (Python installs its KeyboardInterrupt handler only where SIGINT is not ignored): reset it
    proc = subprocess.Popen(
        [BBCOLLAPSE, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        child, grandchild = map(int, wait_for(pids, proc).split())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig
    line = one_line_error(err)
    assert "interrupted" in line and signal.Signals(sig).name in line
    assert gone(child) and gone(grandchild)
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("bbcollapse")]


SIGKILLED = """
import sys, numpy as np
from bbcollapse.blackbox.adapters import run_command
run_command([sys.executable, sys.argv[1], "{input}", "{output}"], np.zeros((2, 4), np.float32),
            io_mode="files", timeout=120)
"""


def test_sigkill_leaves_no_command_running_and_its_temp_dir_goes_on_the_next_run(tmp_path):
    pids = tmp_path / "pids"
    hang = script(
        tmp_path,
        "hang.py",
        f"""
        import os, time
        open({str(pids)!r}, "w").write(str(os.getpid()))
        time.sleep(120)
        """,
    )
    runner = script(tmp_path, "runner.py", SIGKILLED)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, runner, hang], env=env, stderr=subprocess.PIPE, text=True)
    child = int(wait_for(pids, proc))
    proc.kill()
    proc.wait(timeout=10)
    assert gone(child), "the command outlived the SIGKILLed process that started it"
    left = [p for p in tmp.iterdir() if p.name.startswith("bbcollapse-cmd-")]
    assert len(left) == 1  # SIGKILL runs no cleanup ...
    ok = script(tmp_path, "ok.py", "import sys, numpy as np\nnp.save(sys.argv[2], np.load(sys.argv[1]))\n")
    rerun = subprocess.run([sys.executable, runner, ok], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p for p in tmp.iterdir() if p.name.startswith("bbcollapse-cmd-")]  # ... the next run does


def test_closed_stdout_is_not_a_traceback(tmp_path):
    argv = diagnose_argv("synthetic:dim=8", tmp_path / "o")
    argv.remove("--quiet")
    proc = subprocess.Popen([BBCOLLAPSE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # as `bbcollapse ... | head -0` does
    err = proc.stderr.read()
    proc.wait(timeout=240)
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 0 and err == ""
    assert (tmp_path / "o" / "report.json").exists()
    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {BBCOLLAPSE} " + " ".join(argv[:-1]) + f" {tmp_path / 'o2'} | head -1"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert shell.stdout.startswith("sampler") and shell.stderr == "" and shell.returncode == 0


# == secrets ====================================================================================
class _Model(BaseHTTPRequestHandler):
    """GEN behind HTTP; /500 always fails; records what it was sent."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        srv = self.server
        srv.requests.append((self.path, dict(self.headers)))
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/500"):
            out = b"model crashed"
            self.send_response(500)
        else:
            buf = io.BytesIO()
            np.save(buf, reference(np.load(io.BytesIO(body), allow_pickle=False)) * srv.sign)
            out = buf.getvalue()
            self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def model_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    srv.daemon_threads = True
    srv.requests = []
    srv.sign = 1.0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


SECRETS = ("hunter2", "SECRETKEY1", "SECRETKEY2", "ARGVSECRET", "ARGVTOKEN")


def no_secret_in(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked: {text[:3000]}"


def tree_text(path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(path.rglob("*.json")))


def test_secrets_in_urls_never_reach_reports_manifests_summaries_or_errors(tmp_path, model_server, capsys):
    srv, port = model_server
    url = f"http://alice:hunter2@127.0.0.1:{port}/gen?model=v1&api_key=SECRETKEY1"
    base = ["--latent-dim", "4", "--store", str(tmp_path / "st"), "--timeout", "20"]
    argv = diagnose_argv(url, tmp_path / "o", *base)
    argv.remove("--quiet")
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    path, headers = srv.requests[-1]
    assert "api_key=SECRETKEY1" in path and headers["Authorization"].startswith("Basic ")  # sent, never recorded
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert (
        report["sampler"]
        == f"HttpGenerator(http://***@127.0.0.1:{port}/gen?model=v1&api_key=***, latent_dim=4, fmt=npy)"
    )
    no_secret_in(out, err, tree_text(tmp_path))
    # a rotated key is the same model: the store is reused (one probe request, no sampling)
    n = len(srv.requests)
    assert main(diagnose_argv(url.replace("SECRETKEY1", "SECRETKEY2"), tmp_path / "o", *base)) == 0
    assert len(srv.requests) == n + 1
    # another secret-free part (model=v2) is another model: refused, and the message holds no key
    code = main(diagnose_argv(url.replace("v1", "v2").replace("SECRETKEY1", "SECRETKEY2"), tmp_path / "o", *base))
    out, err = capsys.readouterr()
    assert code == 2 and "another configuration" in err and "model=v2" in err
    no_secret_in(out, err, tree_text(tmp_path))
    # errors: an HTTP 500 and a bad port
    code = main(diagnose_argv(url.replace("/gen", "/500"), tmp_path / "o2", "--latent-dim", "4", "--timeout", "5"))
    out, err = capsys.readouterr()
    assert code == 1 and "HTTP 500" in one_line_error(err)
    no_secret_in(out, err)
    with pytest.raises(BlackBoxError) as exc:
        post_array(f"http://u:hunter2@127.0.0.1:{port}/500?token=SECRETKEY1", np.zeros((1, 4)), retries=0)
    no_secret_in(str(exc.value))
    with pytest.raises(ValueError) as exc:
        HttpGenerator("ftp://u:hunter2@example.org/x?sig=SECRETKEY1", 4)
    no_secret_in(str(exc.value))


def test_secrets_in_argv_never_reach_the_report_or_errors(tmp_path, capsys):
    gen = script(tmp_path, "gen.py", "import sys\nsys.argv[1:] = []\n" + GEN)
    spec = cmd_spec(gen) + " --api-key=ARGVSECRET --token ARGVTOKEN https://u:hunter2@h/x?key=SECRETKEY1 plain"
    assert main(diagnose_argv(spec, tmp_path / "o", "--latent-dim", "4")) == 0
    doc = (tmp_path / "o" / "report.json").read_text()
    no_secret_in(doc)
    assert "'--api-key=***', '--token', '***', 'https://***@h/x?key=***', 'plain'" in doc
    fail = script(tmp_path, "fail.py", "import sys\nsys.exit(3)\n")
    code = main(diagnose_argv(cmd_spec(fail) + " --password=hunter2", tmp_path / "o2", "--latent-dim", "4"))
    out, err = capsys.readouterr()
    assert code == 1 and "exited with status 3" in err and "--password=***" in err
    no_secret_in(out, err)


# == HTTP: the deadline and redirects ===========================================================
class _Tricky(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, body: bytes):
        buf = io.BytesIO()
        np.save(buf, reference(np.load(io.BytesIO(body), allow_pickle=False)) if body else np.zeros((1, 8), np.float32))
        data = buf.getvalue()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, code, location):
        self.send_response(code)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.server.seen.append(("GET", self.path, self.headers.get("Authorization")))
        self._answer(b"")

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv.seen.append(("POST", self.path, self.headers.get("Authorization")))
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path.startswith("/r"):  # /r<code>/<target URL>
            code, target = self.path[2:].split("/", 1)
            self._redirect(int(code), target.replace("_", "/"))
        else:
            self._answer(body)


@pytest.fixture
def tricky():
    servers = []
    for _ in range(2):  # two origins: same host, other ports
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Tricky)
        srv.daemon_threads = True
        srv.seen = []
        srv.handle_error = lambda request, address: None
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
    yield [(s, f"http://127.0.0.1:{s.server_address[1]}") for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def test_http_timeout_bounds_the_whole_request(tricky):
    (_, url), _ = tricky
    t0 = time.monotonic()
    with pytest.raises(BlackBoxError, match="no response within timeout=1 s"):
        post_array(url + "/drip", np.zeros((1, 4), np.float32), timeout=1.0, retries=0)
    assert time.monotonic() - t0 < 4  # one byte every 0.1 s would take 100 s


def test_redirects_keep_authorization_on_their_origin_and_never_turn_post_into_get(tricky):
    (a, url_a), (b, url_b) = tricky
    z = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    auth = {"Authorization": "Bearer SECRETKEY1"}
    # 307 to another origin: followed with the same body, without the Authorization header
    out = post_array(f"{url_a}/r307/{url_b.replace('/', '_')}_gen", z, headers=auth, retries=0, timeout=10)
    np.testing.assert_allclose(out, reference(z), atol=1e-6)
    assert b.seen == [("POST", "/gen", None)]
    # 308 on the same origin keeps it
    post_array(f"{url_a}/r308/_gen", z, headers=auth, retries=0, timeout=10)
    assert a.seen[-1] == ("POST", "/gen", "Bearer SECRETKEY1")
    # 302 (POST -> GET in browsers) is refused, even when the GET answer would fit
    b.seen.clear()
    for code in (301, 302, 303):
        with pytest.raises(BlackBoxError, match=f"redirected .*{code}.* refused") as err:
            post_array(f"{url_a}/r{code}/{url_b.replace('/', '_')}_gen", z, headers=auth, retries=0, timeout=10)
        no_secret_in(str(err.value))
    assert b.seen == []  # nothing (no Authorization) went to the other origin
    with pytest.raises(BlackBoxError, match="http:// or https://"):
        post_array(f"{url_a}/r307/file:__etc_passwd", z, retries=0, timeout=10)


# == the store ==================================================================================
def open_store(path, **kw):
    opts = dict(sampler=PlantedSphere(dim=8, masses=(0.1,)), descriptor=identity_descriptor, seed=3, shard_size=25)
    return EmbeddingStore(path, progress=False, **{**opts, **kw})


def test_symlinks_planted_in_a_store_are_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "s"
    with open_store(path) as st:
        # what the old temp names were (predictable): a link at each, planted after the store opened
        for name in ("shard-000000.z.npy", "shard-000000.e.npy", "manifest.json"):
            os.symlink(victim, path / f".tmp-{name}-{os.getpid()}")
        st.fill(50)
        e = st.embeddings(50)
    assert victim.read_text() == "precious"
    shards = [p for p in path.iterdir() if p.name.startswith("shard-") or p.name == "manifest.json"]
    assert len(shards) == 5 and not any(p.is_symlink() for p in shards)
    # a link planted at a shard's own name is not read: the shard is recomputed as a regular file
    (path / "shard-000001.e.npy").unlink()
    os.symlink(victim, path / "shard-000001.e.npy")
    with open_store(path) as st:
        np.testing.assert_array_equal(st.embeddings(50), e)
    assert not (path / "shard-000001.e.npy").is_symlink() and victim.read_text() == "precious"


def test_temp_names_are_created_exclusively(tmp_path, monkeypatch):
    import bbcollapse._atomic as atomic_module  # the store's (and every other) atomic writer

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    names = iter(["planted", "planted", "fresh1", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6"])
    monkeypatch.setattr(atomic_module, "_temp_token", lambda: next(names))
    path = tmp_path / "s"
    path.mkdir()
    with open_store(path) as st:
        for link in (path / ".tmp-planted-manifest.json", path / ".tmp-planted-shard-000000.z.npy"):
            os.symlink(victim, link)
        st.fill(25)
    assert victim.read_text() == "precious"


def test_a_shard_shorter_than_its_manifest_is_recomputed(tmp_path, caplog):
    with open_store(tmp_path / "s") as st:
        st.fill(75)
        want = st.embeddings(75)
    mpath = tmp_path / "s" / "manifest.json"
    manifest = json.loads(mpath.read_text())
    for kind in ("z", "e"):  # shard 1 cut to 20 rows, with checksums that match the short files
        f = tmp_path / "s" / f"shard-000001.{kind}.npy"
        np.save(f, np.load(f)[:20])
        manifest["shards"]["1"][kind]["sha256"] = __import__("hashlib").sha256(f.read_bytes()).hexdigest()
    mpath.write_text(json.dumps(manifest))
    with open_store(tmp_path / "s") as st:
        got = st.embeddings(75)
    assert got.shape == (75, 8)
    np.testing.assert_array_equal(got, want)
    assert "shard 1" in caplog.text


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: [],
        lambda m: {**m, "shards": []},
        lambda m: {**m, "shards": {"0": 5}},
        lambda m: {**m, "shards": {"0": {**m["shards"]["0"], "n": "25", "e": "x"}}},
        lambda m: {**m, "config": "x"},
    ],
    ids=["list", "shards-list", "entry-int", "entry-types", "config-str"],
)
def test_wrong_typed_manifest_is_one_line_or_recomputed(tmp_path, damage, capsys):
    base = diagnose_argv("synthetic:dim=8", tmp_path / "o", "--store", str(tmp_path / "st"), "--shard-size", "50")
    assert main(base) == 0
    mpath = tmp_path / "st" / "samples" / "manifest.json"
    mpath.write_text(json.dumps(damage(json.loads(mpath.read_text()))))
    code = main(base)
    _, err = capsys.readouterr()
    if code:
        assert code == 2 and "manifest" in one_line_error(err)
    else:
        assert "Traceback" not in err


def test_lock_contention_is_one_line(tmp_path, capsys):
    base = diagnose_argv("synthetic:dim=8", tmp_path / "o", "--store", str(tmp_path / "st"))
    assert main(base) == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('locked', flush=True); time.sleep(60)",
            str(tmp_path / "st" / "anchors" / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(base)
    finally:
        holder.kill()
        holder.wait()
    assert code == 1 and "in use by another process" in one_line_error(capsys.readouterr().err)


def _tmpfs_prefix(mount: Path):
    if not UNSHARE:
        return None
    probe = subprocess.run(
        [UNSHARE, "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {mount} && echo ok"],
        capture_output=True,
        text=True,
    )
    if probe.stdout.strip() != "ok":
        return None
    return [UNSHARE, "-rm", "sh", "-c", f'mount -t tmpfs -o size=256k tmpfs {mount} && exec "$@"', "sh"]


@pytest.mark.parametrize("how", ["tmpfs", "fsize"])
def test_full_disk_is_one_line_and_the_store_stays_valid(tmp_path, how):
    mount = tmp_path / "disk"
    mount.mkdir()
    argv = diagnose_argv("synthetic:dim=8", tmp_path / "o", "--store", str(mount / "st"), samples=20_000)
    argv += ["--shard-size", "1000"]  # 20 shards of 48 kB (z and e): more than 256 kB
    if how == "tmpfs":
        prefix = _tmpfs_prefix(mount)
        if prefix is None:
            pytest.skip("no user namespace with a mount of tmpfs here")
        proc = run_cli(argv, prefix=prefix)
    else:
        proc = run_cli(argv, preexec_fn=limit(fsize=40_000))
    line = one_line_error(proc.stderr)
    assert proc.returncode == 1 and ("No space left on device" in line or "File too large" in line), line
    assert "store" in line
    if how == "fsize":  # what was written is a valid store: it resumes
        assert not [p for p in (mount / "st").rglob(".tmp-*")]
        assert main(argv) == 0


def _readonly_prefix():
    """Run a child without the power to write read-only files: as root, in a user namespace."""
    if not IS_ROOT:
        return []
    if not UNSHARE or subprocess.run([UNSHARE, "-U", "true"]).returncode != 0:
        return None
    return [UNSHARE, "-U"]


def test_read_only_store_serves_new_parameters_and_refuses_new_samples_in_one_line(tmp_path):
    prefix = _readonly_prefix()
    if prefix is None:
        pytest.skip("running as root without user namespaces: permissions cannot be enforced")
    store = tmp_path / "st"
    base = diagnose_argv("synthetic:dim=8", tmp_path / "o", "--store", str(store))
    assert main(base) == 0
    for p in [store, *store.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        again = run_cli(
            diagnose_argv("synthetic:dim=8", tmp_path / "o2", "--store", str(store), "--theta", "0.2"), prefix=prefix
        )
        assert again.returncode == 0, again.stderr
        assert json.loads((tmp_path / "o2" / "report.json").read_text())["config"]["theta"] == 0.2
        more = run_cli(
            diagnose_argv("synthetic:dim=8", tmp_path / "o3", "--store", str(store), samples=400), prefix=prefix
        )
        assert more.returncode == 1 and "read-only" in one_line_error(more.stderr)
    finally:
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


def test_a_huge_number_of_samples_allocates_nothing_up_front(tmp_path):
    with open_store(tmp_path / "s", shard_size=4) as st:
        tracemalloc.start()
        t0 = time.monotonic()
        assert st.n_done(10**15) == 0
        offset, z, e = next(iter(st.iter_shards(10**15)))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert offset == 0 and e.shape == (4, 8)
    assert time.monotonic() - t0 < 5 and peak < 16 * 2**20


#: A command generator that answers its first ``STOP_AFTER`` calls and then fails (counting calls in a file).
STOPPING_GEN = (
    """
import os, sys
count = os.environ["BBC_TEST_CALLS"]
calls = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(calls + 1))
if calls >= STOP_AFTER:
    sys.stderr.write("the sampler stops here on purpose\\n")
    sys.exit(3)
"""
    + GEN
)


def run_measured(argv, *, env, as_bytes, timeout=120):
    """Run the CLI under an address-space limit; (returncode, stderr, peak RSS in bytes of it and its children)."""
    with open(env["BBC_TEST_ERR"], "w") as err:
        proc = subprocess.Popen(
            [BBCOLLAPSE, *argv], stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=limit(as_bytes=as_bytes)
        )
    t0 = time.monotonic()
    while True:  # wait4 gives the rusage of this child alone (RUSAGE_CHILDREN would mix in earlier tests)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"still running after {timeout} s")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, Path(env["BBC_TEST_ERR"]).read_text(), usage.ru_maxrss * 1024


def test_a_huge_samples_without_store_streams_its_shards_in_bounded_memory(tmp_path):
    """--samples 10**15 without --store: the shards are planned lazily, so sampling starts at once and memory
    stays that of one shard (a list of 2.4e11 shard sizes took 20 GB, or 'out of memory' under a limit)."""
    calls = tmp_path / "calls"
    gen = script(tmp_path, "gen.py", STOPPING_GEN.replace("STOP_AFTER", "4"))
    env = dict(os.environ, BBC_TEST_CALLS=str(calls), BBC_TEST_ERR=str(tmp_path / "err"), OMP_NUM_THREADS="1")
    argv = diagnose_argv(cmd_spec(gen), tmp_path / "o", "--latent-dim", "4", "--no-probe", samples=10**15)
    t0 = time.monotonic()
    code, err, peak = run_measured(argv, env=env, as_bytes=2 * 2**30)
    line = one_line_error(err)
    assert code == 1 and "exited with status 3" in line and "out of memory" not in line, err[-2000:]
    assert "stops here on purpose" in err
    assert int(calls.read_text()) == 5  # one anchor shard, four sample shards of 4096, then the failing call
    assert time.monotonic() - t0 < 60
    # the reference: the same run with a small --samples (same shards up to the failing call), so the bound does not
    # depend on what the imports and the numba JIT cost on this machine
    calls.unlink()
    small = diagnose_argv(cmd_spec(gen), tmp_path / "o", "--latent-dim", "4", "--no-probe", samples=10**5)
    code_small, _, peak_small = run_measured(small, env=env, as_bytes=2 * 2**30)
    assert code_small == 1 and int(calls.read_text()) == 5
    assert peak < peak_small + 128 * 2**20, (peak / 2**20, peak_small / 2**20)
    # what cannot be helped (one shard of 10**12 rows) stays a one-line out-of-memory error
    calls.unlink()
    big = diagnose_argv(
        cmd_spec(gen), tmp_path / "o", "--latent-dim", "4", "--no-probe", "--shard-size", str(10**12), samples=10**15
    )
    code, err, peak = run_measured(big, env=env, as_bytes=2 * 2**30)
    assert code == 1 and "out of memory" in one_line_error(err) and int(calls.read_text()) == 1


# == early checks and odd parameters ============================================================
def marker_sampler(tmp_path):
    marker = tmp_path / "sampled"
    gen = script(tmp_path, "gen.py", f"open({str(marker)!r}, 'w').write('1')\n" + GEN)
    return cmd_spec(gen), marker


def test_out_and_device_are_checked_before_any_sampling(tmp_path, capsys):
    spec, marker = marker_sampler(tmp_path)
    (tmp_path / "file").write_text("not a directory")
    code = main(diagnose_argv(spec, tmp_path / "file" / "out", "--latent-dim", "4"))
    assert code == 2 and "--out" in one_line_error(capsys.readouterr().err)
    code = main(diagnose_argv(spec, tmp_path / "o", "--latent-dim", "4", "--device", "tpu9"))
    assert code == 2 and "--device" in one_line_error(capsys.readouterr().err)
    import torch

    if not torch.cuda.is_available():
        code = main(diagnose_argv(spec, tmp_path / "o", "--latent-dim", "4", "--device", "cuda"))
        line = one_line_error(capsys.readouterr().err)
        assert code == 2 and "--device 'cuda'" in line and "CUDA" in line
    assert not marker.exists()


def test_a_tiny_theta_runs(tmp_path, capsys):
    from bbcollapse import neighbor_stats, similarity

    assert main(diagnose_argv("synthetic:dim=8", tmp_path / "o", "--theta", "1e-9")) == 0, capsys.readouterr().err
    rng = np.random.default_rng(0)
    a = np.eye(8)[:5]  # exact unit vectors: an anchor and its copy are at distance exactly 0
    c = np.concatenate([a[:2], rng.standard_normal((30, 8))])
    c[2:] /= np.linalg.norm(c[2:], axis=1, keepdims=True)
    brute = similarity(np.arccos(np.clip(a @ c.T, -1, 1)) / np.pi, 1e-9).sum(axis=1)  # float64 brute force
    for backend in ("numba", "torch"):
        got = neighbor_stats(anchors=a, samples=c, radii=(0.25,), theta=1e-9, device="cpu", backend=backend)
        np.testing.assert_allclose(got.ssum, brute, rtol=1e-12, atol=0)
    assert brute[0] == 1 and brute[4] == 0  # the copy, and nothing else, within theta


NUMBA_CHILD = """
import sys, numpy as np, numba, bbcollapse
from bbcollapse import neighbor_stats
from bbcollapse.neighbors import numba_reducer
assert bbcollapse.__file__.startswith(LIB)
print(numba_reducer._CACHE, numba.config.CACHE_DIR)
if sys.argv[1] == "reduce":
    x = np.random.default_rng(0).standard_normal((300, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    s = neighbor_stats(anchors=x[:40], samples=x, radii=(0.3,), theta=0.3, device="cpu", backend="numba")
    print(s.counts[:, 0].tolist(), s.ssum.tolist())
"""


@pytest.mark.slow
def test_numba_cache_with_an_unwritable_home_and_install(tmp_path):
    """A read-only install run with an unwritable HOME: kernels cached in a private temp dir, else not cached
    (never in a directory someone else planted)."""
    prefix = _readonly_prefix()
    if prefix is None:
        pytest.skip("running as root without user namespaces: permissions cannot be enforced")
    lib = tmp_path / "install"
    shutil.copytree(ROOT / "lib" / "bbcollapse", lib / "bbcollapse", ignore=shutil.ignore_patterns("__pycache__"))
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    for p in [lib, *lib.rglob("*"), home]:
        p.chmod(p.stat().st_mode & ~0o222)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(lib), PYTHONDONTWRITEBYTECODE="1")

    def child(tmpdir, what):
        code = NUMBA_CHILD.replace("LIB", repr(str(lib)))
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", code, what],
            env={**env, "TMPDIR": str(tmpdir)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout.splitlines()

    try:
        first = child(tmp, "reduce")  # compiles, and caches in <tmp>/bbcollapse-numba-<uid>
        t0 = time.monotonic()
        second = child(tmp, "reduce")  # loads the cache
        cached_seconds = time.monotonic() - t0
        planted = tmp_path / "shared-tmp"  # a temp dir where someone planted our cache dir's name
        planted.mkdir()
        for uid in {os.getuid(), 65534}:  # 65534: our uid as seen in the user namespace
            os.symlink(home, planted / f"bbcollapse-numba-{uid}")
        without = child(planted, "import")  # no safe place: nothing cached, and it still runs
    finally:
        for p in [lib, *lib.rglob("*"), home]:
            p.chmod(p.stat().st_mode | 0o200)
    assert first[0] == second[0] and first[0].startswith(f"True {tmp / 'bbcollapse-numba-'}")  # uid as seen there
    assert list(Path(first[0].split(" ", 1)[1]).rglob("*.nbi"))
    assert without == ["False "]
    from bbcollapse import neighbor_stats

    x = np.random.default_rng(0).standard_normal((300, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    s = neighbor_stats(anchors=x[:40], samples=x, radii=(0.3,), theta=0.3, device="cpu", backend="numba")
    assert first[1] == second[1] == f"{s.counts[:, 0].tolist()} {s.ssum.tolist()}"  # identical numbers
    assert cached_seconds < 60, cached_seconds


# == a model changed outside argv ===============================================================
def test_a_model_changed_outside_argv_is_refused_by_the_probe(tmp_path, capsys):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mygen.py").write_text(textwrap.dedent(GEN))
    spec = f"cmd:{sys.executable} -m mygen"
    base = ["--latent-dim", "4", "--store", str(tmp_path / "st")]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")])
    try:
        assert main(diagnose_argv(spec, tmp_path / "o", *base)) == 0
        assert main(diagnose_argv(spec, tmp_path / "o", *base)) == 0  # same model: reused
        capsys.readouterr()
        (pkg / "mygen.py").write_text(textwrap.dedent(GEN).replace("default_rng(5)", "default_rng(6)"))
        code = main(diagnose_argv(spec, tmp_path / "o", *base))
        line = one_line_error(capsys.readouterr().err)
        assert code == 2 and "probe" in line and "--model-version" in line
        code = main(diagnose_argv(spec, tmp_path / "o", *base, "--model-version", "v2"))
        assert code == 2 and "version='v2'" in one_line_error(capsys.readouterr().err)
        assert (
            main(diagnose_argv(spec, tmp_path / "o", *base[:-1], str(tmp_path / "st2"), "--model-version", "v2")) == 0
        )
    finally:
        os.environ["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep, 1)[1]
    assert "version='v2'" in json.loads((tmp_path / "o" / "report.json").read_text())["sampler"]


def test_an_http_model_changed_behind_its_url_is_refused_by_the_probe(tmp_path, model_server, capsys):
    srv, port = model_server
    argv = diagnose_argv(f"http://127.0.0.1:{port}/gen", tmp_path / "o", "--latent-dim", "4")
    argv += ["--store", str(tmp_path / "st")]
    assert main(argv) == 0
    srv.sign = -1.0
    assert main(argv) == 2 and "probe" in one_line_error(capsys.readouterr().err)
    assert main(argv + ["--no-probe"]) == 0  # the operator's choice: stored embeddings reused


# == the calibrator ===========================================================================
def collapsed_model():
    point = np.eye(8, dtype=np.float32)[0]
    return GaussianLatentModel(lambda z: np.tile(point, (len(z), 1)), latent_dim=4, name="collapsed"), point


def test_zero_acceptance_fails_fast_and_a_tiny_one_warns_and_keeps_to_its_budget():
    from bbcollapse.calibration import rejection_calibrator

    model, point = collapsed_model()
    fit = dict(modes=point, r0=0.1, n_fit=200)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="expected acceptance is 0"):
        rejection_calibrator(model, identity_descriptor, accept_prob=0.0, **fit)
    with pytest.warns(RuntimeWarning, match="expected acceptance 1e-06"):
        cal = rejection_calibrator(model, identity_descriptor, accept_prob=1e-6, max_proposals=20_000, **fit)
    with pytest.raises(RuntimeError, match="20000 proposals"):
        cal(0, 10)
    assert cal.report().generator_calls <= 20_000 + cal.max_round
    assert time.monotonic() - t0 < 30


def test_identity_of_a_redacted_url_still_changes_with_the_secret_free_part():
    a = identity_of(HttpGenerator("https://h/gen?model=a&token=T1", 4))
    assert a == identity_of(HttpGenerator("https://h/gen?model=a&token=T2", 4))
    assert a != identity_of(HttpGenerator("https://h/gen?model=b&token=T1", 4))
    assert a != identity_of(HttpGenerator("https://h/other?model=a&token=T1", 4))
    assert "T1" not in a and "token=***" in a


def test_numba_cache_is_emptied_when_any_kernel_source_changes(tmp_path):
    """numba revalidates a cached kernel against its own file only; a kernel that inlines a helper of another
    file (sparse_tile -> dot64) would keep the old helper.  drop_stale keys the cache on all the sources."""
    from bbcollapse.neighbors.numba_cache import STAMP, drop_stale

    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    cache.mkdir()
    (src / "kernel.py").write_text("def f(): pass\n")
    (src / "helper.py").write_text("def g(): return 1\n")
    compiled = ["kernel.f-1.py311.nbi", "kernel.f-1.py311.1.nbc", "helper.g-1.py311.nbi"]
    other = "someone_else.h-3.py311.nbi"  # not one of this directory's modules: kept

    def fill():
        for name in [*compiled, other]:
            (cache / name).write_text("x")

    fill()
    assert drop_stale(str(cache), str(src)) == 3  # no stamp yet: everything of ours goes
    assert sorted(p.name for p in cache.iterdir()) == sorted([other, STAMP])
    fill()
    assert drop_stale(str(cache), str(src)) == 0  # same sources: the cache stays
    (src / "helper.py").write_text("def g(): return 2\n")  # only the helper changed
    assert drop_stale(str(cache), str(src)) == 3
    assert not (cache / "kernel.f-1.py311.nbi").exists() and (cache / other).exists()
