"""Training the 2-D world's methods: batched over seeds, cached by configuration hash, in two processes.

* :func:`train_toy` trains one :class:`~bbcollapse.lab.toy_core.ToyConfig` for a group of seeds
  in one batched pass (see :mod:`bbcollapse.lab.toy_nets`) and caches each seed's networks in
  ``<cache_dir>/<method>-<benchmark>-<variant>-s<seed>-<key>.safetensors`` (the key hashes the
  whole configuration, the seed, the group and the format version); cached seeds are loaded,
  not retrained. Files are written to a temporary name and renamed, so an interrupted run
  leaves no half-written model, and a rerun trains only groups with a missing file.
* :func:`train_many` runs a list of jobs in a pool of worker processes (one torch thread each):
  tiny MLPs gain nothing from two threads but a lot from two processes.
* :class:`TrainedToy` is one seed's trained model; :meth:`TrainedToy.sampler` makes it a black
  box (a ``bb.GaussianLatentModel``, or the mixture's :class:`~bbcollapse.lab.toy_pgm.MixtureSampler`).

Training is deterministic for a given configuration and group of seeds: every random draw comes
from a seed's own streams, every loss is a sum of per-seed losses, and one torch thread is used.
A seed's initialisation and data do not depend on its group; its trajectory does, in the last
bits (see :meth:`ToyConfig.key`), so the group is part of the cache key.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from .._atomic import atomic_path
from .._progress import progress_bar
from ..blackbox.protocols import GaussianLatentModel
from .toy_core import FORMAT_VERSION, Run, ToyConfig
from .toy_gans import STEPS
from .toy_nets import BatchedMLP, ResidualPartitioner
from .toy_pgm import MixtureGenerator, MixtureSampler, setup_pgmgan, step_pgmgan

__all__ = ["DEFAULT_CACHE", "TrainedToy", "cache_path", "load_toy", "train_many", "train_toy"]

DEFAULT_CACHE = Path("data/cache/ring2d")

#: relative cost of one mini-batch, to start the slowest jobs first
_COST = {"unrolled": 8.0, "wgan-gp": 6.0, "pgmgan": 1.6, "bigan": 1.5, "veegan": 1.5, "invertgan": 1.8, "pacgan": 1.3}


def _method(name: str):
    return (setup_pgmgan, step_pgmgan) if name == "pgmgan" else STEPS[name]


def cache_path(config: ToyConfig, seed: int, cache_dir=DEFAULT_CACHE, group=None) -> Path:
    """Where seed ``seed`` of ``config``, trained with the seeds ``group`` (default: alone), is cached."""
    c, group = config, (seed,) if group is None else tuple(group)
    return Path(cache_dir) / f"{c.method}-{c.benchmark}-{c.variant}-s{int(seed)}-{c.key(seed, group)}.safetensors"


@dataclass(frozen=True)
class TrainedToy:
    """One seed's trained networks.

    Attributes
    ----------
    config, seed : what was trained
    path : the safetensors file
    tensors : name -> tensor; ``"<net>.<k>"`` is the k-th parameter of network ``<net>`` (G, D, F, P)
      and ``"priors"`` the mixture's partition shares
    seconds : wall time of the batched run divided by the number of seeds in it
    log : ``[step, d_loss, g_loss]`` every 1% of training
    diverged : True when the generator's parameters or the last losses are not finite
    """

    config: ToyConfig
    seed: int
    path: Path
    tensors: dict
    seconds: float
    log: list
    diverged: bool

    def params(self, net: str) -> list[torch.Tensor]:
        """The ordered parameters of one network."""
        k, out = 0, []
        while f"{net}.{k}" in self.tensors:
            out.append(self.tensors[f"{net}.{k}"])
            k += 1
        if not out:
            raise KeyError(f"no network {net!r} in {self.path.name}")
        return out

    def generator(self):
        """The trained generator as a one-seed network (a mixture for PGMGAN)."""
        c = self.config
        if c.method == "pgmgan":
            return MixtureGenerator(c, (self.seed,), params=self.params("G"))
        return BatchedMLP(c.hidden(c.z_dim, c.data_dim), (self.seed,), params=self.params("G"), out=c.output)

    def sampler(self):
        """The model as a black box ``sampler(seed, n) -> Batch(z, x)``: x float64 (n, 2), or images (n, 3, 28, 28)."""
        c = self.config
        G = self.generator()
        if c.method == "pgmgan":
            P = ResidualPartitioner(c.data_dim, c.n_partitions, (self.seed,), params=self.params("P"))
            return MixtureSampler(c, G, P, self.tensors["priors"][0].numpy())

        def generate(z):
            with torch.no_grad():
                x = G(torch.from_numpy(z)[None])[0].double().numpy()
            return x.reshape(len(x), 3, 28, 28) if c.stacked else x

        return GaussianLatentModel(generate, c.z_dim, name=f"{c.method} on {c.benchmark}/{c.variant}, seed {self.seed}")


def load_toy(path) -> TrainedToy:
    """Read a cached model (safetensors: tensors and JSON metadata only, nothing is unpickled)."""
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return TrainedToy(
        config=ToyConfig.from_json(meta["config"]),
        seed=int(meta["seed"]),
        path=path,
        tensors=tensors,
        seconds=float(meta["seconds"]),
        log=json.loads(meta["log"]),
        diverged=meta["diverged"] == "1",
    )


def _save(path: Path, tensors: dict, metadata: dict) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)


def _train_and_save(config: ToyConfig, seeds, cache_dir, progress) -> None:
    run = Run(config, seeds)
    setup, step = _method(config.method)
    t0 = time.perf_counter()
    setup(run)
    every = max(1, config.steps // 100)
    log = [[] for _ in seeds]
    desc = f"{config.method} {config.benchmark}/{config.variant} x{run.S}"
    with progress_bar(progress, total=config.steps, desc=desc, unit="batch") as bar:
        for t in range(config.steps):
            losses = step(run, t)
            if t % every == 0 or t == config.steps - 1:
                for i in range(run.S):
                    log[i].append([t, float(losses["d"][i]), float(losses["g"][i])])
                bar.update(t + 1 - bar.n)
    seconds = (time.perf_counter() - t0) / run.S
    for i, seed in enumerate(run.seeds):
        tensors = {
            f"{name}.{k}": p[i : i + 1].detach().clone()
            for name, net in run.nets.items()
            for k, p in enumerate(net.params)
        }
        if run.priors is not None:
            tensors["priors"] = run.priors[i : i + 1].clone()
        finite = (
            all(torch.isfinite(tensors[n]).all() for n in tensors if n.startswith("G."))
            and np.isfinite(log[i][-1]).all()
        )
        meta = {
            "config": config.to_json(),
            "seed": str(seed),
            "seconds": repr(seconds),
            "log": json.dumps(log[i]),
            "diverged": "0" if finite else "1",
            "format": str(FORMAT_VERSION),
            "trained_with_seeds": json.dumps(list(run.seeds)),
        }
        path = cache_path(config, seed, cache_dir, run.seeds)
        if not path.exists():
            _save(path, tensors, meta)


def train_toy(
    config: ToyConfig, seeds=(0,), *, cache_dir=DEFAULT_CACHE, progress: bool | None = None
) -> list[TrainedToy]:
    """Train (or load from the cache) ``config`` for the group ``seeds``, trained together in one pass.

    Parameters
    ----------
    config : the configuration
    seeds : seeds of the runs (each has its own training set, initialisation and streams); the
      group is part of each model's identity (see :meth:`ToyConfig.key`)
    cache_dir : the cache folder
    progress : show a progress bar (None: only on a terminal)

    Returns
    -------
    list of TrainedToy, one per seed, in the order of ``seeds``
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers; got {seeds}")
    paths = [cache_path(config, s, cache_dir, seeds) for s in seeds]
    if not all(p.exists() for p in paths):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one thread: the same arithmetic, so the same model, on every machine load
        try:
            _train_and_save(config, seeds, cache_dir, progress)
        finally:
            torch.set_num_threads(threads)
    return [load_toy(p) for p in paths]


def _job(config: ToyConfig, seeds, cache_dir) -> None:
    train_toy(config, seeds, cache_dir=cache_dir, progress=False)


def train_many(
    jobs, *, workers: int = 2, cache_dir=DEFAULT_CACHE, progress: bool | None = None
) -> list[list[TrainedToy]]:
    """Train several ``(config, seeds)`` jobs, ``workers`` at a time in separate processes.

    Jobs whose seeds are all cached are only loaded. The costliest jobs start first.

    Returns
    -------
    one list of TrainedToy per job, in the order of ``jobs``
    """
    jobs = [(c, tuple(int(s) for s in seeds)) for c, seeds in jobs]
    todo = [j for j in jobs if any(not cache_path(j[0], s, cache_dir, j[1]).exists() for s in j[1])]
    todo.sort(key=lambda j: -_COST.get(j[0].method, 1.0) * j[0].steps * len(j[1]))
    with progress_bar(progress, total=len(todo), desc="training runs", unit="run") as bar:
        if workers <= 1 or len(todo) <= 1:
            for c, seeds in todo:
                _job(c, seeds, cache_dir)
                bar.update(1)
        elif todo:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_job, c, seeds, cache_dir) for c, seeds in todo]
                for fut in as_completed(futures):
                    fut.result()
                    bar.update(1)
    return [train_toy(c, seeds, cache_dir=cache_dir, progress=False) for c, seeds in jobs]
