"""The ArcFace-class descriptor, its alignment, the model files, the second DCGAN and the Table 1 rows.

References are independent of the code under test: onnxruntime running the npm package's file as
shipped (batch 1), closed forms (similarity transforms, truncation), the wheel's own generator class,
published identities (photos of two people), and float64 brute force for the Table 1 rows.
"""

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("gan_face_generate")

from bbcollapse.distance import angular_distance, similarity  # noqa: E402
from bbcollapse.stats import mccs  # noqa: E402
from bbcollapse.subjects import faces  # noqa: E402

try:
    faces.model_file("fr_feature.onnx")
    faces.model_file("gan-face-generate-1.0.1-weights.tar")
except faces.ModelFileError as exc:  # pragma: no cover - only where `make setup` has not run
    pytest.skip(f"face model files not installed ({exc})", allow_module_level=True)


@pytest.fixture(scope="module")
def gan():
    return faces.FaceDCGAN(device="cpu")


@pytest.fixture(scope="module")
def images(gan):
    return gan(321, 6).x


@pytest.fixture(scope="module")
def arc():
    return faces.ArcFaceDescriptor(device="cpu")


# -- model files ---------------------------------------------------------------------------


def test_missing_or_altered_model_file_names_make_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("BBCOLLAPSE_MODELS", str(tmp_path))
    with pytest.raises(faces.ModelFileError, match="missing.*make setup"):
        faces.model_file("fr_feature.onnx")
    with pytest.raises(faces.ModelFileError, match="make setup"):
        faces.ArcFaceDescriptor()
    with pytest.raises(faces.ModelFileError, match="make setup"):
        faces.FaceDCGAN(device="cpu", checkpoint="1.0.1")
    monkeypatch.delenv("BBCOLLAPSE_MODELS")
    good = faces.model_file("fr_feature.onnx")
    data = bytearray(good.read_bytes())
    data[-1] ^= 1
    (tmp_path / "fr_feature.onnx").write_bytes(bytes(data))
    monkeypatch.setenv("BBCOLLAPSE_MODELS", str(tmp_path))
    with pytest.raises(faces.ModelFileError, match="sha256.*expected 87aacdfe.*make setup"):
        faces.model_file("fr_feature.onnx")
    with pytest.raises(ValueError, match="unknown model file"):
        faces.model_file("nope.onnx")


# -- the network, batched, on torch and onnxruntime ----------------------------------------------


@pytest.mark.parametrize("name", ["fr_feature.onnx", "fr_landmark.onnx"])
def test_batched_graph_on_torch_and_onnxruntime_match_the_shipped_file(name, rng):
    import torch

    path = faces.model_file(name)
    shipped = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # batch 1, as shipped
    shape = shipped.get_inputs()[0].shape
    x = rng.uniform(-1, 1, (5, *shape[1:])).astype(np.float32)
    ref = np.concatenate([shipped.run(None, {"input": x[i : i + 1]})[0] for i in range(5)])
    batched = faces.ort_session(path).run(None, {"input": x})[0]
    np.testing.assert_allclose(batched, ref, atol=1e-5)
    net = faces.OnnxTorchNet(faces.batched_model(path)).eval()
    with torch.inference_mode():
        got = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert np.abs(ref).max() > 0.1  # not a degenerate comparison


def test_onnx_torch_net_rejects_unsupported_ops():
    path = faces.model_file("fr_detect.onnx")  # Softmax, Concat, Shape, ...
    with pytest.raises(ValueError, match="supports"):
        faces.OnnxTorchNet(faces.batched_model(path))


def test_arcface_outputs_backends_and_batching(arc, gan, images):
    e = arc(images)
    assert e.shape == (6, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    ort_desc = faces.ArcFaceDescriptor(device="cpu", backend="onnxruntime")
    np.testing.assert_allclose(ort_desc(images), e, atol=1e-5)
    assert ort_desc.identity == arc.identity  # the backend does not change the output
    one = np.concatenate([arc(images[i : i + 1]) for i in range(6)])
    np.testing.assert_allclose(one, e, atol=1e-5)
    np.testing.assert_allclose(arc(gan.generate(gan.latents(321, 6), raw=True)), e, atol=1e-6)
    # the authors' input: the frame resized to 112 and scaled as (x - 127) / 128
    x = faces.frame_to_network_input(images)
    assert x.shape == (6, 3, 112, 112) and -127 / 128 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(arc.normalize(arc.embed_crops(x)), e, atol=1e-6)


def test_arcface_bad_input_is_a_clear_error(arc, images):
    with pytest.raises(ValueError, match="images must be"):
        arc(np.zeros((2, 64, 64), np.uint8)[..., None])
    with pytest.raises(ValueError, match="dtype bool"):
        arc(np.zeros((2, 64, 64, 3), bool))
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        arc(np.full((1, 3, 64, 64), 1.5, np.float32))
    with pytest.raises(ValueError, match="at least 8x8"):
        arc(np.zeros((1, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="network input"):
        arc.embed_crops(np.zeros((1, 3, 64, 64), np.float32))
    with pytest.raises(ValueError, match="input must be one of"):
        faces.ArcFaceDescriptor(input="crop")
    with pytest.raises(ValueError, match="center"):
        arc.with_center(np.zeros(128))

    class Broken(faces.ArcFaceDescriptor):
        def raw(self, images):
            out = super().raw(images)
            out[0, 3] = np.nan
            return out

    broken = Broken.__new__(Broken)
    broken.__dict__.update(arc.__dict__)
    with pytest.raises(ValueError, match="non-finite"):
        broken(images)
    with pytest.raises(ValueError, match="not finite"):
        arc.normalize(np.full((1, 512), np.inf))


# -- real identities ----------------------------------------------------------------------


def test_every_descriptor_separates_real_people_on_photos():
    pytest.importorskip("dlib")
    names, person, photos = faces.identity_photos()
    assert sorted(set(person)) == ["biden", "obama"] and len(names) == 4
    aligner = faces.FaceAligner5()
    al = aligner(photos)
    assert al.detected.all()
    arc = faces.ArcFaceDescriptor(device="cpu")
    dlib_desc = faces.DlibFaceDescriptor(device="cpu")
    embeddings = {
        "arcface frame": arc(faces.framed_photos(photos, 64, aligner)),
        "arcface aligned": arc.normalize(arc.embed_crops(faces.frame_to_network_input(al.crops))),
        "dlib": dlib_desc(faces.framed_photos(photos, 150, aligner)),
    }
    for name, e in embeddings.items():
        check = faces.pair_cosines(e, person)
        assert len(check["same"]) == 3 and len(check["different"]) == 3
        assert check["separated"], (name, check)


# -- alignment ----------------------------------------------------------------------------


def test_similarity_transform_recovers_a_known_similarity(rng):
    src = rng.uniform(0, 100, (5, 2))
    a = 0.3
    rot = 1.7 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = src @ rot.T + [4.0, -2.0]
    m = faces.similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-10)
    np.testing.assert_allclose(m[:, 2], [4.0, -2.0], atol=1e-9)
    with pytest.raises(ValueError, match="src and dst"):
        faces.similarity_transform(src, dst[:4])


def test_warp_affine_identity_and_translation(rng):
    img = rng.integers(0, 256, (1, 20, 20, 3), dtype=np.uint8)
    same = faces.warp_affine(img, np.array([[[1.0, 0, 0], [0, 1, 0]]]), size=20)
    np.testing.assert_array_equal(same, img)
    shifted = faces.warp_affine(img, np.array([[[1.0, 0, 3], [0, 1, -2]]]), size=20)  # crop(x, y) = img(x - 3, y + 2)
    np.testing.assert_array_equal(shifted[0, :18, 3:], img[0, 2:, :17])
    assert (shifted[0, 18:] == 0).all() and (shifted[0, :, :3] == 0).all()


def test_five_points_and_reframe():
    p = np.zeros((1, 68, 2))
    p[0, :, 0] = np.arange(68)
    p[0, :, 1] = 2 * np.arange(68)
    five = faces.five_points(p)[0]
    np.testing.assert_allclose(five[:, 0], [39.0, 45.0, 30.0, 54.0, 59.0])  # eye centres, nose, mouth corners
    np.testing.assert_allclose(five[:, 1], 2 * five[:, 0])
    # a bright square at a known box lands where the DCGAN's faces sit
    img = np.zeros((400, 300, 3), np.uint8)
    img[100:200, 50:150] = 255
    out = faces.reframe(img, (50, 100, 150, 200), 64)
    ys, xs = np.nonzero(out[..., 0] > 127)
    fb = np.array(faces.DCGAN_DETECT_BOX) * 64
    # the side with the larger photo/frame ratio (here the width) fits the frame box; the centres coincide
    assert abs(xs.min() - fb[0]) <= 1.0 and abs(xs.max() + 1 - fb[2]) <= 1.0
    assert abs((ys.min() + ys.max() + 1) / 2 - (fb[1] + fb[3]) / 2) <= 1.0


def test_aligned_input_runs_and_is_unit(gan):
    d = faces.ArcFaceDescriptor(device="cpu", input="aligned")
    x = gan(5, 3).x
    al = d.aligner(x)
    assert al.crops.shape == (3, 112, 112, 3) and al.points.shape == (3, 5, 2)
    assert ((al.points > 0) & (al.points < 64)).all()
    e = d(x)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert "aligned" in d.identity and d.identity != faces.ArcFaceDescriptor(device="cpu").identity


# -- generators ------------------------------------------------------------------------------


def test_second_checkpoint_is_the_wheels_architecture_with_other_weights(gan):
    import torch
    from gan_face_generate.models import Generator

    g101 = faces.FaceDCGAN(device="cpu", checkpoint="1.0.1")
    path = faces.model_file("gan-face-generate-1.0.1-weights.tar")
    state = torch.load(path, map_location="cpu", weights_only=True)["netG_state_dict"]
    ref = Generator(0, 3, 100, 64)
    ref.load_state_dict(state)
    ref.eval()
    z = g101.latents(4, 3)
    with torch.no_grad():
        np.testing.assert_allclose(
            g101.generate(z, raw=True), ref(torch.from_numpy(z)[:, :, None, None]).numpy(), atol=1e-6
        )
    assert g101.identity != gan.identity
    assert not np.array_equal(g101.generate(z), gan.generate(z))
    with pytest.raises(ValueError, match="checkpoint"):
        faces.FaceDCGAN(device="cpu", checkpoint="2.0")


def test_truncation_closed_forms_and_diversity(gan, arc):
    z = gan.latents(8, 400)
    half = faces.FaceDCGAN(device="cpu", psi=0.5)
    np.testing.assert_allclose(half.latents(8, 400), 0.5 * z, atol=1e-7)  # StyleGAN's lerp to the mean latent 0
    res = faces.FaceDCGAN(device="cpu", psi=0.7, truncation="resample").latents(8, 2000)
    assert np.abs(res).max() <= 0.7 and abs(res.mean()) < 0.01
    # variance of N(0, 1) truncated to [-a, a]: 1 - 2 a phi(a) / (2 Phi(a) - 1)
    from scipy.stats import norm

    var = 1 - 2 * 0.7 * norm.pdf(0.7) / (2 * norm.cdf(0.7) - 1)
    assert abs(res.var() - var) < 0.01
    assert half.identity != gan.identity and "psi=0.5" in half.identity
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="psi"):
            faces.FaceDCGAN(device="cpu", psi=bad)
    # diversity falls with psi: mean pairwise descriptor distance of the same 24 latents
    spread = [angular_distance(e, e)[np.triu_indices(24, 1)].mean() for e in (arc(gan(9, 24).x), arc(half(9, 24).x))]
    assert spread[1] < spread[0] - 0.02, spread


# -- Table 1 rows and agreement ---------------------------------------------------------------


def test_table1_row_selects_on_s_and_scores_on_t_brute_force(rng):
    from helpers import rand_unit

    a, s, t = rand_unit(rng, 12, 8), rand_unit(rng, 300, 8), rand_unit(rng, 250, 8)
    theta, r = 0.35, 0.3
    row = faces.table1_row(a, s, t, theta=theta, r=r, n_boot=200)
    d_s = angular_distance(a.astype(np.float64), s.astype(np.float64))
    d_t = angular_distance(a.astype(np.float64), t.astype(np.float64))
    counts = (d_s <= r).sum(1)
    assert row.worst == int(np.argmax(counts)) and row.worst_count == counts.max()
    on_t = mccs(similarity(d_t, theta).mean(1))
    np.testing.assert_allclose(row.mccs, on_t, atol=1e-9)
    assert row.mu.estimate == pytest.approx(on_t.mean()) and row.sigma.estimate == pytest.approx(on_t.std(ddof=1))
    assert row.mccs_worst.estimate == pytest.approx(on_t[row.worst])
    assert row.mccs_worst_on_selection == pytest.approx(mccs(similarity(d_s[row.worst], theta).mean()))
    assert row.mccs_worst.lo <= row.mccs_worst.estimate <= row.mccs_worst.hi
    assert set(row.summary()) >= {"mu", "mu_ci", "mccs_worst", "mccs_worst_ci", "n_select", "n_score"}


def test_descriptor_and_ordering_agreement(rng):
    from helpers import rand_unit

    a, s, t = rand_unit(rng, 10, 6), rand_unit(rng, 200, 6), rand_unit(rng, 200, 6)
    row = faces.table1_row(a, s, t, theta=0.4, r=0.3, n_boot=100)
    same = faces.descriptor_agreement(row, row)
    assert same["spearman_mccs"] == pytest.approx(1.0) and same["same_worst"]
    assert same["worst_a_percentile_under_b"] == same["worst_b_percentile_under_a"]
    assert faces.ordering_agreement([1, 2, 3], [10, 20, 30])["kendall_tau"] == pytest.approx(1.0)
    rev = faces.ordering_agreement([1, 2, 3], [3, 2, 1])
    assert rev["kendall_tau"] == pytest.approx(-1.0) and not rev["same_order"]
    assert faces.pairwise_agreement(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same items"):
        faces.pairwise_agreement(a, a[:5])


def test_library_default_face_descriptor_is_arcface(tmp_path):
    d = faces.face_descriptor(device="cpu", cache_dir=tmp_path)
    assert isinstance(d, faces.ArcFaceDescriptor) and d.center is None and d.input == "frame"
    sampler, d2 = faces.face_subject(device="cpu", psi=0.7, checkpoint="1.0.1")
    assert isinstance(d2, faces.ArcFaceDescriptor) and sampler.psi == 0.7 and sampler.checkpoint == "1.0.1"
    assert not list(tmp_path.iterdir())  # no reference centre computed for ArcFace
    with pytest.raises(ValueError, match="descriptor"):
        faces.face_subject(device="cpu", descriptor="insightface")
