"""The lab's trainer: one loop for every architecture, cached, checkpointed, resumable.

``train(config)`` trains the generator a :class:`GanConfig` names, or loads it when its cache
folder (``<cache_dir>/<config.folder_name>``, a hash of the full configuration) holds a finished
run, so the book trains each generator once. Guarantees:

* **Deterministic.** The initial weights come from ``shard_seed(seed, 0)`` and every draw of step
  t (batch indices, latents, penalty mixing weights) from a ``torch.Generator`` seeded with
  ``shard_seed(seed, 1, t)``; on a CPU two runs of one configuration with one thread count give
  the same weights bit for bit (tests/test_lab_train.py). Training uses one torch thread by
  default (``threads=1``): a different thread count changes the last bits of the convolutions'
  sums, and one thread makes a cached generator independent of the machine's core count.
* **Resumable.** Every minute (or ``autosave_every`` steps) and at every kept step, the weights, batch
  normalisation statistics, spectral-norm vectors and optimiser state go to a safetensors file
  with a JSON state (step, optimiser hyper-parameters, RNG scheme, time so far), atomically
  (``cache.py``). A run killed at any moment resumes from its last checkpoint to the same weights
  as an uninterrupted run, because no random state survives a step.
* **Guarded.** A NaN, infinite or exploding loss (``|loss| > max_abs_loss``) stops training with
  :class:`TrainingDiverged`, which names the step and the last good checkpoint; nothing is written
  after the bad step.
* **One trainer per folder.** ``train`` holds an advisory ``flock`` on ``train.lock`` in the run's
  folder while it trains. A second process asked for the same configuration (a second book build,
  ``train_many`` in two shells) says that it waits, shows the other run's progress, and then loads
  the finished generator instead of training it again; if the other process dies, it resumes from
  that run's last checkpoint. ``lock_timeout`` bounds the wait.
* **Logged.** ``log.jsonl`` gets one line every ``config.log_interval`` steps (the losses, the
  time so far, steps/s and images/s); a progress bar shows the losses and steps/s.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._progress import progress_bar
from .._validation import check_int
from ..blackbox.protocols import shard_seed
from .cache import (
    append_json_line,
    atomic_write_bytes,
    atomic_write_json,
    checkpoint_paths,
    checkpoint_steps,
    exclusive_lock,
    lock_holder,
    read_json,
    read_json_lines,
    read_tensors,
    write_checkpoint,
)
from .config import LAB_VERSION, GanConfig
from .datasets import build_dataset
from .objectives import STEPS
from .sampler import LabSampler
from .zoo import build_networks

__all__ = [
    "DEFAULT_CACHE",
    "TrainedGAN",
    "TrainingDiverged",
    "load_trained",
    "measure_throughput",
    "train",
    "train_many",
]

DEFAULT_CACHE = "data/cache/lab"
LOCK_FILE = "train.lock"
log = logging.getLogger(__name__)
_RNG_SCHEME = "torch.Generator seeded with shard_seed(seed, 1, step) at every step; initial weights shard_seed(seed, 0)"


class TrainingDiverged(RuntimeError):
    """A loss became NaN, infinite or exploded; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainedGAN:
    """A finished training run in its cache folder.

    Attributes
    ----------
    config : the GanConfig.
    path : its cache folder.
    summary : the content of ``done.json`` (steps, seconds, images_per_s, device, torch version).
    """

    config: GanConfig
    path: Path
    summary: dict

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def seconds(self) -> float:
        """Training wall time in seconds (summed over resumed sessions; work redone after a kill not counted)."""
        return float(self.summary["seconds"])

    @property
    def images_per_s(self) -> float:
        """Real training images drawn per second: ``steps * batch_size * n_critic / seconds``."""
        return float(self.summary["images_per_s"])

    @property
    def checkpoints(self) -> tuple[int, ...]:
        """The steps whose generator is kept (``config.kept_steps``)."""
        return tuple(s for s in checkpoint_steps(self.path, "G") if s in self.config.kept_steps)

    @property
    def log(self) -> list[dict]:
        """The training log: one dict per logged step (``step``, the losses, ``seconds``, ``steps_per_s``...)."""
        return read_json_lines(self.path / "log.jsonl")

    def sampler(self, step: int | None = None, *, device: str = "cpu") -> LabSampler:
        """The generator at ``step`` (default: the last) as a Sampler: ``(seed, n) -> Batch(z, x (n, 1, 28, 28))``."""
        step = self.config.steps if step is None else int(step)
        if step not in self.checkpoints:
            raise ValueError(f"no generator kept at step {step} for {self.config.name}; kept: {self.checkpoints}")
        weights, _ = read_tensors(self.path, "G", step)
        return LabSampler(self.config, weights, step=step, device=device)

    def at_step(self, step: int, *, device: str = "cpu") -> LabSampler:
        """The generator at a kept checkpoint ``step`` (one of ``checkpoints``)."""
        return self.sampler(step, device=device)

    def __repr__(self):
        return f"TrainedGAN({self.config.name}, {self.steps} steps, {self.seconds:.1f} s, {self.path})"


def _training_images(dataset, config: GanConfig, device) -> torch.Tensor:
    """The training set as float32 (m, 1, R, R): [-1, 1] for the GANs (tanh outputs), [0, 1] for the VAE."""
    x = torch.from_numpy(dataset.as_float())
    if config.resolution == 14:
        x = torch.nn.functional.avg_pool2d(x, 2)
    if config.arch != "vae":
        x = x * 2 - 1
    return x.to(device)


def _optimisers(nets, config: GanConfig) -> dict[str, torch.optim.Optimizer]:
    o = config.optim
    adam = {"lr": o["lr"], "betas": (o["beta1"], o["beta2"])}
    if config.arch == "vae":
        return {"G": torch.optim.Adam([*nets["G"].parameters(), *nets["E"].parameters()], **adam)}
    return {name: torch.optim.Adam(nets[name].parameters(), **adam) for name in ("G", "D")}


def _full_state(nets, opts) -> tuple[dict, dict]:
    """(tensors, JSON part) of everything training needs to continue."""
    tensors = {f"{name}/{k}": v for name, net in nets.items() for k, v in net.state_dict().items()}
    groups = {}
    for name, opt in opts.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for i, st in sd["state"].items():
            tensors.update({f"opt{name}/{i}/{k}": v for k, v in st.items()})
    return tensors, {"param_groups": groups}


def _load_full_state(nets, opts, tensors: dict, state: dict) -> None:
    for name, net in nets.items():
        prefix = f"{name}/"
        net.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, opt in opts.items():
        per_param: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith(f"opt{name}/"):
                _, i, field = k.split("/")
                per_param.setdefault(int(i), {})[field] = v
        opt.load_state_dict({"state": per_param, "param_groups": state["param_groups"][name]})


def _latest_resume(folder: Path):
    """(step, tensors, state) of the newest intact resume checkpoint, or None."""
    for step in reversed(checkpoint_steps(folder, "resume")):
        try:
            tensors, state = read_tensors(folder, "resume", step)
        except ValueError:
            continue
        return step, tensors, state
    return None


def _remove_resume(folder: Path, keep: int | None = None) -> None:
    """Delete resume checkpoints other than ``keep``, JSON (the commit marker) first, and orphans of a kill."""
    for step in checkpoint_steps(folder, "resume"):
        if step != keep:
            for p in checkpoint_paths(folder, "resume", step)[::-1]:
                p.unlink(missing_ok=True)
    kept = {p.name for p in checkpoint_paths(folder, "resume", keep)} if keep is not None else set()
    for p in [*folder.glob("resume-step*"), *folder.glob(".tmp-*")]:
        if p.name not in kept:
            p.unlink(missing_ok=True)


def _truncate_log(path: Path, step: int) -> None:
    lines = [line for line in read_json_lines(path) if line["step"] <= step]
    atomic_write_bytes(path, "".join(_json_line(line) for line in lines).encode())


def _json_line(obj) -> str:
    return json.dumps(obj, allow_nan=False) + "\n"


def _check_losses(losses: dict, step: int, max_abs_loss: float, folder: Path, last_good: int) -> None:
    bad = {k: v for k, v in losses.items() if not np.isfinite(v) or abs(v) > max_abs_loss}
    if bad:
        where = f"step {last_good} in {folder}" if last_good else "none (no checkpoint was written)"
        raise TrainingDiverged(
            f"training diverged at step {step}: {', '.join(f'{k}={v:.4g}' for k, v in bad.items())} "
            f"(|loss| limit {max_abs_loss:g}). The last good checkpoint is {where}; nothing after it was written. "
            "Lower the learning rate or change the seed."
        )


def load_trained(config: GanConfig, cache_dir=DEFAULT_CACHE) -> TrainedGAN | None:
    """The finished run of ``config`` in ``cache_dir``, or None when it has not finished."""
    folder = Path(cache_dir) / config.folder_name
    summary = read_json(folder / "done.json")
    return None if summary is None else TrainedGAN(config, folder, summary)


def train(
    config: GanConfig,
    *,
    cache_dir=DEFAULT_CACHE,
    device: str = "cpu",
    progress: bool | None = None,
    embed=None,
    autosave_every: int | None = None,
    autosave_s: float = 60.0,
    max_abs_loss: float = 1e6,
    threads: int | None = 1,
    lock_timeout: float | None = None,
) -> TrainedGAN:
    """Train the generator ``config`` names (or load it from the cache), resuming an interrupted run.

    Parameters
    ----------
    config : GanConfig
    cache_dir : the folder of the lab's cache; the run lives in ``cache_dir / config.folder_name``.
    device : "cpu" or "cuda" (bit-for-bit determinism is promised on the CPU only).
    progress : show a progress bar (None: only on a terminal).
    embed : the descriptor a ``dedup`` data spec names (see ``build_dataset``).
    autosave_every : steps between resume checkpoints (None: by time, ``autosave_s``).
    autosave_s : seconds of training between resume checkpoints when ``autosave_every`` is None.
    max_abs_loss : a loss above this in absolute value counts as diverged.
    threads : torch's intra-op threads while training (None: torch's current setting). One by
        default: these small networks train about as fast on one thread, a busy machine trains
        them many times faster on one thread than on two, and results are bit-for-bit
        reproducible for one machine and one thread count. For parallel runs use ``train_many``.
    lock_timeout : seconds to wait for another process training the same configuration (None: until
        it finishes); the finished run is then loaded, not trained again.

    Returns
    -------
    TrainedGAN

    Raises
    ------
    TrainingDiverged
        A loss became NaN, infinite or larger than ``max_abs_loss``.
    TimeoutError
        Another process still trained this configuration after ``lock_timeout`` seconds.
    """
    if not isinstance(config, GanConfig):
        raise TypeError(f"train takes a GanConfig; got {type(config).__name__}")
    done = load_trained(config, cache_dir)
    if done is not None:
        return done
    folder = Path(cache_dir) / config.folder_name
    folder.mkdir(parents=True, exist_ok=True)
    with _Waiter(config, folder, progress, lock_timeout) as waiter:
        with exclusive_lock(folder / LOCK_FILE, timeout=lock_timeout, on_wait=waiter):
            waiter.close()
            done = load_trained(config, cache_dir)  # finished by the process we waited for
            if done is not None:
                log.warning("%s: loaded the generator another process trained in %s", config.name, folder)
                return done
            before = torch.get_num_threads()
            if threads is not None:
                torch.set_num_threads(check_int(threads, "threads", minimum=1))
            try:
                return _train(
                    config, Path(cache_dir), device, progress, embed, autosave_every, autosave_s, max_abs_loss
                )
            finally:
                torch.set_num_threads(before)


class _Waiter:
    """While the lock is held elsewhere: says once who trains ``config``, then shows that run's logged step."""

    def __init__(self, config: GanConfig, folder: Path, progress, timeout):
        self.config, self.folder, self.progress, self.timeout = config, folder, progress, timeout
        self.bar_cm, self.bar, self.checked = None, None, -1.0

    def __call__(self, waited: float) -> None:
        if self.bar_cm is None:
            holder = lock_holder(self.folder / LOCK_FILE)
            log.warning(
                "%s: another process%s is training this configuration in %s; waiting for it to finish%s",
                self.config.name,
                f" (pid {holder})" if holder else "",
                self.folder,
                "" if self.timeout is None else f" (at most {self.timeout:g} s)",
            )
            desc = f"waiting: {self.config.name}"
            self.bar_cm = progress_bar(self.progress, total=self.config.steps, desc=desc, unit="step")
            self.bar = self.bar_cm.__enter__()
        if waited - self.checked >= 2.0:  # the other run's log, read every 2 s
            self.checked = waited
            lines = read_json_lines(self.folder / "log.jsonl")
            if lines and lines[-1]["step"] > self.bar.n:
                self.bar.update(lines[-1]["step"] - self.bar.n)

    def close(self) -> None:
        if self.bar_cm is not None:
            self.bar_cm.__exit__(None, None, None)
            self.bar_cm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _train(config, cache_dir, device, progress, embed, autosave_every, autosave_s, max_abs_loss) -> TrainedGAN:
    folder = cache_dir / config.folder_name
    atomic_write_json(folder / "config.json", {"lab_version": LAB_VERSION, "key": config.key, **config.to_dict()})

    data = _training_images(build_dataset(config.data, embed=embed), config, device)
    nets = {k: v.to(device).train() for k, v in build_networks(config, shard_seed(config.seed, 0)).items()}
    opts = _optimisers(nets, config)
    start, seconds = 0, 0.0
    resumed = _latest_resume(folder)
    if resumed is not None:
        start, tensors, state = resumed
        _load_full_state(nets, opts, tensors, state)
        seconds = float(state["seconds"])
    _truncate_log(folder / "log.jsonl", start)

    step_fn = STEPS[config.arch]
    images_per_step = config.batch_size * config.optim["n_critic"]
    kept = set(config.kept_steps)
    last_good = start
    bar_args = {"total": config.steps, "initial": start, "desc": config.name, "unit": "step", "unit_scale": False}
    with progress_bar(progress, **bar_args) as bar:
        t0 = last_save = time.perf_counter()
        for step in range(start + 1, config.steps + 1):
            gen = torch.Generator().manual_seed(shard_seed(config.seed, 1, step))
            losses = step_fn(nets, opts, data, config, gen)
            _check_losses(losses, step, max_abs_loss, folder, last_good)
            elapsed = seconds + time.perf_counter() - t0
            if step % config.log_interval == 0 or step == config.steps:
                rate = (step - start) / max(time.perf_counter() - t0, 1e-9)
                line = {"step": step, **losses, "seconds": round(elapsed, 3), "steps_per_s": round(rate, 3)}
                append_json_line(folder / "log.jsonl", {**line, "images_per_s": round(rate * images_per_step, 1)})
            if step in kept:
                write_checkpoint(folder, "G", step, nets["G"].state_dict(), {"seconds": elapsed, **losses})
            due = step % autosave_every == 0 if autosave_every else time.perf_counter() - last_save >= autosave_s
            if step in kept or due:
                tensors, state = _full_state(nets, opts)
                write_checkpoint(folder, "resume", step, tensors, {**state, "seconds": elapsed, "rng": _RNG_SCHEME})
                _remove_resume(folder, keep=step)
                last_good, last_save = step, time.perf_counter()
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
        seconds = seconds + time.perf_counter() - t0
    summary = {
        "steps": config.steps,
        "seconds": round(seconds, 3),
        "images_per_s": round(config.steps * images_per_step / max(seconds, 1e-9), 1),
        "steps_per_s": round(config.steps / max(seconds, 1e-9), 3),
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "resumed_from": start,
    }
    atomic_write_json(folder / "done.json", summary)
    _remove_resume(folder)
    return TrainedGAN(config, folder, summary)


def train_many(
    configs, *, workers: int = 2, cache_dir=DEFAULT_CACHE, threads: int = 1, embed=None, progress: bool | None = None
) -> list[TrainedGAN]:
    """Train several configurations, ``workers`` at a time in separate processes (cached ones are loaded).

    On a small CPU, two single-threaded processes train these small networks faster than one
    process with two threads. Each run is the same as ``train(config, threads=threads)`` alone
    (same weights bit for bit), so the cache does not depend on how the runs were scheduled.
    The workers are spawned (a fresh interpreter each, safe with torch's threads), so a script
    that calls this must guard its top level with ``if __name__ == "__main__":``; notebooks need not.

    Parameters
    ----------
    configs : sequence of GanConfig.
    workers : processes at once (1: in this process, one after another).
    cache_dir, threads, embed : as in :func:`train` (``embed`` must be picklable when workers > 1).
    progress : a bar over the runs (None: only on a terminal).

    Returns
    -------
    list of TrainedGAN, in the order of ``configs``.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    configs = list(configs)
    workers = check_int(workers, "workers", minimum=1)
    out = [load_trained(c, cache_dir) for c in configs]
    todo = [i for i, r in enumerate(out) if r is None]
    kwargs = {"cache_dir": cache_dir, "threads": threads, "embed": embed, "progress": False}
    with progress_bar(progress, total=len(configs), initial=len(configs) - len(todo), desc="lab", unit="gen") as bar:
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                out[i] = train(configs[i], **kwargs)
                bar.update(1)
            return out
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(train, configs[i], **kwargs): i for i in todo}
            for future in as_completed(futures):
                out[futures[future]] = future.result()
                bar.update(1)
    return out


def measure_throughput(config: GanConfig, steps: int = 20, *, warmup: int = 2, device: str = "cpu", embed=None) -> dict:
    """Time ``steps`` training steps of ``config`` (after ``warmup``), writing nothing.

    Returns
    -------
    dict: ``images_per_s`` (real images drawn per second: ``batch_size * n_critic`` per step),
    ``steps_per_s``, ``seconds`` (wall), ``cpu_seconds`` (this process's CPU time), ``threads``.
    """
    check_int(steps, "steps", minimum=1)
    data = _training_images(build_dataset(config.data, embed=embed), config, device)
    nets = {k: v.to(device).train() for k, v in build_networks(config, shard_seed(config.seed, 0)).items()}
    opts = _optimisers(nets, config)
    step_fn = STEPS[config.arch]
    for step in range(1, warmup + steps + 1):
        if step == warmup + 1:
            if device != "cpu":
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter(), time.process_time()
        step_fn(nets, opts, data, config, torch.Generator().manual_seed(shard_seed(config.seed, 1, step)))
    if device != "cpu":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = steps * config.batch_size * config.optim["n_critic"]
    return {
        "images_per_s": images / wall,
        "steps_per_s": steps / wall,
        "seconds": wall,
        "cpu_seconds": cpu,
        "threads": torch.get_num_threads(),
    }
