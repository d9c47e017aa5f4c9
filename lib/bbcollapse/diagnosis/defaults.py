"""Where a diagnosis takes theta and r from: the user, the subject, or the generic defaults (issue 18).

Each built-in subject carries the theta (Eq. 3) and r (Eq. 5) that the documented rule
(:func:`bbcollapse.stats.choose_theta_r`) gives for its descriptor; a served model (``bbcollapse
serve``) may advertise its own, which :class:`~bbcollapse.HttpGenerator` reads.  The Python API
(:func:`~bbcollapse.diagnose`) and the CLI use them unless theta or r is given, and the report's
``theta_r_source`` says which values were used and where they came from.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path

__all__ = ["GENERIC_SOURCE", "SUBJECT_THETA_R", "original_theta_r", "subject_theta_r", "with_subject_theta_r"]

#: built-in subjects that carry their own theta and r: module of the sampler's class -> "module:function";
#: the function maps (sampler, descriptor) to {"theta", "r", "source"} for a pair it has values for, else None
SUBJECT_THETA_R = {
    "bbcollapse.subjects.faces": "bbcollapse.subjects.faces:face_theta_r",
    "bbcollapse.subjects.synthetic": "bbcollapse.subjects.synthetic:theta_r_default",
}
#: where theta and r come from when neither the user nor the subject gives them
GENERIC_SOURCE = "generic default (DiagnoseConfig); 'bbcollapse choose-theta' measures the rule's value for yours"


def subject_theta_r(sampler, descriptor) -> dict | None:
    """``{"theta", "r", "source"}`` the subject carries for this sampler and descriptor, or None.

    A sampler with a ``theta_r_for(descriptor)`` method (e.g. an :class:`~bbcollapse.HttpGenerator`
    whose server advertises values) answers for itself; a built-in subject's sampler is looked up in
    :data:`SUBJECT_THETA_R` (its module is imported only when the sampler comes from it).
    """
    hook = getattr(sampler, "theta_r_for", None)
    if callable(hook):
        found = hook(descriptor)
        if found is not None:
            return found
    module = type(sampler).__module__
    for prefix, target in SUBJECT_THETA_R.items():
        if module == prefix or module.startswith(prefix + "."):
            mod, _, attr = target.partition(":")
            return getattr(importlib.import_module(mod), attr)(sampler, descriptor)
    return None


def original_theta_r(folder) -> dict | None:
    """theta and r of a calibrated model's original diagnosis, ``<folder>/before/report.json`` (written by
    ``bbcollapse calibrate``): ``{"theta", "r", "descriptor", "path"}``, or None when that file cannot be read.

    A calibrated model is diagnosed (and served) with them, so that its numbers compare with the original's.
    """
    path = Path(folder) / "before" / "report.json"
    try:
        before = json.loads(path.read_text())
        found = {k: float(before["config"][k]) for k in ("theta", "r")}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**found, "descriptor": before.get("descriptor"), "path": path}


def with_subject_theta_r(config, given, sampler, descriptor) -> tuple:
    """``(config, source)``: ``config`` with the subject's theta and r for those not in ``given``.

    Parameters
    ----------
    config : DiagnoseConfig
    given : names among ("theta", "r") the user set (kept as they are)
    sampler, descriptor : the pair diagnosed

    Returns
    -------
    config : DiagnoseConfig
    source : {"theta": text, "r": text}, where each value came from
    """
    given = set(given)
    source = {name: "given" for name in given}
    if len(given) < 2:
        found = subject_theta_r(sampler, descriptor)
        if found is not None:
            chosen = {k: found[k] for k in ("theta", "r") if k not in given}
            config = replace(config, **chosen)
            source.update(dict.fromkeys(chosen, found["source"]))
    return config, {k: source.get(k, GENERIC_SOURCE) for k in ("theta", "r")}
