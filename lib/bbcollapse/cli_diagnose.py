"""The options of ``bbcollapse diagnose`` beyond the sampler: modes, scoring, images, Dask and peer metrics.

:mod:`bbcollapse.cli` declares the core options and runs the diagnosis; this module adds

* ``--scoring``, ``--select-by``, ``--k``, ``--n-random``, ``--grid``: fields of
  :class:`~bbcollapse.DiagnoseConfig` (the one table of defaults; seed 001's Algorithm 1 selects on
  S and scores on T);
* ``--images DIR``: montages of I_w with its nearest samples (paper 000's Fig. 4) and of the
  distinct modes (Fig. 7), re-drawn from the sampler when its outputs are images;
* ``--dask ADDRESS|local``: the run through :func:`bbcollapse.diagnose_distributed`;
* ``--metrics NAME,...`` (with ``--reference`` where a metric compares two sets): peer metrics of
  :func:`bbcollapse.compute_metrics` on the descriptor's embeddings of fresh samples, written to
  ``report.json`` under "metrics".

Every check that can fail runs before anything is sampled (:func:`check_extras`).

theta and r not given as --theta/--r come from the built-in subject when it ships values for the
descriptor used (:func:`bbcollapse.diagnosis.defaults.subject_theta_r`: the documented rule's
values, with their provenance; a served model may advertise its own),
else from :class:`~bbcollapse.DiagnoseConfig`; ``report.json`` ("theta_r_source") and the summary
say which (:func:`subject_theta_r`).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from .diagnosis.defaults import GENERIC_SOURCE, original_theta_r, with_subject_theta_r

__all__ = [
    "CLI_METRICS",
    "METRICS_STREAM",
    "REFERENCE_METRICS",
    "REFERENCE_STREAM",
    "add_extra_options",
    "check_extras",
    "config_fields",
    "finish",
    "metric_features",
    "parse_grid",
    "run_report",
    "subject_theta_r",
]

#: metrics ``--metrics`` computes: those that read the descriptor's embeddings (images, class
#: probabilities are not kept by a diagnosis: ssim, ms_ssim, inception_score go through the Python API)
CLI_METRICS = ("frechet", "kid", "prdc", "ndb", "vendi", "birthday")
#: metrics that compare the samples with a reference set (``--reference`` required)
REFERENCE_METRICS = ("frechet", "kid", "prdc", "ndb")
#: seed streams of the metric samples and of a sampled reference (A is stream 0, C stream 1)
METRICS_STREAM, REFERENCE_STREAM = (3,), (4,)
#: samples a metric reads by default (prdc is quadratic in them)
METRICS_N = 5000


def subject_theta_r(args, config, sampler, descriptor, builtin: str | None = None):
    """``config`` with theta and r: --theta/--r when given, else the subject's, else the generic defaults.

    The subject's values come from :func:`bbcollapse.diagnosis.defaults.subject_theta_r` (built-in
    subjects, and served models that advertise theta and r); a ``calibrated:DIR`` sampler takes those
    of its original diagnosis.  ``builtin`` (the built-in sampler's name) is kept for callers; the
    lookup goes by the sampler itself.  Sets ``args.theta_r_source`` ({"theta": text, "r": text}),
    which :func:`finish` puts in the report.
    """
    del builtin
    given = {name for name in ("theta", "r") if name in getattr(args, "given", ())}
    if len(given) < 2 and str(getattr(args, "sampler", "")).startswith("calibrated:"):
        source = {name: f"given (--{name})" for name in given}
        config, source = _calibrated_theta_r(args.sampler.partition(":")[2], config, given, source)
        source = {k: source.get(k, GENERIC_SOURCE) for k in ("theta", "r")}
    else:
        config, source = with_subject_theta_r(config, given, sampler, descriptor)
        source = {k: f"given (--{k})" if v == "given" else v for k, v in source.items()}
    args.theta_r_source = source
    return config


def _calibrated_theta_r(folder: str, config, given: dict, source: dict):
    """A calibrated model is diagnosed with the theta and r its original diagnosis used
    (:func:`~bbcollapse.diagnosis.defaults.original_theta_r`), so that its numbers compare with the original's."""
    found = original_theta_r(folder)
    if found is None:
        return config, source  # no readable original report: the generic defaults, and the summary says so
    chosen = {k: found[k] for k in ("theta", "r") if k not in given}
    source = {**source, **dict.fromkeys(chosen, f"the calibrated model's original diagnosis ({found['path']})")}
    return replace(config, **chosen), source


def parse_grid(text: str) -> tuple[float, ...]:
    """``--grid``: ``START:STOP:COUNT`` (evenly spaced, both ends included) or ``d1,d2,...``."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            values = np.linspace(float(start), float(stop), int(count))
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT or d1,d2,... distances, got {text!r}") from None
    if values.size == 0 or not ((values > 0) & (values <= 1)).all() or (np.diff(values) <= 0).any():
        raise argparse.ArgumentTypeError(f"expected increasing distances in (0, 1], got {text!r}")
    return tuple(float(v) for v in values)


def metric_names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in CLI_METRICS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {bad or [text]}; choose from {','.join(CLI_METRICS)}")
    return names


def add_extra_options(d: argparse.ArgumentParser, defaults, config_option, positive_int, nonneg_int) -> None:
    """Add the options of this module to the ``diagnose`` parser ``d`` (defaults from the DiagnoseConfig)."""
    from .diagnosis.config import SCORINGS, SELECT_BY

    config_option(d, defaults, "--k", type=positive_int, help="nearest samples of I_w reported (and shown)")
    config_option(d, defaults, "--n-random", type=nonneg_int, help="random reference anchors whose curves are kept")
    grid = defaults.grid
    d.add_argument(
        "--grid",
        type=parse_grid,
        default=grid,
        metavar="START:STOP:COUNT|d1,d2,...",
        help=f"distances of the neighbour curves (default {grid[0]:g}:{grid[-1]:g}:{len(grid)})",
    )
    config_option(
        d, defaults, "--scoring", choices=SCORINGS, help="split: select modes on S, score them on a fresh T; same: on C"
    )
    config_option(d, defaults, "--select-by", choices=SELECT_BY, help="rank anchors for I_w by count (Eq. 9) or MCCS")
    config_option(
        d, defaults, "--alpha", type=float, help="level of the decision on I_w (a one-sided test on T; see the summary)"
    )
    config_option(
        d,
        defaults,
        "--precision",
        type=float,
        help="half-width of the 95%% intervals the sample-size plan asks for (MCCS(I_w) and mu)",
    )
    d.add_argument(
        "--images",
        metavar="DIR",
        help="also write montages of I_w with its nearest samples and of the modes (image outputs only)",
    )
    d.add_argument(
        "--dask",
        metavar="ADDRESS|local",
        help="run the shards on a Dask cluster (a scheduler address, or 'local' for one on this machine); "
        "not with --store",
    )
    d.add_argument(
        "--metrics",
        type=metric_names,
        metavar="NAME[,NAME...]",
        help=f"peer metrics on the descriptor's embeddings of fresh samples: {', '.join(REFERENCE_METRICS)} "
        "(need --reference), vendi, birthday (radius r, batches of min(500, n/4)); into report.json's 'metrics'",
    )
    d.add_argument(
        "--reference",
        metavar="FILE.npy|SPEC",
        help="reference set of --metrics: a .npy of outputs (embedded by --descriptor), or a sampler SPEC",
    )
    d.add_argument(
        "--metrics-n",
        type=positive_int,
        metavar="N",
        help=f"samples (and reference rows) the metrics read (default min(|C|, {METRICS_N}))",
    )


def config_fields(args) -> dict:
    """The DiagnoseConfig fields set by this module's options."""
    return dict(
        k=args.k,
        n_random=args.n_random,
        grid=args.grid,
        scoring=args.scoring,
        select_by=args.select_by,
        alpha=args.alpha,
        precision=args.precision,
    )


def dask_client(address: str):
    """A dask.distributed Client: a local in-process cluster for "local", else the scheduler at ``address``."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--dask needs dask.distributed: pip install 'bbcollapse[distributed]'") from None
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its start-up chatter would bury the summary
    if address == "local":
        return Client(LocalCluster(n_workers=1, processes=False, dashboard_address=None))
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--dask {address!r}: cannot reach the scheduler ({exc})") from None


def check_extras(args, config, sampler, descriptor, resolve_sampler, opts: dict):
    """Check the options of this module before any sampling; returns the reference (array or sampler) or None."""
    from .blackbox import sample_batch, shard_seed
    from .diagnosis.html import image_batch

    if args.dask and args.store:
        raise ValueError("--dask runs keep no store (each worker recomputes its shards); drop --store or --dask")
    if args.dask:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ValueError("--dask needs dask.distributed: pip install 'bbcollapse[distributed]'") from None
    if args.images:  # --images DIR itself is checked by the CLI with --out
        probe = sample_batch(sampler, shard_seed(config.seed, 98), 2).x
        if image_batch(probe) is None:
            raise ValueError(f"--images: the sampler's outputs of shape {np.shape(probe)[1:]} are not images")
    if not args.metrics:
        if args.reference or args.metrics_n:
            raise ValueError("--reference and --metrics-n go with --metrics")
        return None
    needing = [n for n in args.metrics if n in REFERENCE_METRICS]
    if needing and not args.reference:
        raise ValueError(f"--metrics {','.join(needing)} compare with a reference set: add --reference FILE.npy|SPEC")
    if not args.reference:
        return None
    path = Path(args.reference)
    if path.suffix == ".npy":
        if not path.is_file():
            raise ValueError(f"--reference {args.reference!r}: no such file")
        return np.load(path, allow_pickle=False)
    return resolve_sampler(args.reference, latent_dim=args.latent_dim, **opts)


def run_report(args, config, sampler, descriptor, **engine):
    """The Report: through Dask with --dask, else :func:`bbcollapse.diagnose` (with --store when given)."""
    if not args.dask:
        from .diagnosis import diagnose

        return diagnose(
            sampler, descriptor, config=config, store=args.store, progress=False if args.quiet else None, **engine
        )
    from .diagnosis.distributed import diagnose_distributed

    client = dask_client(args.dask)
    try:
        return diagnose_distributed(sampler, descriptor, client=client, config=config, **engine)
    finally:
        cluster = getattr(client, "cluster", None) if args.dask == "local" else None
        client.close()
        if cluster is not None:
            cluster.close()


def metric_features(source, descriptor, *, n: int, seed: int, stream: tuple, shard_size: int) -> np.ndarray:
    """(n, D) embeddings: of a sampler's ``stream`` (drawn shard by shard), or of the first n rows of outputs."""
    from .blackbox import describe_batch
    from .diagnosis import embed_set

    if isinstance(source, np.ndarray):
        rows = source[:n]
        return np.concatenate(
            [describe_batch(descriptor, rows[s : s + shard_size], len(rows[s : s + shard_size])) for s in
             range(0, len(rows), shard_size)]
        )  # fmt: skip
    return embed_set(source, descriptor, n=n, seed=seed, stream=stream, shard_size=shard_size)


def add_metrics(report, args, config, sampler, descriptor, reference):
    """``report`` with ``metrics``: :func:`bbcollapse.compute_metrics` on fresh samples (stream 3) and the reference."""
    from .blackbox import identity_of
    from .metrics import compute_metrics

    n = args.metrics_n or min(config.n_samples, METRICS_N)
    kw = dict(n=n, seed=config.seed, shard_size=config.shard_size)
    samples = metric_features(sampler, descriptor, stream=METRICS_STREAM, **kw)
    ref = None if reference is None else metric_features(reference, descriptor, stream=REFERENCE_STREAM, **kw)
    options = {"birthday": {"radius": config.r, "batch_size": max(2, min(500, n // 4))}}
    results = compute_metrics(
        args.metrics,
        reference=ref,
        samples=samples,
        features=identity_of(descriptor),
        seed=config.seed,
        options={k: v for k, v in options.items() if k in args.metrics},
    )
    return replace(report, metrics={name: result.as_dict() for name, result in results.items()})


def finish(report, args, config, sampler, descriptor, reference):
    """Where theta and r came from, metrics and images after the diagnosis; returns (report, images or None)."""
    report = replace(report, theta_r_source=getattr(args, "theta_r_source", None))
    if args.metrics:
        report = add_metrics(report, args, config, sampler, descriptor, reference)
    if not args.images:
        return report, None
    from .commands import report_images
    from .diagnosis.plots import save_montages

    images = report_images(report, sampler, progress=False if args.quiet else None)
    save_montages(report, images, args.images)
    return report, images
