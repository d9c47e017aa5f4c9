"""Algorithm 2 of paper 000 (section 3.2): rejection ("importance") sampling of the dense region.

With ``p = N(I_r) / N(I_m)`` (Eq. 5 neighbour counts within r0 of a reference and of the mode,
counted by the engine on the fitting set), a proposal ``z ~ N(0, I)`` lying in the mode's dense
region (:mod:`.regions`: exactly in output space, or a latent ball or hull) is accepted with
probability p, every other proposal always.  :func:`rejection_calibrator` fits p and the region
and returns a :class:`RejectionCalibrated` Sampler.

A calibrator that can accept nothing is refused when it is built (expected acceptance 0 on
the fitting set), one that accepts almost nothing warns (below :data:`WARN_ACCEPTANCE`), and
every draw stops with an error once it has made ``max_proposals`` proposals (for the output
region, each is one generator and one descriptor call), so a misfitted acceptance cannot run
for ever.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._validation import check_fraction, check_int, check_option
from ..blackbox import Descriptor, LatentModel, shard_seed
from ..distance import validate_unit
from .base import CalibratedSampler, Proposals
from .fitting import (
    FitArgs,
    check_latent_model,
    check_r0,
    fit_set,
    generate_and_embed,
    near_modes,
    neighbour_counts,
    unit_modes,
)

if TYPE_CHECKING:  # keyword types for checkers only (typing has Unpack from Python 3.11)
    from typing_extensions import Unpack
from .regions import REGIONS, DenseRegion, dense_region

__all__ = [
    "RejectionCalibrated",
    "WARN_ACCEPTANCE",
    "acceptance_probability",
    "rejection_calibrator",
    "thinning_probability",
]

log = logging.getLogger(__name__)

#: Below this expected acceptance a calibrator warns when built (1000 proposals per sample and more).
WARN_ACCEPTANCE = 1e-3


def acceptance_probability(*, mode_count: int, reference_count: float) -> float:
    """``p = N(I_r) / N(I_m)``: acceptance of a proposal in the dense region (Algorithm 2).

    Raises ValueError when the mode has no neighbour, or when the reference is denser
    than the mode (p > 1): rejection can only lower a density, so that target is
    impossible to reach.
    """
    if mode_count <= 0:
        raise ValueError(
            "the mode has zero neighbours within r0 among the fitting samples, so p = N(I_r)/N(I_m) is undefined; "
            "increase the number of fitting samples or r0"
        )
    if reference_count < 0:
        raise ValueError(f"reference_count must be >= 0; got {reference_count}")
    p = float(reference_count) / float(mode_count)
    if p > 1.0:
        raise ValueError(
            f"target impossible to reach: the reference has more neighbours ({reference_count:g}) than the mode "
            f"({mode_count}), so p = {p:.3f} > 1; rejection sampling can only lower the mode's density"
        )
    return p


def thinning_probability(p, inside) -> np.ndarray:
    """(n,) acceptance of each proposal: the least p (m,) over the regions it lies in (inside (n, m)), else 1."""
    return np.where(inside, np.asarray(p)[None, :], 1.0).min(axis=1)


@dataclass(frozen=True, eq=False, repr=False)
class RejectionCalibrated(CalibratedSampler):
    """Algorithm 2: accept proposals in the dense region with probability p, others always.

    Attributes
    ----------
    descriptor : embeds proposals (region "output")
    region : the dense region of each mode
    p : (m,) acceptance inside each mode's region
    expected_acceptance : ``mean(thinning_probability)`` over a prior sample
    region_fraction : (m,) prior mass of each region, measured when fitting
    method : name in reports ("rejection-<region>", or white-box)
    max_proposals : most proposals one draw may make before it fails (None:
        :meth:`proposal_budget`'s default, 100 times the expected number plus 100 000)
    """

    descriptor: Descriptor | None
    region: DenseRegion
    p: np.ndarray
    expected_acceptance: float
    region_fraction: np.ndarray
    method: str = field(default="rejection", kw_only=True)
    max_proposals: int | None = field(default=None, kw_only=True)
    _budget: dict = field(default_factory=dict, init=False, repr=False)  # of the draw in progress

    def proposal_budget(self, n: int) -> int:
        """Most proposals a draw of ``n`` samples may make: ``max_proposals``, or 100 x the expected count + 100 000."""
        if self.max_proposals is not None:
            return int(self.max_proposals)
        return int(min(100 * n / max(self.expected_acceptance, 1e-300), 2**62)) + 100_000

    def draw(self, seed: int, n: int, *, need_x: bool):
        """As :meth:`CalibratedSampler.draw`, failing once :meth:`proposal_budget` proposals are spent."""
        self._budget.update(used=0, limit=self.proposal_budget(n), n=n)
        try:
            return super().draw(seed, n, need_x=need_x)
        finally:
            self._budget.clear()

    def _spend(self, m: int):
        """Count ``m`` proposals against the budget of the draw in progress; raise once it is spent."""
        if not self._budget:
            return
        used, limit = self._budget["used"], self._budget["limit"]
        if used >= limit:
            raise RuntimeError(
                f"{self.method}: the budget of {limit} proposals is spent ({used} drawn for {self._budget['n']} "
                f"samples; expected acceptance {self.expected_acceptance:.3g}): the acceptance is lower than fitted. "
                "Raise max_proposals, or refit with more fitting samples, a higher accept_prob or a smaller region"
            )
        self._budget["used"] = used + m

    @property
    def H(self) -> list:
        """The latents H of each mode's region, a list of (h_j, L) arrays."""
        return self.region.latents

    def in_region(self, z, embeddings=None) -> np.ndarray:
        """(n, m) bool: membership of each latent z (n, L) (embeddings (n, D) for "output") in each mode's region."""
        return self.region.contains(z, embeddings)

    def accept_probability(self, inside) -> np.ndarray:
        """(n,) acceptance of each proposal from its (n, m) region membership."""
        return thinning_probability(self.p, inside)

    def accept_mask(self, z, embeddings=None, *, seed: int) -> np.ndarray:
        """(n,) bool: which prior latents ``z`` (n, L) (with embeddings (n, D) for region "output") are accepted.

        Applying it to an already generated and embedded prior pool gives a calibrated
        sample with no new generator or descriptor call (thinning).
        """
        z = np.asarray(z)
        if self.region.kind == "output" and embeddings is None:
            raise ValueError("region='output' decides on the embeddings: pass embeddings=")
        u = np.random.default_rng(shard_seed(seed, 1)).random(len(z))
        return u < self.accept_probability(self.in_region(z, embeddings))

    def propose(self, seed: int, m: int, need_x: bool) -> Proposals:
        self._spend(m)
        z = np.asarray(self.model.latents(seed, m))
        if self.region.kind != "output":
            keep = self.accept_mask(z, seed=seed)
            return Proposals(z[keep], None, keep)
        # one round generates about n / acceptance outputs: its own (transient) bar shows them
        outs, e = generate_and_embed(
            self.model, self.descriptor, z, progress=self.progress, desc="embed proposals", leave=False
        )
        keep = self.accept_mask(z, e, seed=seed)
        # array outputs are kept; other outputs (lists, ...) are regenerated for the accepted latents
        x = np.concatenate(outs)[keep] if isinstance(outs[0], np.ndarray) else None
        return Proposals(z[keep], x, keep, embedded=m)


def reference_count(embeddings, *, r0: float, references, n_references: int, seed: int) -> float:
    """``N(I_r)``: mean neighbour count within r0 of the references in the fitting embeddings (N, D).

    ``references`` (q, D) or (D,) unit vectors, or None: ``n_references`` random fitting
    embeddings, each without its own point.
    """
    e = embeddings
    if references is None:
        rng = np.random.default_rng(shard_seed(seed, 3))
        idx = rng.choice(len(e), size=min(check_int(n_references, "n_references", minimum=1), len(e)), replace=False)
        counts = (neighbour_counts(e[idx], e, r0) - 1).astype(np.float64)  # exclude itself
    else:
        refs = validate_unit(references if np.ndim(references) == 2 else np.asarray(references)[None, :], "references")
        counts = neighbour_counts(refs, e, r0).astype(np.float64)
    return float(counts.mean())


def region_latents_of(fit, near, modes, top_h: int | None) -> list:
    """H of each mode: the fitting latents whose images lie within r0 of it (the ``top_h`` nearest if given).

    Parameters
    ----------
    fit : the FitSet, N latents and embeddings
    near : (N, m) bool membership of the fitting embeddings near each mode
    modes : (m, D) float64
    """
    H = []
    for j in range(len(modes)):
        idx = np.flatnonzero(near[:, j])
        if top_h is not None and len(idx) > top_h:
            dots = fit.embeddings[idx] @ modes[j]
            idx = idx[np.argsort(-dots, kind="stable")[:top_h]]
        H.append(np.asarray(fit.latents[idx], dtype=np.float64))
    return H


def rejection_calibrator(
    model: LatentModel,
    descriptor: Descriptor | None = None,
    *,
    modes,
    r0: float,
    region: str = "output",
    accept_prob: float | None = None,
    max_proposals: int | None = None,
    references=None,
    n_references: int = 1000,
    top_h: int | None = None,
    region_latents=None,
    ball_radius: str | float = "min",
    hull_tol: float = 0.05,
    seed: int = 0,
    progress: bool | None = None,
    **fit: Unpack[FitArgs],
) -> RejectionCalibrated:
    """Algorithm 2 of the paper: rejection ("importance") sampling of the dense region.

    Parameters
    ----------
    model : latent model (``latents``, ``generate``)
    descriptor : callable outputs -> (n, D) unit vectors (needed for region="output",
        and to embed the fitting set when it is not given)
    modes : (m, D) or (D,) unit embeddings of the dense modes I_m
    r0 : neighbour radius in (0, 1]
    region : "output" (exact), "ball" (the authors' latent ball) or "hull" (conv(H) with tolerance)
    accept_prob : p; if None, ``p = N(I_r)/N(I_m)`` on the fitting set
    max_proposals : most proposals one draw may make before it raises RuntimeError (for the
        output region, each costs a generator and a descriptor call); None: 100 times the
        expected number plus 100 000
    references : (q, D) unit embeddings of reference images I_r; N(I_r) is their mean
        neighbour count in the fitting set.  Default: ``n_references`` random fitting
        samples (their own point excluded).  The paper uses a single random I_r; the
        mean over q references has far less variance.
    top_h : keep only the ``top_h`` latents nearest to I_m in H (the paper keeps 100);
        None keeps every fitting latent within r0
    region_latents : (h, L) latents of H given directly (e.g. the white-box ones);
        with several modes, a list of such arrays
    ball_radius : "min" (authors' code), "max" or a quantile in [0, 1] of the distances to the centre
    hull_tol : relative residual tolerance of the hull test
    seed : seed of the fitting samples, of the random references and of the prior latents that
        measure a latent region's mass
    progress : progress bars while fitting and sampling (default: only on a terminal)
    **fit : the fitting set, keywords of :func:`~bbcollapse.calibration.fit_set`: ``n_fit``,
        ``fit_latents`` and ``fit_embeddings``, or ``store`` (as in
        :func:`~bbcollapse.calibration.cluster.fit_cluster_weights`)

    Returns
    -------
    RejectionCalibrated, a Sampler; ``expected_acceptance = 1 - (1 - p) P(region)``, with
    P(region) (``region_fraction``) measured on the fitting set for the output region and on
    fresh prior latents for a latent region (20 000; 200 for the hull).

    Raises
    ------
    ValueError
        when the expected acceptance is 0 (every measured proposal lies in a region whose p is
        0: sampling could never end); a RuntimeWarning is issued below :data:`WARN_ACCEPTANCE`.
    """
    check_latent_model(model)
    r0 = check_r0(r0)
    region = check_option(region, REGIONS, "region")
    if region == "output" and descriptor is None:
        raise ValueError("region='output' embeds every proposal: a descriptor is required")
    modes_ = unit_modes(modes)
    if accept_prob is not None:
        accept_prob = check_fraction(accept_prob, "accept_prob", open_low=False, open_high=False)
    if max_proposals is not None:
        max_proposals = check_int(max_proposals, "max_proposals", minimum=1)
    top_h = None if top_h is None else check_int(top_h, "top_h", minimum=1)
    t0 = time.perf_counter()
    fit = fit_set(model, descriptor, seed=seed, progress=progress, **fit)
    if fit.embeddings.shape[1] != modes_.shape[1]:
        raise ValueError(f"modes have dimension {modes_.shape[1]} but the embeddings have {fit.embeddings.shape[1]}")
    near = near_modes(fit.embeddings, modes_, r0)  # (N, m)
    mode_counts = near.sum(axis=0)
    if accept_prob is not None:
        if (mode_counts == 0).any() and region != "output" and region_latents is None:
            raise ValueError(
                f"a mode has zero neighbours within r0={r0} among the {len(near)} fitting samples: H is empty"
            )
        p = np.full(len(modes_), accept_prob)
    else:
        ref = reference_count(fit.embeddings, r0=r0, references=references, n_references=n_references, seed=seed)
        p = np.array([acceptance_probability(mode_count=int(c), reference_count=ref) for c in mode_counts])
    if region_latents is not None:
        H = region_latents if isinstance(region_latents, (list, tuple)) else [region_latents]
        H = [np.asarray(h, dtype=np.float64) for h in H]
        if len(H) != len(modes_):
            raise ValueError(f"region_latents must give one (h, L) array per mode ({len(modes_)}); got {len(H)}")
    else:
        H = region_latents_of(fit, near, modes_, top_h)
    dense = dense_region(region, modes=modes_, r0=r0, latents=H, ball_radius=ball_radius, hull_tol=hull_tol)
    # Expected acceptance: the output region on the fitting set (a fair prior sample); a latent
    # region on fresh prior latents (the fitting set holds H itself), the hull on fewer (one NNLS each)
    if region == "output":
        inside = near
    else:
        inside = dense.contains(np.asarray(model.latents(shard_seed(seed, 5), 200 if region == "hull" else 20_000)))
    expected = float(thinning_probability(p, inside).mean())
    log.info("rejection-%s: p=%s, |H|=%s, expected acceptance %.4f", region, p, [len(h) for h in H], expected)
    _check_acceptance(expected, p, len(inside), f"rejection-{region}")
    return RejectionCalibrated(
        model,
        descriptor,
        dense,
        p,
        expected,
        inside.mean(axis=0),
        method=f"rejection-{region}",
        fit_seconds=time.perf_counter() - t0,
        fit_generator_calls=fit.generator_calls,
        progress=progress,
        max_proposals=max_proposals,
    )


def _check_acceptance(expected: float, p, n_measured: int, method: str) -> None:
    """Refuse an expected acceptance of 0, warn below :data:`WARN_ACCEPTANCE`."""
    if expected <= 0:
        raise ValueError(
            f"{method}: the expected acceptance is 0: all {n_measured} proposals measured fall in a region whose "
            f"acceptance p = {np.asarray(p).tolist()} is 0, so sampling would never end. Raise accept_prob, or "
            "shrink r0 or the region"
        )
    if expected < WARN_ACCEPTANCE:
        warnings.warn(
            f"{method}: expected acceptance {expected:.3g}, about {1 / expected:.3g} proposals per sample; a draw "
            "stops with an error after max_proposals proposals",
            RuntimeWarning,
            stacklevel=3,
        )
