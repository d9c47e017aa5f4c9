"""The one progress-bar helper: tqdm with throughput, shown only on a terminal unless asked."""

from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["progress_bar"]


class _NoBar:
    """Stands in for a bar when progress is off (same methods, does nothing)."""

    n = 0

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


@contextmanager
def progress_bar(show: bool | None = None, *, total=None, desc: str = "", unit: str = "it", **kwargs):
    """Context manager yielding a tqdm bar (or a no-op stand-in) that is closed on exit.

    Parameters
    ----------
    show : True, False, or None (default: only when stderr is a terminal).
    total, desc, unit : as in tqdm; ``unit_scale`` and ``smoothing`` get sensible defaults.
    """
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield _NoBar()
        return
    from tqdm.auto import tqdm

    kwargs.setdefault("unit_scale", unit != "it")
    kwargs.setdefault("smoothing", 0.1)
    bar = tqdm(total=total, desc=desc, unit=unit, **kwargs)
    try:
        yield bar
    finally:
        bar.close()
