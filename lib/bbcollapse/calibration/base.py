"""The sampler every calibrator returns, and the report of what it costs (paper 000, section 3.2).

A calibrator fits a reshaped latent law and returns a :class:`CalibratedSampler`: a Sampler and
latent model of the same protocol as the model it wraps (``latents(seed, n)``, ``generate(z)``,
``__call__(seed, n) -> Batch``), so the calibrated model is diagnosed by the same pipeline as
the original.  A subclass holds its fitted state as frozen fields and says how one round of
proposals is drawn and thinned (:meth:`CalibratedSampler.propose`); the base class runs the
rounds until enough are accepted.  The only mutable part is the running cost
(:class:`SamplingCounts`), reported as a :class:`CalibrationReport`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._progress import progress_bar
from .._validation import check_int
from ..blackbox import Batch, LatentModel, shard_seed

__all__ = ["CalibratedSampler", "CalibrationReport", "Proposals", "SamplingCounts", "ratio"]


def ratio(numerator: str, denominator: str, doc: str) -> property:
    """A read-only property ``numerator / denominator`` of two attributes (nan when the denominator is 0)."""

    def get(self) -> float:
        den = getattr(self, denominator)
        return getattr(self, numerator) / den if den else float("nan")

    return property(get, doc=doc)


@dataclass(frozen=True)
class CalibrationReport:
    """What a calibrated sampler has cost so far.

    Attributes
    ----------
    method : name of the calibrator (white-box ones say so)
    proposed, accepted : latents proposed / accepted by the sampler
    generator_calls, descriptor_calls : outputs generated / embedded while sampling (every one
        actually computed, including the unused surplus of a sampler's last proposal round, so
        per-sample costs can exceed 1 / acceptance_rate slightly)
    seconds : wall time spent sampling
    fit_seconds : wall time spent fitting (K-means, counts, ...)
    fit_generator_calls : outputs generated (and embedded) to fit
    expected_acceptance : acceptance rate predicted from the fitted quantities
    """

    method: str
    proposed: int
    accepted: int
    generator_calls: int
    descriptor_calls: int
    seconds: float
    fit_seconds: float
    fit_generator_calls: int
    expected_acceptance: float

    acceptance_rate = ratio("accepted", "proposed", "accepted / proposed")
    generator_calls_per_sample = ratio("generator_calls", "accepted", "generator calls per accepted sample")
    descriptor_calls_per_sample = ratio("descriptor_calls", "accepted", "descriptor calls per accepted sample")
    seconds_per_sample = ratio("seconds", "accepted", "sampling seconds per accepted sample")

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.update(
            acceptance_rate=self.acceptance_rate,
            generator_calls_per_sample=self.generator_calls_per_sample,
            descriptor_calls_per_sample=self.descriptor_calls_per_sample,
            seconds_per_sample=self.seconds_per_sample,
        )
        return d

    def __repr__(self):
        return (
            f"CalibrationReport({self.method}: acceptance={self.acceptance_rate:.4f} "
            f"(expected {self.expected_acceptance:.4f}), accepted={self.accepted}/{self.proposed}, "
            f"G calls/sample={self.generator_calls_per_sample:.3f}, "
            f"descriptor calls/sample={self.descriptor_calls_per_sample:.3f}, "
            f"{1e3 * self.seconds_per_sample:.3f} ms/sample, fit {self.fit_seconds:.2f} s)"
        )


@dataclass
class SamplingCounts:
    """Running cost of a calibrated sampler: the one part of it that changes as it samples."""

    proposed: int = 0
    accepted: int = 0
    generator_calls: int = 0
    descriptor_calls: int = 0
    seconds: float = 0.0


class Proposals(NamedTuple):
    """One round of a sampler: m proposals, of which those kept.

    Attributes
    ----------
    z : (k, L) the accepted latents
    x : their outputs when the round computed them (arrays), else None (generated on demand)
    keep : (m,) bool over the m proposals
    embedded : outputs the round generated and embedded to decide
    """

    z: np.ndarray
    x: Any
    keep: np.ndarray
    embedded: int = 0


@dataclass(frozen=True, eq=False, repr=False)
class CalibratedSampler:
    """A Sampler drawing latents from a reshaped prior (subclasses define :meth:`propose`).

    Attributes
    ----------
    model : the latent model being calibrated
    fit_seconds, fit_generator_calls : cost of the fit (reported)
    progress : progress bar while sampling (default: only on a terminal)
    counts : running cost of sampling (:class:`SamplingCounts`)

    Subclasses also provide ``expected_acceptance`` (a field or a property) and a ``method`` name.
    """

    model: LatentModel
    fit_seconds: float = field(default=0.0, kw_only=True)
    fit_generator_calls: int = field(default=0, kw_only=True)
    progress: bool | None = field(default=None, kw_only=True)
    counts: SamplingCounts = field(default_factory=SamplingCounts, init=False)

    method = "calibrated"
    #: most proposals drawn in one round (bounds memory when the acceptance is tiny)
    max_round = 65_536

    @property
    def latent_dim(self) -> int | None:
        return int(getattr(self.model, "latent_dim", 0)) or None

    def propose(self, seed: int, m: int, need_x: bool) -> Proposals:  # pragma: no cover - abstract
        """Draw ``m`` proposals from stream ``seed`` and keep those accepted."""
        raise NotImplementedError

    def draw(self, seed: int, n: int, *, need_x: bool) -> tuple[np.ndarray, Any]:
        """``n`` accepted latents (n, L) from stream ``seed`` and their outputs (None unless ``need_x``)."""
        n = check_int(n, "n")
        c = self.counts
        t0 = time.perf_counter()
        zs, xs, got, rnd = [], [], 0, 0
        acc = max(self.expected_acceptance, 1e-3)
        proposed0 = c.proposed
        with progress_bar(self.progress, total=n, desc=self.method, unit="sample") as bar:
            while got < n:
                m = min(int(math.ceil((n - got) / acc * 1.1)) + 16, self.max_round)
                z, x, keep, embedded = self.propose(shard_seed(seed, 7, rnd), m, need_x)
                c.generator_calls += embedded
                c.descriptor_calls += embedded
                rnd += 1
                pos = np.flatnonzero(keep)
                need = n - got
                if len(pos) > need:  # only the proposals up to the last one used count
                    z, pos = z[:need], pos[:need]
                    x = x[:need] if x is not None else None
                    c.proposed += int(pos[-1]) + 1
                else:
                    c.proposed += m
                if len(z):
                    zs.append(z)
                    xs.append(x)
                    got += len(z)
                    bar.update(len(z))
                bar.set_postfix(proposed=c.proposed - proposed0, refresh=False)  # a low acceptance shows here
                if rnd > 100_000:
                    raise RuntimeError(
                        f"{self.method}: too few acceptances ({got} of {n} after {c.proposed} proposals)"
                    )
        z = np.concatenate(zs) if zs else np.zeros((0, self.latent_dim or 0), np.float32)
        c.accepted += len(z)
        x = None
        if need_x:
            if xs and all(xi is not None for xi in xs):
                x = np.concatenate(xs)
            else:
                x = self.model.generate(z)
                c.generator_calls += len(z)
        c.seconds += time.perf_counter() - t0
        return z, x

    # -- the Sampler / latent-model protocol --------------------------------------------------
    def latents(self, seed: int, n: int) -> np.ndarray:
        """(n, L) latents of the calibrated law."""
        return self.draw(seed, n, need_x=False)[0]

    def generate(self, z):
        """Outputs of the wrapped model for latents z (n, L)."""
        return self.model.generate(z)

    def __call__(self, seed: int, n: int) -> Batch:
        z, x = self.draw(seed, n, need_x=True)
        return Batch(z, x)

    def report(self) -> CalibrationReport:
        """The running cost so far (sampling and fit)."""
        return CalibrationReport(
            method=self.method,
            **dataclasses.asdict(self.counts),  # proposed, accepted, generator and descriptor calls, seconds
            fit_seconds=self.fit_seconds,
            fit_generator_calls=self.fit_generator_calls,
            expected_acceptance=float(self.expected_acceptance),
        )

    def __repr__(self):
        return f"{type(self).__name__}({self.model!r}, expected_acceptance={self.expected_acceptance:.4f})"
