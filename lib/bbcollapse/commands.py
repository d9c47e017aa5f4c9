"""The subcommands ``calibrate``, ``serve`` and ``choose-theta`` of the ``bbcollapse`` command line.

Each subcommand is a pair: ``add_<name>_parser(subparsers)`` declares its options and
``run_<name>(args, sampler, descriptor)`` runs it on a sampler and descriptor already resolved from
their SPECs by :mod:`bbcollapse.cli` (this module does not import the CLI; :func:`run` takes its
resolvers).  They implement the user's loop of paper 000, section 3: diagnose (Sec. 3.1), decide,
calibrate (Sec. 3.2), save, serve.

* ``calibrate`` fits a calibrator towards the worst case I_w of a ``report.json``, saves the
  calibrated sampler to ``--out`` (``--sampler calibrated:OUT`` then names it), and diagnoses both
  models on fresh samples of equal size: ``before/`` and ``after/`` (each a report with its figures
  and HTML page), ``comparison.json`` (old I_w's MCCS and neighbour mass before and after, with
  bootstrap intervals and p-values; (mu, sigma) likewise) and ``before_after.png``;
* ``serve`` exposes any sampler over the HTTP protocol of :class:`~bbcollapse.HttpGenerator`;
* ``choose-theta`` applies the documented rule for theta (Eq. 3) and r (Eq. 5)
  (:func:`bbcollapse.stats.choose_theta_r`) to any sampler and descriptor, with
  identity-preserving views from the user's augmentation or, for images, mirror and small shifts.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._progress import progress_bar
from ._validation import check_int
from .blackbox import BlackBoxError, describe_batch, identity_of, sample_batch, shard_seed
from .calibration.api import METHODS, calibrate, calibration_target, redraw
from .calibration.persist import CALIBRATED, calibrated_descriptor_spec, load_calibrated, save_calibrated
from .diagnosis import ANCHOR_STREAM, SAMPLE_STREAM, DiagnoseConfig, Report, diagnose
from .diagnosis.html import image_batch
from .diagnosis.jsonfile import write_json
from .distance import distance_from_cos, unit
from .provenance import theta_r_provenance
from .store import EmbeddingStore, StoreConfigError

__all__ = [
    "COMMANDS",
    "add_calibrate_parser",
    "add_choose_theta_parser",
    "add_parsers",
    "add_serve_parser",
    "advertised_theta_r",
    "choose_theta",
    "image_views",
    "report_images",
    "run",
    "run_calibrate",
    "run_choose_theta",
    "run_serve",
]

#: random anchors whose curves the before/after reports keep (40: enough for a pointwise band at 0.05)
N_RANDOM = 40
#: views embedded per descriptor call by :func:`choose_theta`
VIEW_BATCH = 256


def error(message: str, status: int) -> int:
    print(f"bbcollapse: error: {message}", file=sys.stderr)
    return status


#: subcommand -> (one-line help, description)
TEXTS = {
    "calibrate": (
        "calibrate a model towards a report's worst case I_w; save it and diagnose it before/after",
        "Fit a calibrator (paper 000, Sec. 3.2) towards the worst case I_w of --report, save the calibrated sampler "
        "to --out (then --sampler calibrated:OUT names it), and diagnose the original and the calibrated model on "
        "fresh samples of equal size (OUT/before, OUT/after, OUT/comparison.json).",
    ),
    "serve": (
        "serve a sampler (calibrated or not) over HTTP, in the protocol --sampler http://... consumes",
        "POST latents (n, L) as .npy or JSON to /generate, receive outputs (n, ...). Bound to 127.0.0.1 unless "
        "--host says otherwise.",
    ),
    "choose-theta": (
        "theta and r for your descriptor: r from identity-preserving views, theta from different samples",
        "r = q_same quantile of distances between a sample and its views (mirror and small shifts for images, or "
        "--views MODULE:FUNCTION); theta = max(r, q_diff quantile of distances between samples).",
    ),
}


def command_parser(sub, name: str, *, descriptor: bool = True):
    """The subparser ``name`` (its texts from :data:`TEXTS`) with the model options of :func:`add_model_options`."""
    help_text, description = TEXTS[name]
    p = sub.add_parser(name, help=help_text, description=description)
    add_model_options(p, descriptor=descriptor)
    return p


def add_model_options(p: argparse.ArgumentParser, *, descriptor: bool = True) -> None:
    """--sampler (and --descriptor), --latent-dim, --timeout, --http-format: as ``bbcollapse diagnose`` has them."""
    p.add_argument(
        "--sampler",
        required=True,
        metavar="SPEC",
        help="the generator: a built-in (synthetic[:opts], faces), onnx:FILE, cmd:COMMAND, http(s)://URL or "
        "calibrated:DIR",
    )
    if descriptor:
        p.add_argument(
            "--descriptor",
            metavar="SPEC",
            help="maps outputs to unit vectors (default: the subject's own, the one a calibrated:DIR recorded, "
            "else identity)",
        )
    p.add_argument("--latent-dim", type=int, help="latent dimension L of an ONNX/command/HTTP generator")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per command run or HTTP request (default 300)")
    p.add_argument("--http-format", choices=("npy", "json"), default="npy", help="body format for http:// specs")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary")


def report_images(report: Report, sampler, *, progress=None) -> dict | None:
    """Images of I_w, its nearest samples and the distinct modes, re-drawn from ``sampler``.

    Returns
    -------
    ``{"worst": (H, W, 3), "nearest": (k, H, W, 3), "modes": (p, H, W, 3)}`` uint8, or None when the
    outputs are not images.
    """
    c = report.config
    anchors = np.concatenate([[report.worst], np.asarray(report.modes)]).astype(np.int64)
    near = np.asarray(report.nearest_index, dtype=np.int64)
    near = near[near >= 0]

    def draw(stream, index, n_total):
        opts = dict(seed=c["seed"], shard_size=c["shard_size"], progress=progress)
        return redraw(sampler, stream=stream, index=index, n_total=n_total, **opts)[1]

    xa = image_batch(draw(ANCHOR_STREAM, anchors, c["n_anchors"]))
    if xa is None:
        return None
    out = {"worst": xa[0], "modes": xa[1:], "nearest": np.zeros((0, *xa.shape[1:]), np.uint8)}
    if len(near):
        out["nearest"] = image_batch(draw(SAMPLE_STREAM, near, c["n_samples"]))
    return out


# -- calibrate ------------------------------------------------------------------------------
def add_calibrate_parser(sub) -> argparse.ArgumentParser:
    p = command_parser(sub, "calibrate")
    p.add_argument("--report", required=True, metavar="FILE", help="report.json of the diagnosis (or its directory)")
    p.add_argument("--method", choices=sorted(METHODS), default="rejection", help="calibrator (default rejection)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the calibrated sampler and reports")
    p.add_argument("--r0", type=float, help="neighbour radius of I_w's region (default: the report's r)")
    p.add_argument("--fit", type=int, default=10_000, metavar="N", help="fitting samples (default 10000)")
    p.add_argument("--clusters", type=int, default=100, metavar="K", help="K of gmm/voronoi (default 100)")
    p.add_argument("--budget", type=int, default=10_000_000, metavar="CALLS", help="most generator calls (default 1e7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fit (default 0)")
    p.add_argument(
        "--eval-seed",
        type=int,
        help="seed of the fresh before/after samples (default: the report's seed + 1, so they are new samples)",
    )
    p.add_argument("--no-eval", action="store_true", help="save the calibrated sampler only; no before/after")
    return p


def fresh_config(report: Report, eval_seed: int | None) -> DiagnoseConfig:
    """The report's configuration on a new seed (fresh A and C), with enough random anchors for a band."""
    cfg = DiagnoseConfig.from_json(report.config)
    seed = cfg.seed + 1 if eval_seed is None else eval_seed
    return replace(cfg, seed=seed, n_random=max(cfg.n_random, min(N_RANDOM, cfg.n_anchors)))


def diagnose_into(sampler, descriptor, config, directory: Path, progress) -> tuple[Report, Path]:
    """Diagnose into ``directory`` (report.json) through a resumable store; returns the report and store."""
    key = hashlib.sha256(f"{identity_of(sampler)}|{identity_of(descriptor)}".encode()).hexdigest()[:12]
    store = directory / f"store-{key}"  # one per model: a rerun resumes, another model never mixes in
    report = diagnose(sampler, descriptor, config=config, store=store, progress=progress)
    report.save(directory, figures=False)
    return report, store


def save_html(report: Report, sampler, directory: Path, progress) -> Path:
    """Figures and ``report.html`` in ``directory``, with montages when the outputs are images."""
    return report.save(directory, images=report_images(report, sampler, progress=progress)).parent / "report.html"


def pool_of(sampler, descriptor, store: Path, config: DiagnoseConfig) -> tuple[np.ndarray, np.ndarray]:
    """(anchors (m, D), samples (n, D)) of a diagnosis, read back from its store (nothing is sampled)."""
    source = dict(sampler=sampler, descriptor=descriptor, seed=config.seed, shard_size=config.shard_size)
    pool = []
    for sub, stream, n in (("anchors", ANCHOR_STREAM, config.n_anchors), ("samples", SAMPLE_STREAM, config.n_samples)):
        with EmbeddingStore(store / sub, stream=stream, progress=False, **source) as st:
            pool.append(st.embeddings(n))
    return pool[0], pool[1]


def compare(target, pools, config: DiagnoseConfig) -> dict:
    """:func:`bbcollapse.diagnosis.compare_models` of the two fresh pools, plus the old I_w's mass within r0.

    Parameters
    ----------
    target : the CalibrationTarget (I_w's embedding, r0)
    pools : ((anchors, samples) of the original model, (anchors, samples) of the calibrated one)
    config : the configuration both pools were diagnosed with
    """
    from .diagnosis import compare_models
    from .neighbors import neighbor_stats

    out = compare_models(*pools, worst=target.embeddings[0], config=config).to_dict()
    mass = [neighbor_stats(target.embeddings[:1], c, radii=(target.r0,), progress=False).counts[0, 0] for _, c in pools]
    out["old_worst_mass"] = {"before": int(mass[0]) / config.n_samples, "after": int(mass[1]) / config.n_samples}
    out.update(r0=target.r0, seed=config.seed)
    return out


def plot_before_after(before: Report, after: Report, comparison: dict, path: Path) -> None:
    """``before_after.png``: MCCS of every anchor before and after, and the old I_w's MCCS with intervals."""
    from .diagnosis.plots import pyplot

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.histogram_bin_edges(np.concatenate([before.mccs, after.mccs]), bins=40)
    ax1.hist(before.mccs, bins=bins, alpha=0.6, label=f"original: mu {before.mu:.3f}, sigma {before.sigma:.3f}")
    ax1.hist(after.mccs, bins=bins, alpha=0.6, label=f"calibrated: mu {after.mu:.3f}, sigma {after.sigma:.3f}")
    ax1.set_xlabel("MCCS of each anchor (fresh anchors and samples)")
    ax1.set_ylabel("anchors")
    ax1.legend(frameon=False, fontsize=8)
    d = comparison["old_worst"]
    for x, side, colour in ((0, "before", "tab:blue"), (1, "after", "tab:orange")):
        ci = d[side]
        err = [[ci["estimate"] - ci["lo"]], [ci["hi"] - ci["estimate"]]]
        ax2.errorbar([x], [ci["estimate"]], yerr=err, fmt="o", color=colour, capsize=6)
    ax2.set_xticks([0, 1], ["original", "calibrated"])
    ax2.set_xlim(-0.6, 1.6)
    ax2.set_ylabel("MCCS of the old I_w (95% bootstrap interval)")
    lo, hi = d["difference_ci"]
    ax2.set_title(f"difference {d['difference']:+.4f} [{lo:+.4f}, {hi:+.4f}], p = {d['p_value']:.3g}")
    fig.tight_layout()
    with atomic_path(path) as tmp:  # never a half-written figure beside the saved sampler
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def run_calibrate(args, sampler, descriptor) -> int:
    """``bbcollapse calibrate``: fit, save, reload, and diagnose before/after on fresh samples."""
    progress = False if args.quiet else None
    out = Path(args.out)
    try:
        target = calibration_target(args.report, sampler, descriptor, r0=args.r0)
        report = Report.load(args.report)
        cal = calibrate(
            sampler,
            descriptor,
            target,
            method=args.method,
            n_fit=args.fit,
            n_clusters=args.clusters,
            max_generator_calls=args.budget,
            seed=args.seed,
            progress=progress,
        )
        config = fresh_config(report, args.eval_seed)
    except (ValueError, TypeError, OSError) as exc:
        return error(str(exc), 2)
    except BlackBoxError as exc:
        return error(str(exc), 1)
    dspec = getattr(args, "descriptor_spec", None) or args.descriptor
    save_calibrated(
        cal,
        out,
        sampler_spec=args.sampler,
        descriptor_spec=dspec,
        latent_dim=args.latent_dim,
        target=target,
        extra={"report": str(args.report), "fit_seed": args.seed},
    )
    loaded = load_calibrated(out, model=sampler, descriptor=descriptor)  # evaluate what was saved
    if not args.quiet:
        print(
            f"fitted {cal.method} on {cal.fit_generator_calls} samples in {cal.fit_seconds:.1f} s; "
            f"expected acceptance {cal.expected_acceptance:.4f}"
        )
        print(f"saved to {out} (use --sampler {CALIBRATED}{out})")
    if args.no_eval:
        return 0
    try:
        before, store_b = diagnose_into(sampler, descriptor, config, out / "before", progress)
        after, store_a = diagnose_into(loaded, descriptor, config, out / "after", progress)
        cost = loaded.report()  # what sampling the calibrated model cost in this run
        save_html(before, sampler, out / "before", progress)
        save_html(after, loaded, out / "after", progress)
    except (StoreConfigError, ValueError) as exc:
        return error(str(exc), 2)
    except BlackBoxError as exc:
        return error(str(exc), 1)
    pools = (pool_of(sampler, descriptor, store_b, config), pool_of(loaded, descriptor, store_a, config))
    comparison = compare(target, pools, config)
    comparison["calibration"] = cost.as_dict()
    write_json(out / "comparison.json", comparison)
    plot_before_after(before, after, comparison, out / "before_after.png")
    if not args.quiet:
        print(comparison_text(comparison))
    return 0


def comparison_text(c: dict) -> str:
    """A few lines: the old I_w before and after, the new worst case, (mu, sigma), the cost."""

    def row(name: str, label: str) -> str:
        d = c[name]
        lo, hi = d["difference_ci"]
        return (
            f"  {label:<9} {d['before']['estimate']:.4f} -> {d['after']['estimate']:.4f}  "
            f"(difference {d['difference']:+.4f}, 95% [{lo:+.4f}, {hi:+.4f}], p = {d['p_value']:.3g})"
        )

    m, cal = c["old_worst_mass"], c["calibration"]
    cost = (
        f"acceptance {cal['acceptance_rate']:.4f} (expected {cal['expected_acceptance']:.4f}), "
        f"{cal['generator_calls_per_sample']:.3f} generator calls per sample"
        if cal["proposed"]
        else "nothing sampled in this run (the samples were read back from the stores)"
    )
    return "\n".join(
        [
            f"fresh samples (seed {c['seed']}), |A|={c['n_anchors']} |C|={c['n_samples']} for each model:",
            row("old_worst", "old I_w") + f"; mass within r0 {m['before']:.4f} -> {m['after']:.4f}",
            row("new_worst", "new I'_w"),
            row("mu", "mu"),
            row("sigma", "sigma"),
            f"  cost      {cost}",
        ]
    )


# -- serve ------------------------------------------------------------------------------------
def add_serve_parser(sub) -> argparse.ArgumentParser:
    p = command_parser(sub, "serve")  # --descriptor: whose theta and r GET / advertises
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--mode",
        choices=("auto", "generate", "transport", "batch"),
        default="auto",
        help="how posted latents become outputs (see bbcollapse.serving)",
    )
    p.add_argument("--max-request-mb", type=float, default=64.0, help="largest request body in MiB (default 64)")
    return p


def advertised_theta_r(spec: str, sampler, descriptor) -> dict | None:
    """The theta and r ``serve`` advertises in ``GET /`` (``{"theta", "r", "source", "descriptor"}``), or None.

    A calibrated:DIR model advertises those of its original diagnosis (``DIR/before/report.json``), so
    that a client diagnosing the served model compares with it; any other sampler its subject's own
    for ``descriptor`` (:func:`bbcollapse.diagnosis.defaults.subject_theta_r`).
    """
    from .blackbox import identity_of
    from .diagnosis.defaults import original_theta_r, subject_theta_r

    if descriptor is None:
        return None
    if spec.strip().lower().startswith(CALIBRATED):
        found = original_theta_r(spec.strip()[len(CALIBRATED) :])
        if found is None:
            return None
        source = "the calibrated model's original diagnosis (before/report.json)"  # no server path to clients
        return {
            "theta": found["theta"],
            "r": found["r"],
            "source": source,
            "descriptor": found["descriptor"] or identity_of(descriptor),
        }
    found = subject_theta_r(sampler, descriptor)
    return None if found is None else {**found, "descriptor": identity_of(descriptor)}


def run_serve(args, sampler, descriptor=None) -> int:
    """``bbcollapse serve``: serve until interrupted."""
    from .serving import serve

    def ready(server):
        dim = server.latent_dim
        print(f"serving {server.identity} at {server.url} (latent_dim {dim}, mode {server.mode}); Ctrl-C stops")
        print(f"diagnose it with: bbcollapse diagnose --sampler {server.url} --latent-dim {dim} ...", flush=True)

    try:
        serve(
            sampler,
            args.host,
            check_int(args.port, "--port"),
            mode=args.mode,
            max_request_bytes=int(args.max_request_mb * 2**20),
            ready=ready,
            theta_r=advertised_theta_r(args.sampler, sampler, descriptor),
        )
    except OSError as exc:
        return error(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0


# -- choose-theta -------------------------------------------------------------------------------
def image_views(x, seed: int, n_views: int = 4, max_shift: int = 2) -> np.ndarray:
    """Identity-preserving views of images: view 0 the mirror image, then shifts of up to ``max_shift`` pixels.

    Parameters
    ----------
    x : (n, ...) images in any layout :func:`~bbcollapse.diagnosis.html.image_batch` recognises
    seed : seed of the shifts
    n_views : views per image

    Returns
    -------
    (n, n_views, *x.shape[1:]) views in the layout and dtype of ``x`` (edges replicated, every other
    shifted view also mirrored)
    """
    a = np.asarray(x)
    if image_batch(a) is None:
        raise ValueError(f"outputs of shape {a.shape} are not images: pass views= (the augmentation callable)")
    hw = (1, 2) if a.ndim == 3 or a.shape[-1] in (1, 3, 4) else (2, 3)  # the axes of height and width
    rng = np.random.default_rng(seed)
    out = np.empty((a.shape[0], n_views, *a.shape[1:]), a.dtype)
    pad = [(0, 0)] * a.ndim
    pad[hw[0]] = pad[hw[1]] = (max_shift, max_shift)
    padded = np.pad(a, pad, mode="edge")
    h, w = a.shape[hw[0]], a.shape[hw[1]]
    for v in range(n_views):
        if v == 0:
            out[:, 0] = np.flip(a, axis=hw[1])
            continue
        dy, dx = rng.integers(0, 2 * max_shift + 1, size=2)
        view = np.take(np.take(padded, np.arange(dy, dy + h), axis=hw[0]), np.arange(dx, dx + w), axis=hw[1])
        out[:, v] = np.flip(view, axis=hw[1]) if v % 2 == 0 else view
    return out


def choose_theta(
    sampler,
    descriptor,
    *,
    n: int = 300,
    views=None,
    n_views: int = 4,
    seed: int = 0,
    q_same: float = 0.95,
    q_diff: float = 0.05,
    progress: bool | None = None,
):
    """theta (Eq. 3) and r (Eq. 5) for a sampler and descriptor, by the documented rule.

    ``r`` is the ``q_same`` quantile of distances between a sample and its identity-preserving
    views; ``theta`` is ``max(r, q_diff quantile of distances between different samples)``
    (:func:`bbcollapse.stats.choose_theta_r`, which also reports the equal-error
    distance).

    Parameters
    ----------
    sampler, descriptor : the model and its descriptor
    n : samples drawn (``sampler(shard_seed(seed, 9), n)``)
    views : callable ``(x, seed) -> (n, v, ...)`` views of outputs x (n, ...), e.g. your training
        augmentation; default :func:`image_views` (mirror and shifts; images only)
    n_views : views per sample for the default
    seed : seed of the samples and views
    q_same, q_diff : the rule's quantiles

    Returns
    -------
    ThetaR
    """
    from .stats.thresholds import choose_theta_r  # the one rule, shared by every subject

    n = check_int(n, "n", minimum=5)
    batch = sample_batch(sampler, shard_seed(seed, 9), n)
    e = unit(np.asarray(describe_batch(descriptor, batch.x, n), dtype=np.float64))
    v = views(batch.x, seed) if views is not None else image_views(batch.x, seed, n_views)
    v = np.asarray(v)
    if v.ndim < 2 or v.shape[0] != n:
        raise ValueError(f"views must return (n, v, ...) = ({n}, v, ...) views; got shape {v.shape}")
    k = v.shape[1]
    flat, parts = v.reshape(n * k, *v.shape[2:]), []
    with progress_bar(progress, total=n * k, desc="embed views", unit="view") as bar:
        for s in range(0, n * k, VIEW_BATCH):
            parts.append(
                np.asarray(describe_batch(descriptor, flat[s : s + VIEW_BATCH], len(flat[s : s + VIEW_BATCH])))
            )
            bar.update(len(parts[-1]))
    ev = unit(np.concatenate(parts).astype(np.float64))
    same = distance_from_cos(np.einsum("nd,nvd->nv", e, ev.reshape(n, k, -1))).ravel()
    diff = distance_from_cos((e @ e.T)[np.triu_indices(n, 1)])
    return choose_theta_r(same, diff, q_same=q_same, q_diff=q_diff)


def load_callable(text: str):
    """``module:function`` (the user's own augmentation, importable from the current directory)."""
    module, _, name = text.partition(":")
    if not module or not name:
        raise ValueError(f"--views must be MODULE:FUNCTION (a callable (x, seed) -> (n, v, ...)); got {text!r}")
    sys.path.insert(0, str(Path.cwd()))
    try:
        fn = getattr(importlib.import_module(module), name, None)
    finally:
        sys.path.pop(0)
    if not callable(fn):
        raise ValueError(f"{text} is not a callable")
    return fn


def add_choose_theta_parser(sub) -> argparse.ArgumentParser:
    p = command_parser(sub, "choose-theta")
    p.add_argument("--n", type=int, default=300, help="samples drawn (default 300)")
    p.add_argument("--views", metavar="MODULE:FUNCTION", help="your augmentation: f(x, seed) -> (n, v, ...) views")
    p.add_argument("--n-views", type=int, default=4, help="views per sample for images (default 4)")
    p.add_argument("--q-same", type=float, default=0.95, help="quantile of same-identity distances giving r")
    p.add_argument("--q-diff", type=float, default=0.05, help="quantile of different-sample distances giving theta")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", metavar="FILE", help="also write the result and its provenance (command, commit, date)")
    return p


def run_choose_theta(args, sampler, descriptor) -> int:
    """``bbcollapse choose-theta``: print theta and r (and write them, with their provenance, as JSON with --out)."""
    import time

    start = time.perf_counter()
    try:
        views = load_callable(args.views) if args.views else None
        result = choose_theta(
            sampler,
            descriptor,
            n=args.n,
            views=views,
            n_views=args.n_views,
            seed=args.seed,
            q_same=args.q_same,
            q_diff=args.q_diff,
            progress=False if args.quiet else None,
        )
    except ValueError as exc:
        return error(str(exc), 2)
    except BlackBoxError as exc:
        return error(str(exc), 1)
    if args.out:
        doc = {"sampler": identity_of(sampler), "descriptor": identity_of(descriptor), **asdict(result)}
        write_json(args.out, {**doc, "provenance": theta_r_provenance(args, time.perf_counter() - start)})
    print(f"theta = {result.theta:.4f}   r = {result.r:.4f}")
    print(f"rule: {result.rule}")
    print(f"equal error rate {result.eer:.3f} at d = {result.eer_distance:.4f}")
    print(f"use: --theta {result.theta:.4f} --r {result.r:.4f}")
    return 0


# -- wiring into bbcollapse.cli ------------------------------------------------------------------
COMMANDS = {"calibrate": run_calibrate, "serve": run_serve, "choose-theta": run_choose_theta}


def add_parsers(sub) -> None:
    """Add the subcommands of this module to the CLI's subparsers."""
    add_calibrate_parser(sub)
    add_serve_parser(sub)
    add_choose_theta_parser(sub)


def run(args, *, resolve_sampler, resolve_descriptor, default_descriptor) -> int:
    """Resolve ``args.sampler`` (and ``args.descriptor``) with the CLI's resolvers and run ``args.command``.

    Parameters
    ----------
    args : parsed arguments of one of :data:`COMMANDS`
    resolve_sampler, resolve_descriptor, default_descriptor : ``bbcollapse.cli``'s functions
    """
    try:
        opts = dict(timeout=args.timeout, http_format=args.http_format)
        sampler = resolve_sampler(args.sampler, latent_dim=args.latent_dim, progress=False, **opts)
        descriptor = None
        if hasattr(args, "descriptor"):
            spec = args.descriptor
            if spec is None and args.sampler.strip().lower().startswith(CALIBRATED):
                spec = calibrated_descriptor_spec(args.sampler.strip()[len(CALIBRATED) :])
            args.descriptor_spec = spec = spec or default_descriptor(args.sampler)
            descriptor = resolve_descriptor(spec, **opts)
    except ValueError as exc:  # SpecError and CalibratedFileError are ValueErrors
        return error(str(exc), 2)
    return COMMANDS[args.command](args, sampler, descriptor)
