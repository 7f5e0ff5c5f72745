"""Shared fixtures: a tiny but complete lesson written the way real lessons are, and the
headless-Chromium plumbing of the browser tests."""

import os
import shutil
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest

TINY_LESSON = textwrap.dedent(
    '''\
    # ---
    # jupyter:
    #   course:
    #     number: '98'
    #     year: '2014-18'
    #     track: foundations
    #     title: A tiny test lesson
    #     idea: nothing but plumbing
    #     papers:
    #     - title: A paper
    #       authors: A. Author
    #       year: 2014
    #       arxiv: '1412.6980'
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # 98 · 2014 · A tiny test lesson

    # %% [markdown]
    # ## 中文导读
    # 测试。

    # %%
    try:
        import course_utils  # noqa: F401
    except ImportError as exc:
        raise ImportError("pip install -e . in the course folder") from exc
    from course_utils import checks, params, record

    # %% tags=["parameters"]
    SEED = 0
    DEVICE = "cpu"
    SMOKE = False
    STEPS = 3  # how many steps, 1..10

    # %%
    params.validate(globals(), STEPS=params.Int(min=1, max=10))

    # %%
    total = sum(range(STEPS))
    record.metric("total", total)
    checks.milestone("steps_ok", STEPS, 2)

    # %% [markdown]
    # ### Exercise 1

    # %% tags=["exercise"]
    def double(x):
        return None  # TODO

    # %% tags=["solution"]
    def double(x):
        return 2 * x

    # %% tags=["check"]
    checks.check_close(double(2), 4, "double(2)")

    # %% tags=["exercise"]
    answer = None  # TODO: 6 * 7

    # %% tags=["solution"]
    answer = 42

    # %% tags=["check"]
    checks.check(answer == 42, "answer should be 42")

    # %%
    checks.assert_milestones(smoke=SMOKE, expected=["steps_ok"])
    '''
)


def write_lesson(folder: Path, text: str = TINY_LESSON, name: str = "98_2014_tiny") -> Path:
    """Write a lesson pair (.py + .ipynb) into ``folder``; return the .ipynb path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).resolve().parent.parent / "jupytext.toml", folder / "jupytext.toml")  # the project's pairing
    (folder / f"{name}.py").write_text(text, encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


@pytest.fixture()
def tiny_lesson(tmp_path) -> Path:
    return write_lesson(tmp_path / "lessons")


# ----------------------------------------------------------------------------- Chromium

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-quic", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() == "true"


def browser_unavailable(reason: str):
    """Skip with ``reason``, or fail when CI=true (CI must run the browser tests)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture
def chromium():
    """Playwright's ``sync_playwright``; skips (fails under CI=true) when Chromium or playwright is missing."""
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does): browser test not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("the playwright Python package is not installed (pip install -e '.[dev]')")
    return sync_playwright


def offline_page(browser, viewport: dict):
    """A new page on which every request but ``file:`` and ``data:`` is blocked.

    Returns ``(page, remote, failed, errors)``: the lists fill with blocked URLs, failed
    requests and page errors, so a test can assert a file renders without the network.
    """
    remote, failed, errors = [], [], []
    page = browser.new_page(viewport=viewport)

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            remote.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, remote, failed, errors
