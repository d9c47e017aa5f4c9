"""Small torch networks for the 2-D world, several independent seeds trained in one batched pass.

Every network here holds S independent copies, one per seed: a linear layer's weight has shape
(S, in, out) and is applied with one batched matrix product, so that S seeds cost little more
than one (a tiny MLP on a CPU is bound by per-operation overhead, not by arithmetic). Copy s is
initialised from its own generator (``shard_seed(seed_s, net_id)``) and every loss is a SUM over
seeds of per-seed means (:func:`per_seed_mean`), so seed s's gradients and its Adam state (Adam
is elementwise) involve no other seed: the runs are statistically independent. (Bitwise, a seed's
trajectory still depends on its batch mates, through the vectorised arithmetic over tensors of
another size; see :meth:`bbcollapse.lab.toy_core.ToyConfig.key`.)

* :class:`BatchedMLP`: ``in -> width -> ... -> out`` with ReLU between linear layers (seed 004,
  section 5.1: "four linear layers with ReLU"); a functional call ``net(x, params)`` lets the
  unrolled GAN evaluate the discriminator at unrolled parameters.
* :class:`ResidualPartitioner`: the space partitioner of seed 002 (PGMGAN, section 4.2):
  ``phi = B_T o ... o B_1`` with ``B(x) = x + psi(x)``, psi two spectrally normalised linear
  layers (each of norm <= ``lipschitz`` < 1) around an ELU, so phi is C^1 and bi-Lipschitz
  (Theorem 3's condition with ``c_0 = (1 - lipschitz^2)^T``); logits ``f(x) = W phi(x) + b``.
* :func:`adam_unrolled_step`: one differentiable Adam step (the unrolled GAN's surrogate).
"""

from __future__ import annotations

import math

import torch

from ..blackbox.protocols import shard_seed

__all__ = ["BatchedMLP", "ResidualPartitioner", "adam_unrolled_step", "per_seed_mean", "seed_generators", "seed_means"]


def seed_generators(seeds, stream: int) -> list[torch.Generator]:
    """One torch generator per seed for the sub-stream ``stream`` (data, latents, an init)."""
    return [torch.Generator().manual_seed(shard_seed(int(s), stream)) for s in seeds]


def seed_means(values: torch.Tensor) -> torch.Tensor:
    """(S, ...) -> (S,): each seed's mean over everything else."""
    return values.reshape(values.shape[0], -1).mean(dim=1)


def per_seed_mean(values: torch.Tensor) -> torch.Tensor:
    """Sum over seeds (dim 0) of the mean over everything else: each seed's loss, added up."""
    return seed_means(values).sum()


def _uniform(gens, shape, bound) -> torch.Tensor:
    """torch.nn.Linear's default init U(-bound, bound), drawn per seed from its own generator."""
    return torch.stack([(torch.rand(shape, generator=g) * 2 - 1) * bound for g in gens])


class BatchedMLP:
    """S independent MLPs ``sizes[0] -> ... -> sizes[-1]`` with ReLU between layers.

    Parameters
    ----------
    sizes : layer widths, input first (e.g. (2, 128, 128, 128, 2): four linear layers)
    seeds : one seed per copy
    net_id : distinguishes the networks of one run (G, D, encoder...) in the seed streams
    params : existing parameters (a list of (S, a, b) weights and (S, 1, b) biases) instead of an init
    out : None, or "sigmoid" on the last layer (generated images in [0, 1])
    """

    def __init__(self, sizes, seeds, net_id: int = 0, params=None, out: str | None = None):
        self.sizes = tuple(int(s) for s in sizes)
        self.out = out
        if params is None:
            gens = seed_generators(seeds, 1000 + net_id)
            params = []
            for a, b in zip(self.sizes[:-1], self.sizes[1:]):
                bound = 1.0 / math.sqrt(a)
                params += [_uniform(gens, (a, b), bound), _uniform(gens, (1, b), bound)]
        self.params = [p.detach().clone().requires_grad_(True) for p in params]

    def __call__(self, x: torch.Tensor, params=None) -> torch.Tensor:
        """x (S, n, in) -> (S, n, out); ``params`` overrides the network's own (unrolling)."""
        ps = self.params if params is None else params
        n_layers = len(ps) // 2
        for i in range(n_layers):
            x = torch.baddbmm(ps[2 * i + 1], x, ps[2 * i])
            if i < n_layers - 1:
                x = torch.relu(x)
        return torch.sigmoid(x) if self.out == "sigmoid" else x


def _spectral_scaled(w: torch.Tensor, bound: float) -> torch.Tensor:
    """``w`` (S, a, b) scaled per seed so that its spectral norm is at most ``bound``.

    The norm is exact: the square root of the largest eigenvalue of the smaller Gram matrix
    (2 x 2 for the layers that touch the 2-D data), far cheaper than an SVD at every step.
    """
    gram = w @ w.transpose(1, 2) if w.shape[1] <= w.shape[2] else w.transpose(1, 2) @ w
    norm = torch.linalg.eigvalsh(gram)[:, -1].clamp_min(1e-24).sqrt()  # (S,)
    return w * torch.clamp(bound / norm, max=1.0)[:, None, None]


class ResidualPartitioner:
    """Seed 002's space partitioner for points in R^d: logits ``W phi(x) + b`` with phi a residual flow.

    Parameters
    ----------
    dim : d (2 here)
    classes : k, the number of partitions
    seeds : one seed per copy
    blocks : T, the number of residual blocks
    hidden : width inside each block
    lipschitz : L < 1, the spectral-norm bound of each layer inside psi
    """

    def __init__(self, dim, classes, seeds, *, blocks=4, hidden=32, lipschitz=0.9, params=None):
        self.dim, self.classes, self.blocks, self.hidden = int(dim), int(classes), int(blocks), int(hidden)
        if not 0.0 < lipschitz < 1.0:
            raise ValueError(f"lipschitz must lie in (0, 1); got {lipschitz!r}")
        self.lipschitz = float(lipschitz)
        if params is None:
            gens = seed_generators(seeds, 2000)
            params = []
            for _ in range(self.blocks):
                params += [_uniform(gens, (dim, hidden), 1 / math.sqrt(dim)), _uniform(gens, (1, hidden), 0.0)]
                params += [_uniform(gens, (hidden, dim), 1 / math.sqrt(hidden)), _uniform(gens, (1, dim), 0.0)]
            params += [_uniform(gens, (dim, classes), 1 / math.sqrt(dim)), _uniform(gens, (1, classes), 0.0)]
        self.params = [p.detach().clone().requires_grad_(True) for p in params]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (S, n, d) -> (S, n, d)."""
        for t in range(self.blocks):
            w1, b1, w2, b2 = self.params[4 * t : 4 * t + 4]
            h = torch.nn.functional.elu(torch.baddbmm(b1, x, _spectral_scaled(w1, self.lipschitz)))
            x = x + torch.baddbmm(b2, h, _spectral_scaled(w2, self.lipschitz))
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = W phi(x) + b: (S, n, d) -> (S, n, k)."""
        return torch.baddbmm(self.params[-1], self.features(x), self.params[-2])

    def guide(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Seed 002's Eq. 6, ``R_i(x) = sum_c (f_c(x) - f_i(x))_+``, for target partitions i (S, n) -> (S, n)."""
        f = self.logits(x)
        fi = torch.gather(f, 2, target[..., None])
        return torch.relu(f - fi).sum(dim=2)


def adam_unrolled_step(params, grads, state, *, lr: float, betas, eps: float = 1e-8):
    """One Adam step that stays on the autograd graph (the unrolled GAN's look-ahead, Metz et al. 2017).

    Parameters
    ----------
    params, grads : lists of tensors (grads from ``torch.autograd.grad(..., create_graph=True)``)
    state : list of (m, v, t) per parameter: first and second moments and the step count
    lr, betas, eps : Adam's

    Returns
    -------
    (new params, new state). The square root is taken of ``v_hat + eps^2`` so that it is
    differentiable where a gradient is exactly zero (a dead ReLU); elsewhere this is Adam.
    """
    b1, b2 = betas
    new_params, new_state = [], []
    for p, g, (m, v, t) in zip(params, grads, state):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        t = t + 1
        step = (m / (1 - b1**t)) / torch.sqrt(v / (1 - b2**t) + eps * eps)
        new_params.append(p - lr * step)
        new_state.append((m, v, t))
    return new_params, new_state
