"""The Vendi score: dual form against the primal on small n, a direct eigen-computation, closed forms."""

import numpy as np
import pytest

from bbcollapse.metrics import vendi_score


def _direct(x, q):
    # exp of the Renyi entropy of the eigenvalues of K / n, K the cosine kernel, computed here from scratch
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(u @ u.T / len(u))
    lam = lam[lam > 1e-15]
    if q == 1:
        return float(np.exp(-(lam * np.log(lam)).sum()))
    if np.isinf(q):
        return float(1.0 / lam.max())
    return float(np.exp(np.log((lam**q).sum()) / (1 - q)))


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, float("inf")])
def test_dual_equals_primal_and_direct(rng, q):
    for n, d in ((30, 50), (80, 10)):  # fewer samples than features, and more
        x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
        primal = vendi_score(x, q=q, method="primal")
        dual = vendi_score(x, q=q, method="dual")
        # zero eigenvalues come out as +-1e-16; for q < 1 their powers (1e-8) leave a 1e-8 relative trace
        tol = 1e-6 if q < 1 else 1e-9
        assert dual.value == pytest.approx(primal.value, rel=tol)
        assert primal.value == pytest.approx(_direct(x, q), rel=tol)
        assert vendi_score(x, q=q).method == ("dual" if n > d else "primal")


def test_closed_forms(rng):
    # all samples alike -> 1; orthonormal samples -> n; k equal groups of one direction each -> k
    v = rng.standard_normal(16)
    assert vendi_score(np.tile(v, (40, 1))).value == pytest.approx(1.0, rel=1e-9)
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    assert vendi_score(q[:10] * 3.0, method="primal").value == pytest.approx(10.0, rel=1e-9)
    assert vendi_score(np.repeat(q[:5], 8, axis=0), method="dual").value == pytest.approx(5.0, rel=1e-9)
    # duplicating a fraction of the samples lowers it
    x = rng.standard_normal((200, 16))
    collapsed = np.vstack([x[:160], np.repeat(x[:4], 10, axis=0)])
    assert vendi_score(collapsed).value < vendi_score(x).value


def test_names_and_bad_input(rng):
    r = vendi_score(rng.standard_normal((5, 3)), features="toy")
    assert "toy" in r.name and r.as_dict()["q"] == 1.0
    with pytest.raises(ValueError, match="zero row"):
        vendi_score(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="q must"):
        vendi_score(rng.standard_normal((4, 3)), q=0)
    with pytest.raises(ValueError, match="method"):
        vendi_score(rng.standard_normal((4, 3)), method="fast")
