"""The lab's instance descriptor ``F_id``: a small CNN trained by contrastive instance discrimination.

Paper 000, Sec. 3 needs a descriptor that maps one identity to nearby unit vectors and
different identities apart; for faces it is a pretrained recognition network.  In the lab the
identity is the item (one Fashion-MNIST image), and the descriptor is trained here on the
training split with SimCLR's NT-Xent objective (Chen et al. 2020): two random views of one
image (:mod:`.views`) are positives, the other 2(B - 1) views of the batch negatives, cosine
similarities over a temperature ``tau``.  The 128-D output of the projection head, scaled to
unit length, is the descriptor: the objective makes exactly that output view-invariant.

theta (Eq. 4) and r (Eq. 5) are read off views of one item against different items by the
rule of the face descriptors, :func:`bbcollapse.subjects.faces.identity.choose_theta_r`
(reused, not copied): :func:`view_invariance` measures the two distance samples on held-out
images, the AUC of their separation and the rule's (theta, r).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_int, check_positive
from ..subjects.faces.identity import ThetaR, choose_theta_r, identity_distances, separation
from .nets import TRUNK_SIDE, TrainConfig, batched_forward, conv_trunk, data_fingerprint, trained_or_cached
from .views import ENCODER_VIEWS, ViewConfig, as_image_tensor, augment, item_views

__all__ = [
    "EncoderConfig",
    "InstanceEncoderNet",
    "InstanceDescriptor",
    "nt_xent",
    "instance_encoder",
    "ViewInvariance",
    "view_invariance",
]

#: Bumped when the architecture or the training recipe changes, so old caches are not reused.
RECIPE = "instance-encoder-v1"


@dataclass(frozen=True)
class EncoderConfig(TrainConfig):
    """The encoder's training recipe (with the training data, hashed for the cache).

    Attributes
    ----------
    steps, batch_size, lr, width, weight_decay, seed, views : as in :class:`~.nets.TrainConfig`
        (``batch_size`` images per step, two views of each; ``views``: the positives' distribution)
    temperature : tau of NT-Xent
    dim : descriptor dimension
    """

    steps: int = 400
    batch_size: int = 256
    width: int = 8
    temperature: float = 0.2
    dim: int = 128

    def __post_init__(self):
        super().__post_init__()
        check_int(self.dim, "dim", minimum=2)
        check_positive(self.temperature, "temperature")


class InstanceEncoderNet(nn.Module):
    """Conv trunk -> global average pool -> MLP head -> ``dim`` (not normalised).

    (n, 1, 28, 28) -> (n, dim).  Average pooling makes the output insensitive to small shifts by construction.
    """

    def __init__(self, width: int = 16, dim: int = 128):
        super().__init__()
        c = 4 * width
        self.trunk = conv_trunk(width)
        self.pool = nn.Sequential(
            nn.Conv2d(2 * width, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(TRUNK_SIDE),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, dim))

    def forward(self, x):
        return self.head(self.pool(self.trunk(x)))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent loss of SimCLR: row i of ``z1`` and of ``z2`` are positives, every other row a negative.

    Parameters
    ----------
    z1, z2 : (B, d) outputs for the two views of B images (normalised here)
    temperature : tau

    Returns
    -------
    scalar tensor: mean over the 2B views of ``-log softmax`` of the positive's cosine / tau
    """
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, target)


class InstanceDescriptor:
    """The trained encoder as a Descriptor: images -> (n, dim) unit float32 vectors.

    Call with images float32 (n, 1, 28, 28) in [0, 1] (or (n, 28, 28), or uint8); deterministic
    (evaluation mode, no randomness).

    Attributes
    ----------
    net : the InstanceEncoderNet (evaluation mode)
    config : its EncoderConfig
    record : what training recorded (config, data fingerprint, seconds, loss log)
    identity : a stable name, the cache key included
    """

    def __init__(self, net: InstanceEncoderNet, config: EncoderConfig, record: dict, key: str):
        self.net, self.config, self.record = net.eval(), config, record
        self.identity = f"lab-instance-encoder-{key}"
        self.dim = config.dim

    def __call__(self, images) -> np.ndarray:
        e = batched_forward(lambda x: F.normalize(self.net(x), dim=1), images)
        return (e / np.linalg.norm(e.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)

    def __repr__(self):
        return f"InstanceDescriptor({self.identity}, dim={self.dim}, steps={self.config.steps})"


def _training_images(images):
    if images is None:
        from .data import load_fashion_mnist

        images = load_fashion_mnist("train")[0]
    return as_image_tensor(images), np.asarray(images)


def instance_encoder(
    config: EncoderConfig = EncoderConfig(),
    *,
    images=None,
    cache_dir=None,
    progress: bool | None = None,
    threads: int | None = None,
) -> InstanceDescriptor:
    """The instance descriptor for ``config``: read from the cache, or trained and cached.

    Parameters
    ----------
    config : the training recipe
    images : training images (n, 28, 28) uint8 or (n, 1, 28, 28) float in [0, 1]; default the
        Fashion-MNIST training split (:func:`bbcollapse.lab.data.load_fashion_mnist`)
    cache_dir : cache root (default ``data/cache/lab``); the network lives in
        ``<cache_dir>/instance-encoder-<hash of config and data>/``
    progress : progress bar (default: only on a terminal)
    threads : torch's intra-op threads while training (None: as set; 1 is fastest on a busy CPU)

    Returns
    -------
    InstanceDescriptor
    """
    x, raw = _training_images(images)

    def loss_for(net, g):
        def batch_loss(step):
            xb = x[torch.randint(0, x.shape[0], (config.batch_size,), generator=g)]
            return nt_xent(net(augment(xb, g, config.views)), net(augment(xb, g, config.views)), config.temperature)

        return batch_loss

    build = lambda: InstanceEncoderNet(config.width, config.dim)
    net, record, key = trained_or_cached(
        "instance-encoder",
        RECIPE,
        config,
        data_fingerprint(raw),
        build,
        loss_for,
        cache_dir=cache_dir,
        progress=progress,
        threads=threads,
    )
    return InstanceDescriptor(net, config, record, key)


@dataclass(frozen=True, repr=False)
class ViewInvariance:
    """How well a descriptor keeps views of one item together and different items apart.

    Attributes
    ----------
    auc : P(d(item, its view) < d(item, another item)) (ties one half)
    separation : d', AUC, EER and quantiles (:func:`bbcollapse.subjects.faces.identity.separation`)
    theta_r : the documented rule's theta and r (:func:`~bbcollapse.subjects.faces.identity.choose_theta_r`)
    same : (n * v,) distances between an item and its views
    diff : (n (n - 1) / 2,) distances between different items
    n_items, n_views : items and views per item measured
    """

    auc: float
    separation: dict
    theta_r: ThetaR
    same: np.ndarray
    diff: np.ndarray
    n_items: int
    n_views: int

    def __repr__(self):
        return (
            f"ViewInvariance(auc={self.auc:.4f}, theta={self.theta_r.theta:.3f}, r={self.theta_r.r:.3f}, "
            f"n_items={self.n_items}, n_views={self.n_views})"
        )


def view_invariance(
    descriptor,
    images,
    *,
    seed: int,
    n_views: int = 4,
    views: ViewConfig = ENCODER_VIEWS,
    q_same: float = 0.95,
    q_diff: float = 0.05,
) -> ViewInvariance:
    """Same-item and different-item distances of ``descriptor`` on ``images``, their AUC, and theta and r.

    Parameters
    ----------
    descriptor : images (n, 1, 28, 28) -> (n, D) unit vectors
    images : the items (n >= 5; held-out images for an honest AUC)
    seed : seed of the views
    n_views : views per item
    views : the view distribution (default: the encoder's training views)
    q_same, q_diff : the quantiles of the rule (see ``choose_theta_r``)

    Returns
    -------
    ViewInvariance
    """
    x = as_image_tensor(images)
    n = x.shape[0]
    if n < 5:
        raise ValueError(f"view_invariance needs at least 5 images; got {n}")
    e = np.asarray(descriptor(x.numpy()), dtype=np.float64)
    v = item_views(x, seed, n_views, views)
    ev = np.asarray(descriptor(v.reshape(n * n_views, 1, 28, 28)), dtype=np.float64).reshape(n, n_views, -1)
    same, diff = identity_distances(e, ev)
    sep = separation(same, diff)
    return ViewInvariance(
        auc=sep["auc"],
        separation=sep,
        theta_r=choose_theta_r(same, diff, q_same=q_same, q_diff=q_diff),
        same=same,
        diff=diff,
        n_items=n,
        n_views=int(n_views),
    )
