"""The dependency lists agree, and torch stays on a range the local CPU wheel satisfies."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def _pyproject():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    proj = data["project"]
    return proj["dependencies"], proj["optional-dependencies"]["dev"]


def _environment_yml():
    """The pip section and conda packages of environment.yml (a tiny reader: no YAML library needed)."""
    pip, conda, in_pip = [], [], False
    for line in (REPO / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        if stripped.strip() == "- pip:":
            in_pip = True
            continue
        m = re.match(r"^(\s*)- (.+)$", stripped)
        if not m:
            in_pip = False if not stripped.startswith(" ") else in_pip
            continue
        indent, item = len(m.group(1)), m.group(2).strip().strip('"').strip("'")
        if in_pip and indent >= 4:
            pip.append(item)
        else:
            in_pip = False
            conda.append(item)
    return pip, conda


def test_environment_yml_matches_pyproject():
    runtime, dev = _pyproject()
    pip, conda = _environment_yml()
    pip = [p for p in pip if not p.startswith("-e")]
    missing = sorted(set(map(_norm, runtime + dev)) - set(map(_norm, pip)))
    extra = sorted(set(map(_norm, pip)) - set(map(_norm, runtime + dev)))
    assert not missing and not extra, f"environment.yml differs from pyproject.toml: missing {missing}, extra {extra}"
    assert any(c.startswith("python") for c in conda) and "pip" in conda


def test_torch_range_admits_the_local_cpu_wheel():
    from packaging.requirements import Requirement
    from packaging.version import Version

    runtime, _ = _pyproject()
    torch_req = next(Requirement(r) for r in runtime if r.startswith("torch"))
    assert torch_req.specifier.contains(Version("2.13.0+cpu"))
    assert not torch_req.specifier.contains(Version("2.14.0")), "a newer torch would pull a multi-GB CUDA build"


def test_makefile_targets_and_ci_entry_point():
    make = (REPO / "Makefile").read_text()
    for target in ("setup", "lab", "run", "test", "bench", "sync", "student", "slides", "clean"):
        assert re.search(rf"^{target}:", make, re.M), f"Makefile lacks {target}"
    assert re.search(r"^clean:\n\trm -rf build/\n", make, re.M), "make clean must remove only build/"
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
