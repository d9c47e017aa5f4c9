"""Torch modules as black boxes: :class:`TorchGenerator`, :class:`TorchDescriptor`, :func:`load_state_dict`.

Weights come from a safetensors file or ``torch.load(weights_only=True)``; an arbitrary
pickle is never loaded unless ``unsafe_allow_pickle=True`` is passed explicitly.  The
identity recorded in a store holds a hash of the module's parameters, so that it changes
when the weights do.  torch is imported on first use, so that importing the adapters
stays light.  Implements no equation of paper 000.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..protocols import BlackBoxError
from .base import BatchedDescriptor, BatchedGenerator

__all__ = ["TorchDescriptor", "TorchGenerator", "load_state_dict"]


def load_state_dict(path, *, unsafe_allow_pickle: bool = False):
    """Load model weights from a file without executing code.

    Parameters
    ----------
    path : a ``.safetensors`` file (preferred) or a ``torch.save`` file of tensors.
    unsafe_allow_pickle : bool, default False
        **Warning: setting this runs arbitrary code from the file** (``torch.load`` with
        ``weights_only=False`` unpickles any Python object).  Use it only for files you
        created yourself or fully trust.  By default a file holding anything but
        tensors and plain containers is refused.

    Returns
    -------
    dict of tensors (or, with ``unsafe_allow_pickle``, whatever the file holds).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not unsafe_allow_pickle)
    except Exception as exc:
        if unsafe_allow_pickle:
            raise
        raise BlackBoxError(
            f"refusing to unpickle {str(path)!r}: it holds more than tensors ({str(exc).splitlines()[0][:200]}). "
            "Save the weights with safetensors (safetensors.torch.save_file(model.state_dict(), 'w.safetensors')) "
            "or torch.save(model.state_dict(), ...); pass unsafe_allow_pickle=True only for a file you trust."
        ) from None


def _module_sha(module) -> str:
    """SHA-256 (16 hex digits) of a module's parameters and buffers, so that the identity
    recorded in a store changes when the weights do."""
    import torch

    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class _TorchModule:
    """The torch half of both adapters: a module in eval mode on a device, and its weights' hash."""

    label = "torch {kind} {}"
    input_dtype = np.float32

    def _bind(self, module, weights, unsafe_allow_pickle, device, name) -> str:
        """Load ``weights`` into ``module`` and keep it; returns the adapter's name."""
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
        if weights is not None:
            state = load_state_dict(weights, unsafe_allow_pickle=unsafe_allow_pickle)
            if isinstance(state, torch.nn.Module):
                state = state.state_dict()
            module.load_state_dict(state)
        self.module = module.to(device).eval()
        self.device = device
        self.weights_sha = _module_sha(self.module)
        return name or type(module).__name__

    def run_batch(self, data: np.ndarray) -> np.ndarray:
        """The module's output (b, ...) for one float32 batch ``data`` (b, ...)."""
        import torch

        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(data)).to(self.device))
        return out.detach().cpu().numpy()


class TorchGenerator(_TorchModule, BatchedGenerator):
    """A torch generator ``G: (n, L) -> (n, ...)`` with the prior ``z ~ N(0, I_L)``.

    Parameters
    ----------
    module : torch.nn.Module mapping float32 latents (n, L) to outputs (n, ...)
    latent_dim : L
    weights : path to a ``.safetensors`` or ``torch.save`` state dict, optional
    unsafe_allow_pickle : see :func:`load_state_dict` (**runs code from the file**)
    device : torch device, default "cpu"
    batch_size : latents per forward pass
    name : default the module's class name
    """

    identity_format = "TorchGenerator({self.name}, latent_dim={self.latent_dim}, weights_sha256={self.weights_sha})"

    def __init__(
        self,
        module,
        latent_dim: int,
        *,
        weights=None,
        unsafe_allow_pickle=False,
        device="cpu",
        batch_size=512,
        name=None,
    ):
        name = self._bind(module, weights, unsafe_allow_pickle, device, name)
        super().__init__(latent_dim, batch_size=batch_size, name=name)


class TorchDescriptor(_TorchModule, BatchedDescriptor):
    """A torch descriptor ``F: (n, ...) -> (n, D)``, L2-normalised unless ``normalize=False``.

    Parameters
    ----------
    module : torch.nn.Module mapping float32 outputs (n, ...) to embeddings (n, D)
    weights, unsafe_allow_pickle, device, name : as for :class:`TorchGenerator`
    batch_size : outputs per forward pass
    normalize : divide each embedding by its L2 norm (else the module must return unit vectors)
    """

    identity_format = "TorchDescriptor({self.name}, weights_sha256={self.weights_sha}, normalize={self.normalize})"

    def __init__(
        self,
        module,
        *,
        weights=None,
        unsafe_allow_pickle=False,
        device="cpu",
        batch_size=512,
        normalize=True,
        name=None,
    ):
        name = self._bind(module, weights, unsafe_allow_pickle, device, name)
        super().__init__(batch_size=batch_size, normalize=normalize, name=name)
