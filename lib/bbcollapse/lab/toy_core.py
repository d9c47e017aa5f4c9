"""Configuration and training state shared by the 2-D world's methods (seed 004, section 5.1; seed 002).

:class:`ToyConfig` is the one frozen object that names a training run on the ring or the grid;
its :meth:`ToyConfig.key` hashes every field (and a format version) into the cache name, so a
change of any hyper-parameter trains anew. :class:`Run` holds what one batched training pass
needs: the per-seed training sets, the per-seed data and latent streams, the networks and their
Adam optimisers, and :meth:`Run.update`, the one place a loss becomes a parameter step.

What the seed fixes and what it leaves open (our choices are marked):

* seed 004: batch size 128, 24K mini-batches, "four linear layers with ReLU", no tanh;
* open, chosen here: width 128, latent dimension 2 (seed 004's Fig. 3 draws the latents in 2-D),
  Adam with lr 1e-3 and betas (0.5, 0.999) for every network of every method; a "mini-batch" is
  one generator update (WGAN-GP takes ``n_critic`` critic updates per mini-batch);
* PacGAN: ``pack`` samples concatenated per discriminator input; a batch is ``batch_size`` packs;
* Unrolled GAN: ``unroll`` look-ahead Adam steps of the discriminator (5, as VEEGAN used);
* WGAN-GP: ``n_critic`` = 5, ``gp_weight`` = 10 (Gulrajani et al.);
* InvertGAN: the p-norm Gaussian loss (seed 004, Eq. 9) with ``p_norm`` = 2 (the seed does not
  state p), all loss terms weighted 1;
* PGMGAN-style mixture: ``partitions`` = the number of modes (as seed 002, section 5.1, where each
  Gaussian gets its own partition), guide weight ``guide`` = 6 annealed linearly to 0 (seed 002,
  section 5.4), partitioner objective weights ``alpha`` = 1, ``beta`` = 5 (our choice; seed 002
  gives none for the toy data).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .._validation import check_int, check_option, check_positive
from .config import check_adam_betas, config_key
from .ring2d import BENCHMARKS, VARIANTS, Mixture2D, benchmark, training_set
from .toy_nets import seed_generators
from .toy_stacked import stacked_triples

__all__ = ["FORMAT_VERSION", "METHODS", "METHOD_VERSIONS", "STACKED", "Run", "ToyConfig"]

#: the image benchmark: seed 002's Stacked-MNIST protocol on Fashion-MNIST (:mod:`bbcollapse.lab.toy_stacked`)
STACKED = "stacked-fmnist"
_STACKED_DIM, _STACKED_TRAIN, _STACKED_PARTITIONS = 3 * 28 * 28, 100_000, 200

#: bump when the shared training code changes what a configuration produces (invalidates every cached model)
FORMAT_VERSION = 1

METHODS = ("gan", "pacgan", "bigan", "unrolled", "veegan", "invertgan", "wgan-gp", "pgmgan")

#: bump a method's entry when its own training code changes (invalidates that method's cached models)
METHOD_VERSIONS = dict.fromkeys(METHODS, 1) | {"pgmgan": 2}


@dataclass(frozen=True)
class ToyConfig:
    """One training configuration on the 2-D ring or grid (see the module docstring for the defaults).

    Attributes
    ----------
    method : one of METHODS
    benchmark, variant : which mixture (:func:`bbcollapse.lab.ring2d.benchmark`), or
      ``benchmark="stacked-fmnist", variant="seed002"``: 100K stacked Fashion-MNIST images per seed,
      a sigmoid on the generator's output, k = 200 partitions by default (seed 002, section 5.2)
    steps : mini-batches (generator updates)
    batch_size, z_dim, width, layers : data batch, latent dimension, hidden width, linear layers per net
    lr, beta1, beta2 : Adam's, for every network
    pack, unroll, n_critic, gp_weight, p_norm : PacGAN, Unrolled GAN, WGAN-GP and InvertGAN settings
    guide, partitions, partition_steps, alpha, beta : the PGMGAN-style mixture's settings
    """

    method: str
    benchmark: str = "ring"
    variant: str = "seed004"
    steps: int = 24_000
    batch_size: int = 128
    z_dim: int = 2
    width: int = 128
    layers: int = 4
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    pack: int = 2
    unroll: int = 5
    n_critic: int = 5
    gp_weight: float = 10.0
    p_norm: float = 2.0
    guide: float = 6.0
    partitions: int = 0
    partition_steps: int = 300
    alpha: float = 1.0
    beta: float = 5.0

    def __post_init__(self):
        check_option(self.method, METHODS, "method")
        check_option(self.benchmark, (*BENCHMARKS, STACKED), "benchmark")
        check_option(self.variant, ("seed002",) if self.benchmark == STACKED else VARIANTS, "variant")
        for name in ("steps", "batch_size", "z_dim", "width", "pack", "unroll", "n_critic", "partition_steps"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.layers, "layers", minimum=2)
        check_int(self.partitions, "partitions", minimum=0)
        for name in ("lr", "p_norm"):
            check_positive(getattr(self, name), name)
        check_adam_betas(self.beta1, self.beta2, "ToyConfig")

    @property
    def stacked(self) -> bool:
        """Whether this is the Stacked Fashion-MNIST benchmark (images) rather than a 2-D mixture."""
        return self.benchmark == STACKED

    @property
    def spec(self) -> Mixture2D:
        if self.stacked:
            raise ValueError("the Stacked Fashion-MNIST benchmark is not a 2-D mixture")
        return benchmark(self.benchmark, self.variant)

    @property
    def data_dim(self) -> int:
        """Dimension of a data point: 2, or 3 x 28 x 28 for stacked images."""
        return _STACKED_DIM if self.stacked else 2

    @property
    def output(self) -> str | None:
        """The generator's output non-linearity: a sigmoid for images in [0, 1], none for 2-D points."""
        return "sigmoid" if self.stacked else None

    @property
    def n_partitions(self) -> int:
        """The PGMGAN mixture's k: ``partitions``, else the number of modes (2-D) or 200 (images, seed 002)."""
        return self.partitions or (_STACKED_PARTITIONS if self.stacked else self.spec.m)

    def key(self, seed: int, group=()) -> str:
        """A hash of the full configuration, the seed, the seeds it trained with and the format version.

        The group is part of a model's identity: a seed trained beside other seeds differs from one
        trained alone in the last bits of the vectorised elementwise arithmetic (Adam's update
        covers tensors of another size), and GAN training amplifies such bits into another run.
        """
        group = [int(s) for s in group]
        version = [FORMAT_VERSION, METHOD_VERSIONS[self.method]]
        return config_key({"config": asdict(self), "seed": int(seed), "group": group, "format": version})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ToyConfig:
        return cls(**json.loads(text))

    def hidden(self, n_in: int, n_out: int) -> tuple[int, ...]:
        """Layer sizes of one of the method's MLPs: ``layers`` linear layers of width ``width``."""
        return (n_in, *([self.width] * (self.layers - 1)), n_out)


class Run:
    """The state of one batched training pass over several seeds.

    Parameters
    ----------
    config : the configuration
    seeds : the seeds trained together (each gets its own training set, streams and networks)
    """

    def __init__(self, config: ToyConfig, seeds):
        self.config = config
        self.seeds = tuple(int(s) for s in seeds)
        self.S = len(self.seeds)
        if config.stacked:
            from .data import load_fashion_mnist

            items = load_fashion_mnist("train")[0]
            self.items = torch.from_numpy(items.reshape(len(items), -1))
            triples = [stacked_triples(_STACKED_TRAIN, s, len(items)) for s in self.seeds]
            self.data = torch.from_numpy(np.stack(triples))  # (S, n, 3) item indices, stacked per batch
        else:
            self.data = torch.from_numpy(np.stack([training_set(config.spec, s) for s in self.seeds]))
        self.labels = None  # per-seed labels of the training points (the PGMGAN partitions)
        self.labeller = None  # or a callable (S, n, d) -> (S, n) labels, applied to each drawn batch
        self.priors = None  # per-seed mixture weights (the PGMGAN partition shares)
        self._data_gens = seed_generators(self.seeds, 1)
        self._latent_gens = seed_generators(self.seeds, 2)
        self.nets: dict = {}
        self.optims: dict[str, tuple[list, torch.optim.Adam]] = {}
        self._rows = torch.arange(self.S)[:, None]

    @property
    def n_train(self) -> int:
        return self.data.shape[1]

    def points_at(self, idx: torch.Tensor) -> torch.Tensor:
        """Training points ``idx`` (S, n) of each seed: (S, n, data_dim) float32."""
        picked = self.data[self._rows, idx]
        if not self.config.stacked:
            return picked
        return self.items[picked].reshape(self.S, idx.shape[1], -1).float() / 255.0

    def real(self, n: int, *, with_labels: bool = False):
        """n training points per seed, drawn with replacement: (S, n, d) (and their labels (S, n))."""
        idx = torch.stack([torch.randint(self.n_train, (n,), generator=g) for g in self._data_gens])
        x = self.points_at(idx)
        if not with_labels:
            return x
        if self.labels is None:
            with torch.no_grad():
                return x, self.labeller(x)
        return x, self.labels[self._rows, idx]

    def latent(self, n: int, dim: int | None = None) -> torch.Tensor:
        """Standard normal latents per seed: (S, n, dim), dim = z_dim by default."""
        dim = self.config.z_dim if dim is None else dim
        return torch.stack([torch.randn((n, dim), generator=g) for g in self._latent_gens])

    def uniform(self, shape) -> torch.Tensor:
        """U[0, 1) draws per seed from the latent streams: (S, *shape)."""
        return torch.stack([torch.rand(shape, generator=g) for g in self._latent_gens])

    def categorical(self, probs: torch.Tensor, n: int) -> torch.Tensor:
        """n draws per seed from the per-seed probabilities ``probs`` (S, k): (S, n) int64."""
        return torch.stack(
            [torch.multinomial(p, n, replacement=True, generator=g) for p, g in zip(probs, self._latent_gens)]
        )

    def optimise(self, name: str, params: list[torch.Tensor]) -> None:
        """Register an Adam optimiser over ``params`` under ``name``."""
        c = self.config
        self.optims[name] = (params, torch.optim.Adam(params, lr=c.lr, betas=(c.beta1, c.beta2), foreach=True))

    def update(self, name: str, loss: torch.Tensor) -> None:
        """One Adam step of optimiser ``name`` on ``loss`` (a sum of per-seed losses).

        Gradients are taken with ``torch.autograd.grad`` for that optimiser's parameters only, so
        a generator's loss never leaves gradients on the discriminator.
        """
        params, opt = self.optims[name]
        grads = torch.autograd.grad(loss, params)
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
