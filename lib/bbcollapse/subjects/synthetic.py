"""A synthetic black box on the hypersphere with planted collapse of known size.

Law of one output x in S^{D-1} (``PlantedSphere``):

* with probability ``w_i`` it belongs to planted identity i: ``x = cos(pi*delta) mu_i +
  sin(pi*delta) u`` where ``delta ~ Uniform[0, spread]`` is its normalised angular
  distance to the centre ``mu_i`` and ``u`` is uniform on the unit sphere orthogonal
  to ``mu_i``;
* with probability ``1 - sum w_i`` it is uniform on S^{D-1} (diffuse).

It is a latent model: ``z ~ N(0, I_{D+2})`` and ``x = G(z)`` with ``Phi(z_0)`` choosing
the component, ``Phi(z_1)`` the distance ``delta`` and ``z_2..`` the direction, so the
calibrators (which act on latents) can be tested against exact ground truth.

Ground truth is computed *independently of the engine*, by float64 quadrature over
closed-form marginals: for ``t = <a, X>`` with X uniform on S^{D-1}, ``t`` has density
``prop. to (1 - t^2)^((D-3)/2)`` whose tail is a regularised incomplete beta function.

Its default theta (Eq. 3) and r (Eq. 5), :meth:`PlantedSphere.theta_r`, are the documented rule
(:func:`bbcollapse.stats.choose_theta_r`) applied to its own identities: the "views" of a planted
output are the other outputs of its identity, which the model knows exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special, stats

from .._validation import check_theta, check_unit_interval
from ..blackbox import Batch
from ..distance import cos_threshold, distance_from_cos, similarity

__all__ = ["PlantedSphere", "sphere_tail", "theta_r_default", "uniform_sphere", "THETA_R_PAIRS", "THETA_R_SEED"]

#: pairs of each kind, and their seed, of :meth:`PlantedSphere.theta_r` (a quantile's standard error ~0.001)
THETA_R_PAIRS, THETA_R_SEED = 20_000, 0


def uniform_sphere(rng, n, dim):
    g = rng.standard_normal((n, dim))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def sphere_tail(tau, dim):
    """P(<a, X> >= tau) for X uniform on S^{dim-1} (dim >= 2), exact, float64."""
    tau = np.clip(np.asarray(tau, dtype=np.float64), -1.0, 1.0)
    half = 0.5 * special.betainc((dim - 1) / 2.0, 0.5, 1.0 - tau**2)
    return np.where(tau >= 0, half, 1.0 - half)


def _coord_density(v, dim):
    """Density of one coordinate of a uniform point on S^{dim-1}."""
    v = np.asarray(v, dtype=np.float64)
    logc = special.gammaln(dim / 2.0) - special.gammaln((dim - 1) / 2.0) - 0.5 * np.log(np.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(v) < 1, np.exp(logc + (dim - 3) / 2.0 * np.log1p(-(v**2))), 0.0)


@dataclass
class PlantedSphere:
    """Planted-collapse black box (see module docstring).

    Parameters
    ----------
    dim : embedding dimension D (>= 3)
    masses : sequence of probabilities w_i of the planted identities (sum < 1)
    spread : normalised angular radius of each identity, in (0, 1/2]
    centres_seed : seed that fixes the identity centres mu_i
    """

    dim: int = 64
    masses: tuple = (0.05, 0.02)
    spread: float = 0.15
    centres_seed: int = 0

    def __post_init__(self):
        if int(self.dim) < 3:
            raise ValueError(f"dim must be >= 3; got {self.dim}")
        self.masses = tuple(float(w) for w in np.atleast_1d(self.masses))
        w = np.asarray(self.masses)
        if (w < 0).any() or w.sum() >= 1:
            raise ValueError(f"masses must be >= 0 and sum to < 1; got {self.masses}")
        if not (0 < self.spread <= 0.5):
            raise ValueError(f"spread must lie in (0, 0.5]; got {self.spread}")
        self.centres = uniform_sphere(np.random.default_rng(self.centres_seed), len(self.masses), self.dim)
        self.latent_dim = self.dim + 2
        self._cum = np.cumsum(w)

    # -- the black box ---------------------------------------------------------------
    def latents(self, seed: int, n: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def component(self, z) -> np.ndarray:
        """Ground-truth component of each latent: identity index, or -1 for diffuse."""
        u0 = stats.norm.cdf(np.asarray(z, dtype=np.float64)[:, 0])
        comp = np.searchsorted(self._cum, u0, side="right")
        return np.where(comp < len(self.masses), comp, -1)

    def generate(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        comp = self.component(z)
        delta = self.spread * stats.norm.cdf(z[:, 1])
        g = z[:, 2:]
        x = g / np.linalg.norm(g, axis=1, keepdims=True)
        for i, mu in enumerate(self.centres):
            sel = comp == i
            if not sel.any():
                continue
            t = g[sel] - (g[sel] @ mu)[:, None] * mu
            t /= np.linalg.norm(t, axis=1, keepdims=True)
            ang = np.pi * delta[sel][:, None]
            x[sel] = np.cos(ang) * mu + np.sin(ang) * t
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)

    def __call__(self, seed: int, n: int) -> Batch:
        z = self.latents(seed, n)
        return Batch(z, self.generate(z))

    # -- theta and r by the documented rule ------------------------------------------
    def identity_pairs(self, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two (n, D) arrays of outputs, row i of both from the same planted identity (drawn with probability ~ w_i)."""
        w = np.asarray(self.masses)
        if not w.sum() > 0:
            raise ValueError("a sphere without planted identities (masses all 0) has no same-identity pairs")
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(w), size=n, p=w / w.sum())
        lo = self._cum[comp] - w[comp]  # Phi(z_0) in [lo, lo + w) selects the identity (see component)
        pair = []
        for _ in range(2):
            z = rng.standard_normal((n, self.latent_dim))
            z[:, 0] = stats.norm.ppf(lo + rng.uniform(0.1, 0.9, n) * w[comp])  # inside the interval, off its ends
            pair.append(self.generate(z).astype(np.float64))
        return pair[0], pair[1]

    def theta_r(self, n: int = THETA_R_PAIRS, seed: int = THETA_R_SEED, **quantiles):
        """theta and r of this sphere by the documented rule (:func:`bbcollapse.stats.choose_theta_r`).

        Same-identity distances are those between two outputs of one planted identity (the model's
        exact identity-preserving views); different-sample distances those between two independent
        outputs.  ``n`` pairs of each; ``quantiles``: ``q_same``, ``q_diff``.
        """
        from ..stats.thresholds import choose_theta_r

        a, b = self.identity_pairs(seed, n)
        x = self(seed + 1, 2 * n).x.astype(np.float64)
        same = distance_from_cos(np.einsum("nd,nd->n", a, b))
        diff = distance_from_cos(np.einsum("nd,nd->n", x[:n], x[n:]))
        return choose_theta_r(same, diff, **quantiles)

    # -- ground truth (float64 quadrature, independent of the engine) ----------------
    def _out_of_reach(self, rho, radius):
        """True when no point of the identity can lie within ``radius`` of the anchor.

        Triangle inequality on the sphere: d(a, x) >= d(a, mu) - spread.  A small margin
        keeps the shortcut exact under rounding.
        """
        return distance_from_cos(rho) - self.spread > radius + 1e-9

    def _cluster_prob(self, rho, tau):
        """P(<a, X> >= tau | X in an identity with <a, mu> = rho)."""
        if self._out_of_reach(rho, distance_from_cos(tau)):
            return 0.0
        s_rho = np.sqrt(max(0.0, 1.0 - rho * rho))

        def integrand(delta):
            c, s = np.cos(np.pi * delta), np.sin(np.pi * delta)
            if s * s_rho < 1e-300:
                return float(c * rho >= tau)
            return float(sphere_tail((tau - c * rho) / (s * s_rho), self.dim - 1))

        val, _ = integrate.quad(integrand, 0.0, self.spread, limit=200, epsabs=1e-12, epsrel=1e-10)
        return val / self.spread

    def neighbor_prob(self, anchor, r) -> float:
        """P(d(anchor, X) <= r) under the black box's law."""
        (r,) = check_unit_interval(r, "r")
        a = np.asarray(anchor, dtype=np.float64)
        tau = float(cos_threshold(r))
        p = (1.0 - sum(self.masses)) * float(sphere_tail(tau, self.dim))
        for w, mu in zip(self.masses, self.centres):
            p += w * self._cluster_prob(float(a @ mu), tau)
        return p

    def _cluster_similarity(self, rho, theta):
        if self._out_of_reach(rho, theta):
            return 0.0
        s_rho = np.sqrt(max(0.0, 1.0 - rho * rho))
        tau = float(np.cos(np.pi * theta))

        def inner(delta):
            c, s = np.cos(np.pi * delta), np.sin(np.pi * delta)
            if s * s_rho < 1e-12:
                return float(similarity(distance_from_cos(c * rho), theta))
            lo = (tau - c * rho) / (s * s_rho)
            if lo >= 1:
                return 0.0
            f = lambda v: (
                similarity(distance_from_cos(c * rho + s * s_rho * v), theta) * _coord_density(v, self.dim - 1)
            )
            val, _ = integrate.quad(f, max(lo, -1.0), 1.0, limit=200, epsabs=1e-13, epsrel=1e-10)
            return val

        val, _ = integrate.quad(inner, 0.0, self.spread, limit=200, epsabs=1e-12, epsrel=1e-9)
        return val / self.spread

    def mean_similarity(self, anchor, theta) -> float:
        """E[s(d(anchor, X))] under the black box's law (the population MCCS argument)."""
        theta = check_theta(theta)
        a = np.asarray(anchor, dtype=np.float64)
        tau = float(np.cos(np.pi * theta))
        f = lambda t: similarity(distance_from_cos(t), theta) * _coord_density(t, self.dim)
        diffuse, _ = integrate.quad(f, tau, 1.0, limit=200, epsabs=1e-14, epsrel=1e-10)
        m = (1.0 - sum(self.masses)) * diffuse
        for w, mu in zip(self.masses, self.centres):
            m += w * self._cluster_similarity(float(a @ mu), theta)
        return m


def theta_r_default(sampler, descriptor) -> dict | None:
    """The sphere's own theta and r (:meth:`PlantedSphere.theta_r`) when it is read through the identity
    descriptor, with where they came from; None for any other pair (the CLI then uses the generic defaults)."""
    from ..blackbox import identity_descriptor

    if not isinstance(sampler, PlantedSphere) or descriptor is not identity_descriptor or not sum(sampler.masses):
        return None
    t = sampler.theta_r()
    source = (
        f"subject default: the rule ({t.rule}) applied to the sphere's own planted identities, "
        f"{THETA_R_PAIRS} pairs of each kind, seed {THETA_R_SEED} (PlantedSphere.theta_r, rounded to 4 decimals)"
    )
    return {"theta": round(t.theta, 4), "r": round(t.r, 4), "source": source}
