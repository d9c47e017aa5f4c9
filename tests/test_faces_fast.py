"""The fast paths of the ArcFace descriptor against the float32 reference, on real DCGAN faces.

The reference is the eager float32 graph (itself checked against onnxruntime running the shipped
file in tests/test_arcface.py).  Two fast paths:

* the frozen TorchScript graph (``jit=True``, the CPU default) must equal it to float rounding;
* ``precision="bf16"`` must stay within the tolerance measured on 2,200 DCGAN faces
  (bench/results/faces_*_avx512.txt: min cosine 0.996, distances moved by at most 0.0094, no count at
  r changed on |A| = 200, |C| = 2000): min cosine >= 0.995, max |distance change| <= 0.012, the same
  counts at r and mean MCCS within 0.005.  A deliberately broken fast path (input scaled by 1.05,
  i.e. (x - 127) / 122 instead of / 128) must fail the same check, so the check can fail.
"""

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("gan_face_generate")

from bbcollapse.distance import angular_distance, similarity  # noqa: E402
from bbcollapse.stats import mccs  # noqa: E402
from bbcollapse.subjects import faces  # noqa: E402

try:
    faces.model_file("fr_feature.onnx")
except faces.ModelFileError as exc:  # pragma: no cover - only where `make setup` has not run
    pytest.skip(f"face model files not installed ({exc})", allow_module_level=True)

THETA, R = 0.3913, 0.2708  # the shipped theta and r of the float32 ArcFace descriptor (theta_r.json)
N_ANCHORS, N_SAMPLES = 40, 200
BF16_TOLERANCE = dict(min_cosine=0.995, max_distance_change=0.012, max_mean_mccs_change=0.005)


@pytest.fixture(scope="module")
def crops():
    images = faces.FaceDCGAN(device="cpu")(11, N_ANCHORS + N_SAMPLES).x
    return faces.frame_to_network_input(images)


@pytest.fixture(scope="module")
def reference(crops):
    eager = faces.ArcFaceDescriptor(device="cpu", jit=False)
    return eager.normalize(eager.embed_crops(crops))


def effect(fast, ref) -> dict:
    """How far embeddings ``fast`` (n, D) are from ``ref``: per face, and on a small diagnosis."""
    fast = fast / np.linalg.norm(fast, axis=1, keepdims=True)
    d = angular_distance(fast[:N_ANCHORS], fast[N_ANCHORS:])
    d0 = angular_distance(ref[:N_ANCHORS], ref[N_ANCHORS:])
    m, m0 = (mccs(similarity(x, THETA).mean(axis=1)) for x in (d, d0))
    return dict(
        min_cosine=float((fast.astype(np.float64) * ref).sum(axis=1).min()),
        max_distance_change=float(np.abs(d - d0).max()),
        counts_changed=int(((d <= R).sum(axis=1) != (d0 <= R).sum(axis=1)).sum()),
        mean_mccs_change=float(abs(m.mean() - m0.mean())),
    )


def within_tolerance(e: dict, tol: dict = BF16_TOLERANCE) -> bool:
    return (
        e["min_cosine"] >= tol["min_cosine"]
        and e["max_distance_change"] <= tol["max_distance_change"]
        and e["counts_changed"] == 0
        and e["mean_mccs_change"] <= tol["max_mean_mccs_change"]
    )


def test_frozen_float32_graph_equals_the_eager_graph(crops, reference):
    frozen = faces.ArcFaceDescriptor(device="cpu")
    assert frozen.jit and frozen.precision == "float32"
    e = effect(frozen.embed_crops(crops), reference)
    assert e["min_cosine"] > 1 - 1e-6 and e["max_distance_change"] < 1e-5, e
    assert e["counts_changed"] == 0 and e["mean_mccs_change"] < 1e-5, e
    # batches of one and a ragged last batch go through the same frozen graph
    one = faces.ArcFaceDescriptor(device="cpu", batch_size=7)
    np.testing.assert_allclose(one.normalize(one.embed_crops(crops[:15])), reference[:15], atol=1e-5)
    assert frozen.identity == faces.ArcFaceDescriptor(device="cpu", jit=False).identity


def test_bf16_is_within_the_stated_tolerance_of_float32(crops, reference):
    bf16 = faces.ArcFaceDescriptor(device="cpu", precision="bf16")
    e = effect(bf16.embed_crops(crops), reference)
    assert within_tolerance(e), e
    assert e["min_cosine"] < 1 - 1e-5, "bf16 returned float32 results: the bf16 path did not run"


def test_the_tolerance_fails_a_broken_fast_path(crops, reference):
    bf16 = faces.ArcFaceDescriptor(device="cpu", precision="bf16")
    e = effect(bf16.embed_crops(crops * np.float32(128 / 122)), reference)  # (x - 127) / 122: a wrong scale
    assert not within_tolerance(e), e


def test_precision_is_part_of_the_identity_and_checked():
    f32 = faces.ArcFaceDescriptor(device="cpu", jit=False)
    bf16 = faces.ArcFaceDescriptor(device="cpu", precision="bf16", jit=False)
    assert "precision" not in f32.identity  # float32 keeps the identity of the stores made before the option
    assert bf16.identity != f32.identity and "precision=bf16" in bf16.identity
    with pytest.raises(ValueError, match="precision"):
        faces.ArcFaceDescriptor(device="cpu", precision="float16")
    with pytest.raises(ValueError, match="backend='torch'"):
        faces.ArcFaceDescriptor(device="cpu", backend="onnxruntime", precision="bf16")


def test_network_threads_do_not_change_the_result():
    images = faces.FaceDCGAN(device="cpu")(12, 150).x  # 3 chunks of 64, the last one ragged
    one = faces.ArcFaceDescriptor(device="cpu", workers=1)(images)
    three = faces.ArcFaceDescriptor(device="cpu", workers=3)(images)
    np.testing.assert_allclose(three, one, atol=1e-6)
    with pytest.raises(ValueError, match="workers"):
        faces.ArcFaceDescriptor(device="cpu", workers=0)
    with pytest.raises(ValueError, match="workers"):
        faces.pipelined(4, 2, lambda s, e: None, lambda x: None, 3, workers=0)


def test_the_cpu_batch_sizes_change_no_bit(crops):
    # the CPU defaults (ArcFace on 8 crops, the DCGAN on 32 latents per call) were chosen for speed only
    small, large = faces.ArcFaceDescriptor(device="cpu"), faces.ArcFaceDescriptor(device="cpu", batch_size=64)
    assert small.batch_size == 8 and large.batch_size == 64
    np.testing.assert_array_equal(small.embed_crops(crops[:70]), large.embed_crops(crops[:70]))
    gan = faces.FaceDCGAN(device="cpu")
    assert gan.batch_size == 32
    np.testing.assert_array_equal(gan(5, 70).x, faces.FaceDCGAN(device="cpu", batch_size=128)(5, 70).x)
    with pytest.raises(ValueError, match="batch_size"):
        faces.FaceDCGAN(device="cpu", batch_size=0)
