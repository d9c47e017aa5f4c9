# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. Training-time remedies on the 2-D ring and grid, and what mode counts miss
#
# ```{admonition} Claims
# * **Seed 004 (InvertGAN), Table 1.** On the 2-D ring (8 modes) and grid (25 modes), InvertGAN
#   covers every mode (8.0 ± 0.0 and 25.0 ± 0.0), with quality near 99% and the lowest reverse KL
#   (0.17 ring, 0.26 grid) of GAN, BiGAN, Unrolled GAN, VEEGAN and InvertGAN (5 runs, 24K mini-batches).
# * **Seed 002 (PGMGAN), Table 1.** On Stacked MNIST (1,000 modes) GAN finds 133.4 modes, PacGAN2
#   and PGMGAN all 1,000, with reverse KL 2.97, 0.06 and 0.02.
# * **Paper 000 (section 1).** Metrics that count modes miss *intra*-mode collapse; MCCS of the
#   worst-case mode does not.
# ```
#
# The remedies are those of {cite}`anon_invertgan` and {cite}`armandpour2021partition`; the
# diagnosis is that of {cite}`wu2021blackbox`. Every method here is a small batched torch MLP of
# the library (`bbcollapse.lab.toy_gans`, `toy_pgm`), written from the papers' objectives, trained
# several seeds at a time, cached by a hash of its configuration. The 2-D world has exact ground
# truth: the mixture is known, so a mode's collapse can be planted and measured exactly. Code cells
# are folded: click one to unfold it.

# %% tags=["parameters", "hide-input"]
SCALE = "default"
RESULTS_DIR = "data/results"
CACHE_DIR = "data/cache"

# %% tags=["hide-input"]
import time
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from bbcollapse.lab.classifier import lab_classifier
from bbcollapse.lab.config import descriptor_configs
from bbcollapse.lab.data import load_fashion_mnist
from bbcollapse.lab.ring2d import VARIANTS, PlantedIntraMode, RandomFourierFeatures, benchmark
from bbcollapse.lab.toy_core import METHODS, ToyConfig
from bbcollapse.lab.toy_stacked import label_stacked, score_stacked_model, stack_images, stacked_scores, stacked_triples
from bbcollapse.lab.toy_study import (
    SEED002_STACKED_MNIST,
    SEED004_TABLE1,
    intra_mode_report,
    mean_sd,
    score_model,
    summarise_scores,
)
from bbcollapse.lab.toy_train import train_many
from notebooks._book import at_scale, markdown_table, paper_vs_ours, say, write_results

STEPS, SEEDS, PARTITION_STEPS, N_EVAL, RUN_VARIANTS, BENCHMARKS = at_scale(
    SCALE,
    {  # N_EVAL None: the seed's 50K (ring) / 100K (grid) scored samples
        "smoke": (5, (0, 1), 5, 1_000, ("seed004",), ("ring",)),
        "default": (1_500, (0, 1, 2), 300, None, VARIANTS, ("ring", "grid")),
        "paper": (24_000, (0, 1, 2, 3, 4), 1_000, None, VARIANTS, ("ring", "grid")),
    },
)
INTRA = at_scale(  # |A|, |S|, |T| and the metric sample for the planted series; the same for trained models
    SCALE,
    {
        "smoke": dict(planted=(100, 1_000, 1_000, 2_000), trained=(50, 500, 500, 1_000), boot=100),
        "default": dict(planted=(1_000, 50_000, 50_000, 100_000), trained=(500, 20_000, 20_000, 50_000), boot=1000),
        "paper": dict(planted=(10_000, 100_000, 100_000, 100_000), trained=(1_000, 50_000, 50_000, 100_000), boot=2000),
    },
)
STACK = at_scale(  # Stacked Fashion-MNIST: training and scoring
    SCALE,
    {
        "smoke": dict(steps=3, seeds=(0,), n_eval=200, width=32, partition_steps=3, partitions=10),
        "default": dict(steps=1_000, seeds=(0, 1), n_eval=10_000, width=256, partition_steps=100, partitions=0),
        "paper": dict(steps=20_000, seeds=(0, 1, 2, 3, 4), n_eval=26_000, width=512, partition_steps=1000,
                      partitions=0),
    },
)  # fmt: skip
# the lab classifier labels each channel: chapter 6's (the lab's table, so its cached network is read), save one
# default-scale difference: this chapter's default classifier has trained 1,500 steps, chapter 6's 2,000
CLASSIFIER = descriptor_configs(SCALE)[1]
CLASSIFIER = replace(CLASSIFIER, steps=1500) if SCALE == "default" else CLASSIFIER
WORKERS = 1 if SCALE == "smoke" else 2  # processes for training (spawning costs more than smoke-scale training)
STACK_METHODS = ("gan", "pacgan", "pgmgan")
LAB_CACHE = Path(CACHE_DIR) / "lab"
PROTOTYPES = (None, 100, 30, 10, 3, 1)  # K distinct points in the collapsed mode; None = no collapse
LABEL = {"gan": "GAN", "pacgan": "PacGAN2", "bigan": "BiGAN", "unrolled": "Unrolled GAN", "veegan": "VEEGAN"}
LABEL |= {"invertgan": "InvertGAN (p-norm)", "wgan-gp": "WGAN-GP", "pgmgan": "PGMGAN-style mixture"}
CACHE = Path(CACHE_DIR) / "ring2d"
timing = {}
print(f"scale={SCALE}: {STEPS} mini-batches, seeds {SEEDS}, partitioner {PARTITION_STEPS} steps")
print(f"variants {RUN_VARIANTS}, benchmarks {BENCHMARKS}")

# %% [markdown]
# ## The benchmark, two ways
# Seed 004 §5.1 gives the ring's means as $(2\cos(i\pi/4), 2\cos(i\pi/4))$ (a typo: a ring needs
# $\sin$), standard deviations 0.001 (ring) and 0.0025 (grid), 100K training points and 50K / 100K
# scored samples. The literature it cites uses other values: the released configurations of PacGAN
# (`fjxmlzn/PacGAN`) and GDPP, and the Unrolled GAN reference notebook (`poolio/unrolled_gan`), put
# the ring at radius 1 with sd 0.01 and the grid (same means) at sd 0.05. The seed's grid sd 0.0025 is
# exactly the literature's grid *variance* $0.05^2$. Both variants run below, named `seed004` and
# `literature`; every method trains with the same settings on both.

# %% tags=["hide-input"]
rows = []
for v in VARIANTS:
    for b in BENCHMARKS:
        s = benchmark(b, v)
        rows.append(
            (v, b, s.m, f"{np.hypot(*s.means[0]):.3g}" if b == "ring" else "(2i, 2j)", s.sd, s.n_eval, s.source)
        )
display(
    markdown_table(rows, ("variant", "benchmark", "modes", "ring radius / means", "sd", "scored samples", "source"))
)

# %% [markdown]
# ## Training
# Seed 004 fixes the batch size (128), the length (24K mini-batches) and "four linear layers with
# ReLU"; the width (128), the latent dimension (2) and the optimiser (Adam, lr $10^{-3}$, betas
# (0.5, 0.999), for every network of every method) are our choices, listed with each method's own
# settings in `bbcollapse.lab.toy_core`. At this scale each run has the mini-batches printed above,
# every seed of a method is trained in one batched pass, and the runs of all methods are spread
# over two processes.

# %% tags=["hide-input"]
jobs = [
    (ToyConfig(method=m, benchmark=b, variant=v, steps=STEPS, partition_steps=PARTITION_STEPS), SEEDS)
    for v in RUN_VARIANTS
    for b in BENCHMARKS
    for m in METHODS
]
t0 = time.perf_counter()
trained = train_many(jobs, workers=WORKERS, cache_dir=CACHE, progress=True)
timing["training_s"] = time.perf_counter() - t0
models = {(c.variant, c.benchmark, c.method): ms for (c, _), ms in zip(jobs, trained)}
cpu = sum(m.seconds for ms in trained for m in ms)
print(f"{len(jobs)} runs of {len(SEEDS)} seeds: {timing['training_s']:.0f} s wall in this build (0 when cached); "
      f"the runs took {cpu:.0f} s of worker time when they were trained")  # fmt: skip

# %% tags=["hide-input"]
t0 = time.perf_counter()
table = {
    v: {
        b: {m: summarise_scores(score_model(x, n=N_EVAL) for x in models[(v, b, m)]) for m in METHODS}
        for b in BENCHMARKS
    }
    for v in RUN_VARIANTS
}
diverged = {f"{v}/{b}/{m}": sum(x.diverged for x in models[(v, b, m)]) for v, b, m in models}
timing["scoring_s"] = time.perf_counter() - t0


def cell(entry, key, nd):
    mean, sd = entry[key]
    return f"{mean:.{nd}f} ± {sd:.{nd}f}"


def table1(variant):
    out = []
    for m in METHODS:
        row = [LABEL[m]]
        for b in BENCHMARKS:
            e, paper = table[variant][b][m], SEED004_TABLE1.get(m, {}).get(b)
            for key, nd in (("modes", 1), ("quality", 1), ("reverse_kl", 2)):
                ours = cell(e, key, nd)
                row.append(ours if paper is None else f"{ours} ({paper[key][0]:.{nd}f} ± {paper[key][1]:.{nd}f})")
        out.append(row)
    head = ["method"] + [f"{b} {k}" for b in BENCHMARKS for k in ("modes", "quality %", "reverse KL")]
    return markdown_table(out, head)


# %% [markdown]
# ## Seed 004's Table 1, at the seed's standard deviations
# Mean ± sd over the seeds (sample sd) of our runs; in brackets, seed 004's Table 1 (5 runs of 24K
# mini-batches). PacGAN2, WGAN-GP and the PGMGAN-style mixture are not in the seed's table.

# %% tags=["hide-input"]
display(table1("seed004"))

# %% [markdown]
# ## The same methods at the literature's standard deviations
# Same runs, same settings, on the ring of radius 1 with sd 0.01 and the grid with sd 0.05; the
# seed's numbers are repeated in brackets for reference, although they were measured on the other
# variant.

# %% tags=["hide-input"]
if "literature" in table:
    display(table1("literature"))
else:
    say("*Not run at this scale* (the smoke build runs only the seed's variant, on the ring).")


# %% tags=["hide-input"]
def best_by_rkl(variant, bench, methods, key="reverse_kl"):
    return min(methods, key=lambda m: table[variant][bench][m][key][0])


seed_methods = tuple(SEED004_TABLE1)
verdicts = {}
for v in RUN_VARIANTS:
    for b in BENCHMARKS:
        inv = table[v][b]["invertgan"]
        verdicts[f"{v}/{b}"] = {
            "invertgan_all_modes_every_seed": inv["all_modes"] == len(SEEDS),
            "best_rkl_of_seed_methods": best_by_rkl(v, b, seed_methods),
            "best_rkl_of_all": best_by_rkl(v, b, METHODS),
            "best_normalised_rkl_of_seed_methods": best_by_rkl(v, b, seed_methods, "reverse_kl_normalised"),
        }
lines = []
for key, vd in verdicts.items():
    v, b = key.split("/")
    inv = table[v][b]["invertgan"]
    lines.append(
        f"*{key}*: InvertGAN covers every mode in {inv['all_modes']} of {len(SEEDS)} runs "
        f"(seed: all 5); the lowest reverse KL among the seed's five methods is "
        f"{LABEL[vd['best_rkl_of_seed_methods']]} (seed: InvertGAN), among all eight {LABEL[vd['best_rkl_of_all']]}; "
        f"by the reverse KL of the high-quality points alone, {LABEL[vd['best_normalised_rkl_of_seed_methods']]}."
    )
say(" ".join(lines))
say(
    "The seed's reverse KL counts low-quality points as missing mass (its $\\sum_i p_i < 1$), so a model "
    "whose points all miss the 3-sd disks scores 0, better than any imbalanced model of perfect quality; "
    "where quality is low, read the last comparison (`reverse_kl_normalised` in the results)."
)

# %% [markdown]
# ## Samples over the mode centres
# 2,000 samples of the first seed of each method (blue) and the mode centres (red crosses).

# %% tags=["hide-input"]
for v in RUN_VARIANTS:
    fig, axes = plt.subplots(2, len(METHODS), figsize=(2.1 * len(METHODS), 4.4))
    for row, b in enumerate(BENCHMARKS):
        spec = benchmark(b, v)
        lim = np.abs(spec.means).max() * 1.35
        for col, m in enumerate(METHODS):
            ax = axes[row, col]
            x = np.asarray(models[(v, b, m)][0].sampler()(123, 2_000).x)
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, color="steelblue")
            ax.scatter(spec.means[:, 0], spec.means[:, 1], marker="x", s=12, color="crimson", lw=0.8)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(LABEL[m], fontsize=8)
        axes[row, 0].set_ylabel(b)
    fig.suptitle(f"samples of seed {SEEDS[0]}, {v} variant ({STEPS} mini-batches)", fontsize=10)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Stacked Fashion-MNIST (seed 002's Stacked-MNIST protocol)
# Seed 002 stacks three MNIST digits as the RGB channels of one image (1,000 class combinations)
# and labels each channel of a generated image with a pretrained classifier. **This is
# Fashion-MNIST, not MNIST** (no MNIST ships here): three Fashion-MNIST training items per image,
# labelled channel by channel by the lab's classifier (chapter 6's recipe, read from its cache).
# The generators are MLPs (seed 002 uses SN-GAN convolutions): 3 linear layers, a sigmoid output,
# latent dimension 32, batches of 64; the PGMGAN-style mixture uses seed 002's k = 200 partitions,
# its partitioner trained on pixels (seed 002 trains it on SimCLR features). Real stacked images
# scored the same way give the floor set by the classifier's own errors.

# %% tags=["hide-input"]
t0 = time.perf_counter()
clf = lab_classifier(CLASSIFIER, cache_dir=LAB_CACHE, progress=True, threads=1)  # one thread, as chapter 6
stack_jobs = [
    (
        ToyConfig(
            method=m, benchmark="stacked-fmnist", variant="seed002", steps=STACK["steps"], batch_size=64, z_dim=32,
            width=STACK["width"], layers=3, partition_steps=STACK["partition_steps"], partitions=STACK["partitions"],
        ),
        STACK["seeds"],
    )
    for m in STACK_METHODS
]  # fmt: skip
stack_models = dict(zip(STACK_METHODS, train_many(stack_jobs, workers=WORKERS, cache_dir=CACHE, progress=True)))
stack_scores = {m: [score_stacked_model(x, clf.predict, STACK["n_eval"]) for x in ms] for m, ms in stack_models.items()}
items = load_fashion_mnist("train")[0]
real_ids = label_stacked(stack_images(items, stacked_triples(STACK["n_eval"], 2021, len(items))), clf.predict)
real_stacked = stacked_scores(real_ids)
timing["stacked_s"] = time.perf_counter() - t0
stacked = {
    "status": "run",
    "data": "Fashion-MNIST (not MNIST), three training items per image",
    "classifier": repr(clf),
    "steps": STACK["steps"],
    "seeds": list(STACK["seeds"]),
    "n_eval": STACK["n_eval"],
    "methods": {
        m: {"modes": mean_sd([s.modes for s in sc]), "reverse_kl": mean_sd([s.reverse_kl for s in sc]),
            "per_seed": [(s.modes, s.reverse_kl) for s in sc]}
        for m, sc in stack_scores.items()
    },
    "real_data": {"modes": real_stacked.modes, "reverse_kl": real_stacked.reverse_kl},
}  # fmt: skip
rows = [("real stacked images", f"{real_stacked.modes}", f"{real_stacked.reverse_kl:.3f}", "—", "—")]
for m in STACK_METHODS:
    e, p = stacked["methods"][m], SEED002_STACKED_MNIST[m]
    rows.append(
        (LABEL[m], f"{e['modes'][0]:.1f} ± {e['modes'][1]:.1f}", f"{e['reverse_kl'][0]:.3f} ± {e['reverse_kl'][1]:.3f}",
         f"{p[0][0]:g} ± {p[0][1]:g}", f"{p[1][0]:g} ± {p[1][1]:g}")
    )  # fmt: skip
display(
    markdown_table(
        rows, ("Stacked Fashion-MNIST", "modes (of 1000)", "reverse KL", "seed 002 modes (MNIST)", "seed 002 RKL")
    )
)
print(f"{STACK['n_eval']} images scored per run; {STACK['steps']} mini-batches; seeds {STACK['seeds']}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(STACK_METHODS), 8, figsize=(8, 1.1 * len(STACK_METHODS)))
for row, m in enumerate(STACK_METHODS):
    imgs = np.asarray(stack_models[m][0].sampler()(5, 8).x)
    for col in range(8):
        axes[row, col].imshow(np.transpose(imgs[col], (1, 2, 0)))
        axes[row, col].axis("off")
    axes[row, 0].set_title(LABEL[m], fontsize=7, loc="left")
fig.suptitle("generated stacked Fashion-MNIST images (the three channels as RGB)", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Intra-mode collapse, where the truth is exact
# A generator can cover every mode with the right weights and still collapse *inside* one.
# `PlantedIntraMode` draws every mode with its true weight, but mode 0 emits only K prototypes
# (a stratified sample of the mode, so it keeps the mode's radial profile) plus 0.1 sd of jitter.
# The descriptor is `RandomFourierFeatures`: normalised random Fourier features whose cosine
# approximates the Gaussian kernel $\exp(-|x-y|^2 / 2\ell^2)$, with $\ell$ = sd / 4 (so r = 0.25
# selects neighbours within about 0.2 sd, and a mode holds many distinguishable "identities").
# $I_w$ is selected on a sample S and MCCS($I_w$) (code form, $\theta = 0.3$) is scored on a fresh
# T with a bootstrap interval; seed 004's metrics come with bootstrap intervals too.

# %% tags=["hide-input"]
t0 = time.perf_counter()
n_a, n_s, n_t, n_eval = INTRA["planted"]
planted = {}
for b in BENCHMARKS:
    spec = benchmark(b, "seed004")
    desc = RandomFourierFeatures(spec.sd / 4, dim=256, seed=1)
    planted[b] = [
        dict(
            prototypes=k,
            **intra_mode_report(
                PlantedIntraMode(spec, k), spec, desc, n_eval=n_eval, n_anchors=n_a, n_select=n_s, n_score=n_t,
                n_boot=INTRA["boot"], seed=11,
            ),
        )
        for k in PROTOTYPES
    ]  # fmt: skip
timing["planted_s"] = time.perf_counter() - t0


def ci(v, nd=3, scale=1.0):
    return f"{scale * v[0]:.{nd}f} [{scale * v[1]:.{nd}f}, {scale * v[2]:.{nd}f}]"


for b in BENCHMARKS:
    display(
        markdown_table(
            [
                (
                    "none (truth)" if r["prototypes"] is None else r["prototypes"],
                    ci(r["modes"], 0),
                    ci(r["quality"], 2, 100),
                    ci(r["reverse_kl"], 4),
                    f"{r['spread'][0]:.2f}",
                    ci(r["mccs_worst"]),
                    r["worst_mode"],
                )
                for r in planted[b]
            ],
            (
                f"{b}: K in mode 0",
                "modes",
                "quality %",
                "reverse KL",
                "spread of mode 0",
                "MCCS(I_w) on T",
                "I_w's mode",
            ),
        )
    )

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for b, mk in zip(BENCHMARKS, ("o", "s")):
    ks = [r["prototypes"] or 1e4 for r in planted[b]]
    mc = np.array([r["mccs_worst"] for r in planted[b]])
    q = np.array([r["quality"] for r in planted[b]])
    axes[0].errorbar(ks, 100 * q[:, 0], yerr=100 * np.abs(q[:, 1:].T - q[:, 0]), marker=mk, label=f"{b} quality %")
    axes[1].errorbar(ks, mc[:, 0], yerr=np.abs(mc[:, 1:].T - mc[:, 0]), marker=mk, label=f"{b} MCCS($I_w$)")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("prototypes K in the collapsed mode (10^4 = no collapse)")
    ax.legend(fontsize=8)
axes[0].set_title("seed 004's quality: flat")
axes[1].set_title("MCCS of the worst case, selected on S, scored on T")
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
intra_claim = {}
for b in BENCHMARKS:
    truth, worst = planted[b][0], planted[b][-1]
    moved = [r["prototypes"] for r in planted[b][1:] if r["mccs_worst"][1] > truth["mccs_worst"][2]]
    metrics_flat = all(
        r["modes"][0] == truth["modes"][0] and abs(r["reverse_kl"][0] - truth["reverse_kl"][0]) < 0.01
        and abs(r["quality"][0] - truth["quality"][0]) < 0.005 for r in planted[b]
    )  # fmt: skip
    intra_claim[b] = {"metrics_flat": metrics_flat, "mccs_separates_K": moved}
    say(
        f"*{b}*: modes covered stay at {truth['modes'][0]:.0f} and quality and reverse KL move by less than 0.5 "
        f"points and 0.01 ({'true' if metrics_flat else 'FALSE'} for every K), while MCCS($I_w$) rises from "
        f"{truth['mccs_worst'][0]:.3f} (no collapse) to {worst['mccs_worst'][0]:.3f} (K = 1); its interval clears "
        f"the healthy generator's for K in {moved}. Mode 0's spread (an exact, truth-based measure) sees K = 1 "
        f"({worst['spread'][0]:.2f}) but not the larger K, whose prototypes are spread like the truth."
    )

# %% [markdown]
# ## Do the trained methods collapse inside a mode?
# The same diagnosis on the first seed of every method and on the true mixture (the reference),
# at the seed's standard deviations; a method whose runs cover every mode but whose MCCS($I_w$)
# interval lies above the truth's is collapsing inside a mode.

# %% tags=["hide-input"]
t0 = time.perf_counter()
n_a, n_s, n_t, n_eval = INTRA["trained"]
trained_intra = {}
for v in RUN_VARIANTS:
    for b in BENCHMARKS:
        spec = benchmark(b, v)
        desc = RandomFourierFeatures(spec.sd / 4, dim=256, seed=1)
        kw = dict(n_eval=n_eval, n_anchors=n_a, n_select=n_s, n_score=n_t, n_boot=INTRA["boot"], seed=13)
        rep = {"truth": intra_mode_report(PlantedIntraMode(spec), spec, desc, **kw)}
        for m in METHODS:
            rep[m] = intra_mode_report(models[(v, b, m)][0].sampler(), spec, desc, **kw)
        trained_intra[f"{v}/{b}"] = rep
timing["trained_intra_s"] = time.perf_counter() - t0

rows, flagged = [], []
for key, rep in trained_intra.items():
    truth_hi = rep["truth"]["mccs_worst"][2]
    for m in ("truth", *METHODS):
        r = rep[m]
        full = r["modes"][0] == benchmark(*key.split("/")[::-1]).m
        inside = m != "truth" and full and r["mccs_worst"][1] > truth_hi
        if inside:
            flagged.append(f"{LABEL[m]} ({key})")
        rows.append(
            (key, "true mixture" if m == "truth" else LABEL[m], f"{r['modes'][0]:.0f}", f"{100 * r['quality'][0]:.1f}",
             f"{r['reverse_kl'][0]:.3f}", f"{np.nanmin(r['spread']):.2f}", ci(r["mccs_worst"]),
             "yes" if inside else "")
        )  # fmt: skip
display(
    markdown_table(
        rows,
        ("variant/benchmark", "model", "modes", "quality %", "reverse KL", "min spread", "MCCS(I_w) on T", "inside?"),
    )
)
say(
    "Runs that cover every mode yet whose MCCS($I_w$) interval lies above the true mixture's: "
    + (", ".join(flagged) if flagged else "none at this scale")
    + ". (A low quality or missing modes is mode-level failure, which seed 004's metrics already see.)"
)

# %% [markdown]
# ## Summary and comparison with the papers

# %% tags=["hide-input"]
timing["total_s"] = sum(timing.values())
result = {
    "scale": SCALE,
    "steps": STEPS,
    "seeds": list(SEEDS),
    "partition_steps": PARTITION_STEPS,
    "methods": list(METHODS),
    "table1": table,
    "verdicts": verdicts,
    "diverged": diverged,
    "seed004_table1": SEED004_TABLE1,
    "stacked_fashion_mnist": stacked,
    "seed002_stacked_mnist": SEED002_STACKED_MNIST,
    "intra_planted": planted,
    "intra_planted_claim": intra_claim,
    "intra_trained": trained_intra,
    "intra_trained_flagged": flagged,
    "descriptor": "RandomFourierFeatures(lengthscale = sd / 4, dim = 256, seed = 1)",
    "timing": timing,
}
path = write_results(RESULTS_DIR, "09_remedies", result)

# %% tags=["hide-input"]
inv_s = table["seed004"]
display(
    paper_vs_ours(
        [
            (
                "InvertGAN modes, ring / grid (Table 1, seed 004)",
                "8.0 ± 0.0 / 25.0 ± 0.0",
                " / ".join(
                    cell(inv_s[b]["invertgan"], "modes", 1) if b in inv_s else f"{b} not run at this scale"
                    for b in ("ring", "grid")
                ),
                "agrees" if all(verdicts[f"seed004/{b}"]["invertgan_all_modes_every_seed"] for b in BENCHMARKS)
                else "does NOT agree at this scale",
            ),
            (
                "lowest reverse KL of the five, ring / grid",
                "InvertGAN / InvertGAN",
                " / ".join(LABEL[verdicts[f"seed004/{b}"]["best_rkl_of_seed_methods"]] for b in BENCHMARKS),
                "agrees" if all(verdicts[f"seed004/{b}"]["best_rkl_of_seed_methods"] == "invertgan" for b in BENCHMARKS)
                else "does NOT agree at this scale",
            ),
            (
                "Stacked MNIST modes, GAN / PacGAN2 / PGMGAN (seed 002); ours on Stacked Fashion-MNIST",
                "133.4 / 1000 / 1000",
                " / ".join(f"{stacked['methods'][m]['modes'][0]:.0f}" for m in STACK_METHODS)
                + f" (real stacked images: {real_stacked.modes})",
                "ordering GAN < PacGAN2, PGMGAN "
                + ("holds" if stacked["methods"]["gan"]["modes"][0]
                   < min(stacked["methods"][m]["modes"][0] for m in ("pacgan", "pgmgan")) else "does NOT hold"),
            ),
            (
                "Stacked MNIST reverse KL, GAN / PacGAN2 / PGMGAN",
                "2.97 / 0.06 / 0.02",
                " / ".join(f"{stacked['methods'][m]['reverse_kl'][0]:.3f}" for m in STACK_METHODS)
                + f" (real: {real_stacked.reverse_kl:.3f})",
                "PGMGAN lowest: "
                + ("yes" if min(STACK_METHODS, key=lambda m: stacked["methods"][m]["reverse_kl"][0]) == "pgmgan"
                   else "no"),
            ),
            (
                "metrics counting modes miss intra-mode collapse; MCCS does not (paper 000)",
                "claimed (faces)",
                "; ".join(f"{b}: metrics flat {c['metrics_flat']}, MCCS separates K in {c['mccs_separates_K']}"
                          for b, c in intra_claim.items()),
                "agrees" if all(c["metrics_flat"] and c["mccs_separates_K"] for c in intra_claim.values())
                else "does NOT agree",
            ),
        ]
    )
)  # fmt: skip
