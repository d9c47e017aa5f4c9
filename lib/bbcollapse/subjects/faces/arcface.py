"""An ArcFace-class face descriptor ``F_id`` (paper 000, Sec. 3: the paper uses InsightFace's ArcFace).

:class:`ArcFaceDescriptor` runs ``fr_feature.onnx`` of the npm package
``faceplugin-face-recognition-js@0.0.1`` (MIT): a MobileFaceNet-style network trained with an
ArcFace-type loss, 1x3x112x112 RGB in ``(x - 127) / 128``, 512-D out.  Two ways to feed it:

* ``input="frame"`` (the default, and the paper authors' way): the whole 64x64 frame resized
  (bilinear) to 112x112, no detection or alignment;
* ``input="aligned"``: the package's own 5-point alignment (:mod:`.align5`) to ArcFace's crop.

Notebook 03 measures both (view invariance, agreement with dlib, real photos) and explains the
default.  Two backends run the same graph, batched: ``"torch"`` (:class:`.onnx_net.OnnxTorchNet`,
CPU or CUDA; the faster one on CPU, measured in ``bench/bench_faces.py``) and ``"onnxruntime"``
(CPU, or its CUDA provider where installed); they agree to float rounding (tests).  On CPU the torch
graph is traced, frozen and optimised for inference (TorchScript: oneDNN convolutions with
prepacked weights, ``jit=True``), 1.4-1.65x the eager graph and equal to it to float rounding; with
one torch thread, ``workers`` threads (one per idle core) run it on successive chunks.

``precision="bf16"`` (torch only) runs the network in bfloat16, on AMX / AVX512_BF16 where the CPU
has them: 2.7-3.1x the eager float32 graph, 1.8-2.2x the frozen one, but not a float32 result (min cosine
to float32 0.996 on 2,200 DCGAN faces; distances move by up to 0.0094; per-anchor MCCS by up to
0.007, about one sampling standard error at |C| = 2000; bench/results/faces_*_avx512.txt).  It is
an option, never chosen automatically, and it has its own :attr:`~ArcFaceDescriptor.identity`, so
its embeddings are never mixed with float32 ones in a store.  Output vectors
are optionally centred by a fixed reference mean and returned as unit vectors, the points on the
sphere whose normalised angular distances (Eq. 3) every statistic reduces.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ..._validation import check_int, check_option
from .generator import torch_device
from .models import MODEL_SHA256, model_file
from .onnx_net import OnnxTorchNet, batched_model, ort_session
from .pipeline import CentredDescriptor, as_uint8_images, pipelined

log = logging.getLogger(__name__)

__all__ = ["ArcFaceDescriptor", "ARCFACE_SIZE", "PRECISIONS", "frame_to_network_input"]

#: Side of the network's input crop.
ARCFACE_SIZE = 112

#: Images per network call on CPU (torch backend): 8 keeps the largest activation (8 x 64 x 56 x 56
#: floats, 6.4 MB) near the 4 MB L2 instead of streaming 51 MB through memory at 64; the frozen
#: graph is 1.6-2.1x faster per face at 8 than at 64 and bit-identical (bench/bench_faces.py).
CPU_BATCH = 8

#: Arithmetic of the torch network: "float32" (the reference, default) or "bf16" (faster, not float32-exact).
PRECISIONS = ("float32", "bf16")


def frame_to_network_input(images, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The authors' input: uint8 frames (n, H, W, 3) resized (bilinear) to ``size``, as (x - 127)/128, NCHW float32."""
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    if t.shape[2] != size or t.shape[3] != size:
        # torch's uint8 bilinear kernel (channels-last input) is the fast path, within one grey level of float
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return ((t.float() - 127.0) / 128.0).contiguous().numpy()


def _flush_denormals():
    # Runs in the network's worker thread only (the MXCSR register is per thread): the network's
    # activations reach subnormal floats, whose arithmetic is ~2x slower end to end on x86.
    torch.set_flush_denormal(True)


def frozen_graph(net, example):
    """``net`` traced on ``example``, frozen and optimised for inference (TorchScript; oneDNN on CPU).

    Freezing prepacks the convolution weights once instead of reordering them on every call.
    TorchScript is deprecated in torch 2.10+ (torch.compile's freezing is as fast but compiles for
    ~40 s per descriptor and batch shape here): where tracing fails, ``net`` itself is returned.
    """
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            graph = torch.jit.freeze(torch.jit.trace(net, example))
            return torch.jit.optimize_for_inference(graph)
    except (AttributeError, RuntimeError) as exc:  # pragma: no cover - only where TorchScript is gone
        log.warning("TorchScript unavailable (%s); the ArcFace network runs eagerly", exc)
        return net


class ArcFaceDescriptor(CentredDescriptor):
    """ArcFace-class face descriptor (``fr_feature.onnx``) -> unit vectors (n, 512).

    Parameters
    ----------
    input : "frame" (whole frame resized to 112, the paper authors' way) or "aligned" (5-point alignment)
    backend : "torch" (the graph executed by torch, CPU or CUDA) or "onnxruntime"
    device : "cpu" or "cuda" (default: cuda when torch sees one)
    precision : "float32" (the reference, default) or "bf16" (torch backend only: faster on CPUs with
        AMX or AVX512_BF16, with its own identity; see the module docstring for its effect)
    jit : run a frozen TorchScript graph on CPU (default True: float32 results equal to the eager
        graph to float rounding, 1.4-1.65x faster); False runs the graph eagerly
    workers : network threads on successive chunks (default on CPU with torch: the usable cores
        divided by torch's intra-op threads, read at each call; else 1); results do not depend on it
    center : optional (512,) reference mean subtracted before normalisation
    batch_size : images per network call (default: :data:`CPU_BATCH` on CPU with torch, whose
        activations then stay in the core's cache, else 64); results do not depend on it
    normalize : if False, ``__call__`` returns the raw 512-D outputs
    progress : show a progress bar (default: only when stderr is a terminal)

    Raises
    ------
    ModelFileError
        If ``fr_feature.onnx`` (or, for "aligned", the detector and landmark files) is missing or
        altered; the message names ``make setup``.
    """

    dim = 512

    def __init__(
        self,
        input: str = "frame",
        backend: str = "torch",
        device=None,
        center=None,
        batch_size: int | None = None,
        normalize: bool = True,
        progress: bool | None = None,
        precision: str = "float32",
        jit: bool = True,
        workers: int | None = None,
    ):
        check_option(input, ("frame", "aligned"), "input")
        check_option(backend, ("torch", "onnxruntime"), "backend")
        check_option(precision, PRECISIONS, "precision")
        if precision != "float32" and backend != "torch":
            raise ValueError(f"precision={precision!r} needs backend='torch'; onnxruntime runs float32 only")
        self.input, self.backend, self.precision = input, backend, precision
        self.workers = None if workers is None else check_int(workers, "workers", minimum=1)
        self._dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.normalize_output = bool(normalize)
        self.progress = self._show_progress(progress)
        self.device = torch_device(device)
        if batch_size is None:
            batch_size = CPU_BATCH if backend == "torch" and self.device.type == "cpu" else 64
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        path = model_file("fr_feature.onnx")
        self.jit = bool(jit) and backend == "torch" and self.device.type == "cpu"
        if backend == "torch":
            self.net = OnnxTorchNet(batched_model(path)).to(self.device, self._dtype).eval()
            if self.device.type == "cpu":
                self.net = self.net.to(memory_format=torch.channels_last)
            if self.jit:
                example = torch.zeros(2, 3, ARCFACE_SIZE, ARCFACE_SIZE, dtype=self._dtype)
                self.net = frozen_graph(self.net, example.contiguous(memory_format=torch.channels_last))
        else:
            self.session = ort_session(path, device=self.device.type)
        self.aligner = None
        if input == "aligned":
            from .align5 import FaceAligner5

            self.aligner = FaceAligner5()
        self.center = None if center is None else self._check_center(center)

    # -- the network ------------------------------------------------------------------
    def embed_crops(self, x) -> np.ndarray:
        """Raw 512-D outputs (n, 512) float32 of network inputs (n, 3, 112, 112) float32 in (x - 127)/128."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (3, ARCFACE_SIZE, ARCFACE_SIZE):
            raise ValueError(f"network input must be (n, 3, {ARCFACE_SIZE}, {ARCFACE_SIZE}) float32; got {x.shape}")
        out = np.empty((len(x), self.dim), np.float32)
        for s in range(0, len(x), self.batch_size):
            out[s : s + self.batch_size] = self._forward(x[s : s + self.batch_size])
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        if self.backend == "onnxruntime":
            return self.session.run(None, {"input": x})[0]
        with torch.inference_mode():
            t = torch.from_numpy(x).to(self.device, self._dtype)
            if self.device.type == "cpu":
                t = t.contiguous(memory_format=torch.channels_last)
            return self.net(t).float().cpu().numpy()

    def prepare(self, images) -> np.ndarray:
        """The network's input (n, 3, 112, 112) for uint8 frames (n, H, W, 3): resized or aligned."""
        if self.aligner is not None:
            images = self.aligner(images).crops
        return frame_to_network_input(images)

    def raw(self, images) -> np.ndarray:
        """Raw (uncentred, unnormalised) 512-D outputs (n, 512) of images.

        Preparation of the next chunk (resizing or alignment) overlaps the network on this one, and
        ``workers`` threads run the network on successive chunks at once.
        """
        imgs = as_uint8_images(images)
        workers = self._workers()
        return pipelined(
            len(imgs),
            max(self.batch_size, 64) if workers > 1 else max(self.batch_size, 128),
            lambda s, e: self.prepare(imgs[s:e]),
            self.embed_crops,
            self.dim,
            progress=self.progress,
            initializer=_flush_denormals if self.device.type == "cpu" and self.backend == "torch" else None,
            workers=workers,
        )

    def _workers(self) -> int:
        if self.workers is not None:
            return self.workers
        if self.device.type != "cpu" or self.backend != "torch":
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        # the resize is cheap: the cores torch's own threads leave idle run the network on other chunks
        return max(1, cores // max(1, torch.get_num_threads()))

    @property
    def identity(self) -> str:
        """Stable identity for embedding stores: what changes the output.

        Not the backend, the device or ``jit`` (float32 results agree to float rounding, tests); a
        precision other than float32 is part of it (float32 keeps the identity it had before the option).
        """
        how = "frame resized bilinear to 112" if self.input == "frame" else "5-point aligned (fr_detect, fr_landmark)"
        model = f"fr_feature.onnx sha256:{MODEL_SHA256['fr_feature.onnx'][:16]}"
        prec = "" if self.precision == "float32" else f", precision={self.precision}"
        return (
            f"ArcFaceDescriptor({model}, input={how}{prec}, center={self._center_tag()}, output={self._output_tag()})"
        )

    def __repr__(self):
        where = f"input={self.input!r}, backend={self.backend!r}, device={self.device}, precision={self.precision!r}"
        return f"ArcFaceDescriptor({where}, center={self._center_word()}, output={self._output_tag()})"
