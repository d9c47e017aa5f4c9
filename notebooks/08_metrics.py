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
# # 8. Do the standard metrics see intra-mode collapse?
#
# ```{admonition} Claim (paper 000, sections 1, 2.1 and 4.2, "RIC vs RIC-aug")
# Standard metrics "are not always sensitive to mode collapses": adding one face per race repeated
# 1,000 times to an 18k-face training set (RIC-aug) barely moves FID (15.36 → 15.93), while MCCS of the
# worst-case mode jumps (0.59 → 0.81).  IS, FID and the birthday-paradox test are named as blind or
# impractical; seed 003 lists IS, FID, LPIPS, SSIM and MS-SSIM.
# ```
#
# The claim is that of {cite}`wu2021blackbox`; the metrics are those of {cite}`seed003_gan_metrics`,
# {cite}`heusel2017gans` and {cite}`naeem2020reliable`, plus KID (Bińkowski et al. 2018), the Vendi
# score (Friedman and Dieng 2023), the birthday-paradox test (Arora and Zhang 2017) and NDB (Richardson
# and Weiss 2018).  Chapter 5 tested one metric once and found the Fréchet distance moving.  Here every
# metric faces **collapse of controlled strength**, and each is judged the same way: replicate sample
# sets of the uncollapsed model give the metric's own sampling noise; replicate sets at each strength
# give its effect in units of that noise and its **detection power at a 5% false-alarm rate** (a Monte
# Carlo test against the null replicates, `bb.detection_power`).
#
# Two subjects.  **Faces**: the face DCGAN, exact and jittered near-duplicates of three faces (one per
# "race", as in RIC-aug) making up 2.5-20% of its output, and the truncation knob.  **The lab**:
# Fashion-MNIST, where the uncollapsed "model" is the ideal generator (draws of the training split,
# compared with the test split) and RIC-aug's duplicates of three items are planted in its output; the
# lab's instance encoder is $F_{id}$ and its classifier gives a Fréchet distance and the IS formula
# ("Fashion IS").  Chapter 10 trains GANs on RIC and RIC-aug themselves.
#
# **What runs here, said plainly.** Inception-v3 and LPIPS need weights no registry package ships, so
# neither FID, KID-on-Inception, IS nor LPIPS can run.  The Fréchet distance and KID's estimator run on
# named features: the library's default face descriptor (whatever `faces.face_subject()` returns),
# EfficientNet-lite0 ImageNet features (at the faces' native 64 px) and the lab classifier's features.
# SSIM and MS-SSIM run on pixels; 64-px faces allow MS-SSIM with 3 scales and 28-px items with 2 (7-px
# window), not the standard 5.

# %% tags=["parameters", "hide-input"]
SCALE = "default"
RESULTS_DIR = "data/results"
CACHE_DIR = "data/cache"

# %% tags=["hide-input"]
import hashlib
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from threadpoolctl import threadpool_limits

import bbcollapse as bb
from bbcollapse.lab import load_fashion_mnist
from bbcollapse.lab.classifier import ClassifierConfig, lab_classifier
from bbcollapse.lab.encoder import EncoderConfig, instance_encoder
from bbcollapse.lab.views import item_views
from bbcollapse.metrics import (
    COLLAPSE_DIRECTION,
    effect_per_unit,
    gather_planted,
    metric_readouts,
    ndb_bins,
    plant_duplicates,
    power_table,
    replicate_values,
)
from bbcollapse.subjects import faces
from notebooks._book import at_scale, cached, markdown_table, paper_vs_ours, read_results, say, write_results

# One thread for torch and BLAS: the work comes in small pieces (one set of 500 at a time), where extra
# threads gain little and, on a shared machine, cost up to 10x (measured while writing this chapter).
torch.set_num_threads(1)
threadpool_limits(1)
T_START = time.perf_counter()
S = at_scale(
    SCALE,
    {  # set size n; pool of ordinary samples; fixed reference set; bank of duplicate sources; pool per
        # truncation level; null / collapsed replicates; SSIM pairs; NDB bins; birthday batch; MCCS anchors
        "smoke": dict(n=60, pool=150, ref=80, bank=6, trunc_pool=80, r0=19, r=4, pairs=20, bins=5, batch=20, A=12),
        "default": dict(
            n=500, pool=2000, ref=1000, bank=12, trunc_pool=1200, r0=50, r=20, pairs=100, bins=20, batch=50, A=100
        ),
        "paper": dict(
            n=5000, pool=40000, ref=10000, bank=40, trunc_pool=20000, r0=200, r=100, pairs=1000, bins=100, batch=100,
            A=1000,
        ),
    },
)  # fmt: skip
# the lab's encoder and classifier recipes: chapter 6's (so the trained networks come from its cache)
LAB_NETS = at_scale(
    SCALE, {"smoke": ((15, 8), (40, 8)), "default": ((400, 8), (1500, 16)), "paper": ((4000, 16), (8000, 32))}
)
# share of the set replaced by duplicates; truncation z' = psi z (the StyleGAN form; the paper's runs used 0.7)
FRACTIONS = at_scale(SCALE, {"smoke": (0.1, 0.2), "default": (0.025, 0.05, 0.1, 0.2), "paper": (0.025, 0.05, 0.1, 0.2)})
PSIS = at_scale(SCALE, {"smoke": (0.6,), "default": (0.8, 0.6), "paper": (0.9, 0.8, 0.7, 0.6)})
N_SOURCES = 3  # RIC-aug: one face per race, three races
N_VIEWS = int(np.ceil(max(FRACTIONS) * S["n"] / N_SOURCES))  # jittered copies never repeat a view
SEED, ALPHA = 808, 0.05
cache = Path(CACHE_DIR) / "08_metrics" / SCALE
print(f"scale={SCALE}: {S}")


def key(*parts):
    """A cache-file key: everything a cached array depends on."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12]


# %% [markdown]
# ## Faces: the generator's output, a reference, duplicate sources and their jittered views
#
# One pool of ordinary samples of the face DCGAN, an independent **reference set** of the same
# generator (what "real data" is to a GAN: the law the collapsed model should match), a bank of
# **duplicate sources** with `N_VIEWS` jittered views each (`faces.face_views`: a flip, small
# translations and crops, the identity kept), and one pool per truncation level.  Each replicate set of
# `n` samples is drawn from a pool without replacement, so replicates are subsets of finite pools: their
# spread is about $\sqrt{1 - n/\text{pool}}$ of that of independent draws, the same factor for every
# metric (printed below).

# %% tags=["hide-input"]
t0 = time.perf_counter()
gan, desc = faces.face_subject(cache_dir=CACHE_DIR)  # the library's default face descriptor
effnet = bb.EfficientNetLite0Features(image_size=64, batch_size=128)
FACE = type(desc).__name__
print(gan, desc, effnet, sep="\n")


def embedded(name, sampler, n, stream):
    """Images, face embeddings and EfficientNet-lite0 features of n samples (cached by what they depend on)."""
    ident = bb.identity_of(sampler)
    img = cached(cache / f"{name}_images_{key(ident, SEED, stream, n)}.npy", lambda: sampler(SEED + stream, n).x)
    emb = cached(cache / f"{name}_face_{key(ident, bb.identity_of(desc), SEED, stream, n)}.npy", lambda: desc(img))
    eff = cached(
        cache / f"{name}_effnet_{key(ident, bb.identity_of(effnet), SEED, stream, n)}.npy", lambda: effnet(img)
    )
    return {"id": emb.astype(np.float32), "fd": eff, "img": img}


face_pool = embedded("pool", gan, S["pool"], 0)
face_ref = embedded("reference", gan, S["ref"], 1)
face_src = embedded("sources", gan, S["bank"], 2)
view_img = faces.face_views(face_src["img"], seed=SEED, n_views=N_VIEWS)  # (bank, views, 64, 64, 3)
flat = view_img.reshape(-1, *view_img.shape[2:])
vkey = key(bb.identity_of(gan), SEED, S["bank"], N_VIEWS)
face_views = {
    "id": cached(cache / f"views_face_{key(vkey, bb.identity_of(desc))}.npy", lambda: desc(flat)).astype(np.float32),
    "fd": cached(cache / f"views_effnet_{key(vkey, bb.identity_of(effnet))}.npy", lambda: effnet(flat)),
    "img": flat,
}
face_views = {k: v.reshape(S["bank"], N_VIEWS, *v.shape[1:]) for k, v in face_views.items()}
face_trunc = {psi: embedded(f"psi{psi}", faces.FaceDCGAN(psi=psi), S["trunc_pool"], 3) for psi in PSIS}
face_embed_s = time.perf_counter() - t0
FPC = {"pool": float(np.sqrt(1 - S["n"] / S["pool"])), "truncation": float(np.sqrt(1 - S["n"] / S["trunc_pool"]))}
n_faces = S["pool"] + S["ref"] + S["bank"] * (1 + N_VIEWS) + len(PSIS) * S["trunc_pool"]
print(f"embedded (or read back) {n_faces} faces in {face_embed_s:.0f} s; replicate spread relative to independent "
      f"draws: {FPC['pool']:.2f} (null, duplicates), {FPC['truncation']:.2f} (truncation)")  # fmt: skip

# theta and r for this descriptor by the library's rule (chapter 3): r from source-vs-view distances,
# theta from distances between different reference faces
m = min(S["ref"], 400)
diff = bb.angular_distance(face_ref["id"][:m], face_ref["id"][:m])[np.triu_indices(m, 1)]
face_tr = faces.choose_theta_r(faces.identity_distances(face_src["id"], face_views["id"])[0], diff)
ch3 = (read_results(RESULTS_DIR, "03_face_subject") or {}).get("theta_r", {})
print(face_tr, f"\n  chapter 3's: theta {ch3.get('theta')}, r {ch3.get('r')}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(3, 8, figsize=(12, 4.8))
rows = [
    ("ordinary samples", face_pool["img"][:8]),
    ("a source and 7 jittered views", np.concatenate([face_src["img"][:1], view_img[0, :7]])),
    (f"truncation psi = {PSIS[-1]}", face_trunc[PSIS[-1]]["img"][:8]),
]
for ax_row, (title, imgs) in zip(axes, rows):
    for ax, im in zip(ax_row, imgs):
        ax.imshow(im)
        ax.set_axis_off()
    ax_row[0].set_title(title, fontsize=9, loc="left")
plt.show()

# %% [markdown]
# ## The lab: the ideal generator of Fashion-MNIST and RIC-aug's duplicates
#
# The pool is a random part of the training split, the reference the test split, the sources other
# training items with `N_VIEWS` item-preserving views each (`lab.views.item_views`).  $F_{id}$ is the
# lab's instance encoder (chapter 6), and $\theta$, $r$ come from its view distances by the same rule.

# %% tags=["hide-input"]
t0 = time.perf_counter()
LAB_CACHE = Path(CACHE_DIR) / "lab"
encoder = instance_encoder(EncoderConfig(steps=LAB_NETS[0][0], width=LAB_NETS[0][1]), cache_dir=LAB_CACHE, threads=1)
classifier = lab_classifier(
    ClassifierConfig(steps=LAB_NETS[1][0], width=LAB_NETS[1][1]), cache_dir=LAB_CACHE, threads=1
)
torch.set_num_threads(1)
train_x, _ = load_fashion_mnist("train")
test_x, _ = load_fashion_mnist("test")
rng = np.random.default_rng(SEED)
pick = rng.permutation(len(train_x))[: S["pool"] + S["bank"]]
lab_view_img = item_views(train_x[pick[S["pool"] :]], seed=SEED, n_views=N_VIEWS)[:, :, 0]  # (bank, views, 28, 28)


def lab_arrays(images):
    """F_id embeddings, classifier features and class probabilities of uint8 or [0, 1] images (n, 28, 28)."""
    return {"id": encoder(images), "fd": classifier.features(images), "prob": classifier.probs(images), "img": images}


lab_pool = lab_arrays(train_x[pick[: S["pool"]]].astype(np.float32) / 255)
lab_src = lab_arrays(train_x[pick[S["pool"] :]].astype(np.float32) / 255)
lab_ref = lab_arrays(test_x[rng.permutation(len(test_x))[: S["ref"]]].astype(np.float32) / 255)
lab_views = lab_arrays(lab_view_img.reshape(-1, 28, 28))
lab_views = {k: v.reshape(S["bank"], N_VIEWS, *v.shape[1:]) for k, v in lab_views.items()}
m = min(S["ref"], 400)
diff = bb.angular_distance(lab_ref["id"][:m], lab_ref["id"][:m])[np.triu_indices(m, 1)]
lab_tr = faces.choose_theta_r(faces.identity_distances(lab_src["id"], lab_views["id"])[0], diff)
lab_embed_s = time.perf_counter() - t0
print(encoder, classifier, lab_tr, f"lab sets embedded in {lab_embed_s:.0f} s", sep="\n")

# %% [markdown]
# ## Every metric on every replicate set
#
# Per replicate set (all metrics see the same set): MCCS($I_w$) with $I_w$ selected on one part $S$
# and scored on a disjoint part $T$, and $(\mu, \sigma)$ over the anchors (`bb.worst_mode_mccs`);
# against the reference, the Fréchet distance and KID's estimator on $F_{id}$ and on the second
# features (EfficientNet-lite0 for faces, the lab classifier's for the lab), PRDC ($k = 5$) and NDB
# (K-means bins fitted once on the reference); on the set alone, the Vendi score, the birthday test
# (batches of `batch`, duplicates within $r$), mean SSIM / MS-SSIM over `pairs` random pairs of images
# and, for the lab, the IS formula on the classifier.  `bb.compute_metrics` computes them all.

# %% tags=["hide-input"]
ID_METRICS = ("mccs", "frechet", "kid", "prdc", "vendi", "birthday", "ndb", "ssim", "ms_ssim")


def subject(name, *, pool, ref, src, views, tr, id_name, fd_name, ms_levels, nets, trunc=None):
    options = {
        "prdc": {"nearest_k": 5},
        "ndb": {"bins": ndb_bins(ref["id"], S["bins"], seed=SEED)},
        "birthday": {"radius": tr.r, "batch_size": S["batch"]},
        "mccs": {"theta": tr.theta, "r": tr.r, "n_anchors": S["A"], "device": "cpu"},
        "ssim": {"n_pairs": S["pairs"], "win_size": 7},
        "ms_ssim": {"n_pairs": S["pairs"], "levels": ms_levels, "win_size": 7},
        "inception_score": {"splits": 1},
    }
    return dict(name=name, pool=pool, ref=ref, src=src, views=views, tr=tr, trunc=trunc or {}, id_name=id_name,
                fd_name=fd_name, options=options, nets=[bb.identity_of(n) for n in nets])  # fmt: skip


SUBJECTS = {
    "faces": subject("faces", pool=face_pool, ref=face_ref, src=face_src, views=face_views, tr=face_tr,
                     id_name=f"{FACE} embeddings", fd_name="EfficientNet-lite0 features", ms_levels=3,
                     nets=(gan, desc, effnet), trunc=face_trunc),
    "lab": subject("lab", pool=lab_pool, ref=lab_ref, src=lab_src, views=lab_views, tr=lab_tr,
                   id_name="the lab's instance encoder", fd_name="the lab classifier's features", ms_levels=2,
                   nets=(encoder, classifier)),
}  # fmt: skip


def evaluator(sub):
    """(set, seed) -> every metric's scalar read-outs on one replicate set (compute_metrics, twice)."""

    def evaluate(s, seed):
        names = ID_METRICS + (("inception_score",) if "prob" in s else ())
        res = bb.compute_metrics(
            names, reference=sub["ref"]["id"], samples=s["id"], images=s["img"], features=sub["id_name"],
            probabilities=s.get("prob"), classifier=sub["fd_name"].removesuffix("'s features"), seed=seed,
            options=sub["options"],
        )  # fmt: skip
        out = metric_readouts(res)
        second = bb.compute_metrics(["frechet", "kid"], reference=sub["ref"]["fd"], samples=s["fd"], features="2nd")
        out.update({f"2nd {k}": v for k, v in metric_readouts(second).items()})
        return out

    return evaluate


def drawer(sub, kind, level):
    """seed -> one replicate set of the condition (kind, level), as a dict of aligned arrays."""
    arrays = sub["trunc"][level] if kind == "truncation" else sub["pool"]
    fraction = level if kind in ("exact", "jittered") else 0.0

    def draw(seed):
        p = plant_duplicates(
            pool_size=len(arrays["id"]), n=S["n"], fraction=fraction, n_sources=N_SOURCES, bank_size=S["bank"],
            n_views=N_VIEWS if kind == "jittered" else 0, seed=seed,
        )  # fmt: skip
        return gather_planted(p, pool=arrays, sources=sub["src"], views=sub["views"])

    return draw


def direction(name):
    return COLLAPSE_DIRECTION[name.removeprefix("2nd ")]


# the cache key names everything a read-out depends on: the networks, the sizes, theta and r, and the source of
# the metrics and statistics (the sets themselves are functions of these and of the seed)
CODE = "".join(
    p.read_text()
    for d in ("metrics", "stats", "neighbors")
    for p in sorted((Path(bb.__file__).parent / d).glob("*.py"))
)
t0 = time.perf_counter()
TABLE, NAMES = {}, {}
for sname, sub in SUBJECTS.items():
    conds = [("null", 0.0)] + [(kind, f) for kind in ("exact", "jittered") for f in FRACTIONS]
    conds += [("truncation", psi) for psi in sub["trunc"]]
    evaluate = evaluator(sub)
    NAMES[sname] = list(evaluate(drawer(sub, "null", 0.0)(0), 0))
    # the engine's first call starts numba's OpenMP layer, which resets the OpenMP thread count torch
    # shares (to 2, measured): set it back, or every SSIM afterwards runs 10x slower on a busy machine
    torch.set_num_threads(1)
    study = key(sname, sub["nets"], S, FRACTIONS, PSIS, N_SOURCES, N_VIEWS, sub["tr"], SEED, NAMES[sname], CODE)
    TABLE[sname] = {}
    for c, (kind, level) in enumerate(conds):
        reps = S["r0"] if kind == "null" else S["r"]
        draw = drawer(sub, kind, level)
        values = cached(
            cache / f"readouts_{sname}_{kind}_{level}_{study}.npy",
            lambda d=draw, e=evaluate, r=reps, c=c: np.column_stack(
                list(replicate_values(d, e, reps=r, seed=SEED, stream=c).values())
            ),
        )
        TABLE[sname][(kind, level)] = dict(zip(NAMES[sname], values.T))
replicate_s = time.perf_counter() - t0
n_sets = sum(len(v[NAMES[s][0]]) for s in TABLE for v in TABLE[s].values())
print(f"{n_sets} replicate sets in {replicate_s:.0f} s (when computed, not read back)")

# %% [markdown]
# ## Detection power at a 5% false-alarm rate
#
# Each collapsed replicate set is tested against the `r0` null replicates by the Monte Carlo test in the
# direction collapse is declared to push the metric (`bb.metrics.COLLAPSE_DIRECTION`, fixed from what
# the metric measures before any data: up for distances, MCCS, SSIM, NDB and duplicate counts; down for
# recall, coverage, the Vendi score and the IS formula; either way for precision and density).  The
# first column is the false-alarm rate measured on the null replicates themselves (each against the
# others): it must stay at or below 5%.

# %% tags=["hide-input"]
LABELS = {
    "mccs.worst": "MCCS(I_w), selected on S, scored on T",
    "mccs.mu": "mu of MCCS",
    "mccs.sigma": "sigma of MCCS",
    "frechet": "Fréchet distance (F_id)",
    "kid": "KID estimator (F_id)",
    "prdc.precision": "precision (PRDC)",
    "prdc.recall": "recall (PRDC)",
    "prdc.density": "density (PRDC)",
    "prdc.coverage": "coverage (PRDC)",
    "vendi": "Vendi score",
    "birthday": "birthday test: duplicate pairs per batch",
    "ndb": "NDB/K",
    "ssim": "mean pairwise SSIM",
    "ms_ssim": "mean pairwise MS-SSIM",
    "inception_score": "Fashion IS (IS formula, lab classifier)",
}


def label(sname, k):
    second = {"faces": "EfficientNet-lite0", "lab": "lab classifier"}[sname]
    if k.startswith("2nd "):
        return {"2nd frechet": f"Fréchet distance ({second})", "2nd kid": f"KID estimator ({second})"}[k]
    return LABELS[k]


POWER, ALT = {}, {}
for sname, table in TABLE.items():
    ALT[sname] = [c for c in table if c[0] != "null"]
    POWER[sname] = power_table(
        table[("null", 0.0)], {c: table[c] for c in ALT[sname]}, directions={k: direction(k) for k in NAMES[sname]},
        alpha=ALPHA,
    )  # fmt: skip
    head = ["metric", "false alarm"] + [f"psi {lv:g}" if k == "truncation" else f"{k} {lv:g}" for k, lv in ALT[sname]]
    print(f"{sname}: power over {S['r']} collapsed sets per column, false alarms over {S['r0']} null sets")
    display(
        markdown_table(
            [
                [label(sname, k), f"{POWER[sname][ALT[sname][0]][k].false_alarm:.2f}"]
                + [f"{POWER[sname][c][k].power:.2f}" for c in ALT[sname]]
                for k in NAMES[sname]
            ],
            head,
        )
    )
half = max(p.power_ci95[1] - p.power_ci95[0] for s in POWER.values() for c in s.values() for p in c.values()) / 2
print(f"95% Clopper-Pearson half-widths of the power estimates: up to {half:.2f}")

# %% tags=["hide-input"]
keys = list(dict.fromkeys(NAMES["faces"] + NAMES["lab"]))
colour = dict(zip(keys, plt.cm.tab20(np.linspace(0, 1, len(keys)))))
fig, axes = plt.subplots(2, 3, figsize=(15, 8.6), sharey=True)
for row, sname in enumerate(TABLE):
    kinds = [k for k in ("exact", "jittered", "truncation") if any(c[0] == k for c in ALT[sname])]
    for ax, kind in zip(axes[row], kinds):
        levels = [lv for k, lv in ALT[sname] if k == kind]
        x = [0.0] + [1 - lv if kind == "truncation" else lv for lv in levels]
        for k in NAMES[sname]:
            y = [POWER[sname][ALT[sname][0]][k].false_alarm] + [POWER[sname][(kind, lv)][k].power for lv in levels]
            style = dict(color="k", lw=3, zorder=5) if k == "mccs.worst" else dict(color=colour[k], lw=1.3)
            ax.plot(x, y, "s--" if "frechet" in k else "o-", label=label(sname, k), ms=4, **style)
        ax.axhline(ALPHA, color="grey", ls=":", lw=1)
        ax.set_xlabel("1 - psi" if kind == "truncation" else f"share of {kind} duplicates of {N_SOURCES} items")
        ax.set_title(f"{sname}: {kind}", fontsize=10)
    axes[row, 0].set_ylabel(f"power at {ALPHA:.0%} false alarms")
    spare = axes[row, 2] if len(kinds) < 3 else None
    if spare is not None:
        spare.set_axis_off()
        spare.legend(*axes[row, 0].get_legend_handles_labels(), fontsize=7, loc="center", title=sname)
    else:
        axes[row, 2].legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.02, 0.5), title=sname)
fig.suptitle(f"Who sees intra-mode collapse? n = {S['n']} per set, {S['r0']} null and {S['r']} collapsed sets")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The effect per unit of collapse, in units of each metric's own noise
#
# $z = (\text{mean}_{\text{collapsed}} - \text{mean}_{\text{null}}) / \text{sd}_{\text{null}}$, signed so that a
# move in the declared direction is positive, and its least-squares slope through the origin over the
# strengths (`bb.metrics.effect_per_unit`), quoted per 10 points of duplicates and per 0.1 of $1 - \psi$.

# %% tags=["hide-input"]
SLOPES = {}
for sname, table in TABLE.items():
    null = table[("null", 0.0)]
    kinds = [k for k in ("exact", "jittered", "truncation") if any(c[0] == k for c in ALT[sname])]
    SLOPES[sname] = {}
    for k in NAMES[sname]:
        SLOPES[sname][k] = {}
        for kind in kinds:
            lvs = [lv for kk, lv in ALT[sname] if kk == kind]
            strength = [1 - lv if kind == "truncation" else lv for lv in lvs]
            SLOPES[sname][k][kind] = 0.1 * effect_per_unit(strength, [POWER[sname][(kind, lv)][k].effect for lv in lvs])
    display(
        markdown_table(
            [
                [label(sname, k), f"{null[k].mean():.4g} ± {null[k].std(ddof=1):.2g}"]
                + [f"{SLOPES[sname][k][kind]:+.1f}" for kind in kinds]
                for k in NAMES[sname]
            ],
            [f"metric ({sname})", "null mean ± sd"] + [f"z per 0.1 ({kind})" for kind in kinds],
        )
    )

# %% tags=["hide-input"]
for sname in TABLE:
    z = {k: SLOPES[sname][k]["exact"] for k in NAMES[sname]}
    order = sorted(NAMES[sname], key=lambda k: -z[k] if np.isfinite(z[k]) else -1e9)
    say(
        f"**{sname}**, effects per 10 points of exact duplicates, largest first: "
        + ", ".join(f"{label(sname, k)} {z[k]:+.1f}" for k in order[:6])
        + f"; MCCS(I_w) ranks {order.index('mccs.worst') + 1} of {len(order)}. Smallest: "
        + ", ".join(f"{label(sname, k)} {z[k]:+.1f}" for k in order[-4:])
        + "."
    )

# %% [markdown]
# ## Agreement with the paper

# %% tags=["hide-input"]
REF_LEVEL = 0.1  # exact duplicates: the nearest of our strengths to RIC-aug's share (3,000 repeats in 21,000)
FRECHETS = {"faces": ("frechet", "2nd frechet"), "lab": ("frechet", "2nd frechet")}
claim = {}
for sname in TABLE:
    pw = {k: POWER[sname][("exact", REF_LEVEL)][k].power for k in NAMES[sname]}
    null, alt = TABLE[sname][("null", 0.0)], TABLE[sname][("exact", REF_LEVEL)]
    claim[sname] = {
        "power": pw,
        "null_mean": {k: float(null[k].mean()) for k in NAMES[sname]},
        "collapsed_mean": {k: float(alt[k].mean()) for k in NAMES[sname]},
        "mccs_worst_power": pw["mccs.worst"],
        "frechet_power": {label(sname, k): pw[k] for k in FRECHETS[sname]},
        "frechet_blind": all(pw[k] <= 0.2 for k in FRECHETS[sname]),
        "at_least_as_powerful_as_mccs": [
            label(sname, k) for k in NAMES[sname] if k != "mccs.worst" and pw[k] >= pw["mccs.worst"]
        ],
    }  # fmt: skip


def smallest_detected(sname, k, kind):
    """The smallest strength with power >= 0.8 (None when none reaches it)."""
    lvs = [lv for kk, lv in ALT[sname] if kk == kind]
    hits = [lv for lv in lvs if POWER[sname][(kind, lv)][k].power >= 0.8]
    return (max(hits) if kind == "truncation" else min(hits)) if hits else None


rows = [("MCCS(I_w), RIC → RIC-aug", "0.59 → 0.81", "", ""), ("FID, RIC → RIC-aug", "15.36 → 15.93 (+4%)", "", "")]
for sname, c in claim.items():
    a, b = c["null_mean"]["mccs.worst"], c["collapsed_mean"]["mccs.worst"]
    rows.append((f"{sname}: MCCS(I_w), null → {REF_LEVEL:.0%} exact duplicates", "0.59 → 0.81",
                 f"{a:.3f} → {b:.3f}, power {c['mccs_worst_power']:.2f}",
                 "detected" if c["mccs_worst_power"] >= 0.8 else "not reliably detected"))  # fmt: skip
    for k in FRECHETS[sname]:
        a, b = c["null_mean"][k], c["collapsed_mean"][k]
        move = f"moves {100 * (b / a - 1):+.0f}%"
        rows.append((f"{sname}: {label(sname, k)}", "FID +4%, 'barely moves'",
                     f"{a:.4g} → {b:.4g} ({move}), power {c['power'][k]:.2f}",
                     "agrees: blind" if c["power"][k] <= 0.2 else f"disagrees: it {move} and is detected"))  # fmt: skip
display(paper_vs_ours(rows[2:]))
for sname, c in claim.items():
    beats = c["at_least_as_powerful_as_mccs"]
    say(
        f"**{sname}**, {REF_LEVEL:.0%} exact duplicates of {N_SOURCES} items in sets of {S['n']}: MCCS(I_w) "
        f"detects the collapse in {100 * c['mccs_worst_power']:.0f}% of the sets at a 5% false-alarm rate; "
        + "; ".join(f"the {name} in {100 * p:.0f}%" for name, p in c["frechet_power"].items())
        + ". "
        + ("The Fréchet distances are blind to it, as the paper says of FID. " if c["frechet_blind"] else
           "The Fréchet distances are **not** blind to it, unlike the paper's FID: measured against their own sampling "
           "noise (replicate sets of the same model), they move by many standard deviations. ")
        + (f"At least as powerful as MCCS(I_w) here: {', '.join(beats)}." if beats else
           "No other metric is as powerful as MCCS(I_w) here.")
    )  # fmt: skip

# %% tags=["hide-input"]
results = {"scale": SCALE, "sizes": S, "fractions": list(FRACTIONS), "psis": list(PSIS), "n_sources": N_SOURCES,
           "n_views": N_VIEWS, "alpha": ALPHA, "reference_level": REF_LEVEL, "finite_pool_factor": FPC,
           "face_descriptor": bb.identity_of(desc), "lab_descriptor": bb.identity_of(encoder),
           "lab_classifier": bb.identity_of(classifier), "subjects": {}, "claim": claim}  # fmt: skip
for sname, sub in SUBJECTS.items():
    null = TABLE[sname][("null", 0.0)]
    results["subjects"][sname] = {
        "theta": sub["tr"].theta,
        "r": sub["tr"].r,
        "readouts": NAMES[sname],
        "labels": {k: label(sname, k) for k in NAMES[sname]},
        "directions": {k: direction(k) for k in NAMES[sname]},
        "null": {k: {"mean": float(null[k].mean()), "sd": float(null[k].std(ddof=1))} for k in NAMES[sname]},
        "false_alarm": {k: POWER[sname][ALT[sname][0]][k].false_alarm for k in NAMES[sname]},
        "conditions": [
            {
                "kind": kind,
                "level": level,
                "mean": {k: float(TABLE[sname][(kind, level)][k].mean()) for k in NAMES[sname]},
                "power": {k: POWER[sname][(kind, level)][k].as_dict() for k in NAMES[sname]},
            }
            for kind, level in ALT[sname]
        ],
        "effect_per_0.1": SLOPES[sname],
        "smallest_detected": {
            k: {kind: smallest_detected(sname, k, kind) for kind in SLOPES[sname][k]} for k in NAMES[sname]
        },
    }
results["timings"] = {"faces_embed_s": face_embed_s, "lab_embed_s": lab_embed_s, "replicates_s": replicate_s,
                      "total_s": time.perf_counter() - T_START}  # fmt: skip
write_results(RESULTS_DIR, "08_metrics", results)
print(f"chapter time {time.perf_counter() - T_START:.0f} s")
