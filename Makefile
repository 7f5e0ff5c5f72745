# Deep Learning 2012–2020, one notebook at a time.
#   make run    set up if needed, run every lesson in batch, write build/report.md
#   make test   set up if needed, run every test (what CI runs)
# Options go through variables: make run LESSONS="01" PARAMS="SEED=1 SMOKE=True"
#                               make run LESSONS=01 SWEEP="SEED=0,1,2" METRIC=cnn_test_acc
#                               make bench SEEDS=5 LESSONS=01 JOBS=2
#                               make run DASK_SCHEDULER=tcp://host:8786   (an existing Dask cluster)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-done
CLASSROOM_STAMP := $(VENV)/.classroom-done
LESSONS ?=
PARAMS  ?=
SWEEP   ?=
METRIC  ?=
SEEDS   ?=
STUDENT ?=
JOBS    ?=
# make test runs its test files in TEST_JOBS processes (pytest-xdist; a notebook's cells stay together).
TEST_JOBS ?= 2
WHEELHOUSE ?=
# With WHEELHOUSE=DIR (made by `make wheelhouse`), pip and npm install from DIR only: no network.
PIP_FROM = $(if $(WHEELHOUSE),--isolated --no-index --find-links $(abspath $(WHEELHOUSE)))
NPM_FROM = $(if $(WHEELHOUSE),--offline --cache $(abspath $(WHEELHOUSE))/npm-cache)
DASK_SCHEDULER ?=
LESSON_ARGS = $(if $(LESSONS),--lessons $(LESSONS))
BATCH_ARGS = $(LESSON_ARGS) $(if $(PARAMS),--params "$(PARAMS)") \
             $(if $(SWEEP),--sweep "$(SWEEP)") $(if $(METRIC),--metric $(METRIC)) $(if $(STUDENT),--student) $(if $(JOBS),--jobs $(JOBS)) $(if $(DASK_SCHEDULER),--dask-scheduler $(DASK_SCHEDULER))

.PHONY: help setup lab run test bench sync student slides site nbgrader wheelhouse clean

help:
	@echo "make setup    create .venv, install the course and its tools, register the kernel"
	@echo "make lab      open the lessons in JupyterLab"
	@echo "make run      run every lesson in batch -> build/report.md (LESSONS=, PARAMS=, SWEEP=, METRIC=, JOBS=2: two kernels at once)"
	@echo "make test     unit tests + every lesson under nbval + pairing checks + student copies + browser test"
	@echo "make bench    run times per lesson -> build/bench.md, runtimes.json, README table (SEEDS=5: milestone evidence over seeds 0..4)"
	@echo "make sync     sync lessons/*.py <-> lessons/*.ipynb with jupytext (backups in build/sync-backup/)"
	@echo "make student  student copies without solutions -> student/ (never overwritten)"
	@echo "make slides   offline reveal.js decks from the executed lessons -> build/slides/"
	@echo "make site     the course website (Sphinx + MyST-NB) from the executed lessons -> build/site/index.html, offline"
	@echo "make nbgrader an nbgrader course from the lessons -> classroom/ (SMOKE=1: fast autograding)"
	@echo "make wheelhouse  every wheel and npm package -> wheelhouse/ (then: make setup WHEELHOUSE=wheelhouse, offline)"
	@echo "make clean    remove build/ (never student/ or lessons/)"

setup: $(STAMP)

# Re-runs only when the dependency lists change. torch comes from the range in
# pyproject.toml, which the local CPU wheel satisfies (see README, "Using a GPU").
$(STAMP): pyproject.toml package.json package-lock.json lab/overrides.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIP_FROM) -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (DL course)" >/dev/null
	mkdir -p $(VENV)/share/jupyter/lab/settings && cp lab/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	npm ci --silent --no-audit --no-fund $(NPM_FROM)
	touch $(STAMP)

# The classroom extra (nbgrader, Sphinx) on demand: make lab and make run stay lean without it.
$(CLASSROOM_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIP_FROM) -e ".[dev,classroom]"
	touch $(CLASSROOM_STAMP)

lab: setup
	$(VENV)/bin/jupyter lab lessons/

run: setup
	$(PY) -m course_utils.tools.batch run $(BATCH_ARGS)

test: setup $(CLASSROOM_STAMP)
	$(PY) -m pytest tests lessons --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider \
		$(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile) --durations=5

bench: setup
	$(PY) -m course_utils.tools.batch bench $(LESSON_ARGS) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(JOBS),--jobs $(JOBS)) $(if $(DASK_SCHEDULER),--dask-scheduler $(DASK_SCHEDULER))

sync: setup
	$(PY) -m course_utils.tools.sync

student: setup
	$(PY) -m course_utils.tools.student

slides: setup
	$(PY) -m course_utils.tools.slides

site: setup $(CLASSROOM_STAMP)
	$(PY) -m course_utils.tools.site

nbgrader: setup $(CLASSROOM_STAMP)
	$(PY) -m course_utils.tools.grading $(LESSON_ARGS) $(if $(SMOKE),--smoke)

# Every wheel the course needs (torch's CPU build included) and the npm packages' cache, in one
# folder to copy to classroom machines: then `make setup WHEELHOUSE=DIR` needs no network.
WHEELHOUSE_DIR = $(abspath $(or $(WHEELHOUSE),wheelhouse))
wheelhouse:
	$(PYTHON) -m pip wheel --quiet --disable-pip-version-check -w $(WHEELHOUSE_DIR) ".[dev,classroom]" "setuptools>=68"
	rm -f $(WHEELHOUSE_DIR)/dl_2012_2020_course-*.whl
	npm ci --silent --no-audit --no-fund --cache $(WHEELHOUSE_DIR)/npm-cache
	@du -sh $(WHEELHOUSE_DIR)

clean:
	rm -rf build/
