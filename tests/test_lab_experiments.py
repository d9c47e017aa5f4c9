"""bbcollapse.lab.experiments: seed spread, class-histogram test and repeated-item check, against closed forms."""

import numpy as np
import pytest

from bbcollapse.lab.experiments import histogram_test, nearest_repeated, seed_spread


def test_seed_spread_matches_the_t_interval_by_hand():
    v = [0.40, 0.42, 0.45, 0.41, 0.43]
    out = seed_spread(v)
    sd = np.std(v, ddof=1)
    half = 2.7764451051977987 * sd / np.sqrt(5)  # t_{0.975, 4}
    assert out["mean"] == pytest.approx(0.422)
    assert out["sd"] == pytest.approx(sd)
    assert out["mean_ci"] == pytest.approx([0.422 - half, 0.422 + half])
    assert seed_spread([0.3])["mean_ci"] is None
    with pytest.raises(ValueError):
        seed_spread([0.3, float("nan")])


def test_histogram_test_tv_and_chi_square():
    same = histogram_test([100, 100, 0], [100, 100, 0])
    assert same["tv"] == 0 and same["p_value"] == pytest.approx(1.0)
    far = histogram_test([1000, 0], [0, 1000])
    assert far["tv"] == 1 and far["p_value"] < 1e-100
    # 2x2 chi-square (Yates-corrected, as scipy's default) by hand: [[30, 70], [50, 50]]
    out = histogram_test([30, 70], [50, 50])
    exp = np.array([[40, 60], [40, 60]])
    obs = np.array([[30, 70], [50, 50]])
    chi2 = (((np.abs(obs - exp) - 0.5) ** 2) / exp).sum()
    assert out["chi2"] == pytest.approx(chi2) and out["tv"] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        histogram_test([0, 0], [1, 2])


def test_nearest_repeated_distance_and_radius():
    rep = np.eye(3, dtype=np.float32)
    w = np.array([np.cos(0.1 * np.pi), np.sin(0.1 * np.pi), 0], dtype=np.float32)  # d = 0.1 to item 0
    out = nearest_repeated(w, rep, r=0.12)
    assert out["nearest"] == 0 and out["distance"] == pytest.approx(0.1, abs=1e-6) and out["within_r"]
    assert not nearest_repeated(w, rep, r=0.05)["within_r"]


def test_descriptor_table_is_chapter_6s_recipe_and_the_classes_defaults():
    """Chapters 9-11 read chapter 6's cached descriptors only if they build the same configurations."""
    from bbcollapse.lab.classifier import ClassifierConfig
    from bbcollapse.lab.config import DESCRIPTORS, descriptor_configs
    from bbcollapse.lab.encoder import EncoderConfig

    # the default recipe is the one the classes document (2,000 classifier steps measured 0.920 test accuracy)
    assert descriptor_configs("default") == (EncoderConfig(), ClassifierConfig())
    assert descriptor_configs("paper") == (EncoderConfig(steps=4000, width=16), ClassifierConfig(steps=8000, width=32))
    smoke = descriptor_configs("smoke")
    assert smoke[0].steps < 10 and smoke[1].steps < 10 and smoke != descriptor_configs("default")
    assert set(DESCRIPTORS) == {"smoke", "default", "paper"}
    with pytest.raises(ValueError, match="scale"):
        descriptor_configs("huge")
