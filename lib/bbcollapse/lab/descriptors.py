"""Train the lab's two descriptor networks at once: the instance encoder and the classifier.

Not an equation of paper 000: the descriptor ``F_id`` of Sec. 3 and the classifier behind the
classification-based checks are trained on the training split (:mod:`.encoder`, :mod:`.classifier`).
The two runs are independent, so on a 2-core CPU they go to two single-threaded processes (as the
trainer's ``train_many`` does for generators), which is faster than one process with two threads
for networks this small.  Each worker trains and caches; this process then reads both back from
the cache (safetensors), so the result does not depend on how the runs were scheduled.
"""

from __future__ import annotations

from .._validation import check_int
from .classifier import ClassifierConfig, LabClassifier, lab_classifier
from .encoder import EncoderConfig, InstanceDescriptor, instance_encoder

__all__ = ["train_descriptors"]


def _train_one(kind: str, config, cache_dir, threads: int) -> float:
    """Worker: train (or find cached) one network on the Fashion-MNIST training split; its training seconds."""
    if kind == "encoder":
        return instance_encoder(config, cache_dir=cache_dir, progress=False, threads=threads).record["seconds"]
    return lab_classifier(config, cache_dir=cache_dir, progress=False, threads=threads).record["seconds"]


def train_descriptors(
    encoder_config: EncoderConfig,
    classifier_config: ClassifierConfig,
    *,
    cache_dir=None,
    workers: int = 2,
    threads: int = 1,
    progress: bool | None = None,
) -> tuple[InstanceDescriptor, LabClassifier]:
    """The instance descriptor and the classifier, trained on the Fashion-MNIST training split (or read from the cache).

    Parameters
    ----------
    encoder_config, classifier_config : the two recipes (``EncoderConfig()``, ``ClassifierConfig()`` for the defaults)
    cache_dir : cache root (default ``data/cache/lab``)
    workers : 2 trains both at once in two processes; 1 trains them one after the other here
    threads : torch's intra-op threads of each training run
    progress : progress bars when training here (workers = 1)

    Returns
    -------
    (InstanceDescriptor, LabClassifier)
    """
    workers = check_int(workers, "workers", minimum=1)
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [
                pool.submit(_train_one, "encoder", encoder_config, cache_dir, threads),
                pool.submit(_train_one, "classifier", classifier_config, cache_dir, threads),
            ]
            for job in jobs:
                job.result()
    encoder = instance_encoder(encoder_config, cache_dir=cache_dir, progress=progress, threads=threads)
    classifier = lab_classifier(classifier_config, cache_dir=cache_dir, progress=progress, threads=threads)
    return encoder, classifier
