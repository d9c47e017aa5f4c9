"""ONNX files as black boxes, run by onnxruntime: :class:`OnnxGenerator`, :class:`OnnxDescriptor`.

The session is opened lazily and dropped when the adapter is pickled, so that an adapter
travels to Dask workers and reopens its file there.  The identity recorded in a store
holds the file's SHA-256.  onnxruntime is imported on first use.  Implements no equation
of paper 000.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..protocols import BlackBoxError, file_sha256
from .base import BatchedDescriptor, BatchedGenerator

__all__ = ["OnnxDescriptor", "OnnxGenerator"]


class _OnnxModel:
    """An onnxruntime session created lazily (so the adapter pickles to Dask workers)."""

    def __init__(self, path, input_name=None, output_name=None, providers=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file {str(self.path)!r} does not exist")
        self.sha = file_sha256(self.path)[:16]
        self.providers = list(providers) if providers else ["CPUExecutionProvider"]
        self._session = None
        sess = self.session
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        self.input = input_name or inputs[0].name
        self.output = output_name or outputs[0].name
        names = [i.name for i in inputs]
        if self.input not in names:
            raise ValueError(f"input_name {self.input!r} is not an input of {self.path.name}; inputs are {names}")
        if len(inputs) > 1:
            raise ValueError(f"{self.path.name} has {len(inputs)} inputs {names}; an adapter feeds exactly one")
        self.input_shape = inputs[0].shape

    @property
    def session(self):
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = min(2, os.cpu_count() or 1)
            opts.log_severity_level = 3
            try:
                self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=self.providers)
            except Exception as exc:  # onnxruntime raises its own types for a bad or truncated file
                first = str(exc).splitlines()[0][:300]
                raise ValueError(f"cannot load ONNX model {str(self.path)!r}: {first}") from None
        return self._session

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_session"] = None
        return state

    def run(self, data: np.ndarray) -> np.ndarray:
        try:
            (out,) = self.session.run([self.output], {self.input: np.ascontiguousarray(data, dtype=np.float32)})
        except Exception as exc:
            raise BlackBoxError(
                f"ONNX model {self.path.name} failed on a batch of shape {np.shape(data)}: {exc}"
            ) from None
        return out


class _OnnxFile:
    """The ONNX half of both adapters: the model file and its session."""

    label = "ONNX {kind} {}"
    input_dtype = np.float32

    def _bind(self, path, input_name, output_name, providers) -> str:
        """Open the model file and keep it; returns the adapter's name (the file name)."""
        self.model = _OnnxModel(path, input_name, output_name, providers)
        return self.model.path.name

    def run_batch(self, data: np.ndarray) -> np.ndarray:
        """The model's first output (b, ...) for one float32 batch ``data`` (b, ...)."""
        return self.model.run(data)


class OnnxGenerator(_OnnxFile, BatchedGenerator):
    """A generator in an ONNX file: input latents (n, L) float32, first output (n, ...).

    Parameters
    ----------
    path : the ``.onnx`` file
    latent_dim : L; inferred from the model's input shape when it is static
    input_name, output_name : default the model's first input and output
    batch_size : latents per session run
    providers : onnxruntime execution providers, default ``["CPUExecutionProvider"]``
    """

    identity_format = "OnnxGenerator({self.name}, sha256={self.model.sha}, latent_dim={self.latent_dim})"

    def __init__(
        self,
        path,
        *,
        latent_dim: int | None = None,
        input_name=None,
        output_name=None,
        batch_size=512,
        providers=None,
    ):
        name = self._bind(path, input_name, output_name, providers)
        shape = self.model.input_shape
        if latent_dim is None:
            if len(shape) != 2 or not isinstance(shape[1], int):
                raise ValueError(f"cannot infer latent_dim from the input shape {shape} of {name}; pass latent_dim=")
            latent_dim = shape[1]
        super().__init__(latent_dim, batch_size=batch_size, name=name)


class OnnxDescriptor(_OnnxFile, BatchedDescriptor):
    """A descriptor in an ONNX file: input outputs (n, ...) float32, first output (n, D).

    Parameters
    ----------
    path, input_name, output_name, providers : as for :class:`OnnxGenerator`
    batch_size : outputs per session run
    normalize : divide each embedding by its L2 norm (else the model must return unit vectors)
    """

    identity_format = "OnnxDescriptor({self.name}, sha256={self.model.sha}, normalize={self.normalize})"

    def __init__(self, path, *, input_name=None, output_name=None, batch_size=512, normalize=True, providers=None):
        name = self._bind(path, input_name, output_name, providers)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
