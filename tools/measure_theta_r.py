#!/usr/bin/env python
"""Measure the built-in subjects' default theta and r by the documented rule and write them as package data.

    python tools/measure_theta_r.py [--descriptor arcface|dlib] [--n N] [--seed S] [--dry-run]

The face subject's values are those of ``bbcollapse choose-theta`` (the rule of
:func:`bbcollapse.stats.choose_theta_r`: r = q0.95 of same-identity view distances, theta =
max(r, q0.05 of different-sample distances)) on the DCGAN (checkpoint 1.1.1) and a face
descriptor, with the subject's identity-preserving views (:func:`bbcollapse.subjects.faces.face_views`:
mirror, shifts, small crops, as chapter 3 uses).  The command's result, with its provenance (the
command, sizes, seed, commit, date, load average), goes into ``lib/bbcollapse/subjects/faces/theta_r.json``,
which ``bbcollapse diagnose`` reads when --theta/--r are not given:

* the default descriptor's entry (ArcFace, ``--descriptor faces``) is the file's top level;
* every other descriptor's entry (dlib's, ``--descriptor faces:descriptor=dlib``) is an item of
  its ``other_descriptors`` list, with the same fields; re-measuring one replaces that item only.

The synthetic sphere ships no file: it derives its values from its own parameters each time
(:meth:`bbcollapse.subjects.synthetic.PlantedSphere.theta_r`, the same rule on its exact identities).

Commit the code first, so that the recorded commit is the one that measured the values.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: faces drawn (4 views each: n same-identity distances x 4, n (n - 1) / 2 different-sample distances)
N = 1000
#: seed of the faces and views (chapter 3's seed)
SEED = 2021
#: the face descriptors measured: name -> the --descriptor SPEC (the first is the subject's default)
DESCRIPTOR_SPECS = {"arcface": "faces", "dlib": "faces:descriptor=dlib"}
VIEWS = "bbcollapse.subjects.faces:face_views"


def face_command(n: int = N, seed: int = SEED, out: Path | None = None, descriptor: str = "arcface") -> list[str]:
    """The ``bbcollapse`` arguments that measure theta and r of the face subject with one descriptor."""
    spec = DESCRIPTOR_SPECS[descriptor]
    argv = ["choose-theta", "--sampler", "faces", "--descriptor", spec, "--views", VIEWS]
    return argv + ["--n", str(n), "--seed", str(seed), "--out", str(out), "--quiet"]


def recorded_command(n: int = N, seed: int = SEED, descriptor: str = "arcface") -> str:
    """The command the result's provenance records (choose-theta writes it without --out and --quiet)."""
    spec = DESCRIPTOR_SPECS[descriptor]
    return (
        f"bbcollapse choose-theta --sampler faces --descriptor {spec} --views {VIEWS} --n {n} --seed {seed} "
        "--q-same 0.95 --q-diff 0.05"
    )


def merge_entry(doc: dict | None, entry: dict, *, default: bool) -> dict:
    """The shipped document with ``entry`` put in: as the top level (``default``) or in ``other_descriptors``.

    An ``other_descriptors`` item with the same descriptor identity is replaced; the others are kept.
    """
    others = list((doc or {}).get("other_descriptors", []))
    if default:
        return {**entry, **({"other_descriptors": others} if others else {})}
    if doc is None:
        raise ValueError("measure the default descriptor (arcface) first: its entry is the file's top level")
    others = [e for e in others if e["descriptor"] != entry["descriptor"]] + [entry]
    return {**{k: v for k, v in doc.items() if k != "other_descriptors"}, "other_descriptors": others}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--descriptor", choices=tuple(DESCRIPTOR_SPECS), default="arcface", help="face descriptor")
    parser.add_argument("--n", type=int, default=N, help=f"faces drawn (default {N})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    parser.add_argument("--out", type=Path, help="write here instead of the package's theta_r.json")
    parser.add_argument("--dry-run", action="store_true", help="print the command and stop")
    args = parser.parse_args(argv)
    from bbcollapse.subjects.faces import THETA_R_FILE

    target = args.out or THETA_R_FILE
    doc = json.loads(target.read_text()) if target.is_file() else None
    default = args.descriptor == next(iter(DESCRIPTOR_SPECS))
    if doc is None and not default:  # refused before the long measurement
        parser.error(f"{target} has no default (arcface) entry yet: measure it first")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "theta_r.json"
        command = face_command(args.n, args.seed, fresh, args.descriptor)
        print("bbcollapse " + " ".join(command[:-3] + command[-1:]), flush=True)
        if args.dry_run:
            return 0
        from bbcollapse.cli import main as bbcollapse

        status = bbcollapse(command)
        if status != 0:
            return status
        entry = json.loads(fresh.read_text())
    doc = merge_entry(doc, entry, default=default)
    from bbcollapse.diagnosis.jsonfile import write_json

    write_json(target, doc)
    print(f"wrote {args.descriptor}'s entry to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
