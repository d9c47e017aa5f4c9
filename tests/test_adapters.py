"""Adapters: torch modules, ONNX files, external commands and HTTP endpoints.

Commands run as real subprocesses and HTTP goes to a real server on 127.0.0.1 that the
test starts and stops; each failure mode (hang, garbage, wrong shape, non-zero exit,
HTTP 500, oversize response, timeout) must give a BlackBoxError that says what happened.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bbcollapse.blackbox import BlackBoxError, file_sha256, identity_of
from bbcollapse.blackbox.adapters import (
    BatchedDescriptor,
    BatchedGenerator,
    CommandDescriptor,
    CommandGenerator,
    HttpDescriptor,
    HttpGenerator,
    OnnxDescriptor,
    OnnxGenerator,
    TorchDescriptor,
    TorchGenerator,
    load_state_dict,
    post_array,
    run_command,
)

W = np.random.default_rng(123).standard_normal((6, 4)).astype(np.float32)


def reference_generator(z):
    """What the command and the server compute, written independently here."""
    return np.tanh(np.asarray(z, dtype=np.float32) @ W)


def write_script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


GEN = """
import sys, io, numpy as np
W = np.random.default_rng(123).standard_normal((6, 4)).astype(np.float32)
z = np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False)
buf = io.BytesIO(); np.save(buf, np.tanh(z @ W)); sys.stdout.buffer.write(buf.getvalue())
"""


# -- the batching bases -------------------------------------------------------------
class CountingGenerator(BatchedGenerator):
    """A user's adapter: says only how to run one batch (here tanh(z @ W)) and records the batch sizes."""

    label = "counting {kind} {}"
    identity_format = "CountingGenerator(latent_dim={self.latent_dim})"

    def __init__(self, batch_size):
        self.calls = []
        super().__init__(6, batch_size=batch_size, name="counter")

    def run_batch(self, z):
        self.calls.append(len(z))
        return reference_generator(z)[: max(len(z) - (len(z) == 3), 1)]  # a batch of 3 comes back one row short


class ScaledDescriptor(BatchedDescriptor):
    """Returns its input times a per-row scale: row i of the whole input gets scale i + 1 (or 0 where asked)."""

    identity_format = "ScaledDescriptor(normalize={self.normalize})"

    def __init__(self, batch_size, normalize=True, zero_row=None):
        self.zero_row, self.seen = zero_row, 0
        super().__init__(batch_size=batch_size, normalize=normalize, name="scaled")

    def run_batch(self, x):
        scale = np.arange(self.seen, self.seen + len(x), dtype=np.float64)[:, None] + 1
        if self.zero_row is not None and self.seen <= self.zero_row < self.seen + len(x):
            scale[self.zero_row - self.seen] = 0
        self.seen += len(x)
        return x * scale


def test_generator_base_batches_and_checks_each_batch():
    gen = CountingGenerator(batch_size=8)
    b = gen(11, 20)
    assert gen.calls == [8, 8, 4]
    np.testing.assert_array_equal(b.z, np.random.default_rng(11).standard_normal((20, 6)).astype(np.float32))
    np.testing.assert_array_equal(b.x, reference_generator(b.z))
    assert repr(gen) == identity_of(gen) == "CountingGenerator(latent_dim=6)"
    with pytest.raises(
        BlackBoxError,
        match=r"counting generator counter returned an array of shape \(2, 4\); "
        r"expected \(3, \.\.\.\) for a batch of 3",
    ):
        CountingGenerator(batch_size=8)(0, 19)  # 8 + 8 + 3: the last batch is short
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
            CountingGenerator(batch_size=bad)


def test_descriptor_base_normalises_rows_whatever_the_batching():
    x = np.random.default_rng(2).standard_normal((23, 5)).astype(np.float32)
    ref = x.astype(np.float64)  # each row's direction is that of x: the scales must cancel
    ref = (ref / np.linalg.norm(ref, axis=1, keepdims=True)).astype(np.float32)
    for batch_size in (1, 4, 23, 100):
        e = ScaledDescriptor(batch_size)(x)
        assert e.dtype == np.float32 and e.shape == (23, 5)
        np.testing.assert_allclose(e, ref, rtol=0, atol=2e-7)
    raw = ScaledDescriptor(4, normalize=False)(x)
    np.testing.assert_allclose(raw, x * (np.arange(23)[:, None] + 1), rtol=1e-6)
    with pytest.raises(BlackBoxError, match=r"descriptor scaled returned zero embeddings \(rows \[1\]\)"):
        ScaledDescriptor(4, zero_row=9)(x)  # row 9 is row 1 of the third batch
    with pytest.raises(BlackBoxError, match="NaN or inf"):
        ScaledDescriptor(4)(np.full((3, 2), np.inf))


def test_options_are_checked_when_the_adapter_is_built():
    with pytest.raises(ValueError, match="fmt must be one of 'npy', 'json'; got 'xml'"):
        HttpGenerator("http://127.0.0.1:1/x", latent_dim=2, fmt="xml")
    with pytest.raises(ValueError, match="timeout must be a positive number; got 0"):
        HttpDescriptor("http://127.0.0.1:1/x", timeout=0)
    with pytest.raises(ValueError, match="retries must be an integer >= 0; got -1"):
        HttpDescriptor("http://127.0.0.1:1/x", retries=-1)
    with pytest.raises(ValueError, match="io_mode must be one of 'stdio', 'files'; got 'pipe'"):
        CommandDescriptor([sys.executable], io_mode="pipe")
    for bad in (float("nan"), -1, "soon", None):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            CommandGenerator([sys.executable], latent_dim=2, timeout=bad)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        HttpGenerator("http://127.0.0.1:1/x", latent_dim=2, batch_size=0)
    with pytest.raises(TypeError, match=r"unexpected HTTP options \['time_out'\]"):
        HttpDescriptor("http://127.0.0.1:1/x", time_out=5)


def test_identities_are_the_strings_stores_recorded(tmp_path):
    """Identity strings are hashed into store manifests: a changed format would orphan every existing store."""
    script = write_script(tmp_path, "gen.py", GEN)
    sha = hashlib.sha256(open(script, "rb").read()).hexdigest()[:16]
    assert file_sha256(script)[:16] == sha
    argv = [sys.executable, script]
    files = {sys.executable: hashlib.sha256(open(sys.executable, "rb").read()).hexdigest()[:16], script: sha}
    gen, desc = CommandGenerator(argv, latent_dim=6), CommandDescriptor(argv, normalize=False)
    assert identity_of(gen) == f"CommandGenerator({argv!r}, files={files}, latent_dim=6)"
    assert identity_of(desc) == f"CommandDescriptor({argv!r}, files={files}, normalize=False)"
    no_file = CommandDescriptor(["no-such-program"])
    assert identity_of(no_file) == "CommandDescriptor(['no-such-program'], normalize=True)"
    url = "http://127.0.0.1:1/gen"
    assert identity_of(HttpGenerator(url, 6, fmt="json")) == f"HttpGenerator({url}, latent_dim=6, fmt=json)"
    assert identity_of(HttpDescriptor(url)) == f"HttpDescriptor({url}, fmt=npy, normalize=True)"
    assert repr(HttpDescriptor(url)) == identity_of(HttpDescriptor(url))


def test_importing_the_adapters_does_not_import_torch_or_onnxruntime():
    code = (
        "import sys, bbcollapse.blackbox.adapters as a; a.CommandGenerator; "
        "print(sorted(m for m in ('torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- commands ------------------------------------------------------------------------
def test_command_generator_matches_reference(tmp_path):
    gen = CommandGenerator([sys.executable, write_script(tmp_path, "gen.py", GEN)], latent_dim=6, batch_size=7)
    batch = gen(5, 20)  # 3 processes: 7 + 7 + 6
    assert batch.z.shape == (20, 6)
    np.testing.assert_array_equal(batch.z, np.random.default_rng(5).standard_normal((20, 6)).astype(np.float32))
    np.testing.assert_allclose(batch.x, reference_generator(batch.z), rtol=0, atol=1e-6)
    assert "gen.py" in identity_of(gen) and "0x" not in identity_of(gen)


def test_identities_change_with_the_program_and_the_weights(tmp_path):
    script = write_script(tmp_path, "gen.py", GEN)
    before = identity_of(CommandGenerator([sys.executable, script], latent_dim=6))
    assert identity_of(CommandGenerator([sys.executable, script], latent_dim=6)) == before
    write_script(tmp_path, "gen.py", GEN.replace("np.tanh", "np.sin"))
    assert identity_of(CommandGenerator([sys.executable, script], latent_dim=6)) != before
    torch = pytest.importorskip("torch")
    m = tiny_generator()
    ident = identity_of(TorchGenerator(m, latent_dim=6))
    assert identity_of(TorchGenerator(tiny_generator(), latent_dim=6)) == ident
    with torch.no_grad():
        m[0].weight[0, 0] += 1e-3
    assert identity_of(TorchGenerator(m, latent_dim=6)) != ident


def test_command_files_mode(tmp_path):
    script = write_script(
        tmp_path,
        "genf.py",
        """
        import sys, numpy as np
        W = np.random.default_rng(123).standard_normal((6, 4)).astype(np.float32)
        np.save(sys.argv[2], np.tanh(np.load(sys.argv[1]) @ W))
    """,
    )
    z = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    out = run_command([sys.executable, script, "{input}", "{output}"], z, io_mode="files", timeout=30)
    np.testing.assert_allclose(out, reference_generator(z), atol=1e-6)


def test_command_argv_is_never_a_shell(tmp_path):
    marker = tmp_path / "pwned"
    script = write_script(
        tmp_path,
        "echo.py",
        """
        import sys, io, numpy as np
        np.load(io.BytesIO(sys.stdin.buffer.read()))
        buf = io.BytesIO(); np.save(buf, np.array([[float(len(sys.argv[1]))]])); sys.stdout.buffer.write(buf.getvalue())
    """,
    )
    evil = f"$(touch {marker}); touch {marker}"
    out = run_command([sys.executable, script, evil], np.zeros((1, 1)), timeout=30)
    assert out[0, 0] == len(evil)  # the argument arrived verbatim
    assert not marker.exists()
    with pytest.raises(TypeError, match="shlex.split"):
        run_command(f"{sys.executable} {script}", np.zeros((1, 1)))


def test_command_that_hangs_is_killed_at_the_timeout(tmp_path):
    pidfile = tmp_path / "pid"
    script = write_script(
        tmp_path,
        "hang.py",
        f"""
        import os, sys, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        sys.stderr.write("starting to hang\\n"); sys.stderr.flush()
        time.sleep(120)
    """,
    )
    gen = CommandGenerator([sys.executable, script], latent_dim=6, timeout=2.0)
    t0 = time.monotonic()
    with pytest.raises(BlackBoxError, match="timed out after 2 s") as err:
        gen(0, 4)
    assert time.monotonic() - t0 < 15
    assert "starting to hang" in str(err.value)  # stderr tail is quoted
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process is gone, not left running


def test_command_that_prints_garbage(tmp_path):
    script = write_script(
        tmp_path,
        "garbage.py",
        """
        import sys
        sys.stdin.buffer.read()
        print("hello, I am not an array")
        sys.stderr.write("garbage-marker\\n")
    """,
    )
    with pytest.raises(BlackBoxError, match="malformed output") as err:
        CommandGenerator([sys.executable, script], latent_dim=6, timeout=30)(0, 4)
    assert "hello, I am not" in str(err.value) and "garbage-marker" in str(err.value)


def test_command_pickle_output_is_refused(tmp_path):
    script = write_script(
        tmp_path,
        "objarr.py",
        """
        import sys, io, numpy as np
        sys.stdin.buffer.read()
        buf = io.BytesIO(); np.save(buf, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
        sys.stdout.buffer.write(buf.getvalue())
    """,
    )
    with pytest.raises(BlackBoxError, match="malformed output"):
        CommandGenerator([sys.executable, script], latent_dim=6, timeout=30)(0, 4)


def test_command_with_the_wrong_shape(tmp_path):
    script = write_script(tmp_path, "short.py", GEN.replace("np.tanh(z @ W)", "np.tanh(z @ W)[:-1]"))
    with pytest.raises(BlackBoxError, match=r"shape \(3, 4\); expected \(4, \.\.\.\)"):
        CommandGenerator([sys.executable, script], latent_dim=6, timeout=30)(0, 4)
    # a descriptor must return (n, D)
    flat = write_script(tmp_path, "flat.py", GEN.replace("np.tanh(z @ W)", "np.tanh(z @ W).ravel()"))
    with pytest.raises(BlackBoxError, match=r"expected \(4, D\)"):
        CommandDescriptor([sys.executable, flat], timeout=30)(np.ones((4, 6), np.float32))


def test_command_nonzero_exit_quotes_stderr(tmp_path):
    script = write_script(
        tmp_path,
        "boom.py",
        """
        import sys
        sys.stderr.write("line 1\\n" * 3000 + "boom-marker: CUDA out of memory\\n")
        sys.exit(3)
    """,
    )
    with pytest.raises(BlackBoxError, match="exited with status 3") as err:
        CommandGenerator([sys.executable, script], latent_dim=6, timeout=30)(0, 4)
    msg = str(err.value)
    assert "boom-marker: CUDA out of memory" in msg
    assert len(msg) < 3000  # a tail, not the whole stderr
    with pytest.raises(BlackBoxError, match="cannot start command"):
        run_command([str(tmp_path / "does-not-exist")], np.zeros((1, 1)))


def test_command_descriptor_normalises(tmp_path):
    desc = CommandDescriptor([sys.executable, write_script(tmp_path, "gen.py", GEN)], timeout=30)
    x = np.random.default_rng(1).standard_normal((9, 6)).astype(np.float32)
    e = desc(x)
    ref = reference_generator(x)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(e, ref, atol=1e-6)


# -- HTTP ----------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, code, body, ctype="application/x-npy", length=True):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        srv = self.server
        srv.hits[self.path] = srv.hits.get(self.path, 0) + 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/json":
            z = np.asarray(json.loads(body)["inputs"], dtype=np.float32)
            body = json.dumps({"outputs": reference_generator(z).tolist()}).encode()
            return self._send(200, body, "application/json")
        z = np.load(io.BytesIO(body), allow_pickle=False)
        buf = io.BytesIO()
        np.save(buf, reference_generator(z))
        if self.path == "/flaky" and srv.hits[self.path] <= 2:
            return self._send(500, b"temporarily broken", "text/plain")
        if self.path == "/notfound":
            return self._send(404, b"no such model", "text/plain")
        if self.path == "/big":
            return self._send(200, b"\0" * (2 * 2**20))
        if self.path == "/big-unannounced":
            self.close_connection = True
            return self._send(200, b"\0" * (2 * 2**20), length=False)
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/short":
            buf = io.BytesIO()
            np.save(buf, reference_generator(z)[:-1])
        if self.path == "/garbage":
            return self._send(200, b"<html>oops</html>", "text/html")
        return self._send(200, buf.getvalue())


@pytest.fixture(scope="module")
def server():
    """A real HTTP server on 127.0.0.1 that serves at most 200 requests and then stops by itself."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.timeout = 0.1
    srv.hits = {}
    srv.handle_error = lambda request, address: None  # a client that timed out closes its socket early
    stop = threading.Event()

    def serve():
        while not stop.is_set() and sum(srv.hits.values()) < 200:
            srv.handle_request()  # returns after srv.timeout when idle

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", srv
    stop.set()
    thread.join(timeout=5)
    srv.server_close()


def test_http_generator_npy_and_json(server):
    url, _ = server
    gen = HttpGenerator(url + "/gen", latent_dim=6, batch_size=8, timeout=10)
    b = gen(3, 20)
    np.testing.assert_allclose(b.x, reference_generator(b.z), atol=0)
    bj = HttpGenerator(url + "/json", latent_dim=6, fmt="json", timeout=10)(3, 5)
    np.testing.assert_allclose(bj.x, reference_generator(bj.z), atol=1e-6)
    e = HttpDescriptor(url + "/gen", timeout=10)(np.ones((3, 6), np.float32))
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-6)


def test_http_500_then_success_with_retries(server):
    url, srv = server
    z = np.ones((2, 6), np.float32)
    with pytest.raises(BlackBoxError, match="after 2 attempts.*HTTP 500.*temporarily broken"):
        post_array(url + "/flaky", z, retries=1, backoff=0.01, timeout=10)
    srv.hits["/flaky"] = 0
    out = post_array(url + "/flaky", z, retries=3, backoff=0.01, timeout=10)
    np.testing.assert_allclose(out, reference_generator(z))
    assert srv.hits["/flaky"] == 3  # two 500s, then success


def test_http_4xx_is_not_retried(server):
    url, srv = server
    with pytest.raises(BlackBoxError, match="HTTP 404.*no such model"):
        post_array(url + "/notfound", np.ones((1, 6)), retries=3, backoff=0.01)
    assert srv.hits["/notfound"] == 1


def test_http_oversize_response_is_refused(server):
    url, _ = server
    with pytest.raises(BlackBoxError, match="max_bytes"):
        post_array(url + "/big", np.ones((1, 6)), max_bytes=2**20, timeout=10)
    with pytest.raises(BlackBoxError, match="max_bytes"):
        post_array(url + "/big-unannounced", np.ones((1, 6)), max_bytes=2**20, timeout=10)


def test_http_timeout(server):
    url, srv = server
    t0 = time.monotonic()
    with pytest.raises(BlackBoxError, match="after 2 attempts.*no response within timeout=0.5 s"):
        post_array(url + "/slow", np.ones((1, 6)), timeout=0.5, retries=1, backoff=0.01)
    assert time.monotonic() - t0 < 2.5
    assert srv.hits["/slow"] == 2


def test_http_garbage_and_wrong_shape(server):
    url, _ = server
    with pytest.raises(BlackBoxError, match="malformed output"):
        post_array(url + "/garbage", np.ones((1, 6)), timeout=10)
    with pytest.raises(BlackBoxError, match=r"shape \(3, 4\); expected \(4, \.\.\.\)"):
        HttpGenerator(url + "/short", latent_dim=6, timeout=10)(0, 4)


def test_http_connection_refused_and_bad_url():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(BlackBoxError, match="after 2 attempts.*connection failed"):
        post_array(f"http://127.0.0.1:{port}/x", np.ones((1, 2)), retries=1, backoff=0.01, timeout=5)
    with pytest.raises(ValueError, match="http:// or https://"):
        post_array("file:///etc/passwd", np.ones((1, 2)))


# -- torch and ONNX ------------------------------------------------------------------
torch = pytest.importorskip("torch")


def tiny_generator():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 5))


def test_torch_weights_from_safetensors_and_weights_only(tmp_path):
    from safetensors.torch import save_file

    trained = tiny_generator()
    save_file(trained.state_dict(), tmp_path / "w.safetensors")
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    z = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    with torch.no_grad():
        ref = trained(torch.from_numpy(z)).numpy()
    for weights in ("w.safetensors", "w.pt"):
        fresh = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 5))
        gen = TorchGenerator(fresh, latent_dim=6, weights=tmp_path / weights)
        np.testing.assert_array_equal(gen.generate(z), ref)
    desc = TorchDescriptor(tiny_generator())
    e = desc(z)
    np.testing.assert_allclose(e, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-6)


def test_torch_identity_and_batching(tmp_path):
    m = tiny_generator()
    h = hashlib.sha256()
    for name, tensor in m.state_dict().items():  # the parameters' bytes in state-dict order
        h.update(name.encode())
        h.update(tensor.detach().numpy().astype("<f4").tobytes())
    sha = h.hexdigest()[:16]
    ident = identity_of(TorchGenerator(m, latent_dim=6))
    assert ident == f"TorchGenerator(Sequential, latent_dim=6, weights_sha256={sha})"
    assert identity_of(TorchDescriptor(m, normalize=False, name="enc")) == (
        f"TorchDescriptor(enc, weights_sha256={sha}, normalize=False)"
    )
    # batches of 7: each batch is normalised on its own; the result equals normalising the whole
    x = np.random.default_rng(4).standard_normal((30, 6)).astype(np.float32)
    with torch.no_grad():
        raw = np.concatenate([m(torch.from_numpy(x[i : i + 7])).numpy() for i in range(0, 30, 7)])
    ref = (raw / np.linalg.norm(raw.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)
    np.testing.assert_array_equal(TorchDescriptor(m, batch_size=7)(x), ref)

    class DropsARow(torch.nn.Module):
        def forward(self, z):
            return z[1:]

    with pytest.raises(
        BlackBoxError,
        match=r"torch generator DropsARow returned an array of shape \(3, 6\); "
        r"expected \(4, \.\.\.\) for a batch of 4",
    ):
        TorchGenerator(DropsARow(), latent_dim=6)(0, 4)


class _Payload:
    """A pickle that creates a file when unpickled (what a malicious checkpoint could do)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_pickles_are_never_loaded_by_default(tmp_path):
    marker = tmp_path / "code-ran"
    bad = tmp_path / "evil.pt"
    torch.save({"weight": _Payload(str(marker))}, bad)
    with pytest.raises(BlackBoxError, match="refusing to unpickle.*safetensors"):
        load_state_dict(bad)
    assert not marker.exists()
    with pytest.raises(BlackBoxError, match="refusing to unpickle"):
        TorchGenerator(tiny_generator(), latent_dim=6, weights=bad)
    assert not marker.exists()
    load_state_dict(bad, unsafe_allow_pickle=True)  # the explicit opt-in does run it
    assert marker.exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_onnx_generator_exported_from_torch(tmp_path):
    model = tiny_generator().eval()
    path = tmp_path / "gen.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(2, 6),),
        str(path),
        input_names=["z"],
        output_names=["x"],
        dynamic_axes={"z": {0: "n"}, "x": {0: "n"}},
        dynamo=False,
    )
    gen = OnnxGenerator(path, batch_size=16)
    assert gen.latent_dim == 6  # inferred from the model's input
    b = gen(0, 40)
    with torch.no_grad():
        ref = model(torch.from_numpy(b.z)).numpy()
    np.testing.assert_allclose(b.x, ref, atol=1e-5)
    # pickles without its session (Dask ships adapters to workers) and reopens it
    clone = pickle.loads(pickle.dumps(gen))
    np.testing.assert_array_equal(clone(0, 40).x, b.x)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert identity_of(clone) == identity_of(gen) == f"OnnxGenerator(gen.onnx, sha256={sha}, latent_dim=6)"
    desc = OnnxDescriptor(path)
    assert identity_of(desc) == f"OnnxDescriptor(gen.onnx, sha256={sha}, normalize=True)"
    np.testing.assert_allclose(np.linalg.norm(desc(b.z), axis=1), 1, atol=1e-6)
    with pytest.raises(BlackBoxError, match="ONNX model gen.onnx failed"):
        desc(np.ones((3, 7), np.float32))  # wrong input width
    with pytest.raises(FileNotFoundError):
        OnnxGenerator(tmp_path / "missing.onnx")
