"""Black boxes: the protocols a generator or descriptor implements (``protocols``), and the
adapters for models that ship as torch modules, ONNX files, executables or HTTP endpoints
(the ``adapters`` package, on one batching base; imported on first use, so that
``import bbcollapse`` stays light)."""

from .protocols import *  # noqa: F401,F403
from .protocols import __all__ as _protocols_all

__all__ = list(_protocols_all)
