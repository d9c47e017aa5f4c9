"""The one configuration of a diagnosis, shared by the Python API, the CLI and Dask.

:class:`DiagnoseConfig` holds the parameters of paper 000, section 3.1 that a run needs
(|A|, |C|, the seed, theta of the similarity kernel Eq. 3, the radius r of the counts
inside Eq. 9 that pick I_w, the MCCS form of Eq. 7, how C is split into the selection
sample S and the scoring sample T, ...) with their defaults, validated once.
:func:`bbcollapse.diagnose`, :func:`bbcollapse.diagnose_embeddings`,
:func:`bbcollapse.diagnose_distributed` and ``bbcollapse diagnose`` read their defaults
from it, so a default changes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .._validation import check_fraction, check_int, check_option, check_positive, check_theta, check_unit_interval
from ..neighbors import PAPER_GRID
from ..stats import MCCS_FORMS

__all__ = ["DiagnoseConfig", "resolve_config", "SCORINGS", "SELECT_BY"]

#: "split": select the modes on the first half of C (S), score them on the rest (T); "same": the paper's way.
SCORINGS = ("split", "same")
#: "count": I_w = argmax N(I', S, r) (Eq. 9); "mccs": the anchor with the largest MCCS on S.
SELECT_BY = ("count", "mccs")


@dataclass(frozen=True)
class DiagnoseConfig:
    """Parameters of a diagnosis, validated on construction (a ``ValueError`` names the bad one).

    Attributes
    ----------
    n_anchors : |A|, the anchors scored (>= 2); None: the number of anchors given
        (:func:`~bbcollapse.diagnose_embeddings`)
    n_samples : |C|, the samples each anchor is compared with (>= 2 with scoring="split"); None: the number given
    seed : base seed; A, C and the random reference anchors use disjoint sub-streams
    theta : width of the similarity kernel, Eq. 3 (the authors use 0.3 or 0.4)
    r : radius of the neighbour counts that pick I_w and of mode distinctness (0.25 in the authors' code)
    top : number of distinct dense modes to report
    form : "code" (1/(-log10 m), default) or "paper" (Eq. 7, 1/(1 - ln m))
    grid : (G,) distances of the neighbour curves (default the paper's 0.10..0.50)
    k : nearest samples of I_w to report
    shard_size : samples per shard (memory and resume granularity)
    n_random : random anchors whose curves are reported (the reference R_ref)
    scoring : "split" (default): the modes are selected on S, the first ceil(|C|/2) samples of C, and
        scored on T, the rest (seed 001's Algorithm 1); "same": selected and scored on all of C (the
        paper 000 / authors' code way, biased upward for a maximum)
    select_by : "count" (default, Eq. 9) or "mccs" (rank the anchors by MCCS on S)
    alpha : level of the report's decision on I_w (:mod:`bbcollapse.diagnosis.decision`)
    precision : half-width of the 95% intervals the report's sample-size plan asks for (on MCCS(I_w) and mu)
    """

    # The field order is the key order of ``report.json``'s "config": keep it.
    n_anchors: int | None = None
    n_samples: int | None = None
    seed: int = 0
    theta: float = 0.3
    r: float = 0.25
    top: int = 10
    form: str = "code"
    grid: tuple[float, ...] = tuple(PAPER_GRID.tolist())
    k: int = 8
    shard_size: int = 4096
    n_random: int = 5
    scoring: str = "split"
    select_by: str = "count"
    alpha: float = 0.05
    precision: float = 0.01

    def __post_init__(self):
        (r,) = check_unit_interval(self.r, "r")
        checked = dict(
            n_anchors=None if self.n_anchors is None else check_int(self.n_anchors, "n_anchors", minimum=2),
            n_samples=None if self.n_samples is None else check_int(self.n_samples, "n_samples", minimum=1),
            seed=check_int(self.seed, "seed", minimum=0),
            theta=check_theta(self.theta),
            r=float(r),
            top=check_int(self.top, "top", minimum=1),
            form=check_option(self.form, MCCS_FORMS, "form"),
            grid=tuple(check_unit_interval(self.grid, "grid").tolist()),
            k=check_int(self.k, "k", minimum=0),
            shard_size=check_int(self.shard_size, "shard_size", minimum=1),
            n_random=check_int(self.n_random, "n_random", minimum=0),
            scoring=check_option(self.scoring, SCORINGS, "scoring"),
            select_by=check_option(self.select_by, SELECT_BY, "select_by"),
            alpha=check_fraction(self.alpha, "alpha"),
            precision=check_positive(self.precision, "precision"),
        )
        if checked["scoring"] == "split" and checked["n_samples"] is not None and checked["n_samples"] < 2:
            raise ValueError(
                f"n_samples must be an integer >= 2 with scoring='split' (one half selects, the other scores); "
                f"got {checked['n_samples']}; use scoring='same' for a single sample"
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: store the normalised values once

    def __repr__(self):
        g = self.grid  # 41 distances by default: show the range, not every point
        grid = f"grid=<{len(g)} distances {g[0]:g}..{g[-1]:g}>" if len(g) > 4 else f"grid={g!r}"
        parts = [grid if f.name == "grid" else f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)]
        return f"DiagnoseConfig({', '.join(parts)})"

    def require_sizes(self) -> DiagnoseConfig:
        """``self`` if n_anchors and n_samples are set (a sampler needs them), else a ``ValueError``."""
        missing = [name for name in ("n_anchors", "n_samples") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{' and '.join(missing)} must be given to draw from a sampler (|A| and |C|)")
        return self

    def to_json(self) -> dict:
        """The JSON-able dict written as ``config`` in ``report.json`` (field order kept)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def from_json(cls, doc: dict) -> DiagnoseConfig:
        """The config of a ``report.json`` (inverse of :meth:`to_json`)."""
        return cls(**{f.name: doc[f.name] for f in fields(cls) if f.name in doc})


FIELDS = frozenset(f.name for f in fields(DiagnoseConfig))


def resolve_config(config: DiagnoseConfig | None, overrides: dict) -> tuple[DiagnoseConfig, dict]:
    """Split keyword arguments into config fields (applied over ``config``) and engine options.

    Parameters
    ----------
    config : a DiagnoseConfig, or None for the defaults
    overrides : keyword arguments of a diagnose function; those named like a DiagnoseConfig
        field replace that field, the others are returned for the engine
        (:func:`~bbcollapse.neighbor_stats`: device, backend, chunk, anchor_block)

    Returns
    -------
    config : the validated DiagnoseConfig
    engine_kwargs : dict of the remaining keyword arguments
    """
    if config is None:
        config = DiagnoseConfig()
    elif not isinstance(config, DiagnoseConfig):
        raise TypeError(f"config must be a DiagnoseConfig; got {type(config).__name__}")
    mine = {name: value for name, value in overrides.items() if name in FIELDS}
    engine_kwargs = {name: value for name, value in overrides.items() if name not in FIELDS}
    return (replace(config, **mine) if mine else config), engine_kwargs
