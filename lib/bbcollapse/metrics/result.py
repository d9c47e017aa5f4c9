"""What every metric result shares: a readable ``name`` (the features included) and ``as_dict`` for JSON.

Not an equation of paper 000.  Each metric returns a small frozen dataclass that derives from
:class:`MetricResult`; the subclass defines ``name`` and its fields, this class turns them into a
plain dict (numpy arrays as lists, non-finite numbers as None: strict JSON) and gives the readable
repr (the subclasses are declared with ``@dataclass(frozen=True, repr=False)`` to keep it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MetricResult"]


class MetricResult:
    """Mixin of the metrics' frozen results: ``as_dict()`` = the fields, plus ``name`` (and ``value`` if any)."""

    name: str

    def as_dict(self) -> dict:
        out = {}
        for k, v in self.__dict__.items():
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, float) and not np.isfinite(v):
                v = None
            out[k] = v
        out["name"] = self.name
        if "value" not in out and hasattr(self, "value"):
            out["value"] = self.value
        return out

    def __repr__(self):
        fields = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}"
            for k, v in self.__dict__.items()
            if not isinstance(v, (np.ndarray, tuple)) and k != "features"
        )
        return f"{type(self).__name__}({self.name}: {fields})"
