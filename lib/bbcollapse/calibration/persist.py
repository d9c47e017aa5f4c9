"""Save a calibrated sampler to a directory and load it back, in safe formats only (paper 000, section 3.2).

A calibrator's result (:class:`~bbcollapse.calibration.CalibratedSampler`) is its fitted state
(K-means cells and weights of Algorithm 1, the dense region and ``p`` of Algorithm 2) around the
model it wraps.  The state is written as ``calibrated.json`` (scalars, the structure, and for the
model and descriptor their SPEC strings and identities) plus one ``.npy`` file per array under
``state/``; nothing is pickled, and ``np.load(allow_pickle=False)`` reads them.  The JSON records
the SHA-256 of every array file and of its own state, so an altered file is refused on load.

The model itself is not saved: it is named by its SPEC (``faces``, ``onnx:g.onnx``,
``cmd:python g.py``, an URL) and resolved again on load, and its identity must match the one
recorded (a changed model is refused).  A Python-only model is passed to :func:`load_calibrated`.
A loaded sampler draws bit-identically to the saved one for every seed.

Writes are crash-safe: each array goes to a file named by its content hash (written to a
temporary file, fsynced, renamed), and ``calibrated.json``, written last the same way, is the
commit point; files no longer referenced are removed afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_bytes
from ..blackbox import identity_of
from ..diagnosis.jsonfile import write_text_atomic
from .base import CalibratedSampler
from .cluster import ClusterWeights, GMMCalibrated, VoronoiCalibrated
from .regions import DenseRegion
from .rejection import RejectionCalibrated

#: The SPEC prefix of a saved calibrated sampler: ``--sampler calibrated:DIR``.
CALIBRATED = "calibrated:"

__all__ = [
    "FORMAT",
    "MANIFEST",
    "CalibratedFileError",
    "calibrated_descriptor_spec",
    "load_calibrated",
    "resolve_calibrated",
    "save_calibrated",
]

FORMAT = "bbcollapse-calibrated/1"
MANIFEST = "calibrated.json"
STATE_DIR = "state"
#: the classes a saved state may name (nothing else is ever constructed from a file)
CLASSES = {c.__name__: c for c in (GMMCalibrated, VoronoiCalibrated, RejectionCalibrated, ClusterWeights, DenseRegion)}
#: fields of a calibrated sampler that are not state: the wrapped model and descriptor (named by SPEC), the bar,
#: and the fit's cost (recorded under "fit", outside the state hash, so that the same fit has the same identity)
NOT_STATE = ("model", "descriptor", "progress", "fit_seconds", "fit_generator_calls")
MAX_MANIFEST_BYTES = 16 * 2**20
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.npy$")


class CalibratedFileError(ValueError):
    """A saved calibrated sampler that cannot be used: altered, incomplete, or for another model."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


# -- state <-> JSON + arrays ---------------------------------------------------------------
def encode(value, arrays: dict, name: str):
    """``value`` as JSON, its arrays moved to ``arrays`` (name -> ndarray); dataclasses of :data:`CLASSES` only."""
    if is_dataclass(value) and not isinstance(value, type):
        cls = type(value).__name__
        if CLASSES.get(cls) is not type(value):
            raise TypeError(f"cannot save {cls} (field {name}): only {sorted(CLASSES)} are saved")
        skip = NOT_STATE if isinstance(value, CalibratedSampler) else ()
        state = {
            f.name: encode(getattr(value, f.name), arrays, f"{name}.{f.name}")
            for f in fields(value)
            if f.init and f.name not in skip  # init=False fields (the running cost) start afresh
        }
        return {"__class__": cls, "fields": state}
    if isinstance(value, (list, tuple)):
        items = [encode(v, arrays, f"{name}.{i}") for i, v in enumerate(value)]
        return {"__list__": items, "tuple": isinstance(value, tuple)}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        value = np.asarray(value)  # strict JSON has no nan or inf: keep it in a file
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"cannot save field {name}: an object array")
        arrays[name] = value
        return {"__array__": name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save field {name} of type {type(value).__name__}")


def decode(doc, arrays: dict):
    """Inverse of :func:`encode` for nested values (dataclasses of :data:`CLASSES` are constructed)."""
    if isinstance(doc, dict) and "__array__" in doc:
        arr = arrays[doc["__array__"]]
        return arr.item() if arr.ndim == 0 and arr.dtype.kind == "f" else arr
    if isinstance(doc, dict) and "__list__" in doc:
        items = [decode(v, arrays) for v in doc["__list__"]]
        return tuple(items) if doc.get("tuple") else items
    if isinstance(doc, dict) and "__class__" in doc:
        cls, kw = decode_class(doc, arrays)
        return cls(**kw)
    return doc


def decode_class(doc: dict, arrays: dict) -> tuple[type, dict]:
    """The class a saved dataclass names (one of :data:`CLASSES`) and its decoded fields."""
    cls = CLASSES.get(doc.get("__class__"))
    if cls is None:
        raise CalibratedFileError(f"the saved state names class {doc.get('__class__')!r}, not one of {sorted(CLASSES)}")
    return cls, {k: decode(v, arrays) for k, v in doc["fields"].items()}


#: the manifest's keys covered by its ``state_sha256``
DIGESTED = ("method", "sampler", "descriptor", "target", "state", "files")


def state_digest(doc: dict) -> str:
    """SHA-256 of the canonical JSON of the manifest's :data:`DIGESTED` keys (detects an edited manifest)."""
    part = {k: doc.get(k) for k in DIGESTED}
    return sha256_bytes(json.dumps(part, sort_keys=True, allow_nan=False).encode())


def saved_identity(method: str, digest: str, model) -> str:
    """Identity of a saved calibrated sampler: its method, state hash and model (for reports and stores)."""
    return f"calibrated({method}, state sha256:{digest[:16]}, model={identity_of(model)})"


def stamp(sampler: CalibratedSampler, identity: str) -> None:
    # identity_of reads ``obj.identity``; the dataclass is frozen, so the attribute is set past it
    object.__setattr__(sampler, "identity", identity)


def finite_or_none(d: dict) -> dict:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in d.items()}


# -- save / load -------------------------------------------------------------------------------
def save_calibrated(
    sampler: CalibratedSampler,
    directory,
    *,
    sampler_spec: str | None = None,
    descriptor_spec: str | None = None,
    latent_dim: int | None = None,
    target=None,
    extra: dict | None = None,
) -> Path:
    """Write a calibrated sampler to ``directory`` (``calibrated.json`` + ``state/*.npy``).

    Parameters
    ----------
    sampler : the calibrated sampler (:func:`bbcollapse.calibrate` or any calibrator)
    directory : where to write; created if needed; other files in it are left alone
    sampler_spec : SPEC of the wrapped model (``faces``, ``onnx:g.onnx``, ...) so that ``--sampler
        calibrated:DIR`` can resolve it; None for a Python-only model (pass it to :func:`load_calibrated`)
    descriptor_spec : SPEC of the descriptor (needed by the rejection method deciding in output space)
    latent_dim : the ``--latent-dim`` the model SPEC needs (command and HTTP models)
    target : the :class:`~bbcollapse.calibration.api.CalibrationTarget` calibrated towards (recorded)
    extra : JSON-able notes to record

    Returns
    -------
    Path of ``calibrated.json``.  The sampler is stamped with the saved identity
    (``identity_of(sampler)`` then equals the loaded sampler's).
    """
    if not isinstance(sampler, CalibratedSampler):
        raise TypeError(f"only calibrated samplers are saved; got {type(sampler).__name__}")
    d = Path(directory)
    (d / STATE_DIR).mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    state = encode(sampler, arrays, "state")
    if target is not None:
        for key in ("embeddings", "latents"):
            if getattr(target, key, None) is not None:
                arrays[f"target.{key}"] = np.asarray(getattr(target, key))
    files, renamed = {}, {}
    for name, arr in arrays.items():
        data = npy_bytes(arr)
        digest = sha256_bytes(data)
        renamed[name] = fname = f"{name}-{digest[:16]}.npy"  # named by content: an old save's files stay valid
        atomic_write_bytes(d / STATE_DIR / fname, data)
        files[fname] = digest
    descriptor = getattr(sampler, "descriptor", None)
    doc = {
        "format": FORMAT,
        "method": sampler.method,
        "sampler": {"spec": sampler_spec, "latent_dim": latent_dim, "identity": identity_of(sampler.model)},
        "descriptor": None if descriptor is None else {"spec": descriptor_spec, "identity": identity_of(descriptor)},
        "target": None
        if target is None
        else {"r0": float(target.r0), **{k: renamed.get(f"target.{k}") for k in ("embeddings", "latents")}},
        "fit": finite_or_none(sampler.report().as_dict()),
        "extra": extra or {},
        "state": rename_arrays(state, renamed),
        "files": files,
    }
    doc["state_sha256"] = digest = state_digest(doc)
    doc["identity"] = saved_identity(sampler.method, digest, sampler.model)
    path = write_text_atomic(d / MANIFEST, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    for old in (d / STATE_DIR).iterdir():  # files of an earlier save into the same directory
        if old.name not in files:
            old.unlink()
    stamp(sampler, doc["identity"])
    return path


def rename_arrays(doc, renamed: dict):
    """The state with each ``{"__array__": name}`` pointing at its file name."""
    if isinstance(doc, dict):
        if "__array__" in doc:
            return {"__array__": renamed[doc["__array__"]]}
        return {k: rename_arrays(v, renamed) for k, v in doc.items()}
    if isinstance(doc, list):
        return [rename_arrays(v, renamed) for v in doc]
    return doc


def read_manifest(directory) -> tuple[Path, dict]:
    """The directory and its ``calibrated.json``, checked for format and size."""
    d = Path(directory)
    path = d / MANIFEST if d.is_dir() or not d.name.endswith(".json") else d
    d = path.parent
    if not path.is_file():
        raise CalibratedFileError(f"{path} does not exist: not a saved calibrated sampler (see save_calibrated)")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise CalibratedFileError(f"{path} is over {MAX_MANIFEST_BYTES} bytes: not a calibrated sampler manifest")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibratedFileError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CalibratedFileError(f"{path} is not a {FORMAT} manifest (format {doc.get('format')!r})")
    return d, doc


def read_arrays(d: Path, doc: dict) -> dict:
    """Every array file of the manifest, each checked against its recorded SHA-256."""
    files = doc.get("files") or {}
    if state_digest(doc) != doc.get("state_sha256"):
        raise CalibratedFileError(f"{d / MANIFEST} was edited: its state no longer matches its state_sha256")
    arrays = {}
    for name, digest in files.items():
        if not _FILE_NAME.match(name):
            raise CalibratedFileError(f"{d / MANIFEST} names a file {name!r} outside its state directory")
        path = d / STATE_DIR / name
        if not path.is_file():
            raise CalibratedFileError(f"{path} is missing: the saved calibrated sampler is incomplete")
        data = path.read_bytes()
        if sha256_bytes(data) != digest:
            raise CalibratedFileError(
                f"{path} was altered: its sha256 is {sha256_bytes(data)[:16]}..., the manifest records "
                f"{digest[:16]}...; save the calibrated sampler again"
            )
        arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
    return arrays


def check_model(role: str, obj, recorded: dict | None, check_identity: bool) -> None:
    if check_identity and recorded and identity_of(obj) != recorded.get("identity"):
        raise CalibratedFileError(
            f"the calibrated sampler was fitted on {role} {recorded.get('identity')!r}, but the {role} given "
            f"now is {identity_of(obj)!r}; calibrate the new model again (or pass check_identity=False)"
        )


def load_calibrated(
    directory, *, model=None, descriptor=None, check_identity: bool = True, progress: bool | None = None
) -> CalibratedSampler:
    """A calibrated sampler saved by :func:`save_calibrated`, bit-identical in its draws for every seed.

    Parameters
    ----------
    directory : the directory (or its ``calibrated.json``)
    model : the wrapped latent model; required here (resolve its SPEC with :func:`resolve_calibrated`)
    descriptor : the descriptor, for a method that embeds proposals (rejection in output space)
    check_identity : refuse a model or descriptor whose identity differs from the recorded one
    progress : progress bar while sampling (default: only on a terminal)

    Raises
    ------
    CalibratedFileError for a missing, altered or foreign file, or another model.
    """
    d, doc = read_manifest(directory)
    arrays = read_arrays(d, doc)
    if model is None:
        raise ValueError(f"give the model the sampler wraps (recorded as {doc['sampler']['identity']!r})")
    check_model("model", model, doc.get("sampler"), check_identity)
    cls, kw = decode_class(doc["state"], arrays)
    if not issubclass(cls, CalibratedSampler):
        raise CalibratedFileError(f"the saved state is a {cls.__name__}, not a calibrated sampler")
    if doc.get("descriptor") is not None:
        if descriptor is None:
            raise ValueError(f"give the descriptor (recorded as {doc['descriptor']['identity']!r})")
        check_model("descriptor", descriptor, doc["descriptor"], check_identity)
        kw["descriptor"] = descriptor
    fit = doc.get("fit") or {}
    cost = {k: fit[k] for k in ("fit_seconds", "fit_generator_calls") if fit.get(k) is not None}
    sampler = cls(model=model, **kw, **cost, progress=progress)
    stamp(sampler, saved_identity(doc["method"], doc["state_sha256"], model))
    return sampler


def calibrated_descriptor_spec(directory) -> str | None:
    """The descriptor SPEC recorded in a saved calibrated sampler (for ``--descriptor``'s default)."""
    _, doc = read_manifest(directory)
    return (doc.get("descriptor") or {}).get("spec")


def resolve_calibrated(
    directory, *, resolve_sampler, resolve_descriptor, progress: bool | None = None, **sampler_options
) -> CalibratedSampler:
    """The sampler named by ``--sampler calibrated:DIR``: its model and descriptor resolved from their SPECs.

    Parameters
    ----------
    directory : DIR
    resolve_sampler, resolve_descriptor : the CLI's resolvers (``bbcollapse.cli.resolve_sampler`` and
        ``resolve_descriptor``), passed in so that this module does not import the CLI
    progress : progress bar while sampling (default: only on a terminal; ``--quiet`` passes False)
    sampler_options : options of ``resolve_sampler`` (timeout, http_format); ``latent_dim`` comes from the file
    """
    _, doc = read_manifest(directory)
    spec = doc["sampler"].get("spec")
    if not spec:
        raise CalibratedFileError(
            f"{directory} wraps a Python model ({doc['sampler']['identity']}) with no SPEC: load it with "
            "bb.load_calibrated(DIR, model=...)"
        )
    sampler_options.pop("latent_dim", None)
    model = resolve_sampler(spec, latent_dim=doc["sampler"].get("latent_dim"), **sampler_options)
    descriptor = None
    if doc.get("descriptor") is not None:
        dspec = doc["descriptor"].get("spec")
        if not dspec:
            raise CalibratedFileError(f"{directory} needs its descriptor but records no descriptor SPEC")
        descriptor = resolve_descriptor(dspec)
    return load_calibrated(directory, model=model, descriptor=descriptor, progress=progress)
