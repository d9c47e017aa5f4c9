"""The GAN lab (issue 14): generators this project trains on Fashion-MNIST, varied one factor at a time.

Importing this package is light (numpy only); torch is imported by the modules that train or
sample. Public API (``from bbcollapse.lab import ...``)::

    # data.py -- the four idx files, headers checked
    load_fashion_mnist(split="train") -> (images uint8 (n, 28, 28), labels int64 (n,))
    fashion_mnist_dir() -> Path            # $FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist
    CLASS_NAMES                            # the 10 class names

    # datasets.py -- training sets, each deterministic from DataSpec.seed (training split only)
    DataSpec (frozen): kind in {"full", "balanced", "imbalanced", "aug", "dedup"} and its parameters
      DataSpec.full()
      DataSpec.balanced(per_class, seed=0)
      DataSpec.imbalanced(proportions (10 weights), n, seed=0)
      DataSpec.aug(per_class, classes, repeats, seed=0)    # RIC-aug: one item of each class in
                                                           # `classes` appears `repeats` times in all
      DataSpec.dedup(per_class, radius, descriptor, seed=0)  # GRIC analogue: near-duplicates removed
    build_dataset(spec, embed=None) -> LabDataset
      LabDataset: images uint8 (m, 28, 28), labels int64 (m,), indices int64 (m,) (rows of the
      training split, repeats included), repeated (training-split rows of the repeated items), spec
      LabDataset.as_float() -> float32 (m, 1, 28, 28) in [0, 1]   (the Sampler layout, below)
    remove_near_duplicates(embeddings (n, D) unit, radius, seed) -> kept positions (sorted int64)

    # config.py
    GanConfig (frozen): arch in {"dcgan", "sn-dcgan", "wgan-gp", "vae"}, pack (PacGAN m; 1 = off),
      resolution (28 or 14; 14 px models are upsampled to 28 px by the sampler), latent_dim, width,
      steps, batch_size (images per step), lr, n_critic, gp_weight, seed, checkpoints (steps kept
      for later sampling; the last step is always kept), data (a DataSpec)
      GanConfig.key -> the hash of the FULL configuration (data spec included): the cache folder
      GanConfig.at_scale(scale, n_checkpoints=0, **fields)  # SCALES: smoke / default / paper sizes
      GanConfig.name -> "Pac(sn-dcgan)(4) 28px";  config.replace(**changes)
    WGAN_GP_STEPS                          # WGAN-GP trains WGAN_GP_STEPS / n_critic of a scale's steps
    DESCRIPTORS, descriptor_configs(scale) -> (EncoderConfig, ClassifierConfig)   # chapter 6's descriptor
                                           # recipes per scale, shared by every chapter that reads them

    # trainer.py (the module is not called train.py: it would shadow the function train)
    train(config, *, cache_dir="data/cache/lab", device="cpu", progress=None, embed=None, threads=None) -> TrainedGAN
      cached (a finished run is loaded, not retrained); resumes an interrupted run from its last
      checkpoint; raises TrainingDiverged on a NaN or exploding loss, keeping the last good checkpoint
    TrainedGAN: config, path, steps, checkpoints (tuple of kept steps), log (list of dicts, the
      JSON-lines training log), seconds (training wall time), images_per_s, summary (done.json),
      sampler(step=None) -> LabSampler, at_step(step) -> LabSampler (same thing, step required)
    train_many(configs, *, workers=2, cache_dir=..., threads=1) -> list[TrainedGAN]   # processes in parallel
    measure_throughput(config, steps=20) -> {"images_per_s", "steps_per_s", "seconds", ...} (writes nothing)

    # sampler.py
    LabSampler: a bb.LatentModel -- sampler(seed, n) -> bb.Batch(z, x), latents(seed, n), generate(z)
      z float32 (n, latent_dim) ~ N(0, I);  x float32 (n, 1, 28, 28) in [0, 1] (channel-first,
      one grey channel, 0 = black), the layout of LabDataset.as_float(), so diagnose, the
      calibrators, the metrics and the lab's encoder and classifier take real and generated
      images alike.

Names are resolved on first use (``__getattr__``), so ``import bbcollapse.lab`` does not import torch.
"""

from __future__ import annotations

import importlib

#: Public name -> the module of this package that defines it.
_LAB: dict[str, str] = {
    "CLASS_NAMES": "data",
    "fashion_mnist_dir": "data",
    "load_fashion_mnist": "data",
    "DataSpec": "datasets",
    "LabDataset": "datasets",
    "build_dataset": "datasets",
    "remove_near_duplicates": "datasets",
    "GanConfig": "config",
    "TrainedGAN": "trainer",
    "TrainingDiverged": "trainer",
    "train": "trainer",
    "load_trained": "trainer",
    "train_many": "trainer",
    "measure_throughput": "trainer",
    "SCALES": "config",
    "WGAN_GP_STEPS": "config",
    "DESCRIPTORS": "config",
    "descriptor_configs": "config",
    "LabSampler": "sampler",
}

__all__ = sorted(_LAB)


def __getattr__(name: str):
    module = _LAB.get(name)
    if module is None:
        raise AttributeError(f"module 'bbcollapse.lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAB))
