# ---
# jupyter:
#   course:
#     idea: how to run, teach and batch the course; the lesson map; the field's growth
#       vs Moore's law
#     number: '00'
#     papers:
#     - authors: Ross Taylor (Atlas ML / Papers With Code)
#       note: 'first published on the Atlas ML blog on 30 November 2018; reposted by
#         KDnuggets on 13 December 2018 as ''State of Deep Learning and Major Advances:
#         H2 2018 Review'' (https://www.kdnuggets.com/2018/12/deep-learning-major-advances-review.html)'
#       title: 'State of Deep Learning: H2 2018 Review'
#       url: https://medium.com/atlas-ml/state-of-deep-learning-h2-2018-review-cc3e490f1679
#       year: 2018
#     - authors: Jeff Dean, David Patterson, Cliff Young
#       note: IEEE Micro 38(2), 21-29; Taylor credits the papers-vs-Moore's-law comparison
#         to it
#       title: 'A New Golden Age in Computer Architecture: Empowering the Machine-Learning
#         Revolution'
#       url: https://doi.org/10.1109/MM.2018.112130030
#       year: 2018
#     - authors: Yoav Shoham, Raymond Perrault, Erik Brynjolfsson, Jack Clark, James
#         Manyika, Juan Carlos Niebles, Terah Lyons, John Etchemendy, Barbara Grosz,
#         Zoe Bauer
#       note: 'arXiv section (p. 12): AI papers on arXiv per year by primary category;
#         the yearly totals used here are as quoted by Metaculus question 3028 (https://ai.metaculus.com/questions/3028/how-many-ai-papers-will-be-published-on-arxiv-in-the-calendar-year-2019/)'
#       title: The AI Index 2018 Annual Report
#       url: http://cdn.aiindex.org/2018/AI%20Index%202018%20Annual%20Report.pdf
#       year: 2018
#     - authors: Lex Fridman (MIT 6.S094)
#       note: lecture, January 2019; slides and course at deeplearning.mit.edu
#       title: Deep Learning State of the Art (2019)
#       url: https://www.youtube.com/watch?v=53YvP6gdD7U
#       year: 2019
#     - authors: paulpanwang
#       note: CSDN blog post, 27 February 2019, a summary of Fridman's lecture 'Deep
#         Learning State of the Art (2019)'; called 'the 2019 CV/NLP review' in this
#         course
#       title: "\u6DF1\u5EA6\u5B66\u4E60\u9886\u57DF\u6700\u65B0\u7684\u6280\u672F\uFF08\
#         CV\u3001NLP\uFF09"
#       year: 2019
#     - authors: Denny Britz
#       note: blog post, July 2020; later retitled 'Deep Learning ideas that have stood
#         the test of time'
#       title: 'Deep Learning''s Most Important Ideas: A Brief Historical Review'
#       url: https://dennybritz.com/blog/deep-learning-most-important-ideas/
#       year: 2020
#     title: "Course tour & the 2012\u20132020 map"
#     track: tour
#     year: "2012\u20132020"
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: course,kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · 2012–2020 · Course tour & the 2012–2020 map
#
# **Sources for this lesson**
#
# * Ross Taylor (Atlas ML / Papers With Code), *State of Deep Learning: H2 2018 Review*, 30 November 2018
#   ([Atlas ML blog](https://medium.com/atlas-ml/state-of-deep-learning-h2-2018-review-cc3e490f1679);
#   reposted on 13 December 2018 as *State of Deep Learning and Major Advances: H2 2018 Review*,
#   [KDnuggets](https://www.kdnuggets.com/2018/12/deep-learning-major-advances-review.html)).
# * Jeff Dean, David Patterson & Cliff Young, *A New Golden Age in Computer Architecture: Empowering the
#   Machine-Learning Revolution*, IEEE Micro, 2018, [doi:10.1109/MM.2018.112130030](https://doi.org/10.1109/MM.2018.112130030).
# * Yoav Shoham, Raymond Perrault, Erik Brynjolfsson, Jack Clark, James Manyika, Juan Carlos Niebles, Terah Lyons,
#   John Etchemendy, Barbara Grosz & Zoe Bauer, *The AI Index 2018 Annual Report*, Stanford, December 2018
#   ([PDF](http://cdn.aiindex.org/2018/AI%20Index%202018%20Annual%20Report.pdf)): yearly counts of AI papers on arXiv.
# * Lex Fridman, MIT 6.S094, *Deep Learning State of the Art (2019)*, January 2019
#   ([lecture video](https://www.youtube.com/watch?v=53YvP6gdD7U)).
# * paulpanwang, 《深度学习领域最新的技术（CV、NLP）》 ("The latest techniques in deep learning (CV, NLP)"),
#   CSDN blog post, 27 February 2019: a summary of Fridman's lecture. This course calls it "the 2019 CV/NLP review".
# * Denny Britz, *Deep Learning's Most Important Ideas: A Brief Historical Review*, 2020
#   ([blog post](https://dennybritz.com/blog/deep-learning-most-important-ideas/)).
#
# This lesson is a tour, not a paper. It shows you what the course is, how to run it, teach it and
# run it in batch, where every lesson sits on the 2012–2020 timeline, and how fast the field grew.
#
# ## The problem: too many papers
#
# At the end of 2018, about **2,200 machine-learning papers appeared every month**, and the number grew
# by about **3.5 % a month** (Taylor, 2018). Nobody can read all that. A newcomer sees a wall of papers
# and cannot tell which ideas lasted.
#
# ## The key idea of this course
#
# Follow the ideas that lasted, in the order they appeared, **one notebook per idea**: AlexNet and
# dropout (2012), Adam (2014), ResNet (2015), attention and the Transformer (2014–2017), BERT (2018),
# GANs up to BigGAN and StyleGAN, DQN up to AlphaZero, and SimCLR (2020). Britz's review takes a very
# similar path. In each lesson you:
#
# 1. read a short story: the problem before the paper, the key idea, what changed after;
# 2. build the idea yourself, from scratch, in cells you can read top to bottom;
# 3. check it numerically against the library version (PyTorch, `transformers`...);
# 4. reproduce the paper's finding at small scale, on a 2-core CPU, offline, in about a minute or two;
# 5. see the headline numbers asserted as **milestones** at the end;
# 6. do at least two exercises, each with an automatic check that explains a wrong answer.
#
# ## What changed: a course you can run, teach and batch
#
# * **Students** open a lesson in JupyterLab, run every cell, move the sliders, do the exercises.
# * **Teachers** teach one lesson per session. They hand out copies without solutions, show slides
#   made from the same notebook, and know in advance how long each lesson runs.
# * **Batch runners** execute lessons with papermill (on a laptop or a GPU box), change parameters,
#   sweep a seed, and collect the metrics into a report.
#
# This tour has a bit for each of them. It also plays by the rules of every lesson: a parameters cell,
# widgets, exercises and milestones. Its milestones check the sources with arithmetic: do the cited
# growth rates agree with each other, and do they mean faster doubling than Moore's law? Real yearly
# counts of papers then show how much that answer depends on the years you look at.

# %% [markdown]
# ## 中文导读
#
# 本课是整门课程的导览，不讲某一篇论文，而是回答三个问题：
#
# 1. **这门课是什么？** 从 2012 年的 AlexNet 到 2020 年的 GPT-3 和 SimCLR，每节课用一个 Jupyter 笔记本讲一个经受住时间考验的思想：
#    先讲故事（论文之前的问题、关键思想、之后的影响），再在笔记本里从零实现，与 PyTorch 等库的实现做数值对比，
#    最后在双核 CPU 上离线复现论文的主要结论，并用"里程碑"断言自动检验。全课共 24 节（00–23），
#    计划写在 `lessons/plan.toml` 里；课程地图由 `lessons.course_map()` 自动合并已完成和计划中的课程画出。
#    每节课必须包含哪些部分，见 `CONTRIBUTING.md`。
# 2. **怎么用？** 学生用 `make lab` 打开课程，逐格运行并完成练习；教师用 `make student` 生成不含答案的学生版，
#    用 `make slides` 生成可离线放映的幻灯片，用 `make bench` 得到每节课的运行时间；批量运行者用 papermill
#    或 `make run` 修改 `parameters` 单元里的参数（`SEED`、`DEVICE`、`SMOKE` 以及各课自己的参数），
#    并从执行后的笔记本中读回记录的指标（练习 3 会亲手做一遍）。
# 3. **这个领域发展有多快？** 据 Ross Taylor（Papers With Code）2018 年 11 月 30 日的文章，机器学习论文每月约 2,200 篇，
#    自 2018 年 7 月起每月增长约 3.5%，约合每年 50%；2019 年预计约 30,000 篇；此前五年的 6 万多篇论文中约 12% 公开了代码，
#    最近六个月约 15%（七分之一）。按每月 3.5% 计算，论文数量约 20 个月翻一番，比摩尔定律（这里取每两年翻一番，约每年 41%）还快。
#    本课还用真实数据检验：斯坦福 AI Index 2018 报告统计的 arXiv 上每年的 AI 论文数（2012–2017）。
#    从 2012 年算起约 26 个月翻一番，与摩尔定律相当；最近三年（2015–2017）约 19 个月翻一番，比摩尔定律快。
#
# 本课用两个里程碑检验这些数字：月增长率与年增长率是否一致；按引用的增长率，论文翻倍是否快于 24 个月。
# 真实的 arXiv 论文数则说明：增长速度取决于选取哪几年，因此只作为指标记录，不作为里程碑断言。
# 注：Papers With Code 网站已于 2025 年 7 月停止运营，网址现在转到 Hugging Face 的论文页面（https://huggingface.co/papers）。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing lives in the `course_utils` package of this repository.
try:
    from course_utils import checks, lessons, params, plot, record, repro, widgets
except ImportError as exc:  # e.g. a hosted notebook service without the course installed
    raise ImportError(
        "This lesson needs the course's `course_utils` package. In the course folder run\n"
        "    make setup        (creates .venv with everything)\n"
        "or  pip install -e .  (installs course_utils into the current Python)\n"
        "then restart the kernel."
    ) from exc

import json
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1); this tour draws no random numbers, exercise 3 passes SEED + 1 to lesson 01
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; this tour computes nothing heavy, so any device works
SMOKE = False  # True: every code path in seconds, lesson 01 is not run, milestones reported but not asserted
MONTHLY_GROWTH = 0.035  # growth of ML papers per month, in (0, 0.2]; Taylor 2018: about 3.5 %
MOORE_DOUBLING_YEARS = 2.0  # Moore's law doubling period in years, 0.5 .. 10 (course convention: 2)
HORIZON_YEARS = 6  # years drawn in the growth plot, 1 .. 20
HIGHLIGHT_YEAR = 2018  # year highlighted on the course map, 2012 .. 2020
RUN_LESSON_01 = True  # exercise 3 runs lesson 01 through papermill (SMOKE, about 20-30 s); False skips it

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    MONTHLY_GROWTH=params.Float(min=0.0, max=0.2, min_inclusive=False),
    MOORE_DOUBLING_YEARS=params.Float(min=0.5, max=10.0),
    HORIZON_YEARS=params.Int(min=1, max=20),
    HIGHLIGHT_YEAR=params.Int(min=2012, max=2020),
    RUN_LESSON_01=params.Bool(),
)
MONTHLY_GROWTH, MOORE_DOUBLING_YEARS = P["MONTHLY_GROWTH"], P["MOORE_DOUBLING_YEARS"]  # ints become floats
device = repro.setup(SEED, DEVICE)
plot.use_style()

# %%
# Where this lesson sits on the timeline, and its measured run time (from `make bench`).
lessons.show_card("00")
plt.show()

# %% [markdown]
# ## How to run the course
#
# Every command below first runs `make setup` if needed: it creates `.venv/`, installs the course and
# registers the `python3` kernel. That first setup needs the network and takes a few minutes; after
# it, everything runs offline on a laptop CPU.
#
# | you want to | type |
# |---|---|
# | open the lessons in JupyterLab | `make lab` |
# | run every lesson in batch, with a report | `make run` → `build/report.md`, `build/report.json`, executed notebooks and HTML in `build/` |
# | run one lesson with other parameters | `make run LESSONS=01 PARAMS="SEED=1"` |
# | sweep one parameter of one lesson | `make run LESSONS=01 SWEEP="SEED=0,1,2" METRIC=cnn_test_acc` |
# | run every test, as CI does | `make test` (unit tests, every lesson under nbval, pairing and metadata checks, student copies, browser test) |
# | measure run time and memory per lesson | `make bench` |
#
# `make` passes options through variables because `make -p` means something else. The same runner
# works without `make`:
#
# ```bash
# python -m course_utils.tools.batch run --lessons 01 --params "SEED=1"
# python -m course_utils.tools.batch run --lessons 01 --sweep "SEED=0,1,2" --metric cnn_test_acc
# ```
#
# Or call papermill yourself, one lesson at a time:
#
# ```bash
# papermill lessons/01_2012_alexnet.ipynb /tmp/l01.ipynb -k python3 -p SEED 1 -p SMOKE True
# ```
#
# This lesson is cheap, so it makes a good first sweep: which monthly growth rates agree with the
# "about 50 % a year" of the source? Try
#
# ```bash
# make run LESSONS=00 PARAMS="RUN_LESSON_01=False" SWEEP="MONTHLY_GROWTH=0.03,0.035,0.04" METRIC=annual_growth_gap_points
# ```
#
# (`RUN_LESSON_01=False` skips exercise 3, so each run takes seconds.) Only 0.035 meets the first
# milestone; the other two miss it on purpose, and the report says by how much.
#
# ### The parameters cell: the contract with batch runners
#
# Every lesson has one code cell tagged `parameters`. It always declares the same three names, then
# the lesson's own knobs, each with a comment that says what it does and what is allowed:
#
# * `SEED`: the same seed gives the same metrics on the same machine;
# * `DEVICE`: `"auto"` uses a GPU when one is present, else the CPU;
# * `SMOKE`: `True` runs every code path in seconds (tiny data, few steps) and reports the milestones
#   without asserting them; use it to check that a notebook works, not what it finds;
# * knobs such as `EPOCHS`, `STEPS` or, here, `MONTHLY_GROWTH`.
#
# Papermill puts your values in a new cell *after* the parameters cell. The very next cell validates
# them, so `-p SEED -1` or `-p DEVICE gpu` stops the lesson at once with a message that names the
# parameter, the value and what is allowed. The batch runner goes further: it refuses a parameter name
# the lesson does not declare (papermill itself only warns).
#
# The cell below reads parameters cells exactly as papermill and the batch runner see them: this
# lesson's in full, then the knobs of every lesson that exists. New lessons appear by themselves.
# (A tip for lesson authors: papermill skips a parameter line that has a second `=`, even in its
# comment, so write ranges as `1 .. 50`, not `1 <= x <= 50`.)

# %%
WRITTEN = lessons.catalogue()  # every NN_YYYY_slug.ipynb in lessons/, from its metadata record
try:
    # The batch runner's own reader (papermill's view): {name: {"default", "help", ...}}.
    from course_utils.tools.batch import declared_parameters

    # This lesson's parameters cell in full: name, default, and the comment that documents it.
    mine = declared_parameters(lessons.LESSONS_DIR / "00_2012_course_tour.ipynb")
    rows = ["| parameter of lesson 00 | default | what it does |", "|---|---|---|"]
    rows += [f"| `{name}` | `{p['default']}` | {p['help'].replace('|', '/')} |" for name, p in mine.items()]
    display(Markdown("\n".join(rows)))
    # Every lesson's own knobs, besides SEED, DEVICE and SMOKE.
    rows = ["| lesson | its own knobs (default) |", "|---|---|"]
    for rec in WRITTEN:
        declared = declared_parameters(rec["path"])
        knobs = ", ".join(f"`{n}={p['default']}`" for n, p in declared.items() if n not in params.CORE) or "none"
        rows.append(f"| {rec['number']} {rec['title']} | {knobs} |")
    display(Markdown("\n".join(rows)))
except ImportError:
    print("papermill is not installed here (it comes with `make setup`); the parameter tables are skipped.")

# %% [markdown]
# ### Metrics travel inside the notebook
#
# A lesson records each headline number with `record.metric(name, value)` and each milestone with
# `checks.milestone(name, value, target, op)`. Both show up as an output with their own MIME type, so
# the number travels **inside the executed `.ipynb`**: parallel runs never overwrite each other's side
# files. `record.read_metrics("executed.ipynb")` reads them back; the batch report is built that way,
# and you will do it yourself in exercise 3. Look for the `[metric]` lines in this notebook.
#
# The last code cell of every lesson calls `checks.assert_milestones(...)`. A missed milestone fails
# the notebook there, at the very end, so a batch run or a sweep still gets every plot and every metric.
#
# ## How to teach with it
#
# * `make student` writes copies of every lesson to `student/` **without the solution cells**. The
#   exercise and check cells stay, and a whole student copy runs to the end even with unsolved
#   exercises (the checks explain, they do not stop the run). An existing copy is never overwritten:
#   it may hold a student's work. `make clean` removes only `build/`.
# * `make slides` builds one reveal.js deck per lesson from the *executed* notebook (so the figures are
#   there), one slide per section heading. reveal.js is served from a local copy: the decks work when
#   the classroom wifi does not.
# * `make bench` measures each lesson's run time and peak memory on the machine at hand. The lesson
#   card at the top of every lesson and the table below read those measurements. Every lesson must run
#   in at most 150 s on a 2-core CPU with default parameters, and the course averages at most 90 s.
# * A lesson has a fixed shape: story, 中文导读, parameters, the idea from scratch, the check against
#   the library, the experiment, widgets, exercises, "Going further", milestones. Once you have taught
#   one, you know where everything is in the others.

# %%
measured = lessons.runtimes()
rows = ["| lesson | year | track | title | measured run time |", "|---|---|---|---|---|"]
for rec in WRITTEN:
    run = measured.get(rec["number"])
    when = f"{run['seconds']:.0f} s" if run and "seconds" in run else "not measured yet (`make bench`)"
    rows.append(f"| {rec['number']} | {rec['year']} | {rec['track']} | {rec['title']} | {when} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## The map: every lesson on the 2012–2020 timeline
#
# The plan of the whole course lives in the repository, in `lessons/plan.toml`: one entry per lesson,
# written or not, with its year span, track, title, papers and the milestone it must meet.
# `lessons.course_map()` merges that plan with the metadata record of every lesson notebook in
# `lessons/`. A written lesson's own record wins, so the map below is never typed by hand: a new
# lesson turns from planned to written as soon as its notebook is there. The map draws a planned
# lesson hatched, with a grey label. What a lesson must contain, cell by cell, is in `CONTRIBUTING.md`.

# %%
MAP = [{**r, "span": lessons.year_span(r["year"])} for r in lessons.course_map()]  # plan.toml + written lessons
TRACK_COLORS = plot.TRACK_COLORS  # the same colours as the lesson card at the top of every lesson
YEARS = list(range(2012, 2021))
TRACKS = [t for t in TRACK_COLORS if any(r["track"] == t for r in MAP)]
TRACKS += sorted({r["track"] for r in MAP} - set(TRACKS))  # a new track in a lesson record still shows up
n_written = sum(r["status"] == "written" for r in MAP)
n_planned = len(MAP) - n_written
print(f"{n_written} lesson(s) written, {n_planned} planned, {len(MAP)} in all "
      f"(numbered {MAP[0]['number']} to {MAP[-1]['number']}); tracks: {', '.join(TRACKS)}")
record.metric("lessons_written", n_written)
record.metric("lessons_planned", n_planned)

# %%
def draw_map(track="all", year=None):
    """The course map: one bar per lesson over its year span, coloured by track; planned lessons hatched."""
    fig, ax = plt.subplots(figsize=(11, 0.3 * len(MAP) + 2.2))
    for i, r in enumerate(MAP):
        lo, hi = r["span"]
        color = TRACK_COLORS.get(r["track"], "#999999")
        shown = track == "all" or r["track"] == track
        alpha = 1.0 if shown else 0.12
        if r["status"] == "written":
            ax.barh(i, hi - lo + 0.8, left=lo - 0.4, height=0.62, color=color, alpha=alpha)
        else:
            ax.barh(i, hi - lo + 0.8, left=lo - 0.4, height=0.62, facecolor="white", edgecolor=color,
                    hatch="////", linewidth=1.2, alpha=alpha)
    if year is not None:
        ax.axvspan(year - 0.5, year + 0.5, color="#F0E442", alpha=0.35, zorder=0)
    labels = [f"{r['number']}  {r['title']}" + ("  (planned)" if r["status"] == "planned" else "") for r in MAP]
    ax.set_yticks(range(len(MAP)), labels=labels, fontsize=9)
    for tick, r in zip(ax.get_yticklabels(), MAP):
        lo, hi = r["span"]
        tick.set_color("#777777" if r["status"] == "planned" else "black")
        if year is not None and lo <= year <= hi:
            tick.set_fontweight("bold")
        if not (track == "all" or r["track"] == track):
            tick.set_alpha(0.35)
    ax.set_xticks(YEARS, labels=[str(y) for y in YEARS], fontsize=9)
    ax.set_xlim(2011.4, 2020.6)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("year (a bar covers the years of the lesson's papers)")
    ax.set_ylabel("lesson")
    what = "all tracks" if track == "all" else f"track: {track}"
    ax.set_title(f"Course map 2012–2020: {n_written} written, {n_planned} planned ({what})")
    handles = [Patch(color=TRACK_COLORS.get(t, "#999999"), label=t) for t in TRACKS]
    handles += [Patch(facecolor="white", edgecolor="#555555", hatch="////", label="planned (no notebook yet)")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, handlelength=1.5, columnspacing=1.2)
    fig.tight_layout(rect=(0, 0.45 / fig.get_figheight(), 1, 1))
    return fig


# The static map is drawn for the default; with a live kernel the dropdown redraws it for one track.
track_control = widgets.explore(lambda t: draw_map(track=t), ["all"] + TRACKS, "all", "highlight track", kind="dropdown")

# %% [markdown]
# Read the map from top to bottom and from left to right. Vision opens the story in 2012; language
# runs from 2013 to 2020; the generative and reinforcement-learning tracks run alongside.
# Many lessons crowd into 2017–2018, the years the H2 2018 review and the 2019 lecture look back on.
#
# Pick a year with the slider below to see which lessons touch it. The static figure shows
# `HIGHLIGHT_YEAR`.

# %%
def lessons_in(year):
    """Lessons (not the tour) whose year span contains `year`."""
    return [r for r in MAP if r["track"] != "tour" and r["span"][0] <= year <= r["span"][1]]


PER_YEAR = {y: lessons_in(y) for y in YEARS}  # precomputed: the slider only redraws


def draw_year(year):
    """Left: how many lessons touch each year. Right: the lessons that touch `year`."""
    fig, (ax, ax_list) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    written = [sum(r["status"] == "written" for r in PER_YEAR[y]) for y in YEARS]
    planned = [len(PER_YEAR[y]) - w for y, w in zip(YEARS, written)]
    edge = ["black" if y == year else "none" for y in YEARS]
    ax.bar(YEARS, written, color="#0072B2", edgecolor=edge, linewidth=2, label="written")
    ax.bar(YEARS, planned, bottom=written, facecolor="white", edgecolor="#0072B2", hatch="////", label="planned")
    ax.axvspan(year - 0.5, year + 0.5, color="#F0E442", alpha=0.35, zorder=0)
    ax.set_xticks(YEARS, labels=[str(y) for y in YEARS], rotation=45)
    ax.set(title="Lessons per year", xlabel="year", ylabel="lessons whose span includes the year")
    ax.legend(loc="upper left")
    ax_list.axis("off")
    picked = PER_YEAR[year]
    ax_list.set_title(f"{year}: {len(picked)} lesson(s)", loc="left")
    for i, r in enumerate(picked):
        ax_list.text(0, 1 - 0.075 * (i + 0.5), f"{r['number']}  {r['title']}" + ("  (planned)" if r["status"] == "planned" else ""),
                     color=TRACK_COLORS.get(r["track"], "#999999"), fontsize=9, transform=ax_list.transAxes,
                     fontweight="bold" if r["status"] == "written" else "normal")
    fig.tight_layout()
    return fig


year_control = widgets.explore(draw_year, YEARS, HIGHLIGHT_YEAR, "year")

# %% [markdown]
# ## The field in numbers
#
# These are the facts this course takes from its sources, as the sources state them. "About" means the
# source says "about"; we keep it.
#
# | fact | value | source |
# |---|---|---|
# | ML papers per month, late 2018 | about 2,200 | Taylor, Nov 2018 |
# | growth since July 2018 | about 3.5 % a month, "around a 50 % growth rate annually" | Taylor, Nov 2018 |
# | new ML papers expected in 2019 | about 30,000 | Taylor, Nov 2018 |
# | ML papers of the previous 5 years with code | about 12 % of 60,000+ | Taylor, Nov 2018 |
# | ... of the last 6 months | about 15 % (1 in 7) | Taylor, Nov 2018 |
# | frameworks of the implementations | the majority TensorFlow, PyTorch not far behind; MXNet, Torch and Caffe2 far smaller | Taylor, Nov 2018 |
# | most-starred official code, H2 2018 | BERT, vid2vid, graph_nets | Taylor, Nov 2018 |
# | most-starred community code, H2 2018 | DeOldify, a PyTorch BERT, Mask R-CNN (Keras/TensorFlow) | Taylor, Nov 2018 |
# | papers vs Moore's law | the comparison is credited to Dean, Patterson & Young, IEEE Micro 2018, which plots ML papers on arXiv per year against Moore's law | Taylor, Nov 2018 |
# | AI papers on arXiv per year, 2012 → 2017 | 2,577 → 13,325 (six yearly totals, in the cell below) | AI Index 2018 |
# | Moore's law, as this course uses it | ×2 every **2 years**, about 41 % a year | course convention |
#
# Moore's law is quoted with several doubling periods (18 months is common too). We compare with
# **2 years**, that is 24 months; the knob `MOORE_DOUBLING_YEARS` lets you try another.
#
# The review gives no counts for the frameworks, so we draw no chart for them: a chart would invent
# numbers. What it does say fits this course: PyTorch was already a close second in 2018.
#
# Now let us check the numbers against each other. Growth compounds: 3.5 % a month is not
# 12 × 3.5 % = 42 % a year, it is $(1.035)^{12} - 1$. And a quantity that grows by a fraction $r$ per
# period doubles after $\ln 2 / \ln(1 + r)$ periods.

# %%
# The facts of the table, as data (Taylor, 30 Nov 2018).
PAPERS_PER_MONTH_2018 = 2200  # about 2,200 ML papers a month, late 2018
CITED_ANNUAL_GROWTH = 0.50  # "around a 50 % growth rate annually"
PAPERS_EXPECTED_2019 = 30_000  # about 30,000 new ML papers expected in 2019
PAPERS_5_YEARS = 60_000  # 60,000+ ML papers from the previous 5 years ...
SHARE_WITH_CODE_5_YEARS = 0.12  # ... about 12 % of them with code
SHARE_WITH_CODE_6_MONTHS = 0.15  # about 15 % (1 in 7) of the last 6 months


def pct(x, digits=1):
    """0.035 -> '3.5 %' (the course writes a space before %)."""
    return f"{100 * x:.{digits}f} %"


annual_from_monthly = (1 + MONTHLY_GROWTH) ** 12 - 1
paper_doubling_months = math.log(2) / math.log(1 + MONTHLY_GROWTH)
moore_annual = 2 ** (1 / MOORE_DOUBLING_YEARS) - 1
moore_doubling_months = 12 * MOORE_DOUBLING_YEARS

print(f"{pct(MONTHLY_GROWTH)} a month compounds to {pct(annual_from_monthly)} a year "
      f"(the source: about {pct(CITED_ANNUAL_GROWTH, 0)}; 12 months added up without compounding would give "
      f"{pct(12 * MONTHLY_GROWTH, 0)}).")
print(f"Paper counts double every {paper_doubling_months:.1f} months. Moore's law (×2 every {MOORE_DOUBLING_YEARS:g} years) "
      f"doubles every {moore_doubling_months:.0f} months, which is {pct(moore_annual)} a year.")

record.metric("annual_growth_from_monthly", annual_from_monthly)
record.metric("moore_annual_growth", moore_annual)
checks.milestone("annual_growth_gap_points", 100 * abs(annual_from_monthly - CITED_ANNUAL_GROWTH), 2.0, "<=",
                 note="|(1 + monthly)^12 - 1 - 0.50| in percentage points; must be within 2 points")
checks.milestone("paper_doubling_months", paper_doubling_months, moore_doubling_months, "<",
                 note=f"ln 2 / ln(1 + monthly) must be shorter than Moore's law's {moore_doubling_months:g} months")

# %% [markdown]
# Both checks pass with the cited numbers: 3.5 % a month is 51 % a year, within 2 points of the cited
# 50 %, and paper counts double in about 20 months, faster than the 24 months of Moore's law.
#
# The other numbers deserve the same treatment. Are they consistent with each other?

# %%
# 2019 from the late-2018 level: no growth at all, or the cited monthly growth all year.
months_2019 = np.arange(1, 13)  # January .. December 2019, counted from December 2018
flat_2019 = PAPERS_PER_MONTH_2018 * 12
growing_2019 = float(np.sum(PAPERS_PER_MONTH_2018 * (1 + MONTHLY_GROWTH) ** months_2019))
print("ML papers in 2019:")
print(f"  if the December 2018 rate stayed flat       {flat_2019:>7,.0f}")
print(f"  if it kept growing {pct(MONTHLY_GROWTH)} a month        {growing_2019:>7,.0f}")
print(f"  the source's estimate                about {PAPERS_EXPECTED_2019:>7,}")
print(f"\nPapers with code: about {SHARE_WITH_CODE_5_YEARS * PAPERS_5_YEARS:,.0f} of {PAPERS_5_YEARS:,}+ over five years "
      f"({pct(SHARE_WITH_CODE_5_YEARS, 0)}); 1 in 7 is {pct(1 / 7)}, which the source rounds to {pct(SHARE_WITH_CODE_6_MONTHS, 0)}.")
record.metric("papers_2019_if_growth_held", round(growing_2019))

# %% [markdown]
# The estimate of about 30,000 papers for 2019 sits between "no growth" (26,400) and "3.5 % growth all
# year" (about 33,000). That is what a rounded forecast should look like. Sharing code was rare, but it
# was becoming more common: 12 % over five years, 15 % in the last six months. Every lesson of this
# course comes with its code, and you will write most of it.
#
# ### Real counts: AI papers on arXiv, year by year
#
# The 3.5 % a month is a trend over a few months. Does it hold over years? For that we need yearly
# counts we can cite. The **AI Index 2018 report** (Shoham et al., December 2018) gives them: the
# papers on arXiv whose main category is one of seven AI
# categories (cs.AI, cs.CL, cs.CV, cs.LG, cs.NE, cs.RO and stat.ML), each paper counted once. We use
# the totals as quoted by [Metaculus question 3028](https://ai.metaculus.com/questions/3028/how-many-ai-papers-will-be-published-on-arxiv-in-the-calendar-year-2019/),
# which cites page 12 of the report.
#
# These counts and Taylor's 2,200 a month are not the same count: they cover other categories and other
# years. So compare how fast they grow, not how many there are. A straight-line fit of log(count)
# against the year gives the growth rate, and so the doubling time.

# %%
# AI papers on arXiv per year: main (primary) category cs.AI, cs.CL, cs.CV, cs.LG, cs.NE, cs.RO or stat.ML.
# Source: The AI Index 2018 Annual Report (Shoham et al., December 2018), p. 12, data from arXiv; the yearly
# totals as quoted by Metaculus question 3028:
# https://ai.metaculus.com/questions/3028/how-many-ai-papers-will-be-published-on-arxiv-in-the-calendar-year-2019/
ARXIV_AI_PAPERS = {2012: 2577, 2013: 3760, 2014: 3847, 2015: 5472, 2016: 8824, 2017: 13325}
RECENT_YEARS = 3  # the recent trend: a fit over the last 3 years of counts (2015-2017)


def fit_doubling_months(counts):
    """Fit log(count) = a + b * year by least squares; return the doubling time 12 ln 2 / b in months."""
    years = np.array(list(counts), dtype=float)
    slope = np.polyfit(years, np.log(list(counts.values())), 1)[0]  # growth of log(count) per year
    return 12 * math.log(2) / slope


ARXIV_YEARS = sorted(ARXIV_AI_PAPERS)
ARXIV_FITS = {start: fit_doubling_months({y: ARXIV_AI_PAPERS[y] for y in ARXIV_YEARS if y >= start})
              for start in ARXIV_YEARS[:-1]}  # every window that ends in 2017
arxiv_all = ARXIV_FITS[ARXIV_YEARS[0]]
arxiv_recent = ARXIV_FITS[ARXIV_YEARS[-RECENT_YEARS]]
print(f"AI papers on arXiv grew from {ARXIV_AI_PAPERS[2012]:,} in 2012 to {ARXIV_AI_PAPERS[2017]:,} in 2017, "
      f"×{ARXIV_AI_PAPERS[2017] / ARXIV_AI_PAPERS[2012]:.1f} in five years.")
print("Doubling time fitted from each start year to 2017 (Moore's law: "
      f"{moore_doubling_months:.0f} months; Taylor's 3.5 % a month: {math.log(2) / math.log(1.035):.1f} months):")
for start, months_to_double in ARXIV_FITS.items():
    verdict = "faster than Moore's law" if months_to_double < moore_doubling_months else "slower than Moore's law"
    print(f"  {start}-2017: ×2 every {months_to_double:4.1f} months, {verdict}")

record.metric("arxiv_doubling_months_2012_2017", arxiv_all)
record.metric("arxiv_doubling_months_recent", arxiv_recent)

# %% [markdown]
# Choose the first year of the fit yourself. The slider redraws the counts, the straight line fitted
# from that year to 2017 (on the log scale), and Moore's law started from the same year's count.

# %%
def draw_window(start):
    """The AI Index counts, the log-linear fit from `start` to 2017, and Moore's law from the `start` count."""
    years = np.array(ARXIV_YEARS, dtype=float)
    counts = np.array([ARXIV_AI_PAPERS[y] for y in ARXIV_YEARS], dtype=float)
    sel = years >= start
    b, a = np.polyfit(years[sel], np.log(counts[sel]), 1)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(years[~sel], counts[~sel], "o", color="#999999", ms=7, label="counts left out of the fit")
    ax.plot(years[sel], counts[sel], "o", color="#0072B2", ms=7, label="counts in the fit")
    ax.plot(years[sel], np.exp(a + b * years[sel]), "-", color="#0072B2", lw=2,
            label=f"fit {start}–{ARXIV_YEARS[-1]}: ×2 every {ARXIV_FITS[start]:.1f} months")
    ax.plot(years[sel], counts[sel][0] * 2 ** ((years[sel] - start) * 12 / moore_doubling_months), "--",
            color="#D55E00", lw=2, label=f"Moore's law from the {start} count: ×2 every {moore_doubling_months:g} months")
    ax.set_yscale("log")
    ax.set_ylim(1500, 30000)
    ax.set_yticks([2000, 5000, 10000, 20000], labels=["2,000", "5,000", "10,000", "20,000"])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ARXIV_YEARS, labels=[str(y) for y in ARXIV_YEARS])
    faster = ARXIV_FITS[start] < moore_doubling_months
    ax.set(title=f"Fit from {start}: {'faster' if faster else 'slower'} than Moore's law",
           xlabel="year", ylabel="AI papers on arXiv per year (log scale)")
    ax.legend(loc="upper left", fontsize=8.5)
    return fig


window_control = widgets.explore(draw_window, ARXIV_YEARS[:-1], ARXIV_YEARS[0], "fit from year")

# %% [markdown]
# Over all six years the counts doubled about every 26 months, and from 2013 on every 25 months: about
# the pace of Moore's law, a little slower. Every fit that starts in 2014 or later gives about 19 to 20
# months (printed above), close to the 20 months of Taylor's 3.5 % a month, which he measured on other data. Both
# statements are true: the growth itself sped up after 2014, the years of GANs, ResNet and the
# Transformer. A growth rate depends on the years you fit, so always say which years you used. That is
# also why these fits are recorded as metrics, not asserted as a milestone: choosing the window would
# choose the verdict.
#
# ### Growth curves: paper counts vs Moore's law
#
# Left: the real yearly counts with two fits, and Moore's law started from the 2012 count. Right: the
# late-2018 trend projected forward. The right panel is a *what if*, not data: our sources stop in
# 2020. Both y axes are logarithmic, so steady growth is a straight line and a steeper line means faster
# doubling. On the right, the second y axis turns the paper curve's growth factor into papers per
# month, starting from about 2,200. The slider changes the monthly growth rate of the projection.

# %%
START = 2018 + 11 / 12  # the end of November 2018, when the review counted about 2,200 papers a month
months = np.arange(0, 12 * HORIZON_YEARS + 1)
x_years = START + months / 12
moore_curve = 2 ** (months / moore_doubling_months)
GROWTH_OPTIONS = sorted({round(float(g), 4) for g in np.arange(0.01, 0.0601, 0.0025)} | {MONTHLY_GROWTH})
PAPER_CURVES = {g: (1 + g) ** months for g in GROWTH_OPTIONS}  # precomputed: the slider only redraws


def draw_counts(ax):
    """Left panel: the AI Index yearly counts, two log-linear fits, and Moore's law from the 2012 count."""
    years = np.array(ARXIV_YEARS, dtype=float)
    counts = np.array([ARXIV_AI_PAPERS[y] for y in ARXIV_YEARS], dtype=float)
    ax.plot(years, counts, "o", color="#0072B2", ms=7, label="AI papers on arXiv (AI Index 2018)", zorder=3)
    recent_start = ARXIV_YEARS[-RECENT_YEARS]
    for start, style in ((ARXIV_YEARS[0], ":"), (recent_start, "-")):
        sel = years >= start
        b, a = np.polyfit(years[sel], np.log(counts[sel]), 1)
        xs = np.linspace(start, years[-1], 20)
        ax.plot(xs, np.exp(a + b * xs), style, color="#0072B2", lw=2,
                label=f"fit {start}–{ARXIV_YEARS[-1]}: ×2 every {ARXIV_FITS[start]:.1f} months")
    ax.plot(years, counts[0] * 2 ** ((years - years[0]) * 12 / moore_doubling_months), lw=2.5, color="#D55E00",
            label=f"Moore's law from the 2012 count: ×2 every {moore_doubling_months:g} months")
    ax.set_yscale("log")
    ax.set_ylim(1500, 30000)
    ax.set_yticks([2000, 5000, 10000, 20000], labels=["2,000", "5,000", "10,000", "20,000"])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ARXIV_YEARS, labels=[str(y) for y in ARXIV_YEARS])
    ax.set_xlim(years[0] - 0.4, years[-1] + 0.4)
    ax.set(title="Real counts, 2012–2017", xlabel="year", ylabel="AI papers on arXiv per year (log scale)")
    ax.legend(loc="upper left", fontsize=8.5)


def draw_growth(g):
    """Left: the real yearly counts. Right: paper counts growing `g` per month from Dec 2018 vs Moore's law."""
    fig, (ax_real, ax) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1, 1.15]})
    draw_counts(ax_real)
    t2 = math.log(2) / math.log(1 + g)
    ax.plot(x_years, PAPER_CURVES[g], lw=2.5, color="#0072B2",
            label=f"ML papers: +{100 * g:.3g} % a month (×2 every {t2:.1f} months)")
    if g != MONTHLY_GROWTH:
        ax.plot(x_years, PAPER_CURVES[MONTHLY_GROWTH], ":", color="#0072B2", alpha=0.6,
                label=f"ML papers at the cited +{100 * MONTHLY_GROWTH:.3g} % a month")
    ax.plot(x_years, moore_curve, lw=2.5, color="#D55E00",
            label=f"Moore's law: ×2 every {MOORE_DOUBLING_YEARS:g} years (+{pct(moore_annual, 0)} a year)")
    ax.axhline(2, color="grey", lw=0.8, ls="--")
    for months_to_double, color, offset, align in ((t2, "#0072B2", (-8, 10), "right"),
                                                   (moore_doubling_months, "#D55E00", (8, -16), "left")):
        if months_to_double <= months[-1]:
            ax.plot(START + months_to_double / 12, 2, "o", color=color, ms=7)
            ax.annotate(f"×2 after {months_to_double:.1f} months", (START + months_to_double / 12, 2),
                        xytext=offset, textcoords="offset points", color=color, fontsize=9, ha=align)
    ax.set_yscale("log")
    ax.set_xlim(x_years[0], x_years[-1])
    # y ticks at doublings (×1, ×2, ×4, ...), at most about 8 of them; the right axis shows the same ticks in papers a month
    top = max(PAPER_CURVES[g][-1], PAPER_CURVES[MONTHLY_GROWTH][-1], moore_curve[-1], 2.5)
    k_max = math.ceil(math.log2(top))
    ticks = [2.0 ** k for k in range(0, k_max + 1, max(1, math.ceil((k_max + 1) / 8)))]
    ax.set_ylim(0.9, top * 1.15)
    ax.set_yticks(ticks, labels=[f"×{t:,.0f}" for t in ticks])
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set(title=f"What if the late-2018 trend held? (+{100 * g:.3g} % a month)",
           xlabel="year (projection from December 2018)", ylabel="growth factor since Dec 2018 (log scale)")
    right = ax.secondary_yaxis("right", functions=(lambda f: f * PAPERS_PER_MONTH_2018, lambda p: p / PAPERS_PER_MONTH_2018))
    right.set_yticks([t * PAPERS_PER_MONTH_2018 for t in ticks], labels=[f"{t * PAPERS_PER_MONTH_2018:,.0f}" for t in ticks])
    right.yaxis.set_minor_formatter(NullFormatter())
    right.set_ylabel("ML papers a month on the paper curve")
    ax.legend(loc="upper left", fontsize=8.5)
    for a in (ax_real, ax):
        a.title.set_fontsize(11)
    fig.tight_layout()
    return fig


growth_control = widgets.explore(draw_growth, GROWTH_OPTIONS, MONTHLY_GROWTH, "monthly growth (0.035 = 3.5 %)")

# %% [markdown]
# On the left, the dotted fit over 2012–2017 runs close to Moore's law, while the solid fit over the
# last three years is steeper. On the right, at 3.5 % a month the paper curve pulls away from Moore's
# law within a year. Move the slider: below about 2.9 % a month papers double more slowly than 24 months
# and the blue line falls under the red one. The review credits this comparison to Dean, Patterson &
# Young, writing about computer architecture for machine learning in IEEE Micro (see "Going further").
# Keep the two kinds of curve apart in your head: one counts papers, the other transistors. The plots
# compare how fast they grow, not what they measure.
#
# ## Where the sources point on our map
#
# Each source names ideas; most of them are lessons here. The cell below finds each lesson on the
# course map by its title, so the numbers stay right when the plan changes.

# %%
SOURCE_POINTERS = [  # (what the source mentions, who mentions it, how the titles of the lessons on it begin)
    ("AlexNet and dropout, 2012", "Britz", ["AlexNet"]),
    ("Adam, 2014", "Britz", ["Adam"]),
    ("ResNet, 2015", "Britz", ["ResNet"]),
    ("DAWNBench; fast.ai trains on ImageNet in 18 minutes for about $40", "Fridman; the 2019 CV/NLP review",
     ["Fast & cheap"]),
    ("Mask R-CNN (Keras/TensorFlow) among the most-starred community code of H2 2018", "Taylor", ["Object detection"]),
    ("semantic segmentation from FCN (2014) through SegNet and dilated convolutions to DeepLab v1–v3+; "
     "Polygon-RNN++ for annotation", "Fridman", ["Semantic segmentation"]),
    ("AdaNet, AutoAugment, training on synthetic data with domain randomization; NAS",
     "Fridman; the 2019 CV/NLP review (NAS)", ["Automating DL"]),
    ("seq2seq with attention, 2014", "Britz", ["Word vectors", "Attention"]),
    ("the Transformer, 2017", "Britz", ["Transformer"]),
    ("ELMo, ULMFiT", "the 2019 CV/NLP review", ["Pretrain, then fine-tune"]),
    ("BERT and fine-tuning, 2018", "Britz, Fridman, Taylor", ["BERT"]),
    ("big language models: GPT-3 with 175 billion parameters, 2020", "Britz", ["Bigger is different"]),
    ("GANs, 2014–15", "Britz", ["GAN", "DCGAN"]),
    ("BigGAN and its truncation trick", "Fridman; the 2019 CV/NLP review", ["Stable GANs"]),
    ("StyleGAN: mapping network, AdaIN, coarse-to-fine styles", "the 2019 CV/NLP review", ["StyleGAN"]),
    ("vid2vid (most-starred official code of H2 2018) and DeOldify (most-starred community code)",
     "Taylor; Fridman (vid2vid)", ["Image-to-image"]),
    ("DQN on Atari, 2013", "Britz", ["DQN"]),
    ("OpenAI's Dota 2 agents: beat Dendi 1v1 in 2017; OpenAI Five lost two 5v5 games against professionals "
     "at The International 2018", "Fridman", ["Policy gradients"]),
    ("AlphaZero", "Fridman", ["AlphaGo"]),
    ("self-supervised learning, SimCLR", "Britz", ["Self-supervised"]),
    ("graph_nets, among the most-starred official code of H2 2018", "Taylor", ["Graph networks"]),
    ("Tesla Autopilot hardware 2: neural networks at scale in cars", "Fridman", []),
]


def lesson_titled(prefix):
    """The one lesson on the course map whose title starts with `prefix` (a GAN is not a DCGAN)."""
    hits = [r for r in MAP if r["title"] == prefix or r["title"].startswith(prefix + " ")
            or r["title"].startswith(prefix + ":")]
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} lessons on the map have a title starting with {prefix!r}: "
                          "update SOURCE_POINTERS to the titles in lessons/plan.toml")
    return hits[0]


rows = ["| the source mentions | source | lesson |", "|---|---|---|"]
for mention, source, prefixes in SOURCE_POINTERS:
    found = [lesson_titled(p) for p in prefixes]
    where = "; ".join(f"{r['number']} {r['title']}" + ("" if r["status"] == "written" else " (planned)") for r in found)
    rows.append(f"| {mention.replace('$', '&#36;')} | {source} | {where or 'no lesson: a candidate for later'} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# Britz's review also points to Rich Sutton's essay *The Bitter Lesson* (2019): in the long run, general
# methods that make use of more computation beat clever hand-built knowledge. Keep it in mind in the
# lessons on GPT-3 and AlphaZero, and compare it with the growth curves above.

# %% [markdown]
# ## Exercises
#
# Each exercise has three cells: the task with a `TODO` (it runs as given), the solution (removed from
# student copies), and a check that explains a wrong answer. No later cell uses your answers.
#
# ### Exercise 1: doubling time
#
# A quantity grows by a fraction `rate` each period (0.035 means 3.5 %). After how many periods has it
# doubled? Write `doubling_time(rate)`. Test it on paper counts (3.5 % a month) and on Moore's law
# (41.42 % a year).

# %% tags=["exercise"]
def doubling_time(rate):
    """Number of periods after which a quantity growing by `rate` per period has doubled."""
    # TODO: solve (1 + rate) ** t == 2 for t and return t.
    return None


print("paper counts:", doubling_time(0.035), "months")
print("Moore's law: ", doubling_time(2 ** 0.5 - 1), "years")

# %% tags=["solution"]
def doubling_time(rate):
    """Number of periods after which a quantity growing by `rate` per period has doubled."""
    return math.log(2) / math.log(1 + rate)


print(f"paper counts: {doubling_time(0.035):.2f} months")
print(f"Moore's law:  {doubling_time(2 ** 0.5 - 1):.2f} years")

# %% tags=["check"]
_rates = [0.035, 2 ** 0.5 - 1, 0.10, 1.0]
_answer = doubling_time(0.035)
if _answer is not None and abs(_answer - math.log(2) / 0.035) < 1e-9:
    raise checks.NotYet("You computed ln 2 / rate = 19.8 months: that is the 'rule of 70', a good approximation "
                        "for small rates but not exact.\nHint: take the logarithm of (1 + rate) ** t = 2.")
checks.check_close(_answer, math.log(2) / math.log(1.035), "doubling_time(0.035)", rtol=1e-6,
                   hint="take the logarithm of (1 + rate) ** t = 2: t * ln(1 + rate) = ln 2.")
checks.check_close([doubling_time(r) for r in _rates], [math.log(2) / math.log(1 + r) for r in _rates],
                   "doubling_time at rates 3.5 %, 41.4 %, 10 %, 100 %", rtol=1e-6,
                   hint="a rate of 1.0 (100 %) must give exactly 1 period.")

# %% [markdown]
# ### Exercise 2: the monthly rate behind "50 % a year"
#
# The review says about 3.5 % a month and about 50 % a year. Which monthly rate gives *exactly* 50 % a
# year? Write `monthly_rate(annual_rate)`.

# %% tags=["exercise"]
def monthly_rate(annual_rate, months_per_year=12):
    """The monthly growth rate that compounds to `annual_rate` over `months_per_year` months."""
    # TODO: find m such that (1 + m) ** months_per_year == 1 + annual_rate.
    return None


print("monthly rate for 50 % a year:", monthly_rate(0.50))

# %% tags=["solution"]
def monthly_rate(annual_rate, months_per_year=12):
    """The monthly growth rate that compounds to `annual_rate` over `months_per_year` months."""
    return (1 + annual_rate) ** (1 / months_per_year) - 1


print(f"monthly rate for 50 % a year: {monthly_rate(0.50):.5f}")

# %% tags=["check"]
_answer = monthly_rate(0.50)
if _answer is not None and abs(_answer - 0.50 / 12) < 1e-9:
    raise checks.NotYet("You divided by 12 (4.17 % a month). That ignores compounding: 4.17 % a month gives "
                        "63 % a year.\nHint: take the 12th root: 1 + m = (1 + annual_rate) ** (1 / 12).")
checks.check_close(_answer, 1.5 ** (1 / 12) - 1, "monthly_rate(0.50)", rtol=1e-6,
                   hint="take the 12th root: 1 + m = (1 + annual_rate) ** (1 / 12).")
checks.check_close([monthly_rate(a) for a in (0.0, 1.0, 0.41421356)], [0.0, 2 ** (1 / 12) - 1, 2 ** (1 / 24) - 1],
                   "monthly_rate at 0 %, 100 % and 41.4 % a year", atol=1e-8, rtol=1e-6)
print(f"So 50 % a year is {100 * (1.5 ** (1 / 12) - 1):.2f} % a month, and the cited 3.5 % a month gives "
      f"{100 * (1.035 ** 12 - 1):.1f} % a year. Both numbers are 'about' right, as the source says.")

# %% [markdown]
# ### Exercise 3: run lesson 01 in batch, with another seed
#
# Here you do by hand what the batch runner does for you. Run lesson 01 (AlexNet) through papermill with
# `SEED = MY_SEED` and `SMOKE = True` (so it takes seconds, not minutes), write the executed notebook
# into a temporary folder, and read its metrics back with `course_utils.record.read_metrics`.
#
# * `papermill.execute_notebook(input_path, output_path, parameters={...}, kernel_name="python3",
#   progress_bar=False, cwd=...)` executes a notebook and saves the result at `output_path`. Return that
#   path: the input stays as it was, without outputs. Never write into `lessons/`.
# * The lesson is found with `lessons.LESSONS_DIR`, never with the working directory: papermill, nbval and
#   JupyterLab each start the kernel in a different folder.
# * The kernel that papermill starts may log a warning: "Kernel is running over TCP without encryption".
#   Papermill started that kernel on this machine, so here it is expected. Pass
#   `extra_arguments=["--log-level=ERROR"]` to `execute_notebook` and the kernel logs only its errors.
#   An error inside lesson 01 still stops papermill with a `PapermillExecutionError`.
#
# The check runs your functions on lesson 01, unless `SMOKE` is on, `RUN_LESSON_01` is off or lesson 01
# does not exist yet. Then it says so and checks nothing.

# %% tags=["exercise"]
LESSON_01 = next(iter(sorted(lessons.LESSONS_DIR.glob("01_*.ipynb"))), None)
MY_SEED = (SEED + 1) % 2**32  # another seed than this lesson's
print("lesson 01:", LESSON_01 or "not written yet")


def run_smoke(lesson_path, seed, out_dir):
    """Execute `lesson_path` with papermill (SEED=seed, SMOKE=True) into `out_dir`; return the output path."""
    # TODO: choose an output path in out_dir, call papermill.execute_notebook(...) and return the output path.
    return None


def metrics_of(executed_path):
    """The metrics recorded in an executed notebook, as {name: record}."""
    # TODO: one call to a course_utils.record function.
    return None

# %% tags=["solution"]
def run_smoke(lesson_path, seed, out_dir):
    """Execute `lesson_path` with papermill (SEED=seed, SMOKE=True) into `out_dir`; return the output path."""
    import papermill

    out = Path(out_dir) / f"{Path(lesson_path).stem}_seed{seed}_smoke.ipynb"
    papermill.execute_notebook(str(lesson_path), str(out), parameters={"SEED": seed, "SMOKE": True},
                               kernel_name="python3", progress_bar=False, cwd=str(out_dir),
                               extra_arguments=["--log-level=ERROR"])  # the new kernel logs errors only
    return out


def metrics_of(executed_path):
    """The metrics recorded in an executed notebook, as {name: record}."""
    return record.read_metrics(executed_path)

# %% tags=["check"]
def _exercise_3_skip_reason():
    if SMOKE:
        return "SMOKE=True keeps this tour fast"
    if not RUN_LESSON_01:
        return "RUN_LESSON_01=False"
    if LESSON_01 is None:
        return f"lesson 01 is not in {lessons.LESSONS_DIR} yet"
    try:
        import papermill  # noqa: F401
    except ImportError:
        return "papermill is not installed here (it comes with `make setup`)"
    return None


def _executed_by_papermill(path):
    """True if the notebook at `path` was written by papermill (a committed lesson never is)."""
    try:
        return "papermill" in json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False


_skip = _exercise_3_skip_reason()
if _skip:
    print(f"Exercise 3 was not run: {_skip}. Nothing was checked.")
else:
    from papermill.exceptions import PapermillExecutionError

    _hint_run = ("out = Path(out_dir) / 'lesson01_smoke.ipynb'; papermill.execute_notebook(str(lesson_path), str(out), "
                 "parameters={'SEED': seed, 'SMOKE': True}, kernel_name='python3', progress_bar=False); return out")
    _out_dir = Path(tempfile.gettempdir()) / "dl-course-exercise3"  # one folder, reused by every run
    _out_dir.mkdir(exist_ok=True)
    _lesson_bytes = Path(LESSON_01).read_bytes()  # to undo a run_smoke that writes its output over lesson 01
    _t0 = time.perf_counter()
    try:
        _executed = run_smoke(LESSON_01, MY_SEED, _out_dir)
        _lesson_01_failed = None
    except PapermillExecutionError as err:  # a bug in lesson 01, not in your code
        _executed, _lesson_01_failed = None, err
    finally:
        _overwrote = Path(LESSON_01).read_bytes() != _lesson_bytes and _executed_by_papermill(LESSON_01)
        if _overwrote:
            Path(LESSON_01).write_bytes(_lesson_bytes)
    _seconds = time.perf_counter() - _t0
    if _overwrote:
        raise checks.NotYet(f"run_smoke wrote the executed notebook over {Path(LESSON_01).name} itself (the original "
                            "is restored now).\nHint: write the output into out_dir, never into lessons/.")
    if _lesson_01_failed is not None:
        print(f"Note: your call worked, but lesson 01 itself stopped with {_lesson_01_failed.ename}: "
              f"{_lesson_01_failed.evalue}\n      That is lesson 01's problem (its own test reports it); nothing checked here.")
    else:
        if _executed is None:
            raise checks.NotYet(f"run_smoke returned None: its TODO is not filled in yet.\nHint: {_hint_run}")
        if not isinstance(_executed, (str, Path)):
            raise checks.NotYet(f"run_smoke returned a {type(_executed).__name__}, expected the path of the executed "
                                f"notebook.\nHint: {_hint_run}")
        _executed = Path(_executed)
        if _executed.resolve() == Path(LESSON_01).resolve():
            raise checks.NotYet(f"run_smoke returned the path of lesson 01 itself ({_executed}), not the executed copy."
                                "\nHint: papermill leaves its input as it is and saves the executed notebook at "
                                "output_path: return output_path.")
        if not _executed.is_file():
            raise checks.NotYet(f"run_smoke returned {_executed}, but there is no file there.\nHint: return the "
                                "output path you gave papermill.execute_notebook, after the call.")
        _nb = json.loads(_executed.read_text(encoding="utf-8"))
        _code = [c for c in _nb.get("cells", []) if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()]
        _ran = sum(c.get("execution_count") is not None for c in _code)
        _shown = sum(bool(c.get("outputs")) for c in _code)
        checks.check(_code and _ran == len(_code) and _shown > 0 and _executed_by_papermill(_executed),
                     f"{_executed.name} is not a notebook papermill executed: {_ran} of {len(_code)} code cells ran "
                     f"and {_shown} have outputs.",
                     ok_message=f"Lesson 01 ran in {_seconds:.0f} s: {_ran} code cells executed -> {_executed}",
                     hint=_hint_run)
        _used = _nb["metadata"]["papermill"].get("parameters", {})
        checks.check(_used.get("SEED") == MY_SEED and _used.get("SMOKE") is True,
                     f"Lesson 01 ran with parameters {_used}, expected SEED={MY_SEED} and SMOKE=True.",
                     ok_message=f"papermill injected SEED={MY_SEED}, SMOKE=True.",
                     hint="pass them as parameters={'SEED': seed, 'SMOKE': True}.")
        _recorded = record.read_metrics(_executed)
        _metrics = metrics_of(_executed)
        if _metrics is None:
            raise checks.NotYet("metrics_of returned None: its TODO is not filled in yet.\n"
                                "Hint: record.read_metrics(executed_path) does it in one call.")
        checks.check(isinstance(_metrics, dict) and sorted(_metrics) == sorted(_recorded) and len(_recorded) > 0,
                     f"metrics_of returned {type(_metrics).__name__} with {len(_metrics) if hasattr(_metrics, '__len__') else '?'} "
                     f"item(s); the executed notebook records {len(_recorded)} metric(s): {', '.join(sorted(_recorded))}.",
                     ok_message=f"Read {len(_recorded)} metric(s) back from the executed notebook.",
                     hint="record.read_metrics(executed_path) does it in one call.")
        _rows = ["| metric | value | milestone |", "|---|---|---|"]
        for _name, _rec in _metrics.items():
            _goal = f"{_rec['op']} {_rec['target']:.4g}: {'met' if _rec.get('met') else 'missed'}" if _rec.get("milestone") else ""
            _value = f"{_rec['value']:.4g}" if isinstance(_rec["value"], float) else _rec["value"]
            _rows.append(f"| `{_name}` | {_value} | {_goal} |")
        display(Markdown("\n".join(_rows)))
        print("A SMOKE run reports milestones without asserting them: its numbers show the code path works, "
              "not what the lesson finds at full scale.")

# %% [markdown]
# ## Going further
#
# * **Papers With Code**, the site behind Taylor's numbers, linked papers to their code and kept
#   leaderboards per task. It went offline in July 2025, and paperswithcode.com now forwards to Hugging
#   Face; its old paper pages forward to the matching Hugging Face paper pages. Those pages,
#   <https://huggingface.co/papers>, now do a similar job: an arXiv paper gets a page that links its code
#   and lists the models and data sets that use it, and <https://huggingface.co/papers/trending> shows
#   trending papers with their code. When you finish a lesson, look up its paper there.
# * The sources above. Read Britz's review after lesson 01 and again at the end of the course.
#   Watch Fridman's lecture after the BERT lesson: by then you will have built half of what it covers.
# * The AI Index reports (Stanford) count papers, people and results every year; the 2018 report gave us
#   the yearly arXiv counts.
# * Dean, Patterson & Young (IEEE Micro, 2018) on computer architecture for the machine-learning era:
#   [doi:10.1109/MM.2018.112130030](https://doi.org/10.1109/MM.2018.112130030).
# * Rich Sutton, *The Bitter Lesson* (2019), the essay Britz ends with:
#   <http://www.incompleteideas.net/IncIdeas/BitterLesson.html>.
# * In this repository: `lessons/plan.toml`, the plan of all 24 lessons with their papers and milestones,
#   and `CONTRIBUTING.md`, how a lesson is laid out, cell by cell, if you want to write one.
#
# Next: **lesson 01, AlexNet (2012)**, where the story starts.
#
# ## Milestones
#
# The last cell checks this lesson's two milestones together: the cited monthly growth compounds to
# the cited 50 % a year within 2 points, and at that rate paper counts double faster than Moore's law.

# %%
checks.assert_milestones(smoke=SMOKE, expected=["annual_growth_gap_points", "paper_doubling_months"])
