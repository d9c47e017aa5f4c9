#!/usr/bin/env python
"""Measure the built-in subjects' default theta and r by the documented rule and write them as package data.

    python tools/measure_theta_r.py [--n N] [--seed S] [--dry-run]

The face subject's values are those of ``bbcollapse choose-theta`` (the rule of
:func:`bbcollapse.stats.choose_theta_r`: r = q0.95 of same-identity view distances, theta =
max(r, q0.05 of different-sample distances)) on the DCGAN (checkpoint 1.1.1) and the ArcFace
descriptor, with the subject's identity-preserving views (:func:`bbcollapse.subjects.faces.face_views`:
mirror, shifts, small crops, as chapter 3 uses).  The command writes
``lib/bbcollapse/subjects/faces/theta_r.json`` with its provenance (the command, sizes, seed,
commit, date, load average), which ``bbcollapse diagnose`` reads when --theta/--r are not given.

The synthetic sphere ships no file: it derives its values from its own parameters each time
(:meth:`bbcollapse.subjects.synthetic.PlantedSphere.theta_r`, the same rule on its exact identities).

Commit the code first, so that the recorded commit is the one that measured the values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: faces drawn (4 views each: n same-identity distances x 4, n (n - 1) / 2 different-sample distances)
N = 1000
#: seed of the faces and views (chapter 3's seed)
SEED = 2021


def face_command(n: int = N, seed: int = SEED, out: Path | None = None) -> list[str]:
    """The ``bbcollapse`` arguments that measure the face subject's theta and r."""
    from bbcollapse.subjects.faces import THETA_R_FILE

    views = "bbcollapse.subjects.faces:face_views"
    argv = ["choose-theta", "--sampler", "faces", "--descriptor", "faces", "--views", views]
    return argv + ["--n", str(n), "--seed", str(seed), "--out", str(out or THETA_R_FILE), "--quiet"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=N, help=f"faces drawn (default {N})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    parser.add_argument("--out", type=Path, help="write here instead of the package's theta_r.json")
    parser.add_argument("--dry-run", action="store_true", help="print the command and stop")
    args = parser.parse_args(argv)
    command = face_command(args.n, args.seed, args.out)
    print("bbcollapse " + " ".join(command), flush=True)
    if args.dry_run:
        return 0
    from bbcollapse.cli import main as bbcollapse

    return bbcollapse(command)


if __name__ == "__main__":
    sys.exit(main())
