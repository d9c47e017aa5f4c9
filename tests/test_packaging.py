"""Packaging: environment.yml mirrors pyproject.toml (all extras but gpu); every public name resolves;
``import bbcollapse`` stays light."""

import json
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def norm(req):
    return re.sub(r"\s+", "", req).lower()


def test_environment_yml_mirrors_pyproject():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {norm(r) for r in proj["dependencies"]}
    for extra, reqs in proj["optional-dependencies"].items():
        if extra in ("gpu", "all"):
            continue
        wanted |= {norm(r) for r in reqs}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    have = {norm(r) for r in pip}
    assert wanted - have == set(), f"in pyproject but not environment.yml: {sorted(wanted - have)}"
    assert have - wanted == set(), f"in environment.yml but not pyproject: {sorted(have - wanted)}"


def test_all_extra_covers_every_extra_but_gpu():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(proj["optional-dependencies"]) - {"gpu", "all"}
    (all_req,) = proj["optional-dependencies"]["all"]
    listed = set(re.search(r"\[(.*)\]", all_req).group(1).split(","))
    assert listed == extras


PUBLIC_NAMES = (ROOT / "tests" / "public_names.txt").read_text().split()
HEAVY = ("torch", "scipy", "sklearn")


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter (the library on its path as installed) and parse its last line as JSON."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_public_name_resolves_in_a_fresh_interpreter():
    code = (
        "import json, sys, bbcollapse as bb\n"
        "missing = {}\n"
        f"for name in {PUBLIC_NAMES!r}:\n"
        "    try:\n"
        "        getattr(bb, name)\n"
        "    except Exception as exc:\n"
        "        missing[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps(missing))\n"
    )
    assert len(PUBLIC_NAMES) >= 94
    assert run_fresh(code) == {}


def test_public_names_are_listed_in_dir_and_unknown_names_raise():
    found = run_fresh(
        "import json, bbcollapse as bb\n"
        "try:\n"
        "    bb.no_such_name\n"
        "    err = None\n"
        "except AttributeError as exc:\n"
        "    err = str(exc)\n"
        "print(json.dumps({'dir': sorted(dir(bb)), 'err': err}))\n"
    )
    assert set(PUBLIC_NAMES) <= set(found["dir"]), sorted(set(PUBLIC_NAMES) - set(found["dir"]))
    assert found["err"] and "no_such_name" in found["err"]


def test_import_bbcollapse_stays_light():
    """``import bbcollapse`` loads neither torch, scipy nor scikit-learn: they load on first use."""
    loaded = run_fresh(f"import json, sys, bbcollapse\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert loaded == []
