"""A PGMGAN-style partition-guided mixture of generators for the 2-D world (seed 002, sections 4-5.1).

1. **Partitioner** (section 4.1, Eq. 5). On 2-D data the feature-learning step is skipped (as
   seed 002 does for its toy data) and the partitioner S = softmax(f) of
   :class:`bbcollapse.lab.toy_nets.ResidualPartitioner`, its last layer started at a k-means++
   partition (our stand-in for seed 002's pretext initialisation), is trained to maximise
   ``mean_(i,j) in E log(S(x_i) . S(x_j)) - alpha mean_i H(S(x_i)) + beta H(mean_i S(x_i))``
   over the k-nearest-neighbour graph E of a subset of the training points. Each training
   point then belongs to partition ``argmax S(x)``, and ``pi_i`` is partition i's share.
2. **Mixture** (Eqs. 1-2). k generators share all but their input layer; k discriminators share
   all but their last layer. Each step draws generator indices i ~ pi; D_i sees the real points
   of partition i and G_i's samples; G_i minimises the non-saturating loss plus the guide
   ``lambda R_i(G_i(z))`` (Eqs. 6 and 8), lambda annealed linearly from ``guide`` to 0.
3. **Sampling.** Seed 002 keeps only samples with ``R_i(x) = 0`` (x in G_i's own partition);
   :class:`MixtureSampler` does the same by rejection and reports the acceptance rate.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int
from ..blackbox.protocols import Batch
from .toy_core import Run, ToyConfig
from .toy_nets import BatchedMLP, ResidualPartitioner, seed_generators, seed_means

__all__ = ["MixtureDiscriminator", "MixtureGenerator", "MixtureSampler", "kmeans", "setup_pgmgan", "step_pgmgan"]

_GRAPH_POINTS, _NEIGHBOURS, _EDGE_BATCH = 2000, 10, 256
_PRIOR_POINTS, _PRIOR_BLOCK = 10_000, 2_000


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1)


class MixtureGenerator:
    """k generators sharing all but their input layer: ``G_i(z) = trunk(relu(W_i z + b_i))``."""

    def __init__(self, config: ToyConfig, seeds, params=None):
        c, k = config, config.n_partitions
        trunk_params = None if params is None else params[2:]
        self.trunk = BatchedMLP(c.hidden(c.width, c.data_dim)[1:], seeds, net_id=10, params=trunk_params, out=c.output)
        if params is None:
            gens = seed_generators(seeds, 1020)
            bound = 1.0 / np.sqrt(c.z_dim)
            params = [
                torch.stack([(torch.rand((k, c.z_dim, c.width), generator=g) * 2 - 1) * bound for g in gens]),
                torch.stack([(torch.rand((k, 1, c.width), generator=g) * 2 - 1) * bound for g in gens]),
            ]
        self.inputs = [p.detach().clone().requires_grad_(True) for p in params[:2]]
        self.params = self.inputs + self.trunk.params

    def __call__(self, z: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        """z (S, n, l), generator indices (S, n) -> (S, n, 2)."""
        rows = torch.arange(z.shape[0])[:, None]
        w, b = self.inputs[0][rows, which], self.inputs[1][rows, which]  # (S, n, l, h), (S, n, 1, h)
        h = torch.relu((z[:, :, None, :] @ w + b)[:, :, 0, :])
        return self.trunk(h)


class MixtureDiscriminator:
    """k discriminators sharing all but their last layer: ``D_i(x) = v_i . relu(trunk(x)) + c_i``."""

    def __init__(self, config: ToyConfig, seeds, params=None):
        c, k = config, config.n_partitions
        self.trunk = BatchedMLP(
            c.hidden(c.data_dim, c.width)[:-1], seeds, net_id=11, params=None if params is None else params[:-2]
        )
        if params is None:
            gens = seed_generators(seeds, 1021)
            bound = 1.0 / np.sqrt(c.width)
            params = [None, None] + [
                torch.stack([(torch.rand((c.width, k), generator=g) * 2 - 1) * bound for g in gens]),
                torch.stack([(torch.rand((1, k), generator=g) * 2 - 1) * bound for g in gens]),
            ]
        self.heads = [p.detach().clone().requires_grad_(True) for p in params[-2:]]
        self.params = self.trunk.params + self.heads

    def __call__(self, x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        """x (S, n, 2), discriminator indices (S, n) -> logits (S, n)."""
        logits = torch.baddbmm(self.heads[1], torch.relu(self.trunk(x)), self.heads[0])
        return torch.gather(logits, 2, which[..., None])[..., 0]


def _knn_edges(points: torch.Tensor, k: int) -> torch.Tensor:
    """(S, n, 2) -> (S, n, k) indices of each point's k nearest other points."""
    d = torch.cdist(points, points)
    d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return d.topk(k, dim=2, largest=False).indices


def kmeans(points: torch.Tensor, k: int, seed: int, iters: int = 10) -> torch.Tensor:
    """Lloyd's k-means from a k-means++ start (Arthur and Vassilvitskii, 2007): (n, d) -> (k, d) centroids.

    Deterministic for a seed; an empty cluster keeps its previous centroid.
    """
    g = torch.Generator().manual_seed(int(seed))
    x = points
    cent = x[torch.randint(len(x), (1,), generator=g)]
    d2 = ((x - cent[0]) ** 2).sum(dim=1)
    for _ in range(1, k):  # each new centre drawn with probability proportional to the squared distance
        nxt = x[torch.multinomial(d2.double().clamp_min(0) + 1e-300, 1, generator=g)]
        cent = torch.cat([cent, nxt])
        d2 = torch.minimum(d2, ((x - nxt[0]) ** 2).sum(dim=1))
    for _ in range(iters):
        assign = torch.cdist(x, cent).argmin(dim=1)
        sums = torch.zeros_like(cent).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        cent = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], cent)
    return cent


def _kmeans_head(part: ResidualPartitioner, pts: torch.Tensor, seeds) -> None:
    """Start the logits at a k-means++ partition of phi(points): ``f_c = tau (2 c_c . phi - |c_c|^2)``.

    Seed 002 starts its partitioner from a pretext network; 2-D points have none, so the last
    layer starts at the Voronoi cells of k-means centroids (one k-means per seed, seeded by it),
    with tau making neighbouring cells differ by about 10 logits. Eq. 5 then trains everything.
    """
    k = part.classes
    with torch.no_grad():
        feats = part.features(pts)
        for s, seed in enumerate(seeds):
            cent = kmeans(feats[s], k, seed=int(seed)).double().numpy()
            d2 = ((cent[:, None] - cent[None]) ** 2).sum(-1)
            tau = 10.0 / max(np.min(d2[~np.eye(k, dtype=bool)]), 1e-12)
            part.params[-2][s] = torch.from_numpy(2 * tau * cent.T).float()
            part.params[-1][s] = torch.from_numpy(-tau * (cent**2).sum(1))[None].float()


def train_partitioner(run: Run) -> ResidualPartitioner:
    """Fit seed 002's Eq. 5 on a k-NN graph of each seed's training points (see the module docstring)."""
    c = run.config
    part = ResidualPartitioner(c.data_dim, c.n_partitions, run.seeds)
    pts = run.points_at(torch.arange(_GRAPH_POINTS).expand(run.S, -1))
    _kmeans_head(part, pts, run.seeds)
    opt = torch.optim.Adam(part.params, lr=1e-2)
    nbrs = _knn_edges(pts, _NEIGHBOURS)
    rows = torch.arange(run.S)[:, None]
    gens = seed_generators(run.seeds, 3)
    for _ in range(c.partition_steps):
        i = torch.stack([torch.randint(pts.shape[1], (_EDGE_BATCH,), generator=g) for g in gens])
        j = nbrs[rows, i, torch.stack([torch.randint(_NEIGHBOURS, (_EDGE_BATCH,), generator=g) for g in gens])]
        si, sj = F.softmax(part.logits(torch.cat([pts[rows, i], pts[rows, j]], dim=1)), dim=2).chunk(2, dim=1)
        agree = seed_means(torch.log((si * sj).sum(dim=2).clamp_min(1e-12)))
        objective = agree - c.alpha * seed_means(_entropy(si)) + c.beta * _entropy(si.mean(dim=1))
        opt.zero_grad()
        (-objective.sum()).backward()
        opt.step()
    return part


def _assign(part: ResidualPartitioner, run: Run, block: int = 5_000) -> torch.Tensor:
    """Partition of every training point of every seed: (S, n) int64."""
    out = []
    with torch.no_grad():
        for s in range(0, run.n_train, block):
            idx = torch.arange(s, min(s + block, run.n_train)).expand(run.S, -1)
            out.append(part.logits(run.points_at(idx)).argmax(dim=2))
    return torch.cat(out, dim=1)


def setup_pgmgan(run: Run) -> None:
    """Train the partitioner, label the training points, build the mixture and its optimisers.

    2-D points are all labelled once. Stacked images are labelled batch by batch as they are drawn
    (labelling 100K images per seed through the partitioner would cost more than the training),
    and the partition shares pi are estimated on the first 10K images.
    """
    part = train_partitioner(run)
    for p in part.params:
        p.requires_grad_(False)
    k = run.config.n_partitions
    if run.config.stacked:
        run.labeller = lambda x: part.logits(x).argmax(dim=2)
        first = torch.arange(_PRIOR_POINTS).expand(run.S, -1)
        with torch.no_grad():
            labels = torch.cat([run.labeller(run.points_at(b)) for b in first.split(_PRIOR_BLOCK, dim=1)], dim=1)
    else:
        run.labels = labels = _assign(part, run)
    counts = torch.stack([torch.bincount(lab, minlength=k) for lab in labels]).double()
    run.nets.update(P=part, G=MixtureGenerator(run.config, run.seeds), D=MixtureDiscriminator(run.config, run.seeds))
    run.priors = counts / counts.sum(dim=1, keepdim=True)
    run.optimise("D", run.nets["D"].params)
    run.optimise("G", run.nets["G"].params)


def step_pgmgan(run: Run, t: int) -> dict:
    """One step of the mixture (Eqs. 1-2 and 8), the guide weight annealed linearly to 0."""
    c = run.config
    G, D, P = run.nets["G"], run.nets["D"], run.nets["P"]
    x, part_x = run.real(c.batch_size, with_labels=True)
    which = run.categorical(run.priors, c.batch_size)
    fake = G(run.latent(c.batch_size), which)
    logits = D(torch.cat([x, fake.detach()], dim=1), torch.cat([part_x, which], dim=1))
    B = c.batch_size
    d_loss = seed_means(F.softplus(-logits[:, :B])) + seed_means(F.softplus(logits[:, B:]))
    run.update("D", d_loss.sum())
    lam = c.guide * (1.0 - t / c.steps)
    g_loss = seed_means(F.softplus(-D(fake, which))) + lam * seed_means(P.guide(fake, which))
    run.update("G", g_loss.sum())
    return {"d": d_loss.detach(), "g": g_loss.detach()}


class MixtureSampler:
    """A trained mixture as a black box: ``sampler(seed, n) -> Batch(z, x)``, with seed 002's acceptance.

    A candidate ``x = G_i(z)`` with i ~ pi is kept only when it falls in partition i (``R_i(x) = 0``).
    z is returned as (n, 1 + l) float32: the generator index, then the latent.

    Parameters
    ----------
    config : the training configuration
    generator, partitioner : one-seed networks
    priors : (k,) partition shares pi
    max_proposals : give up (ValueError) when fewer than n of ``max_proposals * n`` candidates are accepted
    """

    def __init__(self, config, generator, partitioner, priors, *, max_proposals: int = 200):
        self.config, self.generator, self.partitioner = config, generator, partitioner
        self.priors = torch.as_tensor(np.asarray(priors, dtype=np.float64))
        self.latent_dim = config.z_dim + 1
        self.max_proposals = check_int(max_proposals, "max_proposals", minimum=1)
        self.accepted = self.proposed = 0

    @property
    def acceptance_rate(self) -> float:
        """Accepted / proposed over every call so far (nan before the first call)."""
        return self.accepted / self.proposed if self.proposed else float("nan")

    def __call__(self, seed: int, n: int) -> Batch:
        n = check_int(n, "n", minimum=1)
        g = torch.Generator().manual_seed(int(seed))
        zs, xs, got, tried, rate = [], [], 0, 0, 1.0
        while tried < self.max_proposals * n:
            m = min(int((n - got) / max(rate, 1e-3) * 1.1) + 64, 1_000_000)
            which = torch.multinomial(self.priors, m, replacement=True, generator=g)[None]
            z = torch.randn((1, m, self.config.z_dim), generator=g)
            with torch.no_grad():
                x = self.generator(z, which)
                keep = (self.partitioner.logits(x).argmax(dim=2) == which)[0]
            self.proposed += m
            self.accepted += int(keep.sum())
            tried += m
            rate = self.accepted / self.proposed
            zs.append(torch.cat([which[0, keep, None].float(), z[0, keep]], dim=1))
            xs.append(x[0, keep])
            got += int(keep.sum())
            if got >= n:
                z_all, x_all = torch.cat(zs)[:n], torch.cat(xs)[:n].double().numpy()
                return Batch(z_all.numpy(), x_all.reshape(n, 3, 28, 28) if self.config.stacked else x_all)
        raise ValueError(f"only {got} of {n} samples accepted among {tried} candidates (seed 002's R_i(x) = 0 rule)")

    def __repr__(self):
        return f"MixtureSampler(k={self.priors.numel()}, acceptance={self.acceptance_rate:.3f})"
