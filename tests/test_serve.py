"""Serving samplers over HTTP: a served calibrated model diagnosed through bbcollapse's own HttpGenerator.

The served model's law is checked against ground truth: on the planted sphere an output belongs to
planted identity i exactly when it lies within ``spread`` of its centre (the diffuse part adds a
known, tiny share), so the identity's mass is measured from the outputs the server returns.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import bbcollapse as bb
from bbcollapse.blackbox.adapters.wire import load_npy, npy_bytes
from bbcollapse.calibration.api import calibrate
from bbcollapse.calibration.persist import load_calibrated, save_calibrated
from bbcollapse.serving import make_server
from bbcollapse.subjects.synthetic import PlantedSphere

SIZES = dict(n_anchors=200, n_samples=4000)
WORLD = PlantedSphere(dim=12, masses=(0.08, 0.04), spread=0.12)


@pytest.fixture
def world():
    return WORLD


@pytest.fixture(scope="module")
def report():
    return bb.diagnose(WORLD, bb.identity_descriptor, progress=False, **SIZES)


@pytest.fixture(scope="module")
def saved(report, tmp_path_factory):
    """A rejection and a Voronoi calibration, saved and loaded back (what a provider would serve)."""
    out = {}
    for method in ("rejection", "voronoi"):
        cal = calibrate(WORLD, bb.identity_descriptor, report, method=method, n_fit=4000, n_clusters=30, progress=False)
        d = save_calibrated(cal, tmp_path_factory.mktemp(method), descriptor_spec="identity").parent
        out[method] = load_calibrated(d, model=WORLD, descriptor=bb.identity_descriptor)
    return out


class Serving:
    """A server on 127.0.0.1 in a thread, shut down on exit."""

    def __init__(self, sampler, **kw):
        self.server = make_server(sampler, **kw)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.server

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def mass_near(world, x, ident) -> float:
    """Fraction of outputs within the planted identity's spread of its centre."""
    d = bb.angular_distance(np.asarray(x, dtype=np.float64), world.centres[ident : ident + 1])[:, 0]
    return float(np.mean(d <= world.spread))


def post(url, body: bytes, ctype="application/x-npy"):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


@pytest.mark.parametrize("method", ["rejection", "voronoi"])
def test_served_calibrated_model_diagnosed_through_http(world, report, saved, method):
    cal = saved[method]
    target = bb.calibration_target(report, world, bb.identity_descriptor)
    ident = int(bb.angular_distance(target.embeddings, world.centres).argmin())
    with Serving(cal) as server:
        assert server.server_address[0] == "127.0.0.1"
        remote = bb.HttpGenerator(server.url, latent_dim=world.latent_dim)
        served = bb.diagnose(remote, bb.identity_descriptor, seed=1, progress=False, **SIZES)
        x = remote(bb.shard_seed(9, 9), 20_000).x
    assert served.sampler.startswith("HttpGenerator(http://127.0.0.1:")
    original = bb.diagnose(world, bb.identity_descriptor, seed=1, progress=False, **SIZES)
    assert served.worst_ci[1] < original.worst_ci[0]  # the worst case is now the 4% identity: intervals apart
    # the served law is the calibrated law: the identity's mass from the server's outputs vs its own draws
    direct = mass_near(world, cal(bb.shard_seed(9, 8), 20_000).x, ident)
    over_http = mass_near(world, x, ident)
    assert abs(over_http - direct) < 0.01, (over_http, direct)  # binomial sd of each < 0.002
    assert over_http < 0.5 * mass_near(world, world(bb.shard_seed(9, 7), 20_000).x, ident)


def test_transport_is_a_function_of_each_latent(world, saved):
    cal = saved["voronoi"]
    z = world.latents(3, 40)
    with Serving(cal) as server:
        assert server.mode == "transport"
        _, a = post(server.url, npy_bytes(z))
        _, b = post(server.url, npy_bytes(z[:10]))
        _, c = post(server.url, npy_bytes(z))
    a, b, c = (load_npy(v, "test") for v in (a, b, c))
    assert np.array_equal(a, c) and np.array_equal(a[:10], b)  # the same latent always gives the same output


def test_plain_model_serves_g_of_z_in_both_formats(world):
    z = world.latents(4, 25)
    with Serving(world) as server:
        assert server.mode == "generate"
        _, body = post(server.url, npy_bytes(z))
        assert np.array_equal(load_npy(body, "test"), world.generate(z))
        _, body = post(server.url, json.dumps({"inputs": z.tolist()}).encode(), "application/json")
        np.testing.assert_allclose(json.loads(body)["outputs"], world.generate(z), rtol=1e-6)
        info = json.loads(urllib.request.urlopen(server.url.rsplit("/", 1)[0] + "/", timeout=30).read())
        assert info["latent_dim"] == world.latent_dim and info["identity"] == bb.identity_of(world)


def test_bad_requests_are_refused(world):
    with Serving(world, max_request_bytes=4096, max_rows=50) as server:
        cases = [
            (npy_bytes(np.zeros((100, 14), np.float32)), 413, "max_request_bytes"),  # 5.7 kB body
            (npy_bytes(np.zeros((60, 2), np.float32)), 400, "(n, 14)"),
            (b"\x93NUMPY garbage", 400, "malformed"),
            (npy_bytes(np.full((2, 14), np.nan, np.float32)), 400, "finite"),
        ]
        for body, status, words in cases:
            with pytest.raises(urllib.error.HTTPError) as exc:
                post(server.url, body)
            assert exc.value.code == status and words in exc.value.read().decode()
        with pytest.raises(bb.BlackBoxError, match="413"):  # the client does not retry a 4xx
            bb.HttpGenerator(server.url, latent_dim=14, retries=0)(0, 100)
        _, ok = post(server.url, npy_bytes(world.latents(0, 20)))  # still serving
        assert load_npy(ok, "test").shape == (20, 12)


# -- the served theta and r: GET / advertises them, the HTTP black box reads them -------------------
def test_served_theta_r_reach_the_http_black_box(world):
    from bbcollapse.subjects.synthetic import theta_r_default

    own = theta_r_default(world, bb.identity_descriptor)  # the sphere's rule values, computed independently
    given = {**own, "descriptor": bb.identity_descriptor}
    with Serving(world, theta_r=given) as server:
        info = json.loads(urllib.request.urlopen(server.url, timeout=30).read())
        remote = bb.HttpGenerator(server.url, latent_dim=world.latent_dim)
        found = remote.default_theta_r
        for_identity = remote.theta_r_for(bb.identity_descriptor)
        for_other = remote.theta_r_for(lambda x: x)
    assert (info["theta"], info["r"]) == (own["theta"], own["r"]) and info["theta_r_source"] == own["source"]
    assert found == {**own, "descriptor": bb.identity_of(bb.identity_descriptor)}
    assert (for_identity["theta"], for_identity["r"]) == (own["theta"], own["r"])
    assert for_identity["source"].startswith("served by http://127.0.0.1:") and own["source"] in for_identity["source"]
    assert for_other is None  # values belong to their descriptor
    assert remote.default_theta_r == found  # fetched once, kept


def test_no_theta_r_when_the_server_gives_none(world):
    with Serving(world) as server:
        info = json.loads(urllib.request.urlopen(server.url, timeout=30).read())
        remote = bb.HttpGenerator(server.url, latent_dim=world.latent_dim)
        assert "theta" not in info and remote.default_theta_r is None
        assert remote.theta_r_for(bb.identity_descriptor) is None


def test_bad_theta_r_is_refused_by_the_server(world):
    for bad in ({"theta": 0.3}, {"theta": 1.5, "r": 0.2}, {"theta": 0.3, "r": 0.0}, (0.3, 0.2)):
        with pytest.raises(ValueError, match="theta"):
            make_server(world, theta_r=bad)


def test_an_endpoint_without_a_description_gives_none(world):
    """A user's endpoint that only speaks POST (501 on GET), or answers GET with non-JSON: no values, no error."""
    import http.server

    seen = []

    class PostOnly(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            z = load_npy(self.rfile.read(int(self.headers["Content-Length"])), "test")
            body = npy_bytes(world.generate(z))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class HtmlGet(PostOnly):
        def do_GET(self):
            seen.append(self.headers.get("X-Token"))
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    for handler in (PostOnly, HtmlGet):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/generate"
            remote = bb.HttpGenerator(url, latent_dim=world.latent_dim, headers={"X-Token": "t0k"})
            assert remote.default_theta_r is None and remote.info() == {}
            assert remote(0, 5).x.shape == (5, world.dim)  # the POST protocol still works
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    assert seen == ["t0k"]  # the GET carried the user's headers, as a POST does
