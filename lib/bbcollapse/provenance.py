"""Where a measured value came from: the command that reproduces it, the commit, the date, the load.

Used by ``bbcollapse choose-theta --out`` (and so by ``tools/measure_theta_r.py``, which writes the face
subject's shipped theta and r): a number written to a file carries what is needed to measure it again.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["git_commit", "theta_r_provenance"]


def git_commit(path=None) -> str | None:
    """The commit of the checkout holding ``path`` (this package by default), "+dirty" when it has changes; or None."""
    import subprocess

    def git(*argv):
        cwd = Path(path or __file__).resolve().parent
        return subprocess.run(["git", *argv], cwd=cwd, capture_output=True, text=True, timeout=10)

    try:
        head, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "") if head.returncode == 0 else None


def theta_r_provenance(args, seconds: float) -> dict:
    """Where a choose-theta result came from: the command that reproduces it, sizes, seed, commit, date, load."""
    import datetime
    import os

    from . import __version__

    dspec = getattr(args, "descriptor_spec", None) or args.descriptor
    views = f"--views {args.views}" if args.views else f"--n-views {args.n_views}"
    command = f"bbcollapse choose-theta --sampler {args.sampler} --descriptor {dspec} {views} --n {args.n} "
    command += f"--seed {args.seed} --q-same {args.q_same:g} --q-diff {args.q_diff:g}"
    return {
        "command": command,
        **{k: getattr(args, k) for k in ("n", "views", "seed", "q_same", "q_diff")},
        "n_views": None if args.views else args.n_views,  # the user's views callable decides its own count
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bbcollapse": __version__,
        "seconds": round(seconds, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
