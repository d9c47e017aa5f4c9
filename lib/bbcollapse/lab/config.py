"""One frozen configuration per trained generator; its hash names the generator's cache folder.

Everything that changes the trained weights or the training log is a field (the data spec
included), so two configurations with the same key train the same generator bit for bit on CPU.
Optimiser fields left as ``None`` take the architecture's usual value (``ARCH_DEFAULTS``; they stay
``None`` in the object, so ``replace(arch=...)`` does not carry one architecture's settings to
another); the key hashes the values used, so ``GanConfig(arch="wgan-gp")`` and the same with
``n_critic=5`` have one key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace

from .._validation import check_int, check_option, check_positive
from .datasets import DataSpec

__all__ = [
    "ARCHS",
    "ARCH_DEFAULTS",
    "DESCRIPTORS",
    "GanConfig",
    "LAB_VERSION",
    "SCALES",
    "WGAN_GP_STEPS",
    "check_adam_betas",
    "config_key",
    "descriptor_configs",
]

#: Bumped whenever a change to the trainer or the zoo changes the weights a configuration trains to,
#: so that cached generators of older code are not mistaken for the new ones.
LAB_VERSION = 2

ARCHS = ("dcgan", "sn-dcgan", "wgan-gp", "vae")

#: The usual optimiser settings per architecture: DCGAN (Radford et al. 2016) and SN-DCGAN (Miyato et
#: al. 2018) use Adam(2e-4, 0.5, 0.999) with one discriminator step per generator step; WGAN-GP
#: (Gulrajani et al. 2017) uses Adam(1e-4, 0.5, 0.9), five critic steps and a penalty weight of 10;
#: the VAE (Kingma and Welling 2014) Adam(1e-3, 0.9, 0.999).
ARCH_DEFAULTS = {
    "dcgan": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1},
    "sn-dcgan": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1},
    "wgan-gp": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_critic": 5},
    "vae": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "n_critic": 1},
}

#: The book's scales (``GanConfig.at_scale``): network width, batch, latent size and generator steps.
#: smoke: a few seconds per generator; default: a DCGAN in about 130 CPU-seconds on one thread
#: (0.067 s per step measured on a busy 2-core machine; bench/bench_lab.py measures it), two at once
#: with ``train_many``; paper: longer training of wider networks, for a GPU.
SCALES = {
    "smoke": {"width": 4, "batch_size": 16, "latent_dim": 16, "steps": 5},
    "default": {"width": 16, "batch_size": 64, "latent_dim": 32, "steps": 2000},
    "paper": {"width": 64, "batch_size": 64, "latent_dim": 64, "steps": 20000},
}

#: WGAN-GP trains ``WGAN_GP_STEPS / n_critic`` of a scale's generator steps (``GanConfig.at_scale``): with
#: n_critic = 5, 4/5 of them, i.e. four times a DCGAN's discriminator updates.
WGAN_GP_STEPS = 4

#: The lab's two descriptors per scale (chapter 6's recipes): the instance encoder's and the classifier's
#: fields (``EncoderConfig``, ``ClassifierConfig``), and the test items and views per item of the theta / r
#: rule. Every chapter that reads chapter 6's descriptors takes them from here, so it loads the networks
#: chapter 6 cached instead of training its own. Smoke: just enough steps to run the code.
DESCRIPTORS = {
    "smoke": {
        "encoder": {"steps": 3, "width": 4, "batch_size": 32},
        "classifier": {"steps": 5, "width": 4, "batch_size": 32},
        "items": 40,
        "views": 2,
    },
    "default": {
        "encoder": {"steps": 400, "width": 8},
        "classifier": {"steps": 2000, "width": 16},
        "items": 1000,
        "views": 4,
    },
    "paper": {
        "encoder": {"steps": 4000, "width": 16},
        "classifier": {"steps": 8000, "width": 32},
        "items": 2000,
        "views": 4,
    },
}


def descriptor_configs(scale: str):
    """``(EncoderConfig, ClassifierConfig)`` of ``scale`` (``DESCRIPTORS``): chapter 6's descriptors."""
    from .classifier import ClassifierConfig
    from .encoder import EncoderConfig

    check_option(scale, DESCRIPTORS, "scale")
    recipe = DESCRIPTORS[scale]
    return EncoderConfig(**recipe["encoder"]), ClassifierConfig(**recipe["classifier"])


def config_key(payload: dict) -> str:
    """sha256 (first 16 hex digits) of ``payload`` as sorted JSON: the lab's cache keys (GAN and 2-D world)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def check_adam_betas(beta1, beta2, owner: str) -> None:
    """Adam's betas must lie in [0, 1); a clear error naming ``owner`` otherwise."""
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"{owner}: Adam's betas must lie in [0, 1); got ({beta1!r}, {beta2!r})")


@dataclass(frozen=True)
class GanConfig:
    """A generator to train: architecture, data, optimisation and seed.

    Parameters
    ----------
    arch : ``"dcgan"``, ``"sn-dcgan"`` (spectral normalisation in the discriminator), ``"wgan-gp"``
        or ``"vae"`` (the non-adversarial baseline).
    pack : PacGAN's m (Lin et al. 2018): the discriminator judges m samples at once, stacked as
        m channels; 1 = no packing. Any GAN architecture; not the VAE.
    resolution : 28 (native) or 14 (the training images are 2 x 2 average-pooled; the sampler
        upsamples the generator's 14 px output to 28 px bilinearly).
    latent_dim : L, the size of the N(0, I) latent.
    width : w, the generator's channels (4w, then 2w) and half the critic's (2w, then 4w); ``zoo.py``.
    steps : generator steps (WGAN-GP: n_critic critic steps per generator step).
    batch_size : real images per discriminator step (and generated images per generator step);
        with packing, ``batch_size / pack`` packs, so Pac(X)(m) sees as many images as X.
    lr, beta1, beta2 : Adam's settings (``None``: the architecture's, ``ARCH_DEFAULTS``).
    n_critic : discriminator steps per generator step (``None``: the architecture's).
    gp_weight : WGAN-GP's gradient-penalty weight (ignored by the others).
    seed : initial weights and every batch and latent (``shard_seed(seed, step)`` per step).
    checkpoints : steps whose generator is kept for later sampling; the last step always is.
    log_every : steps between lines of the training log (0: about 200 lines per run).
    data : the training set (a DataSpec; default the whole training split).
    """

    arch: str = "dcgan"
    pack: int = 1
    resolution: int = 28
    latent_dim: int = 32
    width: int = 16
    steps: int = 2000
    batch_size: int = 64
    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    n_critic: int | None = None
    gp_weight: float = 10.0
    seed: int = 0
    checkpoints: tuple[int, ...] = ()
    log_every: int = 0
    data: DataSpec = field(default_factory=DataSpec.full)

    def __post_init__(self):
        check_option(self.arch, ARCHS, "GanConfig.arch")
        check_option(self.resolution, (28, 14), "GanConfig.resolution")
        for name in ("pack", "latent_dim", "width", "steps", "batch_size"):
            check_int(getattr(self, name), f"GanConfig.{name}", minimum=1)
        check_int(self.seed, "GanConfig.seed")
        check_positive(self.gp_weight, "GanConfig.gp_weight")
        if self.arch == "vae" and self.pack != 1:
            raise ValueError("GanConfig.pack applies to the GANs' discriminators; the VAE has none (use pack=1)")
        if self.batch_size % self.pack:
            raise ValueError(f"GanConfig.batch_size ({self.batch_size}) must be a multiple of pack ({self.pack})")
        if not isinstance(self.data, DataSpec):
            raise TypeError(f"GanConfig.data must be a DataSpec; got {type(self.data).__name__}")
        optim = self.optim
        check_positive(optim["lr"], "GanConfig.lr")
        check_int(optim["n_critic"], "GanConfig.n_critic", minimum=1)
        check_adam_betas(optim["beta1"], optim["beta2"], "GanConfig")
        checkpoints = tuple(sorted({check_int(s, "GanConfig.checkpoints[i]", minimum=1) for s in self.checkpoints}))
        if checkpoints and checkpoints[-1] > self.steps:
            raise ValueError(f"GanConfig.checkpoints must be <= steps ({self.steps}); got {checkpoints[-1]}")
        object.__setattr__(self, "checkpoints", checkpoints)
        check_int(self.log_every, "GanConfig.log_every")

    @property
    def optim(self) -> dict:
        """lr, beta1, beta2 and n_critic as used: the field where set, else the architecture's default."""
        return {k: v if getattr(self, k) is None else getattr(self, k) for k, v in ARCH_DEFAULTS[self.arch].items()}

    @property
    def log_interval(self) -> int:
        """Steps between log lines: ``log_every``, or about 200 lines per run when it is 0."""
        return self.log_every or max(1, self.steps // 200)

    @property
    def kept_steps(self) -> tuple[int, ...]:
        """The steps whose generator is kept: the configured checkpoints and the last step."""
        return tuple(sorted(set(self.checkpoints) | {self.steps}))

    @property
    def name(self) -> str:
        """A readable label: ``Pac(sn-dcgan)(4) 28px``."""
        arch = f"Pac({self.arch})({self.pack})" if self.pack > 1 else self.arch
        return f"{arch} {self.resolution}px"

    def to_dict(self) -> dict:
        """The full configuration as plain JSON values (data spec included)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "data"}
        d.update(self.optim, log_every=self.log_interval)
        d["checkpoints"] = list(self.checkpoints)
        d["data"] = self.data.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GanConfig:
        d = dict(d)
        d["data"] = DataSpec.from_dict(d["data"])
        d["checkpoints"] = tuple(d.get("checkpoints", ()))
        return cls(**d)

    @property
    def key(self) -> str:
        """sha256 (first 16 hex digits) of the full configuration and ``LAB_VERSION``: the cache key."""
        return config_key({"lab_version": LAB_VERSION, "config": self.to_dict()})

    @property
    def folder_name(self) -> str:
        """``<arch>[-pac<m>]-<resolution>px-<key>``: the cache folder of this generator."""
        pac = f"-pac{self.pack}" if self.pack > 1 else ""
        return f"{self.arch}{pac}-{self.resolution}px-{self.key}"

    @classmethod
    def at_scale(cls, scale: str, *, n_checkpoints: int = 0, **fields) -> GanConfig:
        """A configuration with the sizes of ``scale`` (``SCALES``), ``fields`` taking precedence.

        WGAN-GP gets ``WGAN_GP_STEPS / n_critic`` of the scale's generator steps (4/5: 1,600 at default,
        8,000 critic updates): at 800 its samples were still blobs. Each of its steps makes ``n_critic``
        critic updates with a double backward pass, so it trains about 4x as long as a DCGAN.
        ``n_checkpoints`` keeps that many generators at evenly spaced steps, the last one included.
        """
        check_option(scale, SCALES, "scale")
        sizes = dict(SCALES[scale])
        arch = fields.get("arch", "dcgan")
        if arch == "wgan-gp" and "steps" not in fields:
            n_critic = fields.get("n_critic") or ARCH_DEFAULTS["wgan-gp"]["n_critic"]
            sizes["steps"] = max(1, WGAN_GP_STEPS * sizes["steps"] // n_critic)
        config = cls(**{**sizes, **fields})
        if n_checkpoints:
            k = check_int(n_checkpoints, "n_checkpoints", minimum=1)
            steps = tuple(sorted({max(1, round(config.steps * (i + 1) / k)) for i in range(k)}))
            config = config.replace(checkpoints=steps)
        return config

    def replace(self, **changes) -> GanConfig:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return replace(self, **changes)
