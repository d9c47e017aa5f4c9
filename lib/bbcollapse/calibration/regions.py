"""The dense regions Algorithm 2 of paper 000 thins (section 3.2), in output or in latent space.

A proposal ``z ~ N(0, I)`` lies in mode j's dense region when

* ``"output"`` -- its image does: ``d(F(G(z)), I_m) <= r0``, exactly, counted by the engine
  (one descriptor call per proposal);
* ``"ball"`` -- a latent ball as in the authors' code (``draw_image_sphere.py``):
  centre = mean of H, radius = the *minimum* distance from the centre to H, where H are
  the latents whose images lie within r0 of I_m (:func:`in_latent_ball`);
* ``"hull"`` -- the paper's convex hull ``conv(H)``, tested with a tolerance: the
  relative residual of the NNLS fit ``min_{a >= 0, sum a = 1} ||H^T a - z||`` must be
  ``<= hull_tol`` (:func:`hull_residual`).  In 100-512 dimensions a fresh z almost never
  lies in the hull of 100 points, which is why the authors abandoned it; notebook 4
  measures that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_fraction, check_option, check_positive
from .fitting import near_modes

__all__ = ["REGIONS", "DenseRegion", "dense_region", "hull_residual", "in_latent_ball", "in_latent_hull"]

REGIONS = ("output", "ball", "hull")


def in_latent_ball(z, *, centre, radius) -> np.ndarray:
    """(n,) bool: ``||z - centre|| < radius`` for latents z (n, L), centre (L,) (strict, as the authors' code)."""
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.norm(z - np.asarray(centre, dtype=np.float64)[None, :], axis=1) < radius


def hull_residual(z, hull, *, weight: float = 1e3) -> np.ndarray:
    """Relative distance of each z to conv(hull): ``min_{a>=0, sum a=1} ||hull^T a - z|| / ||z||``.

    Solved by NNLS with the affine constraint appended as a heavily weighted row
    (``scipy.optimize.nnls``).

    Parameters
    ----------
    z : (n, L) points
    hull : (h, L) the vertices H

    Returns
    -------
    (n,) float64 relative residuals
    """
    from scipy.optimize import nnls

    z = np.asarray(z, dtype=np.float64)
    H = np.asarray(hull, dtype=np.float64)
    A = np.vstack([H.T, weight * np.ones((1, H.shape[0]))])
    out = np.empty(len(z))
    for i, zi in enumerate(z):
        a, _ = nnls(A, np.concatenate([zi, [weight]]), maxiter=50 * A.shape[1])
        a = a / max(a.sum(), 1e-300)
        out[i] = np.linalg.norm(H.T @ a - zi) / max(np.linalg.norm(zi), 1e-300)
    return out


def in_latent_hull(z, *, hull, tol: float = 0.05) -> np.ndarray:
    """(n,) bool: latents z (n, L) within relative distance ``tol`` of conv(hull) (see :func:`hull_residual`)."""
    return hull_residual(z, hull) <= tol


@dataclass(frozen=True, eq=False)
class DenseRegion:
    """The region of each mode where Algorithm 2 thins proposals.

    Attributes
    ----------
    kind : "output", "ball" or "hull"
    modes : (m, D) float64 unit embeddings I_m
    r0 : neighbour radius of the output region
    latents : one (h_j, L) float64 array H per mode: latents whose images lie within r0 of it
    centres, radii : one ball per mode (kind "ball"; empty otherwise)
    hull_tol : relative residual tolerance of the hull test
    """

    kind: str
    modes: np.ndarray
    r0: float
    latents: list
    centres: list
    radii: list
    hull_tol: float

    def contains(self, z, embeddings=None) -> np.ndarray:
        """(n, m) bool: membership of each latent z (n, L), with its embedding (n, D) for "output", in each region."""
        if self.kind == "output":
            return near_modes(embeddings, self.modes, self.r0)
        if self.kind == "ball":
            return np.stack([in_latent_ball(z, centre=c, radius=r) for c, r in zip(self.centres, self.radii)], axis=1)
        return np.stack([in_latent_hull(z, hull=h, tol=self.hull_tol) for h in self.latents], axis=1)


def dense_region(kind: str, *, modes, r0: float, latents, ball_radius="min", hull_tol: float = 0.05) -> DenseRegion:
    """Build the :class:`DenseRegion` of each mode from its latents H.

    Parameters
    ----------
    kind : "output", "ball" or "hull"
    modes : (m, D) unit embeddings
    r0 : neighbour radius in (0, 1]
    latents : list of m arrays (h_j, L), H for each mode
    ball_radius : "min" (authors' code), "max" or a quantile in [0, 1] of the distances from H to its mean
    hull_tol : relative residual tolerance of the hull test (> 0)
    """
    kind = check_option(kind, REGIONS, "region")
    if isinstance(ball_radius, str):
        check_option(ball_radius, ("min", "max"), "ball_radius")
    else:
        ball_radius = check_fraction(ball_radius, "ball_radius", open_low=False, open_high=False)
    centres, radii = [], []
    if kind == "ball":
        for h in latents:
            c = h.mean(axis=0)
            dist = np.linalg.norm(h - c[None, :], axis=1)
            if ball_radius == "min":
                rad = dist.min()
            elif ball_radius == "max":
                rad = dist.max()
            else:
                rad = float(np.quantile(dist, ball_radius))
            centres.append(c)
            radii.append(float(rad))
    return DenseRegion(kind, modes, r0, list(latents), centres, radii, check_positive(hull_tol, "hull_tol"))
