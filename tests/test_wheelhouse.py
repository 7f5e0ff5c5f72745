"""``make wheelhouse`` and ``make setup WHEELHOUSE=DIR``: an offline classroom install.

The full wheelhouse (about 440 MB, torch's CPU build included) is too big to fetch in a
test; README gives its measured size and install time. Here: the Makefile sends every pip and
npm install through the wheelhouse with the network options off, and an install from a
wheelhouse really works with no index, in a fresh virtual environment.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def dry_run(*args: str) -> list[str]:
    out = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_setup_with_a_wheelhouse_never_reaches_an_index(tmp_path):
    lines = dry_run("setup", f"WHEELHOUSE={tmp_path}")
    pip = [line for line in lines if " pip install" in line]
    npm = [line for line in lines if line.startswith("npm ")]
    assert pip and npm
    for line in pip:
        assert f"--isolated --no-index --find-links {tmp_path}" in line, line  # --isolated: no pip.conf index either
    for line in npm:
        assert f"--offline --cache {tmp_path}/npm-cache" in line, line
    for line in dry_run(".venv/.classroom-done", f"WHEELHOUSE={tmp_path}"):
        if " pip install" in line:
            assert "--no-index" in line, line


def test_wheelhouse_target_fetches_what_setup_installs():
    lines = "\n".join(dry_run("wheelhouse", "WHEELHOUSE=/tmp/wh"))
    assert 'pip wheel' in lines and '".[dev,classroom]"' in lines and "setuptools" in lines
    assert "npm ci" in lines and "--cache /tmp/wh/npm-cache" in lines


def test_an_install_from_a_wheelhouse_works_with_no_index(tmp_path):
    house = tmp_path / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(house), str(REPO)], check=True, capture_output=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    done = subprocess.run([str(py), "-m", "pip", "--isolated", "install", "--quiet", "--no-index", "--find-links",
                           str(house), "--no-deps", "dl-2012-2020-course"], capture_output=True, text=True,
                          env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([str(py), "-m", "pip", "show", "dl-2012-2020-course"], capture_output=True, text=True)
    assert "Version: 0.1.0" in shown.stdout
