"""Adapters that turn a user's model into a black box (Sampler / Descriptor).

Each generator adapter is a :class:`~bbcollapse.blackbox.GaussianLatentModel`: we draw
the latents ``z ~ N(0, I_L)`` from the seed ourselves and only ask the model for
``x = G(z)``, so a run is reproducible from its seed whatever the model is, and the
calibrators (which act on latents) work on every adapter.  Each descriptor adapter maps
outputs to ``(n, D)`` vectors, L2-normalised by default (``normalize=False`` requires
unit vectors from the model instead).

All of them stand on the two batching bases of :mod:`.base`; a backend only says how to
run one batch:

* ``torch``: a torch ``nn.Module`` (:class:`TorchGenerator`, :class:`TorchDescriptor`);
  weights come from a safetensors file or ``torch.load(weights_only=True)``
  (:func:`load_state_dict`), never from an arbitrary pickle unless asked;
* ``onnx``: an ONNX file run by onnxruntime (:class:`OnnxGenerator`, :class:`OnnxDescriptor`);
* ``command``: an external command given as an argv list, never through a shell
  (:class:`CommandGenerator`, :class:`CommandDescriptor`, :func:`run_command`);
* ``http``: an HTTP endpoint at a user-given URL (:class:`HttpGenerator`,
  :class:`HttpDescriptor`, :func:`post_array`).

Every failure (timeout, non-zero exit, HTTP error, malformed or wrongly shaped output)
raises :class:`~bbcollapse.blackbox.BlackBoxError` with a message that names the command
or URL and quotes the tail of its stderr or response body.  torch and onnxruntime are
imported on first use.
"""

from .base import BatchedDescriptor, BatchedGenerator
from .command import CommandDescriptor, CommandGenerator, run_command
from .http import HttpDescriptor, HttpGenerator, post_array
from .onnx import OnnxDescriptor, OnnxGenerator
from .torch import TorchDescriptor, TorchGenerator, load_state_dict

__all__ = [
    "BatchedDescriptor",
    "BatchedGenerator",
    "CommandDescriptor",
    "CommandGenerator",
    "HttpDescriptor",
    "HttpGenerator",
    "OnnxDescriptor",
    "OnnxGenerator",
    "TorchDescriptor",
    "TorchGenerator",
    "load_state_dict",
    "post_array",
    "run_command",
]
