"""JupyterLab opens fit for an offline classroom: no news pop-up, no update check (lab/overrides.json)."""

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OVERRIDES = REPO / "lab" / "overrides.json"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def test_overrides_name_real_settings_of_the_installed_jupyterlab():
    overrides = json.loads(OVERRIDES.read_text())
    from jupyterlab.commands import get_app_dir

    app = Path(get_app_dir())
    for plugin, values in overrides.items():
        package, name = plugin.rsplit(":", 1)
        schema_file = app / "schemas" / package / f"{name}.json"
        assert schema_file.exists(), f"lab/overrides.json: JupyterLab has no settings plugin {plugin}"
        known = json.loads(schema_file.read_text())["properties"]
        unknown = set(values) - set(known)
        assert not unknown, f"lab/overrides.json: {plugin} has no settings {sorted(unknown)} (renamed in this JupyterLab?)"


@pytest.mark.skipif(not (Path(sys.prefix) / "share" / "jupyter" / "lab").exists(), reason="JupyterLab not installed here")
def test_jupyterlab_here_applies_the_overrides(tmp_path):
    """What the student's JupyterLab will show: the news question answered 'Never', no update check."""
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    app = get_app_dir()
    installed = Path(app) / "settings" / "overrides.json"
    assert installed.exists() and json.loads(installed.read_text()) == json.loads(OVERRIDES.read_text()), (
        f"{installed} is missing or differs from lab/overrides.json: run make setup")
    settings, _ = get_settings(os.path.join(app, "settings"), os.path.join(app, "schemas"), str(tmp_path), NOTIFICATION)
    props = settings["schema"]["properties"]
    assert props["fetchNews"]["default"] == "false"
    assert props["checkForUpdates"]["default"] is False


def test_binder_postbuild_installs_the_overrides_too():
    post = (REPO / "postBuild").read_text()
    assert "lab/overrides.json" in post and "share/jupyter/lab/settings" in post
