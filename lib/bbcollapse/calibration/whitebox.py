"""WHITE-BOX baseline (paper 001, appendix, Eq. 5): latents of a mode recovered through the generator.

:func:`white_box_latents` recovers latents of a mode image I_m by gradient descent through a
torch generator (pixel L2 + descriptor distance + ``alpha ||z||^2``, many restarts), and
:func:`white_box_rejection_calibrator` feeds them to Algorithm 2's latent-region rejection
(:mod:`.rejection`).  It needs the generator's gradients, so it is *not* black-box; it is
labelled white-box everywhere (its reports' ``method`` starts with "white-box").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._progress import progress_bar
from .._validation import check_int, check_option
from ..blackbox import Descriptor, LatentModel
from ..distance import distance_from_cos
from .rejection import RejectionCalibrated, rejection_calibrator

__all__ = ["WhiteBoxLatents", "white_box_latents", "white_box_rejection_calibrator"]


@dataclass(frozen=True, repr=False)
class WhiteBoxLatents:
    """Latents recovered by optimisation through the generator (white-box, paper 001 appendix).

    Attributes
    ----------
    z : (R, L) float32       one recovered latent per restart
    loss : (R,) float64      final loss of each restart
    distance : (R,) float64  descriptor distance d(F(G(z)), I_m) where a descriptor was given, else nan
    """

    z: np.ndarray
    loss: np.ndarray
    distance: np.ndarray

    def __repr__(self):
        dist = np.nanmedian(self.distance) if np.isfinite(self.distance).any() else float("nan")
        loss = np.median(self.loss)
        return f"WhiteBoxLatents(restarts={len(self.z)}, loss median={loss:.4g}, distance median={dist:.4g})"


def white_box_latents(
    generator,
    *,
    target_image,
    latent_dim: int,
    descriptor=None,
    target_embedding=None,
    n_restarts: int = 100,
    steps: int = 200,
    lr: float = 0.05,
    pixel_weight: float = 1.0,
    descriptor_weight: float = 1.0,
    alpha: float = 1e-3,
    seed: int = 0,
    progress: bool | None = None,
) -> WhiteBoxLatents:
    """WHITE-BOX latent recovery of a mode image by gradient descent (paper 001, appendix, Eq. 5).

    Minimises, from ``n_restarts`` random starts ``z ~ N(0, I)`` in one batch (Adam),
    ``pixel_weight * mean((G(z) - I_m)^2) + descriptor_weight * (1 - <F(G(z)), F(I_m)>)
    + alpha * ||z||^2 / L``.  The paper's perceptual (VGG) term becomes the identity
    descriptor's distance, which is what the calibration cares about.

    Parameters
    ----------
    generator : torch callable (R, L) float32 tensor -> outputs tensor (differentiable)
    target_image : the mode's output I_m (array or tensor of one output's shape)
    latent_dim : L
    descriptor : optional differentiable torch callable outputs -> (R, D) embeddings
    target_embedding : (D,) unit embedding of I_m (default: descriptor(target_image))
    n_restarts, steps, lr : optimisation budget (the paper uses 100 restarts)
    pixel_weight, descriptor_weight, alpha : loss weights
    seed : seed of the random starts
    progress : progress bar over the optimisation steps, with the median loss (default: only on a terminal)
    """
    import torch

    n_restarts = check_int(n_restarts, "n_restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    gen = torch.Generator().manual_seed(int(seed) % (2**63))
    z = torch.randn(n_restarts, int(latent_dim), generator=gen).requires_grad_(True)
    target = torch.as_tensor(np.asarray(target_image), dtype=torch.float32)[None]
    t_emb = None
    if descriptor is not None and descriptor_weight > 0:
        t_emb = (
            torch.as_tensor(np.asarray(target_embedding), dtype=torch.float32)
            if target_embedding is not None
            else descriptor(target).detach()[0]
        )
        t_emb = t_emb / t_emb.norm()
    opt = torch.optim.Adam([z], lr=lr)

    def loss_fn(z):
        out = generator(z)
        loss = pixel_weight * ((out - target) ** 2).flatten(1).mean(1)
        if t_emb is not None:
            emb = descriptor(out)
            emb = emb / emb.norm(dim=1, keepdim=True)
            loss = loss + descriptor_weight * (1.0 - emb @ t_emb)
        return loss + alpha * (z**2).sum(1) / z.shape[1], out

    with progress_bar(progress, total=steps, desc="white-box recovery", unit="step") as bar:
        for _ in range(steps):
            opt.zero_grad()
            loss, _ = loss_fn(z)
            loss.sum().backward()
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.detach().median().item():.4g}", refresh=False)
    with torch.no_grad():
        loss, out = loss_fn(z)
        dist = np.full(len(z), np.nan)
        if t_emb is not None:
            emb = descriptor(out)
            emb = emb / emb.norm(dim=1, keepdim=True)
            dist = distance_from_cos((emb.double() @ t_emb.double()).numpy())
    return WhiteBoxLatents(z=z.detach().numpy().astype(np.float32), loss=loss.double().numpy(), distance=dist)


def white_box_rejection_calibrator(
    model: LatentModel,
    descriptor: Descriptor | None = None,
    *,
    modes,
    r0: float,
    white_box: WhiteBoxLatents | list,
    region: str = "ball",
    **kwargs,
) -> RejectionCalibrated:
    """WHITE-BOX baseline: Algorithm 2's latent-region rejection with H recovered by optimisation.

    ``white_box`` holds the latents of :func:`white_box_latents` (one per mode, or a list of
    them or of (h, L) arrays); ``region`` is "ball" or "hull" (the region lives in latent
    space); everything else (p, the region test, acceptance, ``kwargs``) is
    :func:`~bbcollapse.calibration.rejection_calibrator`.
    """
    region = check_option(region, ("ball", "hull"), "region (white-box: a latent region)")
    wb = white_box if isinstance(white_box, (list, tuple)) else [white_box]
    H = [w.z if isinstance(w, WhiteBoxLatents) else np.asarray(w) for w in wb]
    cal = rejection_calibrator(model, descriptor, modes=modes, r0=r0, region=region, region_latents=H, **kwargs)
    return dataclasses.replace(cal, method=f"white-box-rejection-{region}")
