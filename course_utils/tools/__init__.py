"""The course's tooling: what runs, tests, benchmarks and publishes the lessons. Lessons never import it.

* ``batch``   the papermill runner behind ``make run`` (``report``: its reports; ``pool``: N kernels at once)
* ``bench``   ``make bench``: run times and the multi-seed milestone evidence
* ``student`` ``make student``: copies without solutions
* ``sync``    ``make sync``: keep the jupytext pairs in step, without outputs
* ``slides``  ``make slides``: offline reveal.js decks (``export``: offline HTML, shared with batch)
"""
