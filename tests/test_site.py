"""``make site``: the course website (Sphinx + MyST-NB) builds from executed lessons and works offline."""

import functools
import http.server
import threading

import nbformat
import pytest

pytest.importorskip("myst_nb")

from course_utils.tools import batch, export, site  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from conftest import write_lesson

    root = tmp_path_factory.mktemp("site")
    nb = write_lesson(root / "lessons")
    rec = batch.select_lessons(["98"], nb.parent)[0]
    executed = root / "build" / "98_2014_tiny.ipynb"
    assert batch.run_lesson(rec, {}, executed, html=False)["status"] == "passed"
    nb_exec = nbformat.read(executed, as_version=4)  # one formula, to see MathJax typeset it offline
    nb_exec.cells.insert(1, nbformat.v4.new_markdown_cell("Pythagoras: $$a^2 + b^2 = c^2$$"))
    nbformat.write(nb_exec, executed)
    index = site.build_site({"98": executed}, root / "build" / "site", lessons_dir=nb.parent)
    return index.parent


def test_pages_navigation_and_search_index(built):
    index = (built / "index.html").read_text()
    assert "The lesson map" in index and "lessons/98_2014_tiny.html" in index
    for page in ("lessons/98_2014_tiny.html", "track-foundations.html", "by-year.html", "GLOSSARY.html",
                 "CONTRIBUTING.html", "search.html", "searchindex.js"):
        assert (built / page).is_file(), page
    lesson = (built / "lessons" / "98_2014_tiny.html").read_text()
    assert "A tiny test lesson" in lesson and "check_close" in lesson  # executed code and its text
    assert "98_2014_tiny" in (built / "track-foundations.html").read_text()
    assert "tiny" in (built / "searchindex.js").read_text().lower()
    assert (built / "_static" / "vendor" / "mathjax" / "MathJax.js").is_file()


def test_check_site_refuses_a_page_that_loads_from_the_web(built, tmp_path):
    site.check_site(built)  # the real build is clean
    (tmp_path / "bad.html").write_text('<html><script src="https://cdn.example.org/x.js"></script></html>')
    with pytest.raises(export.OfflineExportError, match="cdn.example.org"):
        site.check_site(tmp_path)


@pytest.mark.browser
def test_site_works_in_chromium_with_the_network_blocked(built, chromium):
    from conftest import CHROMIUM, CHROMIUM_ARGS

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    remote, errors = [], []
    try:
        with chromium() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()

            def route(r):
                if r.request.url.startswith((base, "data:")):
                    r.continue_()
                else:
                    remote.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/index.html")
            page.locator("a[href='lessons/98_2014_tiny.html']:visible").first.click()  # from the lesson map
            page.wait_for_load_state("networkidle")
            assert page.url.endswith("lessons/98_2014_tiny.html")
            page.wait_for_function("document.querySelectorAll('.MathJax_Display, .MathJax_CHTML').length > 0",
                                   timeout=15000)  # the local MathJax typeset the formula
            page.goto(f"{base}/search.html?q=tiny")
            page.wait_for_function("document.querySelectorAll('#search-results li').length > 0", timeout=15000)
            browser.close()
    finally:
        server.shutdown()
    assert not remote, f"the site asked the network for: {remote[:5]}"
    assert not errors, errors
