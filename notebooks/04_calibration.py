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
# # 4. Black-box calibration: what each calibrator buys and what it costs
#
# ```{admonition} Claims (paper 000, sections 3.2 and 4.4, Figs. 5 and 6; paper 001, section 5, Figs. 4-5 and appendix)
# * *GMM reshaping* (Algorithm 1) of StyleGAN/CelebAHQ-128 moves $(\mu, \sigma)$ of MCCS from
#   (0.43, 0.06) to (0.41, 0.05) and MCCS($I_w$) from 0.66 to 0.61, with FID 5.93 → 5.95 (Fig. 5).
# * *Importance sampling* (Algorithm 2) of PGGAN/FFHQ-128 moves $(\mu, \sigma)$ from (0.46, 0.07) to
#   (0.42, 0.06) and MCCS($I_w$) from 0.69 to 0.64, with FID 9.43 → 9.46 (Fig. 6).
# * Calibrating only $I_w$ also relieves the other collapsed modes (section 3.2.1); Approach #2
#   keeps image quality better than Approach #1 (section 3.2.2).
# * After calibration the mode's neighbour curve falls back towards the reference band, without
#   intensifying the new worst case (paper 001, Figs. 4-5).
# * A *white-box* counterpart (latents of $I_m$ recovered by optimisation) does not notably beat
#   the black-box one (paper 001, appendix).
# ```
#
# The claims are those of {cite}`wu2021blackbox` and its earlier version {cite}`anon_modecollapse`.
# The authors' published code never implemented either calibrator (no K-means weighting, no
# acceptance step; the convex-hull test was abandoned for a latent ball).  This chapter runs the
# first working implementation (`bbcollapse.calibration`) of every variant side by side:
#
# | variant | what it does | black-box? |
# |---|---|---|
# | `gmm` | Alg. 1 as written: sample $\sum_k w_k N(\mu_k, \Sigma)$, $w_k \propto 1/\max(\text{count}_k,1)$ | yes |
# | `voronoi` | exact Alg. 1: $z \sim N(0, I)$ accepted with prob. $\propto w_k/\pi_k$ of its K-means cell | yes |
# | `voronoi-non-mode` | the same with size-aware weights $w_k \propto n_k - \text{count}_k$ (keeps the rest) | yes |
# | `rejection-output` | exact Alg. 2: embed $G(z)$, accept w.p. $p = N(I_r)/N(I_m)$ within $r_0$ of $I_w$ | yes |
# | `rejection-ball` | Alg. 2 with the authors' latent ball (centre = mean of H, radius = min distance) | yes |
# | `rejection-hull` | Alg. 2 with the paper's $\mathrm{conv}(H)$, top 100 latents, 5% tolerance (NNLS) | yes |
# | `white-box-rejection-ball` | Alg. 2's ball around latents recovered by gradient descent (faces only) | **no** |
#
# **How each calibrator is scored.**  $I_w$ is *selected* on a selection pool of the original model
# (on the first half of its samples).  Each calibrator is then scored on two **fresh pools of equal
# size**: one drawn from the original model and one from the calibrated model
# (`bb.diagnosis.compare_models`).  On each pool we measure MCCS of the old $I_w$, the pool's own worst
# case $I'_w$ (selected on its first half, scored on its second), $(\mu, \sigma)$ and a quality
# distance to a reference sample, each with a 95% bootstrap interval, and the change *after − before*
# with its interval and p-value.  Scoring "before" on the pool that selected $I_w$ (the paper's way)
# makes any fresh "after" look like a drop: regression to the mean; the size of that bias is shown
# for each subject.
#
# Quality is a Fréchet distance {cite}`heusel2017gans` to a held-out sample of the original model, on
# the descriptor's features and, for faces, on EfficientNet-lite0 features (neither is FID: no
# Inception network runs here).  MCCS uses the authors' code form $1/(-\log_{10}\bar s)$ with
# $\theta = 0.3$, and $I_w$ is selected with $r = 0.25$ on the planted sphere, as in chapter 1.

# %% tags=["parameters", "hide-input"]
SCALE = "default"
RESULTS_DIR = "data/results"
CACHE_DIR = "data/cache"

# %% tags=["hide-input"]
import hashlib
import logging
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

import bbcollapse as bb
from bbcollapse import calibration as cal
from bbcollapse.diagnosis import compare_models, frechet_comparison
from bbcollapse.stats import Contributions, compare_mccs
from bbcollapse.subjects.synthetic import PlantedSphere
from notebooks._book import (
    at_scale,
    cached,
    face_store,
    face_theta_r,
    markdown_table,
    mc_rate,
    paper_vs_ours,
    say,
    write_results,
)

torch.set_num_threads(2)
logging.getLogger("bbcollapse").setLevel(logging.ERROR)

CFG = at_scale(
    SCALE,
    {
        "smoke": dict(A=60, C=1_500, fit=1_500, K=8, fA=30, fpool=150, fK=4, restarts=4, steps=5, hd_C=1_500, q=40),
        "default": dict(
            A=500, C=20_000, fit=20_000, K=64, fA=300, fpool=2_000, fK=16, restarts=16, steps=60, hd_C=20_000, q=199
        ),
        "paper": dict(
            A=10_000,
            C=1_000_000,
            fit=1_000_000,
            K=100,
            fA=1_000,
            fpool=20_000,
            fK=100,
            restarts=100,
            steps=300,
            hd_C=200_000,
            q=999,
        ),
    },
)
N_BOOT = {"smoke": 300, "default": 2000, "paper": 2000}[SCALE]
# Fréchet replicates: each costs a covariance and an eigenproblem, so the quality intervals are
# normal-theory (estimate +- 1.96 bootstrap s.e.); EfficientNet features (1280-D) get points only
N_BOOT_Q = {"smoke": 20, "default": 50, "paper": 100}[SCALE]
THETA, R = 0.3, 0.25
SEED = 2021
HULL_TOP, HULL_TOL = 100, 0.05
PAPER = {
    "gmm": dict(before=(0.43, 0.06), after=(0.41, 0.05), worst=(0.66, 0.61), fid=(5.93, 5.95)),
    "importance sampling": dict(before=(0.46, 0.07), after=(0.42, 0.06), worst=(0.69, 0.64), fid=(9.43, 9.46)),
}
results = {"scale": SCALE, "theta": THETA, "r": R, "config": CFG, "n_boot": N_BOOT, "paper": PAPER}
null_reasons = {}
print(f"scale={SCALE}: {CFG}; bootstrap replicates {N_BOOT} (MCCS, mu, sigma), {N_BOOT_Q} (Fréchet, normal-theory)")

# %% [markdown]
# ## Helpers: one comparison = two fresh pools
# `contributions(anchor, samples)` are an anchor's per-sample similarities (what its bootstrap resamples);
# `evaluate` runs `compare_models` on a before pool and an after pool and flattens the result into a
# row; `other_modes` compares the selection pool's other distinct modes on the same two pools.


# %% tags=["hide-input"]
def contributions(anchor, samples, theta=THETA):
    return Contributions.of(bb.similarity_contributions(anchor, samples, theta))


def flat(d):
    """A Difference as plain numbers: before/after estimates and intervals, the change, its interval, p."""
    return dict(
        before=d.before.estimate,
        before_ci=[d.before.lo, d.before.hi],
        after=d.after.estimate,
        after_ci=[d.after.lo, d.after.hi],
        change=d.estimate,
        change_ci=[d.lo, d.hi],
        p=d.p_value,
    )


def other_modes(modes, before_samples, after_samples, theta=THETA):
    """The selection pool's other distinct modes: MCCS on the fresh before and after pools."""
    return [
        flat(
            compare_mccs(contributions(m, before_samples, theta), contributions(m, after_samples, theta), n_boot=N_BOOT)
        )
        for m in modes
    ]


def evaluate(name, *, before, after, worst, modes, quality, theta=THETA, r=R, sampler=None):
    """compare_models on a fresh before pool and a fresh after pool, flattened to one row."""
    cmp = compare_models(
        before,
        after,
        worst=worst,
        quality=quality,
        theta=theta,
        r=r,
        top=5,
        k=0,
        seed=SEED,
        n_boot=N_BOOT,
        n_boot_quality=N_BOOT_Q,
    )
    row = dict(variant=name, n_anchors=cmp.n_anchors, n_samples=cmp.n_samples)
    row.update({key: flat(d) for key, d in cmp.rows().items()})
    row["other_modes"] = other_modes(modes, before[1], after[1], theta)
    if sampler is not None and hasattr(sampler, "report"):
        rep = sampler.report()
        row.update(
            acceptance_rate=rep.acceptance_rate,
            expected_acceptance=rep.expected_acceptance,
            generator_calls_per_sample=rep.generator_calls_per_sample,
            descriptor_calls_per_sample=rep.descriptor_calls_per_sample,
        )
    return row, cmp


def ci(x, nd=3):
    """'estimate [lo, hi]' of a flattened side or change."""
    return f"{x[0]:.{nd}f} [{x[1][0]:.{nd}f}, {x[1][1]:.{nd}f}]"


def bef(x, nd=3):
    return ci((x["before"], x["before_ci"]), nd)


def aft(x, nd=3):
    return ci((x["after"], x["after_ci"]), nd)


def chg(x, nd=3):
    return ci((x["change"], x["change_ci"]), nd)


def table(rows, quality_key="descriptor"):
    """Every variant side by side: each quantity before → after, and the change with its interval."""
    cells = []
    for r in rows:
        if "old_worst" not in r:
            cells.append([f"`{r['variant']}`", "not diagnosed: " + r.get("note", ""), "", "", "", "", ""])
            continue
        q = r.get(quality_key) or r.get("descriptor")
        cells.append(
            [
                f"`{r['variant']}`",
                f"{bef(r['old_worst'])} → {aft(r['old_worst'])}",
                chg(r["old_worst"]) + f", p = {r['old_worst']['p']:.3g}",
                chg(r["new_worst"]),
                f"{chg(r['mu'])} / {chg(r['sigma'])}",
                chg(q, 4),
                f"{r.get('acceptance_rate', float('nan')):.3f}",
            ]
        )
    header = [
        "variant",
        "MCCS(I_w) before → after",
        "change of MCCS(I_w)",
        "change of MCCS(I'_w)",
        "change of μ / σ",
        f"change of Fréchet ({quality_key})",
        "acceptance",
    ]
    display(markdown_table(cells, header))


def boxplot(rows, cmps, title):
    """MCCS over random anchors of the fresh before pool and of each after pool (Figs. 5-6 analogue)."""
    names = [r["variant"] for r in rows if r["variant"] in cmps]
    fig, ax = plt.subplots(figsize=(1.8 * len(names) + 1.5, 3.6))
    rng = np.random.default_rng(0)
    data, labels, pos = [], [], []
    for i, nm in enumerate(names):
        c, r = cmps[nm], next(x for x in rows if x["variant"] == nm)
        for j, rep in enumerate((c.before, c.after)):
            data.append(rep.mccs[rng.choice(len(rep.mccs), size=min(100, len(rep.mccs)), replace=False)])
            pos.append(3 * i + j)
            labels.append(("before", "after")[j])
        ow = r["old_worst"]
        ax.errorbar(
            [3 * i, 3 * i + 1],
            [ow["before"], ow["after"]],
            yerr=np.abs(np.array([ow["before_ci"], ow["after_ci"]]).T - [ow["before"], ow["after"]]),
            fmt="rx-",
            label="old $I_w$ (95% interval)" if i == 0 else None,
        )
        nw = r["new_worst"]
        ax.plot([3 * i + 1], [nw["after"]], "g+", ms=10, mew=2, label="$I'_w$ of the after pool" if i == 0 else None)
        ax.text(3 * i + 0.5, -0.08, nm, ha="center", va="top", fontsize=8, transform=ax.get_xaxis_transform())
    ax.boxplot(data, positions=pos, widths=0.7, showfliers=False)
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_ylabel("MCCS (code form)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def band_curves(worst, cmp_pools, names, *, q, theta_grid=bb.PAPER_GRID, seed=SEED):
    """Seed 001 Figs. 4-5: the old mode's neighbour curve on each pool against the band of q random anchors.

    Returns {pool name: {"curve", "band" (lo, hi), "erl p-value"}}; the reference anchors are the
    pool's own anchors (q of them, drawn at random).
    """
    out = {}
    for name, (anchors, samples) in zip(names, cmp_pools):
        pick = np.random.default_rng(seed).choice(len(anchors), size=min(q, len(anchors)), replace=False)
        ref = bb.neighbor_curves(anchors[pick], samples, grid=theta_grid)
        curve = bb.neighbor_curves(np.asarray(worst)[None, :], samples, grid=theta_grid)[0]
        band = bb.pointwise_band(ref, alpha=0.05)
        test = bb.global_envelope_test(curve, ref, alpha=0.05, kind="erl")
        out[name] = dict(curve=curve, lo=band.lo, hi=band.hi, p_value=test.p_value, reject=bool(test.reject))
    return out


def plot_band_curves(panels, title):
    """One panel per calibrator: the old I_w's curve before (red, dashed) and after (red), bands shaded."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    g = bb.PAPER_GRID
    for ax, (variant, bands) in zip(axes[0], panels.items()):
        for name, colour, ls in (("before", "0.5", "--"), ("after", "tab:blue", "-")):
            b = bands[name]
            ax.fill_between(
                g,
                np.log10(np.maximum(b["lo"], 1)),
                np.log10(np.maximum(b["hi"], 1)),
                color=colour,
                alpha=0.25,
                label=f"R_ref band, {name}",
            )
            ax.plot(
                g,
                np.log10(np.maximum(b["curve"], 1)),
                color="crimson",
                ls=ls,
                label=f"old $I_w$ {name} (ERL p = {b['p_value']:.3f})",
            )
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel("d")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("log10 N(I, T, d)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def make_calibrators(model, descriptor, *, fit_z, fit_e, mode, r0, K, seed):
    kw = dict(modes=mode, r0=r0, fit_latents=fit_z, fit_embeddings=fit_e, seed=seed)
    return {
        "gmm": cal.gmm_calibrator(model, descriptor, n_clusters=K, **kw),
        "voronoi": cal.voronoi_calibrator(model, descriptor, n_clusters=K, **kw),
        "voronoi-non-mode": cal.voronoi_calibrator(model, descriptor, n_clusters=K, weighting="non-mode", **kw),
        "rejection-output": cal.rejection_calibrator(model, descriptor, region="output", **kw),
        "rejection-ball": cal.rejection_calibrator(model, descriptor, region="ball", **kw),
        "rejection-hull": cal.rejection_calibrator(
            model, descriptor, region="hull", top_h=HULL_TOP, hull_tol=HULL_TOL, **kw
        ),
    }


def region_fraction(sampler):
    """Prior mass of a latent-region test (None, with the reason recorded, for variants without one)."""
    value = getattr(sampler, "region_fraction", None)
    return None if value is None else float(np.ravel(value)[0])


# %% [markdown]
# ## Planted collapse (D = 12): the model, its worst case, and the bias of scoring it where it was chosen
# The subject of chapter 1: outputs on $S^{11}$, 8%, 4% and 2% of them planted around three
# identities of angular radius 0.12, the rest uniform; latents $z \sim N(0, I_{14})$.  Every number
# has a ground truth: `component(z)` says which identity a latent produces, so the mass of $I_w$'s
# identity before and after calibration is *measured exactly*, not inferred from MCCS.

# %% tags=["hide-input"]
world = PlantedSphere(dim=12, masses=(0.08, 0.04, 0.02), spread=0.12, centres_seed=SEED)
A_sel, C_sel = world(bb.shard_seed(SEED, 0), CFG["A"]).x, world(bb.shard_seed(SEED, 1), CFG["C"]).x
sel = bb.diagnose_embeddings(A_sel, C_sel, theta=THETA, r=R, top=5, k=0, seed=SEED)  # select on S, score on T
I_w, modes = A_sel[sel.worst], A_sel[sel.modes[1:]]
ident = int(bb.angular_distance(I_w[None, :], world.centres).argmin())
paper_way = bb.diagnose_embeddings(A_sel, C_sel, theta=THETA, r=R, top=1, k=0, scoring="same")
fitb = world(bb.shard_seed(SEED, 2), CFG["fit"])  # the calibrators' own samples (N latents)
REF = world(bb.shard_seed(SEED, 3), CFG["C"]).x  # reference set for the quality distance
A_b = world(bb.shard_seed(SEED, 10), CFG["A"]).x  # the fresh before pool (original model)
B = world(bb.shard_seed(SEED, 11), CFG["C"])
truth_w = bb.mccs(world.mean_similarity(I_w, THETA))
mass_b = mc_rate(int(np.sum(world.component(B.z) == ident)), len(B.z), events="in_identity")
fresh_same = bb.mccs(bb.neighbor_stats(anchors=A_sel[paper_way.worst][None], samples=B.x, theta=THETA))[0]
print(
    f"I_w selected on S ({sel.n_select} samples), planted identity {ident} (mass {world.masses[ident]}); "
    f"MCCS(I_w) on T {sel.worst_mccs:.3f} [{sel.worst_ci[0]:.3f}, {sel.worst_ci[1]:.3f}], truth {truth_w:.3f}"
)
print(
    f"the paper's way: I_w selected and scored on all {len(C_sel)} samples reads {paper_way.worst_mccs:.3f}; the same "
    f"anchor on a fresh pool of the same model reads {fresh_same:.3f}: a 'drop' of "
    f"{paper_way.worst_mccs - fresh_same:+.3f} with no calibration at all"
)
results["planted_selection"] = dict(
    worst_on_T=sel.worst_mccs,
    worst_ci=list(sel.worst_ci),
    truth=truth_w,
    paper_way_selected_sample=paper_way.worst_mccs,
    paper_way_same_anchor_fresh=float(fresh_same),
    identity=ident,
    identity_mass_true=world.masses[ident],
)

# %% [markdown]
# ## Fit every calibrator on the same N latents, then score each on fresh pools

# %% tags=["hide-input"]
t0 = time.perf_counter()
cals = make_calibrators(
    world, bb.identity_descriptor, fit_z=fitb.z, fit_e=fitb.x, mode=I_w, r0=R, K=CFG["K"], seed=SEED
)
print(
    f"fitted {len(cals)} calibrators in {time.perf_counter() - t0:.1f} s; "
    f"p = N(I_r)/N(I_w) = {cals['rejection-output'].p[0]:.3f}"
)
rows, cmps, pools = [], {}, {}
for name, s in cals.items():
    t0 = time.perf_counter()
    A_a = s(bb.shard_seed(SEED, 12), CFG["A"]).x
    b = s(bb.shard_seed(SEED, 13), CFG["C"])
    seconds = time.perf_counter() - t0
    row, cmp = evaluate(
        name,
        before=(A_b, B.x),
        after=(A_a, b.x),
        worst=I_w,
        modes=modes,
        quality={"descriptor": (REF, B.x, b.x)},
        sampler=s,
    )
    row["identity_mass_before"] = mass_b
    row["identity_mass_after"] = mc_rate(int(np.sum(world.component(b.z) == ident)), len(b.z), events="in_identity")
    row["sampling_seconds"] = seconds
    rows.append(row)
    cmps[name], pools[name] = cmp, (A_a, b.x)
    ow = row["old_worst"]
    print(
        f"{name:>17}: MCCS(I_w) {bef(ow)} -> {aft(ow)}; "
        f"identity mass {mass_b['rate']:.4f} -> {row['identity_mass_after']['rate']:.4f}; "
        f"acceptance {row.get('acceptance_rate', 1.0):.3f}"
    )
results["planted"] = dict(
    dim=12,
    identity=ident,
    identity_mass_true=world.masses[ident],
    p=float(cals["rejection-output"].p[0]),
    variants=rows,
)

# %% [markdown]
# ### Table: every variant side by side (planted collapse, D = 12)
# Each cell is an estimate with its 95% bootstrap interval; a change is *significant* when its interval
# excludes 0.

# %% tags=["hide-input"]
table(rows)
boxplot(rows, cmps, "Planted collapse (D = 12): MCCS on fresh pools before / after each calibrator")
plt.show()

# %% [markdown]
# ### Seed 001 Figs. 4-5 analogue: the mode's neighbour curve against the reference band
# For GMM reshaping (Fig. 4) and importance sampling (Fig. 5): the neighbour curve of the old $I_w$ on
# the fresh before pool (dashed) and on the after pool (solid), each against the pointwise band of
# `q` random anchors of that pool, with the global ERL envelope test's p-value.

# %% tags=["hide-input"]
fig_vars = [v for v in ("gmm", "rejection-output") if v in pools]
bands_planted = {
    v: band_curves(I_w, [(A_b, B.x), pools[v]], ["before", "after"], q=min(CFG["q"], CFG["A"] - 1)) for v in fig_vars
}
plot_band_curves(
    bands_planted, "Planted collapse: old I_w against the R_ref band, before and after (cf. seed 001 Figs. 4-5)"
)
plt.show()
results["planted"]["band_tests"] = {
    v: {k: dict(p_value=b["p_value"], reject=b["reject"]) for k, b in bands.items()}
    for v, bands in bands_planted.items()
}

# %% [markdown]
# ## The same calibrators in high dimension (D = 128, latents in $R^{130}$)
# GAN latents live in 100 to 512 dimensions.  The same planted model with $D = 128$ shows what is
# left of each variant there: K-means cells no longer align with the mode's latent region, and a
# latent ball or a hull of 100 points contains essentially no fresh latent.  We report the
# measured mass of $I_w$'s identity and MCCS($I_w$) on fresh pools before and after.

# %% tags=["hide-input"]
world_hd = PlantedSphere(dim=128, masses=(0.08, 0.04, 0.02), spread=0.12, centres_seed=SEED)
A_hd = world_hd(bb.shard_seed(SEED, 20), CFG["A"]).x
S_hd = world_hd(bb.shard_seed(SEED, 21), CFG["hd_C"]).x
fit_hd = world_hd(bb.shard_seed(SEED, 22), CFG["fit"])
REF_hd = world_hd(bb.shard_seed(SEED, 23), CFG["hd_C"]).x
sel_hd = bb.diagnose_embeddings(A_hd, S_hd, theta=THETA, r=R, top=5, k=0, seed=SEED)
I_w_hd = A_hd[sel_hd.worst]
ident_hd = int(bb.angular_distance(I_w_hd[None, :], world_hd.centres).argmin())
A_hd_b = world_hd(bb.shard_seed(SEED, 25), CFG["A"]).x
B_hd = world_hd(bb.shard_seed(SEED, 26), CFG["hd_C"])
cals_hd = make_calibrators(
    world_hd, bb.identity_descriptor, fit_z=fit_hd.z, fit_e=fit_hd.x, mode=I_w_hd, r0=R, K=CFG["K"], seed=SEED
)
rows_hd = []
for name, s in cals_hd.items():
    # budget: at most ~2e5 proposals (the paper-weighted Voronoi sampler accepts ~1 in 4000 here),
    # and fewer for the hull (one NNLS per proposal); the before pool is cut to the same size
    n_hd = int(min(CFG["hd_C"] if name != "rejection-hull" else CFG["hd_C"] // 5, max(50, 2e5 * s.expected_acceptance)))
    n_a = min(CFG["A"], max(10, n_hd // 4))
    A_a = s(bb.shard_seed(SEED, 27), n_a).x
    b = s(bb.shard_seed(SEED, 24), n_hd)
    row, _ = evaluate(
        name,
        before=(A_hd_b[:n_a], B_hd.x[:n_hd]),
        after=(A_a, b.x),
        worst=I_w_hd,
        modes=A_hd[sel_hd.modes[1:]],
        quality={"descriptor": (REF_hd, B_hd.x[:n_hd], b.x)},
        sampler=s,
    )
    row["identity_mass_before"] = mc_rate(
        int(np.sum(world_hd.component(B_hd.z[:n_hd]) == ident_hd)), n_hd, events="in_identity"
    )
    row["identity_mass_after"] = mc_rate(int(np.sum(world_hd.component(b.z) == ident_hd)), n_hd, events="in_identity")
    row["region_fraction"] = region_fraction(s)
    if row["region_fraction"] is None:
        null_reasons[f"/planted_high_dim/variants/{len(rows_hd)}/region_fraction"] = (
            "no latent region: not a region test"
        )
    rows_hd.append(row)
    mb, ma = row["identity_mass_before"], row["identity_mass_after"]
    print(
        f"{name:>17} (n={n_hd}): identity mass {mb['rate']:.4f} -> {ma['rate']:.4f} "
        f"[{ma['ci95'][0]:.4f}, {ma['ci95'][1]:.4f}], MCCS(I_w) {bef(row['old_worst'])}"
        f" -> {aft(row['old_worst'])}, acceptance {row['acceptance_rate']:.3f}"
        + ("" if row["region_fraction"] is None else f", prior mass of the region {row['region_fraction']:.4f}")
    )
results["planted_high_dim"] = dict(
    dim=128, identity=ident_hd, identity_mass_true=world_hd.masses[ident_hd], variants=rows_hd
)
table(rows_hd)

# %% [markdown]
# ## Faces: the DCGAN face generator and the library's main face descriptor
# The face subject (`bbcollapse.subjects.faces.face_subject()`, chapter 3): the pretrained DigiFace-1M
# DCGAN of `gan-face-generate` (latents in $R^{100}$, 64×64 images) and the library's main face
# descriptor (it fixes the descriptor; a calibrated generator is measured by the same one).  $\theta$
# and $r$ come from chapter 3's rule (`choose_theta_r` on views of 60 faces).  With a few thousand
# faces hardly any anchor has a neighbour within the same-identity radius $r$, and both algorithms
# divide by $N(I_w, C, r_0)$; so here $I_w$ is selected and calibrated at $r_0 = \theta$, the support
# of the similarity kernel (the scale at which MCCS sees density).  This departs from the paper
# ($r_0 = 0.25$ for its own descriptor with $|C| = 10^6$), forced by the sample size.
#
# Every face set is an embedding store shared by the face chapters (`_book.face_store`: latents and
# embeddings, resumable): the anchors A and the selection sample S pick $I_w$; F fits the
# calibrators; B (with its anchors) is the fresh before pool; P (with its anchors) holds the
# proposals of the prior-thinning calibrators (Voronoi and the rejection variants), whose accepted
# faces are exactly a run of the calibrated sampler on those proposals (`accept_mask`, no new
# generator call); R is the quality reference.  The GMM variant proposes new latents, so its after
# pool is generated and embedded afresh.  B is cut to the size of each after pool.
#
# The white-box baseline (paper 001, appendix) needs gradients through the generator: it recovers
# latents of $I_w$'s image by gradient descent on pixel L2 + $\alpha\|z\|^2$ from several restarts and
# feeds them to the same ball-rejection scheme.

# %% tags=["hide-input"]
try:
    from bbcollapse.metrics import EfficientNetLite0Features
    from bbcollapse.subjects import faces

    G_face, F_face = faces.face_subject(cache_dir=CACHE_DIR)
    FACES = True
except Exception as exc:  # the face wheels and models are optional extras
    FACES = False
    print(f"face subject unavailable ({type(exc).__name__}: {exc}); skipping the face section")
results["faces"] = None


# %% tags=["hide-input"]
def face_pool(part, n):
    """(latents, embeddings) of the first n faces of a face-store stream (embedded once, then read)."""
    st = face_store(CACHE_DIR, G_face, F_face, part).fill(n)
    return st.latents(n), st.embeddings(n)


def effnet_features(part, z):
    """EfficientNet-lite0 features of the faces of latents z (regenerated; cached by part and size)."""
    key = f"{bb.identity_of(G_face)}|{part}|{len(z)}|{np.asarray(z, np.float64).sum():.9e}"
    path = f"{CACHE_DIR}/04_calibration/effnet_{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
    return cached(path, lambda: eff(G_face.generate(z)))


if FACES:
    t0 = time.perf_counter()
    tr = face_theta_r(CACHE_DIR, G_face, F_face)
    FTHETA, FR = tr.theta, tr.r
    FR0 = FTHETA
    n_pool, fA = CFG["fpool"], CFG["fA"]
    zA, eA = face_pool("A", fA)
    zS, eS = face_pool("S", n_pool)
    zF, eF = face_pool("fit", n_pool)
    zBA, eBA = face_pool("before_A", fA)
    zB, eB = face_pool("before", n_pool)
    zPA, ePA = face_pool("proposals_A", fA)
    zP, eP = face_pool("proposals", n_pool)
    zR, eR = face_pool("reference", n_pool)
    eff = EfficientNetLite0Features(image_size=64, batch_size=64)
    fR, fB, fP = (effnet_features(p, z) for p, z in (("reference", zR), ("before", zB), ("proposals", zP)))
    print(
        f"8 face sets ({5 * n_pool + 3 * fA} faces) embedded or read from the store in "
        f"{time.perf_counter() - t0:.1f} s; "
        f"descriptor {bb.identity_of(F_face)[:70]}...; theta = {FTHETA:.3f}, r = {FR:.3f} (chapter 3's rule)"
    )
    sel_f = bb.diagnose_embeddings(eA, eS, theta=FTHETA, r=FR0, top=5, k=0, seed=SEED)
    I_w_f, modes_f = eA[sel_f.worst], eA[sel_f.modes[1:]]
    max_count_r = int(bb.neighbor_stats(anchors=eA, samples=eS, radii=(FR,)).counts[:, 0].max())
    paper_way_f = bb.diagnose_embeddings(eA, eS, theta=FTHETA, r=FR0, top=1, k=0, scoring="same")
    fresh_f = bb.mccs(bb.neighbor_stats(anchors=eA[paper_way_f.worst][None], samples=eB, theta=FTHETA))[0]
    print(
        f"I_w selected on S: MCCS on T {sel_f.worst_mccs:.3f} [{sel_f.worst_ci[0]:.3f}, {sel_f.worst_ci[1]:.3f}], "
        f"N(I_w, S, r0) = {sel_f.worst_count}; largest N(I', S, r={FR:.3f}) = {max_count_r}.  The paper's way "
        f"(selected and scored on all of S): {paper_way_f.worst_mccs:.3f}; the same anchor on the fresh pool B: "
        f"{fresh_f:.3f}"
    )
    results["faces"] = dict(
        descriptor=bb.identity_of(F_face),
        n_pool=n_pool,
        n_anchors=fA,
        theta=FTHETA,
        r=FR,
        r0=FR0,
        selection=dict(
            worst_on_T=sel_f.worst_mccs,
            worst_ci=list(sel_f.worst_ci),
            worst_count_at_r0=sel_f.worst_count,
            max_count_at_r=max_count_r,
            paper_way_selected_sample=paper_way_f.worst_mccs,
            paper_way_same_anchor_fresh=float(fresh_f),
        ),
        variants=[],
    )
    if sel_f.worst_count == 0:  # nothing within r0 of any anchor: Algorithms 1 and 2 divide by it
        print("the worst case has no neighbour within r0 at this scale: nothing to calibrate; skipping")
        FACES = False

# %% tags=["hide-input"]
if FACES:
    t0 = time.perf_counter()
    try:
        fcals = make_calibrators(G_face, F_face, fit_z=zF, fit_e=eF, mode=I_w_f, r0=FR0, K=CFG["fK"], seed=SEED)
    except ValueError as exc:  # e.g. at smoke scale I_w may be no denser than a random reference (p > 1)
        print(f"face calibrators cannot be fitted at this scale: {exc}")
        results["faces"]["skipped"] = str(exc)
        FACES = False
if FACES:
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    target = G_face.generate(zA[sel_f.worst][None, :], raw=True)[0]
    for prm in G_face.net.parameters():  # gradients w.r.t. z only
        prm.requires_grad_(False)
    wb = cal.white_box_latents(
        lambda z: G_face.net(z[:, :, None, None]),
        target_image=target,
        latent_dim=100,
        n_restarts=CFG["restarts"],
        steps=CFG["steps"],
        lr=0.05,
        alpha=1e-3,
        seed=SEED,
    )
    wb_seconds = time.perf_counter() - t0
    fcals["white-box-rejection-ball"] = cal.white_box_rejection_calibrator(
        G_face, F_face, modes=I_w_f, r0=FR0, white_box=wb, region="ball", fit_latents=zF, fit_embeddings=eF, seed=SEED
    )
    wb_dist = bb.angular_distance(F_face(G_face.generate(wb.z)), I_w_f[None, :]).ravel()
    print(
        f"fitted in {t_fit:.1f} s; white-box recovery {wb_seconds:.1f} s, {wb}; descriptor distance of the "
        f"recovered faces to I_w: median {np.median(wb_dist):.3f}, within r0: {np.mean(wb_dist <= FR0):.2f}"
    )

# %% tags=["hide-input"]
if FACES:
    frows, fcmps, fpools, ffeats = [], {}, {}, {}
    for name, s in fcals.items():
        t0 = time.perf_counter()
        if name == "gmm":  # proposes new latents: generate and embed new faces
            z_new = s.latents(bb.shard_seed(SEED, 30), fA + n_pool)
            e_new = F_face(G_face.generate(z_new))
            after, acc = (e_new[:fA], e_new[fA:]), 1.0
            f_after = effnet_features("gmm-after", z_new[fA:])
            before, f_before = (eBA, eB), fB
        else:  # prior thinning: the accepted proposals are the calibrated sampler's output
            kP, kPA = s.accept_mask(zP, eP, seed=SEED), s.accept_mask(zPA, ePA, seed=SEED + 1)
            acc = float(np.mean(np.concatenate([kP, kPA])))
            nA, nC = min(int(kPA.sum()), fA), int(kP.sum())
            if nA < 3 or nC < 10:
                frows.append(dict(variant=name, acceptance_rate=acc, n_accepted=nC, note=f"acceptance {acc:.4f}"))
                print(f"{name}: acceptance {acc:.4f} leaves {nA} anchors and {nC} samples; not diagnosed")
                continue
            after, f_after = (ePA[kPA][:nA], eP[kP]), fP[kP]
            before, f_before = (eBA[:nA], eB[:nC]), fB[:nC]
        row, cmp = evaluate(
            name,
            before=before,
            after=after,
            worst=I_w_f,
            modes=modes_f,
            quality={"descriptor": (eR, before[1], after[1])},
            theta=FTHETA,
            r=FR0,
        )
        row["effnet"] = dict(
            before=bb.frechet_distance(reference=fR, samples=f_before),
            after=bb.frechet_distance(reference=fR, samples=f_after),
            name=bb.FRECHET_EFFNET_NAME,
        )
        row["acceptance_rate"] = acc
        # cost per accepted face in a live run: the output test generates and embeds every proposal,
        # the latent tests and the Voronoi cells generate only the accepted latents
        row["generator_calls_per_sample"] = 1.0 / acc if name == "rejection-output" else 1.0
        row["descriptor_calls_per_sample"] = 1.0 / acc if name == "rejection-output" else 0.0
        row["seconds"] = time.perf_counter() - t0
        frows.append(row)
        fcmps[name], fpools[name], ffeats[name] = cmp, after, f_after
    table(frows)
    say(
        f"{bb.FRECHET_EFFNET_NAME} to the reference pool R, before → after (points; the floor is B's own distance to "
        "R): "
        + ", ".join(
            f"`{r['variant']}` {r['effnet']['before']:.2f} → {r['effnet']['after']:.2f}" for r in frows if "effnet" in r
        )
    )
    boxplot(frows, fcmps, "Faces: MCCS on fresh pools before / after each calibrator")
    plt.show()
    results["faces"].update(
        K=CFG["fK"],
        effnet_image_size=eff.image_size,
        quality_metric_name=bb.FRECHET_EFFNET_NAME,
        p=float(fcals["rejection-output"].p[0]),
        white_box_seconds=wb_seconds,
        white_box_distance_median=float(np.median(wb_dist)),
        white_box_within_r0=float(np.mean(wb_dist <= FR0)),
        variants=frows,
    )

# %% [markdown]
# ### Seed 001 Figs. 4-5 on faces: the mode's curve against the band, before and after

# %% tags=["hide-input"]
if FACES:
    fvars = [v for v in ("gmm", "rejection-output") if v in fpools]
    bands_faces = {
        v: band_curves(
            I_w_f,
            [(eBA[: len(fpools[v][0])], eB[: len(fpools[v][1])]), fpools[v]],
            ["before", "after"],
            q=min(CFG["q"], len(fpools[v][0]) - 1),
        )
        for v in fvars
        if len(fpools[v][0]) >= 41  # a pointwise band at alpha = 0.05 needs 40 reference curves
    }
    if bands_faces:
        plot_band_curves(
            bands_faces, "Faces: old I_w against the R_ref band, before and after (cf. seed 001 Figs. 4-5)"
        )
        plt.show()
    else:
        print("fewer than 41 anchors per pool at this scale: no band")
    results["faces"]["band_tests"] = {
        v: {k: dict(p_value=b["p_value"], reject=b["reject"]) for k, b in bands.items()}
        for v, bands in bands_faces.items()
    }

# %% [markdown]
# ## Two comparisons the paper makes in words
# *Approach #2 keeps quality better than #1* (paper 000, section 3.2.2): the Fréchet distance to the
# reference of the importance-sampling (exact rejection) pool minus that of the GMM pool.  *The
# white-box counterpart does not notably beat the black-box one* (paper 001, appendix): MCCS of the
# old $I_w$ on the white-box ball pool minus that on the black-box ball pool (and on the exact
# rejection pool).  Negative means the second-named method has the smaller value.

# %% tags=["hide-input"]
approach = {}
if {"gmm", "rejection-output"} <= set(pools):
    approach["planted D=12 (descriptor features)"] = flat(
        frechet_comparison(REF, pools["gmm"][1], pools["rejection-output"][1], n_boot=N_BOOT_Q, seed=SEED)
    )
if FACES and {"gmm", "rejection-output"} <= set(ffeats):
    approach["faces (descriptor features)"] = flat(
        frechet_comparison(eR, fpools["gmm"][1], fpools["rejection-output"][1], n_boot=N_BOOT_Q, seed=SEED)
    )
white_box = {}
if FACES and "white-box-rejection-ball" in fpools:
    wb_s = contributions(I_w_f, fpools["white-box-rejection-ball"][1], FTHETA)
    for other in ("rejection-ball", "rejection-output"):
        if other in fpools:
            white_box[other] = flat(compare_mccs(contributions(I_w_f, fpools[other][1], FTHETA), wb_s, n_boot=N_BOOT))
cells = [
    (k, ci((v["before"], v["before_ci"]), 4), ci((v["after"], v["after_ci"]), 4), ci((v["change"], v["change_ci"]), 4))
    for k, v in approach.items()
]
cells += [
    (
        f"MCCS(I_w): `{k}` vs white-box ball",
        ci((v["before"], v["before_ci"])),
        ci((v["after"], v["after_ci"])),
        ci((v["change"], v["change_ci"])),
    )
    for k, v in white_box.items()
]
if cells:
    display(
        markdown_table(
            cells, ("comparison", "first (GMM / black-box)", "second (rejection / white-box)", "second − first")
        )
    )
results["approach_quality"] = approach
results["white_box_vs_black_box"] = white_box

# %% [markdown]
# ## The paper's numbers beside ours
# The sentences below are generated from the measured values: a change counts only when its 95%
# interval excludes 0.


# %% tags=["hide-input"]
def significant(x, sign):
    """Whether a flattened change is significant in the direction ``sign`` (-1: a fall, +1: a rise)."""
    lo, hi = x["change_ci"]
    return hi < 0 if sign < 0 else lo > 0


def verdict(rows, name, paper, quality_key="descriptor"):
    r = next((x for x in rows if x["variant"] == name), None)
    if r is None:
        return f"- **{name}**: not run."
    if "old_worst" not in r:
        acc = r.get("acceptance_rate", float("nan"))
        return f"- **{name}**: acceptance {acc:.4f}; too few samples accepted to diagnose."
    ow, mu, sg, q = r["old_worst"], r["mu"], r["sigma"], r.get(quality_key) or r["descriptor"]
    p_w = paper["worst"][1] - paper["worst"][0]
    falls = significant(ow, -1)
    s = (
        f"- **{name}**: MCCS(I_w) {bef(ow)} → {aft(ow)}, "
        f"change {chg(ow)} (paper {paper['worst'][0]} → {paper['worst'][1]}, Δ {p_w:+.2f}): "
        f"{'a significant drop' if falls else 'no significant drop'}. "
        f"μ changes by {chg(mu)}, σ by {chg(sg)} "
        f"(paper {paper['before']} → {paper['after']}). "
        f"Quality ({quality_key}) changes by {chg(q, 4)}"
        f"{' (significantly worse)' if significant(q, +1) else ''}. "
        f"Acceptance {r.get('acceptance_rate', float('nan')):.3f}."
    )
    others = r.get("other_modes") or []
    if others:
        n_fall = sum(significant(o, -1) for o in others)
        s += f" Other modes: {n_fall} of {len(others)} fall significantly."
    if "identity_mass_after" in r:
        s += (
            f" Ground truth: the identity of I_w holds {r['identity_mass_before']['rate']:.4f} → "
            f"{r['identity_mass_after']['rate']:.4f} of the outputs."
        )
    return s


lines = ["**Planted collapse, D = 12**"]
lines += [verdict(rows, v, PAPER["gmm"]) for v in ("gmm", "voronoi", "voronoi-non-mode")]
lines += [
    verdict(rows, v, PAPER["importance sampling"]) for v in ("rejection-output", "rejection-ball", "rejection-hull")
]
lines += ["", "**Planted collapse, D = 128**"]
lines += [
    verdict(rows_hd, r["variant"], PAPER["gmm" if "rej" not in r["variant"] else "importance sampling"])
    for r in rows_hd
]
if FACES and results["faces"]["variants"]:
    lines += ["", "**Faces (DCGAN, the main face descriptor)**"]
    lines += [verdict(frows, v, PAPER["gmm"]) for v in ("gmm", "voronoi", "voronoi-non-mode")]
    lines += [
        verdict(frows, v, PAPER["importance sampling"])
        for v in ("rejection-output", "rejection-ball", "rejection-hull", "white-box-rejection-ball")
    ]
sel_bias = results["planted_selection"]
lines += [
    "",
    f"**The paper's way of scoring 'before'.** On the planted sphere the worst case chosen and scored on the same "
    f"{CFG['C']} samples reads {sel_bias['paper_way_selected_sample']:.3f}; the same anchor on a fresh pool of the "
    f"same, uncalibrated model reads {sel_bias['paper_way_same_anchor_fresh']:.3f}.  Part of any drop measured that "
    "way is regression to the mean, which is why every 'before' above is a fresh pool.",
]
text = "\n".join(lines)
results["summary"] = text


def compared(paper_name, variant):
    """One row of the closing table: the paper's calibrator beside our variant on the planted sphere (D = 12)."""
    r, p = next(x for x in rows if x["variant"] == variant), PAPER[paper_name]
    ow = r["old_worst"]
    return (
        f"{paper_name} (paper) vs `{variant}` (ours)",
        f"MCCS(I_w) {p['worst'][0]} → {p['worst'][1]}; (μ, σ) {p['before']} → {p['after']}; FID {p['fid'][0]} → "
        f"{p['fid'][1]}",
        f"MCCS(I_w) {bef(ow)} → {aft(ow)}; "
        f"μ {r['mu']['before']:.3f} → {r['mu']['after']:.3f}, "
        f"σ {r['sigma']['before']:.3f} → {r['sigma']['after']:.3f}; "
        f"Fréchet {r['descriptor']['before']:.4f} → {r['descriptor']['after']:.4f}",
        "drop reproduced (significant)" if significant(ow, -1) else "no significant drop",
    )


display(
    paper_vs_ours(
        [compared("gmm", "gmm"), compared("gmm", "voronoi"), compared("importance sampling", "rejection-output")]
    )
)
say(text)

# %% [markdown]
# ## Reading the results: why each variant behaves as it does
#
# The verdicts above are generated from the measured values; this section explains the mechanisms
# behind them (the tests in `tests/test_calibration.py` check each one against ground truth).
#
# * **Exact output-space rejection** decides the dense region on $F(G(z))$ itself, at the price of
#   one descriptor call per proposal.  Its acceptance is $1 - (1-p)P(\text{region})$ and it leaves
#   every other part of the output distribution untouched.  Only $I_w$ is calibrated, so the next
#   densest mode becomes the new worst case $I'_w$.
# * **Algorithm 1 (K-means reweighting)** can only move mass between K-means cells.  It helps when
#   the cells separate the mode's latent region (a low-dimensional latent space); in 100+
#   dimensions they do not.  The paper's weight $1/\text{count}_k$ ignores the cell's size, so a
#   tiny cell holding one mode latent gets the largest weight: the GMM can then *raise* the mode's
#   mass and the exact Voronoi variant accepts almost nothing.  Size-aware weights
#   (`voronoi-non-mode`) never raise the mode.  The GMM version also changes the law of $z$
#   inside every cell and leaves the prior's typical shell (the KS test in the tests detects it);
#   the Voronoi version provably keeps the law within each cell.
# * **Latent regions** (the authors' ball, the paper's hull of 100 latents) hold essentially no
#   prior mass in 14 or more dimensions (see "prior mass of the region" above), so the sampler
#   accepts almost everything and nothing changes: the measured reason the authors' code never
#   got past the region test.  The **white-box** latents feed the same region test.
# * **Quality** is compared between two fresh pools with intervals; the paper's FID changes (+0.02
#   and +0.03 on 5.93 and 9.43) are far below what pools of this size can resolve.

# %% tags=["hide-input"]
path = write_results(RESULTS_DIR, "04_calibration", results, reasons=null_reasons)
print(f"wrote {path}")
