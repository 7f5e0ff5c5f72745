"""End-to-end browser test (README, "What `make test` checks"): a student's view of lesson 01 in JupyterLab.

JupyterLab is started on 127.0.0.1 (free port, random token, a temporary root folder and
Jupyter config/data/runtime folders, so a user's settings or kernels cannot interfere).
Debian's Chromium, driven by Playwright, opens a SMOKE copy of lesson 01 (written with
``papermill --prepare-only -p SMOKE True``), runs all cells, and checks that

* every code cell ran and no cell has an error output;
* the first ``course_utils.widgets.explore`` control (slider, dropdown or toggle buttons)
  renders and reacts: moving it with the keyboard (a slider), choosing another option (a
  dropdown) or clicking another button (toggles) puts a new figure in its output area.

Requests leaving 127.0.0.1 are blocked (a classroom has no internet) and reported.
Without ``/usr/bin/chromium`` (or the playwright package) the test is skipped with the
reason; with ``CI=true`` it fails instead. On failure, a screenshot, the browser console
and the JupyterLab log go to ``build/browser-test/``. Every wait is bounded; the whole
test has a deadline of :data:`DEADLINE_S` seconds.

``COURSE_BROWSER_NOTEBOOK=/path/to/notebook.ipynb`` points the test at another notebook
(for debugging a lesson, or before lesson 01 exists).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, browser_unavailable
from course_utils.lessons import LESSONS_DIR, REPO

ARTIFACTS = REPO / "build" / "browser-test"
DEADLINE_S = 170  # the whole test, JupyterLab start included

pytestmark = pytest.mark.browser


def _target_notebook() -> Path:
    """Lesson 01's notebook (or COURSE_BROWSER_NOTEBOOK); skip (fail under CI) if there is none yet."""
    override = os.environ.get("COURSE_BROWSER_NOTEBOOK")
    if override:
        path = Path(override)
        if not path.is_file():
            pytest.fail(f"COURSE_BROWSER_NOTEBOOK={override} does not exist")
        return path
    found = sorted(LESSONS_DIR.glob("01_*.ipynb"))
    if not found:
        browser_unavailable(f"lesson 01 does not exist yet (no {LESSONS_DIR.relative_to(REPO)}/01_*.ipynb)")
    return found[0]


class Deadline:
    """Bounded waits: each wait gets at most what is left of the test's time budget."""

    def __init__(self, seconds: float):
        """Start the budget of ``seconds`` now."""
        self.end = time.monotonic() + seconds

    def ms(self, at_most_s: float) -> float:
        """Milliseconds to wait: ``at_most_s`` or what is left of the budget; TimeoutError when none is left."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the browser test used up its {DEADLINE_S} s budget")
        return 1000 * min(at_most_s, left)


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> int:
    """HTTP status of a GET to a loopback URL."""
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (loopback only)
        return r.status


@pytest.fixture
def deadline():
    """The time budget shared by every wait of one test."""
    return Deadline(DEADLINE_S)


@pytest.fixture
def smoke_copy(tmp_path):
    """The SMOKE copy of lesson 01 in a fresh JupyterLab root folder."""
    source = _target_notebook()
    import papermill

    root = tmp_path / "root"
    root.mkdir()
    target = root / "smoke.ipynb"
    papermill.execute_notebook(str(source), str(target), parameters={"SMOKE": True}, prepare_only=True,
                               progress_bar=False, log_output=False)
    return target


@pytest.fixture
def jupyterlab(smoke_copy, tmp_path, deadline):
    """A JupyterLab server on loopback serving ``smoke_copy``'s folder; shut down cleanly after."""
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ)
    for name in ("config", "data", "runtime", "workspaces", "settings"):
        (tmp_path / name).mkdir()
    # No news pop-up over the notebook (and no extension manager asking PyPI, below).
    (tmp_path / "config" / "labconfig").mkdir()
    (tmp_path / "config" / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # Every cell in the DOM (no virtual scrolling), so the widget is found wherever it is.
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTER_PLATFORM_DIRS="1")
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={smoke_copy.parent}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = tmp_path / "jupyterlab.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = {"base": base, "token": token, "log": log_path, "proc": proc}
    try:
        end = time.monotonic() + deadline.ms(60) / 1000
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if _get(f"{base}/api/status?token={token}") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"JupyterLab did not answer on {base} in time:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        _shutdown(proc, base, token)
        log.close()


def _shutdown(proc: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to stop (it shuts its kernels down), then escalate only if needed."""
    if proc.poll() is None:
        try:
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=5).close()  # noqa: S310 (loopback only)
        except OSError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)  # the group this fixture started
                proc.wait(timeout=5)


# ---------------------------------------------------------------- in-page helpers (JS)

_NOTEBOOK_READY = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell && app.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.content && w.context && kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}"""

_RUN_ALL = """() => {
  window.__courseRunAll = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__courseRunAll = {ok: ok}; },
    err => { window.__courseRunAll = {error: String(err)}; });
}"""

_RUN_DONE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return window.__courseRunAll !== undefined && !!kernel && kernel.status === 'idle';
}"""

_NOTEBOOK_JSON = "() => window.jupyterapp.shell.currentWidget.context.model.toJSON()"

_EXPLORE = ".widget-vbox:has(> .widget-output)"  # widgets.explore: VBox([control, Output()])


def _errors(nb: dict) -> list[str]:
    """Error outputs and unexecuted code cells of a notebook JSON, as readable lines."""
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]).strip().splitlines()
        head = source[0][:70] if source else "(empty)"
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                problems.append(f"cell {i} ({head}): {out['ename']}: {out['evalue'][:300]}")
        if source and cell.get("execution_count") is None:
            problems.append(f"cell {i} ({head}) did not run")
    return problems


def _move_control(page, box, deadline: Deadline) -> str:
    """Change the explore control by user input; return what was done."""
    handle = box.locator(".noUi-handle")
    if handle.count():
        handle = handle.first
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
        handle.focus(timeout=deadline.ms(10))
        page.keyboard.press(key)
        return f"slider: pressed {key}"
    select = box.locator("select")
    if select.count():
        select = select.first
        values = select.locator("option").evaluate_all("opts => opts.map(o => o.value)")
        current = select.input_value(timeout=deadline.ms(10))
        other = next(v for v in values if v != current)
        select.select_option(other, timeout=deadline.ms(10))
        return f"dropdown: chose option {other}"
    buttons = box.locator(".widget-toggle-buttons button:not(.mod-active)")
    if buttons.count():
        buttons.first.click(timeout=deadline.ms(10))
        return "toggle buttons: clicked another button"
    raise AssertionError("the explore widget has no slider, dropdown or toggle buttons:\n" + box.inner_html()[:1500])


def _image_sources(box) -> list[str]:
    """The src of every image in the explore widget's output area."""
    return box.locator(".widget-output img").evaluate_all("imgs => imgs.map(i => i.src)")


def test_lesson01_runs_and_widget_reacts(chromium, deadline, smoke_copy, jupyterlab):
    """Run all cells of lesson 01 (SMOKE) in JupyterLab; no errors; the widget redraws."""
    started = time.monotonic()
    console, blocked = [], []
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                     timeout=deadline.ms(30))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(deadline.ms(30))

        def route(r):
            """Let requests to the JupyterLab server through; block and record the rest."""
            url = r.request.url
            if url.startswith((jupyterlab["base"], "data:", "blob:")):
                r.continue_()
            else:
                blocked.append(url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            page.goto(f"{jupyterlab['base']}/lab/tree/{smoke_copy.name}?token={jupyterlab['token']}",
                      timeout=deadline.ms(60))
            page.wait_for_function(_NOTEBOOK_READY, timeout=deadline.ms(90), polling=250)

            page.evaluate(_RUN_ALL)
            page.wait_for_function(_RUN_DONE, timeout=deadline.ms(150), polling=250)
            result = page.evaluate("() => window.__courseRunAll")
            assert "error" not in result, f"run-all command failed: {result['error']}"
            problems = _errors(page.evaluate(_NOTEBOOK_JSON))
            assert not problems, "cells failed in JupyterLab:\n" + "\n".join(problems)

            box = page.locator(_EXPLORE).first
            box.wait_for(state="visible", timeout=deadline.ms(20))
            box.scroll_into_view_if_needed(timeout=deadline.ms(10))
            before = _image_sources(box)
            action = _move_control(page, box, deadline)
            page.wait_for_function(
                """([sel, before]) => {
                     const box = document.querySelector(sel);
                     const srcs = box ? Array.from(box.querySelectorAll('.widget-output img')).map(i => i.src) : [];
                     return srcs.length > 0 && JSON.stringify(srcs) !== JSON.stringify(before);
                   }""",
                arg=[_EXPLORE, before], timeout=deadline.ms(30), polling=200)
            after = _image_sources(box)
            assert after and after != before, f"{action}: the widget's output did not change"
            # Still no error anywhere after the interaction (the redraw runs in the kernel).
            problems = _errors(page.evaluate(_NOTEBOOK_JSON))
            assert not problems, "errors after moving the widget:\n" + "\n".join(problems)
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:  # show the first error, if any, rather than the top of the notebook
                page.locator(".jp-Cell:has(.jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'])"
                             ).first.scroll_into_view_if_needed(timeout=2_000)
            except Exception:
                pass
            try:
                page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True, timeout=10_000)
            except Exception as exc:  # the page may be gone; keep the original error
                console.append(f"(screenshot failed: {exc})")
            (ARTIFACTS / "console.log").write_text("\n".join(console), encoding="utf-8")
            shutil.copy(jupyterlab["log"], ARTIFACTS / "jupyterlab.log")
            raise
        finally:
            browser.close()
    if blocked:
        print(f"blocked {len(blocked)} request(s) to the internet: {sorted(set(blocked))[:5]}")
    print(f"browser test: {action}; {time.monotonic() - started:.1f} s in the browser")
