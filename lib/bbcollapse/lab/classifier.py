"""The lab's 10-class Fashion-MNIST classifier: class histograms, a "Fashion IS" and features for a Fréchet distance.

Not an equation of paper 000.  The paper argues that classification-based checks (class
coverage, the Inception Score, FID on Inception features) miss *intra*-mode collapse (Sec. 1
and 2); the lab measures them beside MCCS so the claim can be tested.  No Inception network
can run here, so the lab trains its own classifier on the training split and names everything
computed from it:

* :meth:`LabClassifier.class_histogram`: predicted classes of generated samples;
* :meth:`LabClassifier.probs`: its softmax, on which :func:`bbcollapse.metrics.inception_score_analogue`
  computes the Inception-Score formula, called "Fashion IS" here;
* :meth:`LabClassifier.features`: its penultimate 128-D activations, the features of
  :func:`bbcollapse.metrics.frechet_distance`, called :data:`FRECHET_LAB_NAME`, never FID.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_fraction, check_int
from .data import CLASS_NAMES
from .nets import TRUNK_SIDE, TrainConfig, batched_forward, conv_trunk, data_fingerprint, trained_or_cached
from .views import CLASSIFIER_VIEWS, ViewConfig, as_image_tensor, augment

__all__ = [
    "ClassifierConfig",
    "ClassifierNet",
    "LabClassifier",
    "lab_classifier",
    "FRECHET_LAB_NAME",
]

RECIPE = "classifier-v1"

FRECHET_LAB_NAME = "Fréchet distance on the lab classifier's features"


@dataclass(frozen=True)
class ClassifierConfig(TrainConfig):
    """The classifier's training recipe (with the training data, hashed for the cache).

    Attributes
    ----------
    steps, batch_size, lr, width, weight_decay, seed, views : as in :class:`~.nets.TrainConfig`
        (``views``: the training augmentation, horizontal flips by default)
    features : width of the penultimate layer (the Fréchet features)
    dropout : dropout before the last layer
    """

    steps: int = 2000
    views: ViewConfig = CLASSIFIER_VIEWS
    features: int = 128
    dropout: float = 0.3

    def __post_init__(self):
        super().__post_init__()
        check_int(self.features, "features", minimum=1)
        check_fraction(self.dropout, "dropout", open_low=False)


class ClassifierNet(nn.Module):
    """Conv trunk -> flatten -> ``features`` (ReLU; the penultimate layer) -> dropout -> 10 logits."""

    def __init__(self, width: int = 16, features: int = 128, dropout: float = 0.3, n_classes: int = 10):
        super().__init__()
        self.trunk = conv_trunk(width)
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * TRUNK_SIDE * TRUNK_SIDE, features), nn.ReLU(inplace=True)
        )
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, n_classes))

    def penultimate(self, x):
        return self.embed(self.trunk(x))

    def forward(self, x):
        return self.out(self.penultimate(x))


class LabClassifier:
    """The trained classifier: logits, softmax, predictions, class histograms and penultimate features.

    Every method takes images float32 (n, 1, 28, 28) in [0, 1] (or (n, 28, 28), or uint8) and is
    deterministic (evaluation mode).
    """

    def __init__(self, net: ClassifierNet, config: ClassifierConfig, record: dict, key: str):
        self.net, self.config, self.record = net.eval(), config, record
        self.identity = f"lab-classifier-{key}"

    def logits(self, images) -> np.ndarray:
        """(n, 10) float32."""
        return batched_forward(self.net, images)

    def probs(self, images) -> np.ndarray:
        """(n, 10) float32 softmax."""
        return batched_forward(lambda x: F.softmax(self.net(x), dim=1), images)

    def predict(self, images) -> np.ndarray:
        """(n,) int64 predicted classes."""
        return self.logits(images).argmax(axis=1).astype(np.int64)

    def features(self, images) -> np.ndarray:
        """(n, features) float32 penultimate activations (the features of :data:`FRECHET_LAB_NAME`)."""
        return batched_forward(self.net.penultimate, images)

    def accuracy(self, images, labels) -> float:
        """Fraction of ``labels`` (n,) predicted correctly."""
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},); got {labels.shape}")
        return float((self.predict(images) == labels).mean())

    def class_histogram(self, images) -> np.ndarray:
        """(10,) int64 number of images predicted in each class."""
        return np.bincount(self.predict(images), minlength=len(CLASS_NAMES)).astype(np.int64)

    def __repr__(self):
        return f"LabClassifier({self.identity}, steps={self.config.steps})"


def lab_classifier(
    config: ClassifierConfig = ClassifierConfig(),
    *,
    images=None,
    labels=None,
    cache_dir=None,
    progress: bool | None = None,
    threads: int | None = None,
) -> LabClassifier:
    """The classifier for ``config``: read from the cache, or trained and cached.

    Parameters
    ----------
    config : the training recipe
    images, labels : training images ((n, 28, 28) uint8 or (n, 1, 28, 28) float in [0, 1]) and labels
        (n,) in 0..9; default the Fashion-MNIST training split
    cache_dir : cache root (default ``data/cache/lab``); the network lives in
        ``<cache_dir>/classifier-<hash of config and data>/``
    progress : progress bar (default: only on a terminal)
    threads : torch's intra-op threads while training (None: as set; 1 is fastest on a busy CPU)

    Returns
    -------
    LabClassifier
    """
    if (images is None) != (labels is None):
        raise ValueError("give both images and labels, or neither (the Fashion-MNIST training split)")
    if images is None:
        from .data import load_fashion_mnist

        images, labels = load_fashion_mnist("train")
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    x = as_image_tensor(images)
    if y.shape != (x.shape[0],) or (y.numel() and (y.min() < 0 or y.max() >= len(CLASS_NAMES))):
        raise ValueError(f"labels must be ({x.shape[0]},) integers in 0..9; got shape {tuple(y.shape)}")

    def loss_for(net, g):
        def batch_loss(step):
            idx = torch.randint(0, x.shape[0], (config.batch_size,), generator=g)
            return F.cross_entropy(net(augment(x[idx], g, config.views)), y[idx])

        return batch_loss

    build = lambda: ClassifierNet(config.width, config.features, config.dropout)
    data = data_fingerprint(images, y.numpy())
    net, record, key = trained_or_cached(
        "classifier", RECIPE, config, data, build, loss_for, cache_dir=cache_dir, progress=progress, threads=threads
    )
    return LabClassifier(net, config, record, key)
