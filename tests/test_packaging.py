"""environment.yml mirrors pyproject.toml's pip dependencies (all extras but gpu)."""
import re
import tomllib
from pathlib import Path

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
