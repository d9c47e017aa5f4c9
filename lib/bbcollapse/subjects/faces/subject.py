"""The face subject as the book, the CLI and a user get it: a face DCGAN and a face descriptor.

:func:`face_subject` returns ``(sampler, descriptor)`` and :func:`face_descriptor` the descriptor
alone (the CLI's ``--descriptor faces``).  The default descriptor is the ArcFace-class one
(``descriptor="arcface"``: ``fr_feature.onnx`` fed the whole frame resized to 112, uncentred, as
paper 000's authors feed InsightFace); ``descriptor="dlib"`` gives dlib's ResNet centred by a
fixed reference mean (:func:`face_reference_mean`), the book's robustness check.

:func:`face_theta_r` gives the subject's default theta (Eq. 3) and r (Eq. 5): the documented rule's
values measured on the DCGAN with the ArcFace descriptor, shipped as ``theta_r.json`` beside this
module with the command, commit and date that measured them (``tools/measure_theta_r.py`` rewrites it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..._atomic import atomic_path
from ..._validation import check_option
from .generator import FaceDCGAN
from .pipeline import reference_mean

__all__ = [
    "face_subject",
    "face_descriptor",
    "face_reference_mean",
    "face_theta_r",
    "make_face_descriptor",
    "DESCRIPTORS",
    "THETA_R_FILE",
]

#: Seed and size of the reference set whose mean descriptor centres a face descriptor.
REFERENCE_SEED = 777_000
REFERENCE_N = 1000

#: The face descriptors by name, and whether each is centred by default.
DESCRIPTORS = {"arcface": False, "dlib": True}

#: theta and r of the default descriptor by the documented rule, with their provenance (package data)
THETA_R_FILE = Path(__file__).with_name("theta_r.json")


def make_face_descriptor(name: str = "arcface", device=None, **kwargs):
    """A new face descriptor by name: "arcface" (:class:`ArcFaceDescriptor`) or "dlib" (:class:`DlibFaceDescriptor`)."""
    check_option(name, tuple(DESCRIPTORS), "descriptor")
    if name == "arcface":
        from .arcface import ArcFaceDescriptor

        return ArcFaceDescriptor(device=device, **kwargs)
    from .descriptor import DlibFaceDescriptor

    return DlibFaceDescriptor(device=device, **kwargs)


def face_reference_mean(
    sampler=None, descriptor=None, *, n: int = REFERENCE_N, seed: int = REFERENCE_SEED, cache_dir=None
) -> np.ndarray:
    """The reference centre: mean raw descriptor of ``n`` base-DCGAN faces from ``seed``.

    The centre belongs to the *descriptor*: it is computed once from the pretrained
    DCGAN and then kept fixed, also when a calibrated generator is diagnosed (a
    descriptor must not change with the model it measures).

    Parameters
    ----------
    sampler : the base generator (default: a new :class:`FaceDCGAN`, checkpoint 1.1.1, no truncation)
    descriptor : a face descriptor with ``raw`` and ``with_center`` (default: a new dlib descriptor)
    n, seed : size and seed of the reference set
    cache_dir : optional directory; the mean is cached there as a .npy keyed by the settings
    """
    descriptor = descriptor or make_face_descriptor("dlib")
    path = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{descriptor.with_center(None).identity}|{seed}|{n}".encode()).hexdigest()[:16]
        path = os.path.join(cache_dir, f"face_reference_mean_{key}.npy")
        if os.path.exists(path):
            return np.load(path, allow_pickle=False)
    sampler = sampler or FaceDCGAN(device=getattr(descriptor, "device", None))
    centre = reference_mean(descriptor.raw(sampler(seed, n).x), descriptor.dim)
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        with atomic_path(path, suffix=".npy") as tmp:  # np.save appends .npy to any other name
            np.save(tmp, centre, allow_pickle=False)
    return centre


def _centred(descriptor, name, center, sampler, cache_dir):
    if isinstance(center, str):
        check_option(center, ("reference", "default"), "center")
        if center == "default" and not DESCRIPTORS[name]:
            return descriptor
        center = face_reference_mean(sampler, descriptor, cache_dir=cache_dir)
    return descriptor.with_center(center)


def face_subject(
    device=None,
    descriptor: str = "arcface",
    *,
    center="default",
    cache_dir=None,
    checkpoint: str = "1.1.1",
    psi: float = 1.0,
    **descriptor_kwargs,
):
    """(sampler, descriptor): a face DCGAN and a face descriptor.

    Parameters
    ----------
    device : torch device for the generator and the descriptor's network
    descriptor : "arcface" (default) or "dlib"
    center : "default" (none for ArcFace, the reference mean for dlib), "reference" (the
        reference mean, computed once and cached in ``cache_dir``), None, or a (D,) vector
    cache_dir : where a reference centre is cached
    checkpoint, psi : the DCGAN checkpoint and truncation (see :class:`FaceDCGAN`)
    descriptor_kwargs : passed to the descriptor (e.g. ``input="aligned"``, ``backend="dlib"``)
    """
    sampler = FaceDCGAN(device=device, checkpoint=checkpoint, psi=psi)
    d = make_face_descriptor(descriptor, device=device, **descriptor_kwargs)
    # the centre is always that of the base generator (checkpoint 1.1.1, no truncation)
    base = sampler if checkpoint == "1.1.1" and psi == 1.0 else None
    return sampler, _centred(d, descriptor, center, base, cache_dir)


def face_descriptor(device=None, descriptor: str = "arcface", *, center="default", cache_dir="data/cache", **kwargs):
    """The face descriptor alone (the CLI's ``--descriptor faces``; ``faces:descriptor=dlib`` for dlib's).

    ArcFace (the default) is uncentred; dlib's is centred by the reference mean, cached in ``cache_dir``.
    """
    return _centred(make_face_descriptor(descriptor, device=device, **kwargs), descriptor, center, None, cache_dir)


def face_theta_r(sampler, descriptor, path=THETA_R_FILE) -> dict | None:
    """The shipped theta and r when ``descriptor`` is the one they were measured with, with where they came from.

    Returns ``{"theta", "r", "source"}`` for a :class:`FaceDCGAN` read through a descriptor whose
    identity ``path`` records: the default (ArcFace) at the file's top level, others such as dlib's
    (``faces:descriptor=dlib``) under ``other_descriptors`` (any checkpoint or truncation: theta and
    r belong to the descriptor, as in the book's Table 1); None for any other pair (the API and the
    CLI then use the generic defaults).
    """
    from ...blackbox import identity_of

    if not isinstance(sampler, FaceDCGAN) or not Path(path).is_file():
        return None
    doc = json.loads(Path(path).read_text())
    entries = [doc, *doc.get("other_descriptors", [])]  # the default descriptor's entry, then the others'
    doc = next((e for e in entries if e["descriptor"] == identity_of(descriptor)), None)
    if doc is None:
        return None
    prov = doc["provenance"]
    source = (
        f"subject default from {Path(path).name} (bbcollapse.subjects.faces), measured {prov['date'][:10]} "
        f"on {prov['n']} faces by `{prov['command']}` (commit {prov['commit']}), rounded to 4 decimals; "
        f"rule: {doc['rule']}"
    )
    return {"theta": round(doc["theta"], 4), "r": round(doc["r"], 4), "source": source}
