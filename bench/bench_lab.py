"""The GAN lab's training throughput: real images per second for each architecture of the zoo.

``main(scale)`` times a few training steps of every architecture at that scale's width and batch
(``GanConfig.at_scale``), on the balanced 600-per-class set, without writing a cache. Images per
second count the real images the discriminator (or the VAE) draws: ``batch_size * n_critic`` per
generator step. Timed with one torch thread and with torch's default, because a busy machine
trains these small networks faster on one thread (smoke: one thread only).
"""

from __future__ import annotations

import torch

ZOO = [
    {"arch": "dcgan"},
    {"arch": "sn-dcgan"},
    {"arch": "sn-dcgan", "pack": 4},
    {"arch": "wgan-gp"},
    {"arch": "vae"},
    {"arch": "dcgan", "resolution": 14},
    {"arch": "sn-dcgan", "resolution": 14},
]
STEPS = {"smoke": 2, "default": 20, "paper": 50}


def main(scale: str = "default") -> dict:
    from bbcollapse.lab import DataSpec, GanConfig
    from bbcollapse.lab.trainer import measure_throughput

    if scale not in STEPS:
        raise ValueError(f"scale must be one of {sorted(STEPS)}; got {scale!r}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    default_threads = torch.get_num_threads()
    rows = []
    for fields in ZOO:
        config = GanConfig.at_scale(scale, data=DataSpec.balanced(600), **fields)
        row = {"name": config.name, "width": config.width, "batch_size": config.batch_size, "steps": config.steps}
        for threads in [1] if scale == "smoke" else sorted({1, default_threads}):
            torch.set_num_threads(threads)
            try:
                m = measure_throughput(config, STEPS[scale], device=device)
            finally:
                torch.set_num_threads(default_threads)
            row[f"images_per_s_{threads}t"] = round(m["images_per_s"], 1)
            row[f"cpu_s_per_step_{threads}t"] = round(m["cpu_seconds"] / STEPS[scale], 4)
        best = max(v for k, v in row.items() if k.startswith("images_per_s"))
        row["train_s_estimate"] = round(config.steps * config.batch_size * config.optim["n_critic"] / best, 1)
        rows.append(row)
        print(
            f"{row['name']:<24} width {row['width']:>3}  "
            + "  ".join(f"{k}: {v}" for k, v in row.items() if k.startswith("images_per_s"))
            + f"  -> {config.steps} steps in ~{row['train_s_estimate']} s",
            flush=True,
        )
    return {"scale": scale, "device": device, "default_threads": default_threads, "rows": rows}


if __name__ == "__main__":
    import sys

    main(sys.argv[1] if len(sys.argv) > 1 else "default")
