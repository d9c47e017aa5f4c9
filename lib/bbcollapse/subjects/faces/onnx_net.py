"""The face networks shipped as ONNX files, run batched by onnxruntime or by torch.

The npm package's graphs (``fr_feature.onnx``, ``fr_landmark.onnx``, ``fr_detect.onnx``) are
exported with a batch size fixed at 1.  :func:`batched_model` rewrites the graph in memory (the
file on disk stays the one whose SHA-256 is checked) so it takes any batch:

* the input and output batch dimensions become symbolic, and a ``Reshape`` to ``[1, -1]`` becomes
  ``[0, -1]`` (keep the batch);
* float32 weights below the smallest normal float (``fr_feature.onnx`` holds 8,938 subnormal
  weights) are set to 0: subnormal arithmetic is up to 10x slower on x86 and the change is below
  1e-38 per weight.

:class:`OnnxTorchNet` executes such a graph with torch (the ops these three networks use:
``Conv``, ``PRelu``, ``Relu``, ``Add``, ``Reshape``, ``Flatten``, ``Gemm``,
``BatchNormalization``), so it runs batched on CPU and on CUDA without onnxruntime's CUDA build;
the tests check it against onnxruntime.  Nothing is unpickled: ONNX is a protobuf of tensors.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["batched_model", "ort_session", "OnnxTorchNet", "SUPPORTED_OPS"]

SUPPORTED_OPS = ("Conv", "PRelu", "Relu", "Add", "Reshape", "Flatten", "Gemm", "BatchNormalization")


def batched_model(path):
    """The ONNX model at ``path`` with a free batch dimension and subnormal weights set to 0.

    Returns
    -------
    onnx.ModelProto
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    reshape_shapes = {n.input[1] for n in graph.node if n.op_type == "Reshape"}
    tiny = np.finfo(np.float32).tiny
    for init in graph.initializer:
        a = numpy_helper.to_array(init)
        if init.name in reshape_shapes and a.ndim == 1 and a.size >= 1 and a[0] == 1:
            a = a.copy()
            a[0] = 0  # ONNX Reshape: 0 copies the input's dimension (the batch)
        elif a.dtype == np.float32:
            a = np.where(np.abs(a) < tiny, np.float32(0), a)
        else:
            continue
        init.CopyFrom(numpy_helper.from_array(a, init.name))
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]  # stale shapes with batch 1
    return model


def ort_session(path, *, device: str = "cpu", threads: int | None = None):
    """An onnxruntime session of :func:`batched_model` (``device``: "cpu", or "cuda" for the CUDA provider).

    Raises
    ------
    RuntimeError
        If ``device`` is "cuda" and this onnxruntime has no CUDA provider.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError(
                "onnxruntime has no CUDA provider here (install onnxruntime-gpu), or use backend='torch' on cuda"
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ort.InferenceSession(batched_model(path).SerializeToString(), opts, providers=providers)


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxTorchNet(nn.Module):
    """A torch module executing an ONNX graph made of :data:`SUPPORTED_OPS` (node by node, in file order).

    Parameters
    ----------
    model : onnx.ModelProto (e.g. from :func:`batched_model`)

    Raises
    ------
    ValueError
        If the graph uses an op outside :data:`SUPPORTED_OPS` or has several inputs or outputs.
    """

    def __init__(self, model):
        super().__init__()
        from onnx import numpy_helper

        g = model.graph
        weights = {t.name for t in g.initializer}
        inputs = [i.name for i in g.input if i.name not in weights]
        if len(inputs) != 1:
            raise ValueError(f"OnnxTorchNet runs graphs with one input; got {inputs}")
        bad = sorted({n.op_type for n in g.node} - set(SUPPORTED_OPS))
        if bad:
            raise ValueError(f"graph uses ops {bad}; OnnxTorchNet supports {list(SUPPORTED_OPS)}")
        self.input_name = inputs[0]
        self.output_names = [o.name for o in g.output]
        self.params = nn.ParameterDict()
        self._key = {}
        for i, init in enumerate(g.initializer):
            a = numpy_helper.to_array(init)
            if a.dtype.kind == "f":
                self._key[init.name] = f"p{i}"
                self.params[f"p{i}"] = nn.Parameter(torch.from_numpy(a.astype(np.float32)), requires_grad=False)
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer if t.name not in self._key}
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in g.node]

    def _p(self, name):
        return self.params[self._key[name]]

    def _run(self, op, ins, at, v):
        x = v[ins[0]]
        if op == "Conv":
            pads = at.get("pads", [0, 0, 0, 0])
            if pads[:2] != pads[2:]:
                raise ValueError(f"asymmetric Conv padding {pads} is not supported")
            bias = self._p(ins[2]) if len(ins) > 2 and ins[2] else None
            stride, groups = at.get("strides", 1), at.get("group", 1)
            return F.conv2d(x, self._p(ins[1]), bias, stride=stride, padding=tuple(pads[:2]), groups=groups)
        if op == "PRelu":
            return F.prelu(x, self._p(ins[1]).reshape(-1))
        if op == "Relu":
            return F.relu(x)
        if op == "Add":
            y = v[ins[1]] if ins[1] in v else self._p(ins[1])
            return x + y
        if op == "Reshape":
            shape = [int(s) for s in self.consts[ins[1]]]
            return x.reshape([x.shape[k] if s == 0 else s for k, s in enumerate(shape)])
        if op == "Flatten":
            return x.flatten(at.get("axis", 1))
        if op == "Gemm":
            w = self._p(ins[1])
            w = w.T if at.get("transB", 0) else w
            y = at.get("alpha", 1.0) * (x @ w)
            return y + at.get("beta", 1.0) * self._p(ins[2]) if len(ins) > 2 else y
        # BatchNormalization (inference): scale, bias, mean, var
        s, b, m, var = (self._p(n) for n in ins[1:5])
        return F.batch_norm(x, m, var, s, b, training=False, eps=at.get("epsilon", 1e-5))

    def forward(self, x):
        """Run the graph on ``x``; one tensor (one graph output) or a tuple of them."""
        v = {self.input_name: x}
        for op, ins, outs, at in self.nodes:
            v[outs[0]] = self._run(op, ins, at, v)
        out = tuple(v[n] for n in self.output_names)
        return out[0] if len(out) == 1 else out
