"""What the lab's two descriptor networks share: the conv trunk, the training loop and the weight cache.

Not an equation of paper 000: the paper's descriptor ``F_id`` (Sec. 3) is a pretrained
face-recognition network; the lab trains its own (:mod:`.encoder`, :mod:`.classifier`).  Both
are small CNNs on 28x28 grayscale images with the same trunk (:func:`conv_trunk`), trained by
the same loop (:func:`train_steps`: Adam, cosine learning rate, a clear error on a non-finite
loss, a progress bar with the loss), and cached the same way (:func:`cache_dir_for`,
:func:`save_weights`, :func:`load_weights`): weights as safetensors (loaded without pickle)
and a JSON record, both written atomically, in ``<cache>/<name>-<hash of config and data>/``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._progress import progress_bar
from .._validation import check_int, check_positive
from .cache import atomic_write_bytes, atomic_write_json, exclusive_lock, read_json
from .views import ENCODER_VIEWS, ViewConfig, as_image_tensor

__all__ = [
    "TrainConfig",
    "conv_trunk",
    "TRUNK_SIDE",
    "data_fingerprint",
    "config_hash",
    "cache_dir_for",
    "save_weights",
    "load_weights",
    "train_steps",
    "NonFiniteLossError",
    "batched_forward",
    "trained_or_cached",
    "DEFAULT_CACHE",
]

#: Where trained lab networks are cached (ignored by git), relative to the working directory.
DEFAULT_CACHE = Path("data/cache/lab")

#: Side of the trunk's output feature map (28 -> 14 -> 7).
TRUNK_SIDE = 7


@dataclass(frozen=True)
class TrainConfig:
    """The training fields every lab network shares; with the training data, they key its cache folder.

    Attributes
    ----------
    steps : optimiser steps
    batch_size : images per step
    lr : peak Adam learning rate (cosine decay to 0)
    width : channels of the trunk's first stage (:func:`conv_trunk`)
    weight_decay : Adam's L2 penalty
    seed : initialisation, batch order, augmentations and dropout
    views : the random views drawn for each training image (:mod:`.views`)
    """

    steps: int = 1000
    batch_size: int = 128
    lr: float = 2e-3
    width: int = 16
    weight_decay: float = 1e-5
    seed: int = 0
    views: ViewConfig = ENCODER_VIEWS

    def __post_init__(self):
        check_int(self.steps, "steps", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=2)
        check_int(self.width, "width", minimum=1)
        check_int(self.seed, "seed", minimum=0)
        check_positive(self.lr, "lr")
        if not isinstance(self.views, ViewConfig):
            raise TypeError(f"views must be a ViewConfig; got {type(self.views).__name__}")

    def to_json(self) -> dict:
        """Every field as plain JSON values (the views as a dict)."""
        d = asdict(self)
        d["views"] = self.views.to_json()
        return d


def conv_trunk(width: int) -> nn.Sequential:
    """Two conv-BN-ReLU pairs at 28x28 (``width`` channels) and at 14x14 (``2 width``), each followed by a 2x2 max pool.

    (n, 1, 28, 28) -> (n, 2 width, 7, 7).
    """

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    w = int(width)
    layers = block(1, w) + block(w, w) + [nn.MaxPool2d(2)] + block(w, 2 * w) + block(2 * w, 2 * w) + [nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


# -- the cache --------------------------------------------------------------------------
def data_fingerprint(*arrays) -> str:
    """SHA-256 (16 hex digits) of arrays' shapes, dtypes and bytes: the training data a network depends on."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def config_hash(record: dict) -> str:
    """SHA-256 (16 hex digits) of a JSON-able record (keys sorted)."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir_for(name: str, record: dict, cache_dir=None) -> Path:
    """``<cache_dir>/<name>-<config_hash(record)>`` (default cache: ``data/cache/lab``)."""
    return Path(DEFAULT_CACHE if cache_dir is None else cache_dir) / f"{name}-{config_hash(record)}"


def save_weights(directory, module: nn.Module, record: dict) -> Path:
    """Save ``module``'s state as ``weights.safetensors`` and ``record`` as ``record.json`` in ``directory``.

    The weights are written first, the record last: a directory with a ``record.json`` is complete.
    """
    from safetensors.torch import save

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(d / "weights.safetensors", save(state))
    atomic_write_json(d / "record.json", record)
    return d


def load_weights(directory, module: nn.Module) -> dict | None:
    """Load ``directory``'s weights into ``module`` (strict) and return its record; None when not cached.

    Weights are read with ``safetensors`` (no unpickling).
    """
    from safetensors.torch import load_file

    d = Path(directory)
    if not (d / "record.json").is_file() or not (d / "weights.safetensors").is_file():
        return None
    module.load_state_dict(load_file(str(d / "weights.safetensors")), strict=True)
    return read_json(d / "record.json")


# -- training ----------------------------------------------------------------------------
class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


def train_steps(
    module: nn.Module,
    batch_loss: Callable[[int], torch.Tensor],
    *,
    steps: int,
    lr: float,
    weight_decay: float = 0.0,
    desc: str = "train",
    log_every: int = 50,
    progress: bool | None = None,
) -> list[dict]:
    """Minimise ``batch_loss(step)`` over ``module``'s parameters: Adam with a cosine learning rate.

    Parameters
    ----------
    module : the network (put in training mode here)
    batch_loss : step -> scalar loss of that step's batch (draws its own batch)
    steps : number of optimiser steps
    lr : peak learning rate (cosine decay to 0 over ``steps``)
    weight_decay : Adam's L2 penalty
    desc : progress-bar label
    log_every : a log row every this many steps (and at the last)
    progress : progress bar (default: only on a terminal)

    Returns
    -------
    list of {"step", "loss"} rows (loss averaged since the previous row)

    Raises
    ------
    NonFiniteLossError
        when a loss is NaN or infinite (naming the step)
    """
    module.train()
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * s / max(steps, 1))))
    log, running, since = [], 0.0, 0
    with progress_bar(progress, total=steps, desc=desc, unit="step") as bar:
        for step in range(steps):
            loss = batch_loss(step)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"{desc}: loss is {loss.item()} at step {step}; lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running, since = running + loss.item(), since + 1
            if (step + 1) % log_every == 0 or step + 1 == steps:
                log.append({"step": step + 1, "loss": running / since})
                bar.set_postfix(loss=f"{running / since:.4f}")
                running, since = 0.0, 0
            bar.update()
    module.eval()
    return log


def batched_forward(fn: Callable[[torch.Tensor], torch.Tensor], images, batch_size: int = 1024) -> np.ndarray:
    """``fn`` applied to images (any form :func:`~.views.as_image_tensor` accepts) in batches, without gradients.

    Returns
    -------
    float32 array, the outputs concatenated along the first axis
    """
    x = as_image_tensor(images)
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            out.append(fn(x[s : s + batch_size]).float().numpy())
    if not out:
        raise ValueError("images is empty")
    return np.concatenate(out)


#: lock file inside a network's cache folder while it is trained
NETWORK_LOCK = ".training.lock"


def trained_or_cached(
    name: str,
    recipe: str,
    config,
    data: str,
    build: Callable[[], nn.Module],
    loss_for: Callable[[nn.Module, torch.Generator], Callable[[int], torch.Tensor]],
    *,
    cache_dir=None,
    progress: bool | None = None,
    threads: int | None = None,
) -> tuple[nn.Module, dict, str]:
    """A network read from ``<cache_dir>/<name>-<hash>/``, or trained by :func:`train_steps` and saved there.

    The hash covers ``recipe``, ``config.to_json()`` and the ``data`` fingerprint.  Initialisation,
    batches, augmentations and dropout depend only on ``config.seed`` (the global torch RNG is
    seeded inside ``fork_rng`` and restored after), so training is repeatable for a seed.

    Parameters
    ----------
    name : cache folder prefix and progress label
    recipe : version string of the architecture and objective
    config : a frozen config with ``steps``, ``lr``, ``weight_decay``, ``seed`` and ``to_json()``
    data : :func:`data_fingerprint` of the training data
    build : () -> the untrained network
    loss_for : (network, generator) -> ``batch_loss(step)`` drawing its batch from the generator
    cache_dir : cache root (default ``data/cache/lab``)
    progress : progress bar (default: only on a terminal)
    threads : torch's intra-op threads while training (None: as set).  On a busy CPU one thread is
        much faster for networks this small: every operation of a 2-thread pool waits for both.

    Returns
    -------
    (network in evaluation mode, record, cache key)
    """
    key_record = {"recipe": recipe, "config": config.to_json(), "data": data}
    directory = cache_dir_for(name, key_record, cache_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build()
        record = load_weights(directory, net)
        if record is None:  # train under the folder's lock: two chapters built at once train a network once
            directory.mkdir(parents=True, exist_ok=True)
            with exclusive_lock(directory / NETWORK_LOCK):
                record = load_weights(directory, net)  # trained meanwhile by the process we waited for
                before = torch.get_num_threads()
                if record is None and threads is not None:
                    torch.set_num_threads(check_int(threads, "threads", minimum=1))
                try:
                    if record is None:
                        record = _train_and_save(net, config, key_record, loss_for, directory, name, progress)
                finally:
                    torch.set_num_threads(before)
    return net.eval(), record, directory.name.rsplit("-", 1)[1]


def _train_and_save(net, config, key_record, loss_for, directory, name, progress) -> dict:
    """Train ``net`` with :func:`train_steps`, save it with its record, and return the record."""
    t0 = time.perf_counter()
    batch_loss = loss_for(net, torch.Generator().manual_seed(config.seed))
    log = train_steps(
        net,
        batch_loss,
        steps=config.steps,
        lr=config.lr,
        weight_decay=config.weight_decay,
        desc=name,
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    record = dict(key_record, seconds=seconds, log=log, threads=torch.get_num_threads())
    save_weights(directory, net, record)
    return record
