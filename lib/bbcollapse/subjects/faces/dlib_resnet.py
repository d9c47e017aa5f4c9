"""A torch port of dlib's 128-D face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``).

The network is the ``anet_type`` of dlib's ``dnn_face_recognition_ex.cpp``::

    input_rgb_image_sized<150> -> con<32,7,7,2,2> -> affine -> relu -> max_pool<3,3,2,2>
    -> 3 x ares<32> -> ares_down<64> + 3 x ares<64> -> ares_down<128> + 2 x ares<128>
    -> ares_down<256> + 2 x ares<256> -> ares_down<256> -> avg_pool_everything
    -> fc_no_bias<128>

with ``ares<N>      = relu(x + affine(con3x3(relu(affine(con3x3(x))))))`` and
``ares_down<N> = relu(avg_pool2x2(x) + block_stride2(x))``.  Two dlib details matter
for agreement:

* convolutions and pools of stride 2 use **no padding** (dlib's default padding is
  ``nr/2`` only for stride 1), so the feature maps are 150 -> 72 -> 35 -> 17 -> 8 -> (3|4)
  -> (1|2);
* dlib's ``add_prev`` adds tensors of *different* shapes by zero-padding the smaller one
  (channels, rows and columns at the end): the shortcut of ``ares_down`` has fewer
  channels than the block, and at two levels the strided 3x3 block output (3x3, 1x1) is
  smaller than the 2x2 average pool (4x4, 2x2).

``affine`` layers (frozen batch norm) are folded into the preceding convolution.
Input preprocessing follows ``input_rgb_image_sized``: ``(pixel - avg) / 256`` with the
per-channel averages stored in the model file.  The output is the raw 128-D
``fc`` output, like ``dlib.face_recognition_model_v1.compute_face_descriptor``.

Weights are read from dlib's binary serialisation (no dlib code involved):

* integers: a control byte (low nibble = number of bytes, bit 0x80 = negative) and
  little-endian bytes; ``bool``: the characters '0'/'1'; strings: length + bytes;
  ``float``/``double``: ``mantissa * 2**exponent`` as two integers;
* tensors: version 2, (n, k, nr, nc), then raw little-endian float32;
* a network: the loss layer, then the version integers of every layer from the
  outermost to the innermost, then each layer's details (``"con_4"``, ``"affine_"``,
  ...) and cached buffers from the innermost (the input layer) outwards.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

__all__ = ["DlibResNet", "load_dlib_resnet", "read_dlib_net", "model_path", "DlibNet"]

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def model_path(name: str = MODEL_FILE) -> str:
    """Path of a model file shipped in the ``face-recognition-models`` wheel.

    The package's ``__init__`` imports ``pkg_resources`` (gone in setuptools >= 81), so
    it is located with ``importlib.util.find_spec`` and never imported.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face-recognition-models is not installed: pip install face-recognition-models")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "models", name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name} not found in the face-recognition-models package")


# ----------------------------------------------------------------------------------------
# dlib's serialisation format


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def int(self) -> int:
        ctrl = self.data[self.pos]
        size = ctrl & 0x0F
        if size == 0 or size > 8 or ctrl & 0x70:
            raise ValueError(f"bad integer control byte {ctrl:#x} at offset {self.pos}")
        raw = bytes(self.data[self.pos + 1 : self.pos + 1 + size])
        self.pos += 1 + size
        val = int.from_bytes(raw, "little")
        return -val if ctrl & 0x80 else val

    def bool(self) -> bool:
        ch = chr(self.data[self.pos])
        self.pos += 1
        if ch not in "01":
            raise ValueError(f"bad bool {ch!r} at offset {self.pos - 1}")
        return ch == "1"

    def string(self) -> str:
        n = self.int()
        s = bytes(self.data[self.pos : self.pos + n]).decode("ascii")
        self.pos += n
        return s

    def float(self) -> float:
        if self.data[self.pos] & 0x70:
            raise ValueError(f"old ASCII float encoding at offset {self.pos} is not supported")
        mantissa = self.int()
        exponent = self.int()
        return float(np.ldexp(float(mantissa), exponent))

    def alias(self) -> tuple:
        version = self.int()
        if version != 1:
            raise ValueError(f"alias_tensor version {version} at offset {self.pos}")
        return tuple(self.int() for _ in range(4))

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ValueError(f"tensor version {version} at offset {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        arr = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos += 4 * count
        return arr.astype(np.float32)


@dataclass
class DlibLayer:
    """One parsed layer: its dlib type tag (e.g. ``"con_4"``), kind and parameters."""

    tag: str
    kind: str
    params: dict = field(default_factory=dict)

    def __repr__(self):
        shapes = {k: (v.shape if isinstance(v, np.ndarray) else v) for k, v in self.params.items()}
        return f"DlibLayer({self.tag}, {shapes})"


@dataclass
class DlibNet:
    """A parsed dlib network: the input layer's channel means and layers innermost first."""

    avg_rgb: tuple
    layers: list
    loss: str

    def __repr__(self):
        return f"DlibNet(loss={self.loss}, avg_rgb={self.avg_rgb}, {len(self.layers)} layers)"


def _read_details(rd: _Reader, kind: str) -> DlibLayer:
    tag = rd.string()
    p: dict = {}
    if kind == "con":
        if tag not in ("con_4", "con_5", "con_6"):
            raise ValueError(f"expected a con_ layer, found {tag!r}")
        params = rd.tensor().ravel()
        p["num_filters"] = rd.int()
        p["nr"], p["nc"] = rd.int(), rd.int()
        p["stride"] = (rd.int(), rd.int())
        p["padding"] = (rd.int(), rd.int())
        fshape, bshape = rd.alias(), rd.alias()
        [rd.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
        use_bias = rd.bool() if tag in ("con_5", "con_6") else True
        if tag == "con_6":
            rd.bool()  # use_relu (fused relu, not used by this model)
        nf = int(np.prod(fshape))
        p["weight"] = params[:nf].reshape(fshape)
        p["bias"] = params[nf : nf + int(np.prod(bshape))].ravel() if use_bias else np.zeros(fshape[0], np.float32)
    elif kind == "affine":
        if tag in ("affine_", "affine_2"):
            params = rd.tensor().ravel()
            g, b = rd.alias(), rd.alias()
            rd.int()  # mode
            if tag == "affine_2" and rd.bool():
                raise ValueError("disabled affine layers are not supported")
            ng = int(np.prod(g))
            p["gamma"], p["beta"] = params[:ng], params[ng : ng + int(np.prod(b))]
        elif tag == "bn_con2":  # a batch-norm layer loaded as affine (dlib converts on load)
            params = rd.tensor().ravel()
            g, b = rd.alias(), rd.alias()
            rd.tensor(), rd.tensor()  # batch means, invstds
            rmean, rvar = rd.tensor().ravel(), rd.tensor().ravel()
            rd.int(), rd.int()  # num_updates, running_stats_window_size
            [rd.float() for _ in range(4)]
            eps = rd.float()
            ng = int(np.prod(g))
            gamma = params[:ng] / np.sqrt(rvar + np.float32(eps))
            p["gamma"], p["beta"] = gamma, params[ng : ng + int(np.prod(b))] - gamma * rmean
        else:
            raise ValueError(f"expected an affine_ layer, found {tag!r}")
    elif kind == "relu":
        if tag not in ("relu_", "relu_2"):
            raise ValueError(f"expected a relu_ layer, found {tag!r}")
        if tag == "relu_2" and rd.bool():
            raise ValueError("disabled relu layers are not supported")
    elif kind in ("max_pool", "avg_pool"):
        if tag != f"{kind}_2":
            raise ValueError(f"expected a {kind}_2 layer, found {tag!r}")
        p["nr"], p["nc"] = rd.int(), rd.int()
        p["stride"] = (rd.int(), rd.int())
        p["padding"] = (rd.int(), rd.int())
    elif kind == "fc":
        if tag not in ("fc_2", "fc_3"):
            raise ValueError(f"expected an fc_ layer, found {tag!r}")
        p["num_outputs"], p["num_inputs"] = rd.int(), rd.int()
        params = rd.tensor().ravel()
        wshape, bshape = rd.alias(), rd.alias()
        p["bias_mode"] = rd.int()
        [rd.float() for _ in range(4)]
        if tag == "fc_3":
            rd.bool()
        nw = int(np.prod(wshape))
        p["weight"] = params[:nw].reshape(p["num_inputs"], p["num_outputs"])
        p["bias"] = params[nw:] if p["bias_mode"] == 0 and params.size > nw else None  # FC_HAS_BIAS = 0
    elif kind == "add_prev":
        if tag != "add_prev_":
            raise ValueError(f"expected add_prev_, found {tag!r}")
    else:  # pragma: no cover
        raise ValueError(kind)
    return DlibLayer(tag, kind, p)


def _anet_kinds() -> list:
    """Layer kinds of dlib's face ``anet_type``, innermost (next to the input) first.

    "tag"/"skip" nodes carry no details; every other node is an ``add_layer``.
    """

    def ares():
        return ["tag", "con", "affine", "relu", "con", "affine", "add_prev", "relu"]

    def ares_down():
        return ["tag", "con", "affine", "relu", "con", "affine", "tag", "skip", "avg_pool", "add_prev", "relu"]

    kinds = ["con", "affine", "relu", "max_pool"]
    kinds += ares() * 3  # alevel4
    kinds += ares_down() + ares() * 3  # alevel3
    kinds += ares_down() + ares() * 2  # alevel2
    kinds += ares_down() + ares() * 2  # alevel1
    kinds += ares_down()  # alevel0
    kinds += ["avg_pool", "fc"]
    return kinds


def read_dlib_net(path: str | None = None) -> DlibNet:
    """Parse dlib's face-recognition ResNet file into its layers (innermost first).

    Parameters
    ----------
    path : path to ``dlib_face_recognition_resnet_model_v1.dat`` (default: the one in
        the ``face-recognition-models`` wheel).
    """
    path = path or model_path()
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return _parse(_Reader(data), path)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not dlib's face-recognition ResNet (anet_type) file: {exc}") from None


def _parse(rd: _Reader, path: str) -> DlibNet:
    if rd.int() != 1:
        raise ValueError("unexpected add_loss_layer version")
    loss = rd.string()
    if loss == "loss_metric_2":
        rd.float(), rd.float()  # margin, distance threshold
    elif loss != "loss_metric_":
        raise ValueError(f"expected a loss_metric_ network, found {loss!r}")
    kinds = _anet_kinds()
    # version integers, outermost layer first
    versions = [rd.int() for _ in kinds[::-1]][::-1]
    for kind, v in zip(kinds, versions):
        ok = {1} if kind in ("tag", "skip") else {1, 2, 3}
        if v not in ok:
            raise ValueError(f"unexpected version {v} for a {kind} node: the file is not dlib's face anet_type")
    # the input layer (inside the innermost add_layer)
    tag = rd.string()
    if not tag.startswith("input_rgb_image"):
        raise ValueError(f"expected an input_rgb_image layer, found {tag!r}")
    avg = (rd.float(), rd.float(), rd.float())
    if tag == "input_rgb_image_sized":
        rd.int(), rd.int()
    layers = []
    for i, (kind, v) in enumerate(zip(kinds, versions)):
        if kind in ("tag", "skip"):
            layers.append(DlibLayer(kind, kind))
            continue
        layers.append(_read_details(rd, kind))
        rd.bool(), rd.bool(), rd.bool()
        rd.tensor(), rd.tensor()  # x_grad, cached_output
        if i == 0:  # the add_layer over the input layer
            rd.tensor()  # grad_final
            if v >= 3:
                rd.int()  # sample expansion factor
        elif v == 2:
            rd.tensor()  # params_grad
    if rd.pos != len(rd.data):
        raise ValueError(f"{len(rd.data) - rd.pos} trailing bytes after parsing {path}")
    return DlibNet(avg_rgb=avg, layers=layers, loss=loss)


# ----------------------------------------------------------------------------------------
# the torch model


def _fold(con: DlibLayer, aff: DlibLayer) -> nn.Conv2d:
    """A Conv2d computing ``affine(con(x))`` with dlib's stride and padding."""
    w = torch.from_numpy(con.params["weight"])
    b = torch.from_numpy(con.params["bias"])
    g = torch.from_numpy(aff.params["gamma"])
    beta = torch.from_numpy(aff.params["beta"])
    conv = nn.Conv2d(
        w.shape[1],
        w.shape[0],
        (con.params["nr"], con.params["nc"]),
        stride=con.params["stride"],
        padding=con.params["padding"],
    )
    with torch.no_grad():
        conv.weight.copy_(w * g[:, None, None, None])
        conv.bias.copy_(b * g + beta)
    return conv


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum of two NCHW tensors, the smaller zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    if a.shape[1] < b.shape[1] or a.shape[2] < b.shape[2]:
        a, b = b, a
    if a.shape[1] >= b.shape[1] and a.shape[2] >= b.shape[2] and a.shape[3] >= b.shape[3]:
        out = a.clone()
        out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
        return out
    k, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))
    pa = F.pad(a, (0, w - a.shape[3], 0, h - a.shape[2], 0, k - a.shape[1]))
    pb = F.pad(b, (0, w - b.shape[3], 0, h - b.shape[2], 0, k - b.shape[1]))
    return pa + pb


class _Residual(nn.Module):
    """``ares`` (``down=False``) or ``ares_down`` with affine layers folded into the convs."""

    def __init__(self, conv1: nn.Conv2d, conv2: nn.Conv2d, down: bool):
        super().__init__()
        self.conv1, self.conv2, self.down = conv1, conv2, down

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x), inplace=True))
        if self.down:
            y = _pad_add(y, F.avg_pool2d(x, 2, 2))
        else:
            y += x
        return F.relu(y, inplace=True)


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet in torch (see the module docstring).

    ``forward`` takes float NCHW input already normalised; :meth:`embed_chips` takes
    aligned 150x150 RGB uint8 chips (n, 150, 150, 3) and returns raw 128-D descriptors.
    """

    def __init__(self, net: DlibNet):
        super().__init__()
        L = net.layers
        if len(L) != len(_anet_kinds()):
            raise ValueError("not a face anet_type layer list")
        self.register_buffer("avg", torch.tensor(net.avg_rgb, dtype=torch.float32).view(1, 3, 1, 1))
        self.stem = _fold(L[0], L[1])
        mp = L[3].params
        self.pool = (mp["nr"], mp["stride"][0], mp["padding"][0])
        blocks = []
        i = 4
        while L[i].kind == "tag":
            down = L[i + 6].kind == "tag"
            for j, kind in enumerate(["con", "affine", "relu", "con", "affine"]):
                if L[i + 1 + j].kind != kind:
                    raise ValueError(f"layer {i + 1 + j}: expected {kind}, found {L[i + 1 + j].tag}")
            ap = L[i + 8].params if down else None
            if down and (ap["nr"], ap["stride"][0], ap["padding"][0]) != (2, 2, 0):
                raise ValueError("ares_down shortcut must be avg_pool<2,2,2,2>")
            blocks.append(_Residual(_fold(L[i + 1], L[i + 2]), _fold(L[i + 4], L[i + 5]), down))
            i += 11 if down else 8
        self.blocks = nn.Sequential(*blocks)
        if L[i].kind != "avg_pool" or L[i].params["nr"] != 0 or L[i + 1].kind != "fc":
            raise ValueError("expected avg_pool_everything and fc at the top")
        fc = L[i + 1].params
        self.fc = nn.Linear(fc["num_inputs"], fc["num_outputs"], bias=fc["bias"] is not None)
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(fc["weight"].T)))
            if fc["bias"] is not None:
                self.fc.bias.copy_(torch.from_numpy(fc["bias"]))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x), inplace=True)
        k, s, p = self.pool
        x = F.max_pool2d(x, k, s, p)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))

    def preprocess(self, chips) -> torch.Tensor:
        """(n, 150, 150, 3) uint8 RGB -> (n, 3, 150, 150) float, ``(pixel - avg) / 256``."""
        dev = self.avg.device
        t = torch.as_tensor(np.ascontiguousarray(chips), device=dev) if not torch.is_tensor(chips) else chips.to(dev)
        if t.ndim != 4 or t.shape[-1] != 3:
            raise ValueError(f"chips must be (n, H, W, 3) RGB; got shape {tuple(t.shape)}")
        return (t.permute(0, 3, 1, 2).float() - self.avg) / 256.0

    @torch.inference_mode()
    def embed_chips(self, chips, batch_size: int = 64) -> np.ndarray:
        """Raw 128-D descriptors (n, 128) float32 of aligned 150x150 RGB chips (n, 150, 150, 3) uint8."""
        n = len(chips)
        out = np.empty((n, self.fc.out_features), dtype=np.float32)
        for s in range(0, n, batch_size):
            x = self.preprocess(chips[s : s + batch_size])
            out[s : s + batch_size] = self(x).float().cpu().numpy()
        return out


_CACHE: dict = {}


def load_dlib_resnet(path: str | None = None, device: str | torch.device | None = None) -> DlibResNet:
    """The torch port with weights from dlib's model file, on ``device`` (default: cuda if available)."""
    path = path or model_path()
    if path not in _CACHE:
        _CACHE[path] = read_dlib_net(path)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return DlibResNet(_CACHE[path]).to(device)
