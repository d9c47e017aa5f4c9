"""The face subject: DCGAN sampler, dlib alignment, the torch port of dlib's ResNet.

References are independent of the code under test: dlib's own network (C++), the
wheel's own generator class, a loop transcription of dlib's ``tt::add`` and closed forms.
"""

import numpy as np
import pytest
import torch

dlib = pytest.importorskip("dlib")
pytest.importorskip("gan_face_generate")

from bbcollapse.distance import angular_distance  # noqa: E402
from bbcollapse.subjects import faces  # noqa: E402
from bbcollapse.subjects.faces.dlib_resnet import _anet_kinds, _pad_add, load_dlib_resnet, model_path, read_dlib_net  # noqa: E402
from bbcollapse.subjects.faces.generator import _weights_path  # noqa: E402


@pytest.fixture(scope="module")
def gan():
    return faces.FaceDCGAN(device="cpu")


@pytest.fixture(scope="module")
def images(gan):
    return gan(123, 8).x


@pytest.fixture(scope="module")
def desc():
    return faces.DlibFaceDescriptor(backend="torch", device="cpu", detector="hog")


@pytest.fixture(scope="module")
def chips(desc, images):
    return desc.align(images).chips


# -- the generator -----------------------------------------------------------------------


def test_dcgan_matches_wheel_generator(gan):
    from gan_face_generate.models import Generator  # imports only torch

    ref = Generator(0, 3, 100, 64)
    state = torch.load(_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
    ref.load_state_dict(state)
    ref.eval()
    z = gan.latents(5, 6)
    with torch.no_grad():
        expect = ref(torch.from_numpy(z)[:, :, None, None]).numpy()
    np.testing.assert_allclose(gan.generate(z, raw=True), expect, atol=1e-6)
    img = gan.generate(z)
    assert img.dtype == np.uint8 and img.shape == (6, 64, 64, 3)
    np.testing.assert_array_equal(
        img, np.round((np.clip(expect, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    )


def test_dcgan_is_batch_invariant_and_seeded(gan):
    z = gan.latents(9, 5)
    np.testing.assert_array_equal(z, gan.latents(9, 5))
    assert not np.array_equal(z, gan.latents(10, 5))
    assert z.shape == (5, 100) and abs(float(gan.latents(0, 4000).std()) - 1) < 0.01
    full = gan.generate(z)
    one = np.concatenate([gan.generate(z[i : i + 1]) for i in range(5)])
    np.testing.assert_array_equal(full, one)  # eval-mode batch norm: no batch coupling
    b = gan(9, 5)
    np.testing.assert_array_equal(b.z, z)
    np.testing.assert_array_equal(b.x, full)
    with pytest.raises(ValueError, match="z must have shape"):
        gan.generate(np.zeros((3, 99), np.float32))


# -- dlib's file and the torch port ----------------------------------------------------------


def test_dat_file_parses_to_face_anet():
    net = read_dlib_net()
    assert net.loss == "loss_metric_2"
    np.testing.assert_allclose(net.avg_rgb, (122.782, 117.001, 104.298), atol=1e-3)  # input_rgb_image_sized defaults
    kinds = [layer.kind for layer in net.layers]
    assert kinds == _anet_kinds()
    convs = [layer for layer in net.layers if layer.kind == "con"]
    assert len(convs) == 29 and convs[0].params["weight"].shape == (32, 3, 7, 7)
    assert [c.params["num_filters"] for c in convs[-2:]] == [256, 256]
    assert all(c.params["padding"] == ((0, 0) if c.params["stride"] == (2, 2) else (1, 1)) for c in convs)
    fc = net.layers[-1].params
    assert fc["weight"].shape == (256, 128) and fc["bias"] is None
    n_params = sum(v.size for layer in net.layers for v in layer.params.values() if isinstance(v, np.ndarray))
    assert 5.5e6 < n_params < 5.7e6  # dlib's model: about 5.6 M parameters (22.5 MB file incl. buffers)


def _dlib_add_reference(a, b):
    """Loop transcription of dlib's cpu::add(dest, src1, src2) with dest = max shape."""
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]
    out = np.zeros(shape, np.float64)
    for idx in np.ndindex(*shape):
        v1 = a[idx] if all(i < s for i, s in zip(idx, a.shape)) else 0.0
        v2 = b[idx] if all(i < s for i, s in zip(idx, b.shape)) else 0.0
        out[idx] = v1 + v2
    return out


@pytest.mark.parametrize(
    "sa,sb", [((2, 4, 3, 3), (2, 2, 4, 4)), ((1, 3, 2, 2), (1, 3, 2, 2)), ((1, 2, 1, 1), (1, 4, 2, 2))]
)
def test_pad_add_matches_dlib_add(sa, sb, rng):
    a, b = rng.standard_normal(sa).astype(np.float32), rng.standard_normal(sb).astype(np.float32)
    got = _pad_add(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, _dlib_add_reference(a, b), atol=1e-6)


def test_torch_port_agrees_with_dlib(chips):
    rec = dlib.face_recognition_model_v1(model_path())
    ref = np.asarray(rec.compute_face_descriptor(list(chips)), dtype=np.float64)
    net = load_dlib_resnet(device="cpu")
    got = net.embed_chips(chips).astype(np.float64)
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    assert cos.min() >= 0.9999, cos
    assert np.abs(ref - got).max() < 1e-4
    # channels-last and batch size do not change the answer
    d = faces.DlibFaceDescriptor(backend="torch", device="cpu", batch_size=3)
    np.testing.assert_allclose(d.embed_chips(chips), got, atol=1e-5)


def test_torch_port_agrees_with_dlib_on_cuda(chips):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rec = dlib.face_recognition_model_v1(model_path())
    ref = np.asarray(rec.compute_face_descriptor(list(chips)), dtype=np.float64)
    got = faces.DlibFaceDescriptor(backend="torch", device="cuda").embed_chips(chips).astype(np.float64)
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    assert cos.min() >= 0.9999


# -- the descriptor ----------------------------------------------------------------------


def test_alignment_landmarks_and_chips(desc, images):
    al = desc.align(images)
    assert al.chips.shape == (8, 150, 150, 3) and al.chips.dtype == np.uint8
    assert al.landmarks.shape == (8, 5, 2) and al.detected.shape == (8,)
    assert ((al.landmarks > 0) & (al.landmarks < 64)).all()
    # dlib's 5-point model: points 0,1 one eye's corners, 2,3 the other's, 4 under the nose;
    # for an upright centred face the nose lies below the eyes and between them in x
    eyes_y = al.landmarks[:, :4, 1].mean(1)
    assert (al.landmarks[:, 4, 1] > eyes_y).all()
    xs = np.sort(al.landmarks[:, :4, 0], axis=1)
    assert ((al.landmarks[:, 4, 0] > xs[:, 0]) & (al.landmarks[:, 4, 0] < xs[:, 3])).all()
    fixed = faces.DlibFaceDescriptor(backend="torch", device="cpu", detector="fixed").align(images)
    assert not fixed.detected.any()
    np.testing.assert_array_equal(fixed.boxes[~al.detected], al.boxes[~al.detected])


def test_descriptor_outputs_and_input_forms(desc, gan, images):
    e = desc(images)
    assert e.shape == (8, 128) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    raw_float = desc(gan.generate(gan.latents(123, 8), raw=True))  # (n, 3, 64, 64) in [-1, 1]
    np.testing.assert_allclose(raw_float, e, atol=1e-6)
    centre = faces.reference_mean(desc.raw(images))
    c = desc.with_center(centre)(images)
    expect = desc.raw(images) - centre
    np.testing.assert_allclose(c, expect / np.linalg.norm(expect, axis=1, keepdims=True), atol=1e-5)
    assert desc.center is None  # with_center copies
    with pytest.raises(ValueError, match="images must be"):
        desc(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ValueError, match="dtype int64"):
        desc(np.zeros((2, 64, 64, 3), np.int64))
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        desc(np.full((2, 3, 64, 64), 2.0, np.float32))
    with pytest.raises(ValueError, match="finite"):
        desc(np.full((2, 3, 64, 64), np.nan, np.float32))
    with pytest.raises(ValueError, match="chips must be"):
        desc.embed_chips(np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="backend"):
        faces.DlibFaceDescriptor(backend="onnx")
    with pytest.raises(ValueError, match="center"):
        desc.with_center(np.zeros(3))


def test_views_of_a_face_are_closer_than_other_faces(desc, images):
    views = faces.face_views(images[:4], seed=0, n_views=2)
    assert views.shape == (4, 2, 64, 64, 3)
    np.testing.assert_array_equal(views[:, 0], images[:4, :, ::-1])  # view 0: mirror image
    e = desc(images[:4])
    ev = desc(views.reshape(-1, 64, 64, 3)).reshape(4, 2, 128)
    same = np.arccos(np.clip((e[:, None] * ev).sum(-1), -1, 1)) / np.pi
    diff = angular_distance(e, e)[np.triu_indices(4, 1)]
    assert np.median(same) < np.median(diff)


# -- theta and r -------------------------------------------------------------------------


def test_dlib_threshold_distance_closed_form():
    # chord t between unit vectors <-> angle 2 asin(t/2)
    assert faces.dlib_threshold_distance(0.6) == pytest.approx(2 * np.arcsin(0.3) / np.pi, abs=1e-12)
    assert faces.dlib_threshold_distance(0.6, norm=2.0) == pytest.approx(2 * np.arcsin(0.15) / np.pi, abs=1e-12)


def test_choose_theta_r_reads_quantiles(rng):
    same = rng.uniform(0.0, 0.2, 20000)
    diff = rng.uniform(0.3, 0.7, 20000)
    tr = faces.choose_theta_r(same, diff)
    assert tr.r == pytest.approx(0.19, abs=0.005)  # q95 of U(0, 0.2)
    assert tr.theta == pytest.approx(0.32, abs=0.005)  # q05 of U(0.3, 0.7)
    assert tr.eer == 0.0 and 0.2 - 1e-3 <= tr.eer_distance <= 0.3
    # overlapping samples: theta never falls below r
    tr2 = faces.choose_theta_r(rng.uniform(0, 0.5, 1000), rng.uniform(0.1, 0.6, 1000))
    assert tr2.theta == tr2.r and 0 < tr2.eer < 0.5
    with pytest.raises(ValueError, match="q_same"):
        faces.choose_theta_r(same, diff, q_same=1.5)


def test_reference_mean_is_cached_and_centres(tmp_path, gan, desc):
    c1 = faces.face_reference_mean(gan, desc, n=4, seed=3, cache_dir=tmp_path)
    expect = desc.raw(gan(3, 4).x).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(c1, expect, atol=1e-6)
    assert len(list(tmp_path.glob("face_reference_mean_*.npy"))) == 1
    np.testing.assert_array_equal(faces.face_reference_mean(gan, desc, n=4, seed=3, cache_dir=tmp_path), c1)
    _, d = faces.face_subject(device="cpu", descriptor="dlib", center=c1, detector="fixed")
    assert d.detector == "fixed" and np.array_equal(d.center, c1.astype(np.float32))
    assert "center=none" not in d.identity


def test_identity_distances_and_separation_brute_force(rng):
    raw = rng.standard_normal((5, 128)) + 3.0  # a common component, like dlib's raw descriptors
    views = raw[:, None] + 0.1 * rng.standard_normal((5, 3, 128))
    c = raw.mean(0)
    same, diff = faces.identity_distances(raw, views, center=c)

    def d(a, b):
        a, b = a - c, b - c
        return np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)) / np.pi

    np.testing.assert_allclose(same, [d(raw[i], views[i, v]) for i in range(5) for v in range(3)], atol=1e-12)
    np.testing.assert_allclose(diff, [d(raw[i], raw[j]) for i in range(5) for j in range(i + 1, 5)], atol=1e-12)
    s = faces.separation([0.1, 0.2, 0.3], [0.25, 0.4])
    assert s["auc"] == pytest.approx(5 / 6)  # pairs (same < diff): 0.1<both, 0.2<both, 0.3<0.4 only
    assert s["dprime"] == pytest.approx((0.325 - 0.2) / np.sqrt((0.01 + 0.01125) / 2))


def test_truncated_or_foreign_model_file_is_rejected(tmp_path):
    data = open(model_path(), "rb").read()
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not dlib's face-recognition ResNet"):
        read_dlib_net(str(bad))
    with pytest.raises(ValueError, match="not dlib's face-recognition ResNet"):
        read_dlib_net(model_path("shape_predictor_5_face_landmarks.dat"))
