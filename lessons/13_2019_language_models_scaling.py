# ---
# jupyter:
#   course:
#     idea: a decoder-only character language model on the State of the Union corpus;
#       temperature, top-k and nucleus (top-p) sampling written out and checked against
#       transformers; six model sizes and a power law of held-out loss against non-embedding
#       parameters on a log-log plot; in-context learning of a fresh random code from
#       the examples in the prompt
#     number: '13'
#     papers:
#     - authors: Alec Radford, Jeffrey Wu, Rewon Child, David Luan, Dario Amodei, Ilya
#         Sutskever
#       title: Language Models are Unsupervised Multitask Learners
#       url: https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf
#       year: 2019
#     - arxiv: '2001.08361'
#       authors: Jared Kaplan, Sam McCandlish, Tom Henighan, Tom B. Brown, Benjamin
#         Chess, Rewon Child, Scott Gray, Alec Radford, Jeffrey Wu, Dario Amodei
#       title: Scaling Laws for Neural Language Models
#       year: 2020
#     - arxiv: '2005.14165'
#       authors: Tom B. Brown, Benjamin Mann, Nick Ryder, Melanie Subbiah, Jared Kaplan,
#         et al.
#       title: Language Models are Few-Shot Learners
#       year: 2020
#     - arxiv: '1904.09751'
#       authors: Ari Holtzman, Jan Buys, Li Du, Maxwell Forbes, Yejin Choi
#       title: The Curious Case of Neural Text Degeneration
#       year: 2019
#     - arxiv: '1805.04833'
#       authors: Angela Fan, Mike Lewis, Yann Dauphin
#       title: Hierarchical Neural Story Generation
#       year: 2018
#     - authors: Richard S. Sutton
#       title: The Bitter Lesson
#       url: http://www.incompleteideas.net/IncIdeas/BitterLesson.html
#       year: 2019
#     title: 'Bigger is different: GPT-2/3 and scaling laws'
#     track: language
#     year: 2019-20
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
# # 13 · 2019–20 · Bigger is different: GPT-2, GPT-3 and scaling laws
#
# **Papers and essay**
#
# * Alec Radford, Jeffrey Wu, Rewon Child, David Luan, Dario Amodei, Ilya Sutskever (2019). *Language Models
#   are Unsupervised Multitask Learners.* OpenAI report (GPT-2).
#   [PDF](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
# * Jared Kaplan, Sam McCandlish, Tom Henighan, Tom B. Brown, Benjamin Chess, Rewon Child, Scott Gray, Alec
#   Radford, Jeffrey Wu, Dario Amodei (2020). *Scaling Laws for Neural Language Models.*
#   [arXiv:2001.08361](https://arxiv.org/abs/2001.08361)
# * Tom B. Brown, Benjamin Mann, Nick Ryder, Melanie Subbiah, Jared Kaplan, et al. (2020).
#   *Language Models are Few-Shot Learners.* NeurIPS 2020 (GPT-3).
#   [arXiv:2005.14165](https://arxiv.org/abs/2005.14165)
# * Ari Holtzman, Jan Buys, Li Du, Maxwell Forbes, Yejin Choi (2019). *The Curious Case of Neural Text
#   Degeneration.* ICLR 2020 (nucleus sampling). [arXiv:1904.09751](https://arxiv.org/abs/1904.09751)
# * Angela Fan, Mike Lewis, Yann Dauphin (2018). *Hierarchical Neural Story Generation.* ACL 2018 (top-k
#   sampling). [arXiv:1805.04833](https://arxiv.org/abs/1805.04833)
# * Richard S. Sutton (2019). *The Bitter Lesson.* An essay, 13 March 2019.
#   [incompleteideas.net](http://www.incompleteideas.net/IncIdeas/BitterLesson.html)
#
# ## The problem before these papers
#
# GPT (2018) and BERT (2018), lessons 11 and 12, showed that a Transformer pre-trained on plain text is a
# good start for almost any language task. But "a start" was the catch: every task still needed its own
# labelled data set and its own round of fine-tuning. A question answerer, a translator and a summariser
# were three different models.
#
# Two questions were open. Could a language model do a task with no task-specific training at all, if the
# task were simply written down as text? And what would more size buy: would the loss keep falling as models
# grew, or level off, and how should a fixed budget of computation be split between a bigger model and more
# data?
#
# ## The key ideas
#
# * **GPT-2 (2019): a bigger decoder, and tasks as text.** A decoder-only Transformer (lesson 10's decoder
#   without the cross-attention) trained only to predict the next token, scaled to 1.5 billion weights (48
#   layers of width 1,600) and trained on WebText: about 40 GB of text from some 8 million web pages that
#   Reddit users had linked to with at least 3 karma. Without any fine-tuning it set the state of the art
#   on 7 of 8 language-modelling benchmarks it was tested on. Written as text, tasks could be asked
#   **zero-shot**: add "TL;DR:" after an article and the model writes something like a summary. The
#   summaries and translations were far behind trained systems, but they improved steadily with size.
#   GPT-2 also moved each layer's normalisation to the input of its sub-layers ("pre-norm"; lesson 10).
#   OpenAI released the model in stages through 2019, citing the risk of misuse.
# * **Scaling laws (Kaplan et al., January 2020).** Train many Transformer language models and the held-out
#   loss L falls as a **power law** in each of three quantities, when the other two do not hold it back:
#   the number of **non-embedding parameters** N (the weights outside the token and position tables),
#   the amount of data D, and the compute C. For model size, L(N) = (N_c / N)^α_N with α_N ≈ 0.076,
#   a straight line on a log–log plot over several orders of magnitude. The shape (depth against width)
#   hardly matters at a given N; bigger models learn more from each token; and for a fixed compute budget
#   the best use is a very large model stopped well before it converges.
# * **GPT-3 (May 2020): in-context learning.** The same recipe at 175 billion weights (96 layers of width
#   12,288, a context of 2,048 tokens, about 300 billion training tokens). Its main finding: put a task
#   description and a few solved **examples in the prompt**, then a new question, and the model answers it,
#   with no gradient step at all: **few-shot** (several examples), one-shot, zero-shot. The paper trained 8
#   sizes from 125 million weights up; few-shot accuracy grew with size faster than zero-shot accuracy did,
#   so larger models made better use of the examples.
# * **Sampling (Holtzman et al., 2019).** To write text, a language model turns its next-token scores
#   into a choice. Always taking the most likely token gives bland, repetitive text; sampling from the full
#   distribution lets the unreliable tail of rare tokens derail it. **Nucleus (top-p) sampling** samples
#   only from the smallest set of tokens whose probabilities add up to p. **Top-k sampling** (Fan, Lewis &
#   Dauphin, *Hierarchical Neural Story Generation*, 2018, [arXiv:1805.04833](https://arxiv.org/abs/1805.04833))
#   keeps a fixed number k of tokens (GPT-2's summaries used k = 2), and a **temperature**
#   sharpens or flattens the distribution first.
#
# Rich Sutton's essay *The Bitter Lesson*, published in March 2019 between GPT-2 and the scaling laws,
# puts the theme in one sentence: "general methods that leverage computation are ultimately the most
# effective, and by a large margin". His examples are chess, Go, speech and vision, where methods that
# scale with search and learning beat methods built on human knowledge of the domain. Denny Britz's
# review of the decade, [*Deep Learning's Most Important Ideas*](https://dennybritz.com/blog/deep-learning-most-important-ideas/) (2020), sees the big language models
# (GPT-3, 175 billion parameters, 2020) in the same light, with a pointer to Sutton's essay.
#
# ## What changed after
#
# The scaling laws became a planning tool: labs fit them on small models to choose the size of the next
# big one. Hoffmann et al. (2022, "Chinchilla", [arXiv:2203.15556](https://arxiv.org/abs/2203.15556))
# revised the split: Kaplan's models were too big for their data, and a compute-optimal model grows its
# data as fast as its size. Prompts replaced fine-tuning for many tasks, and instruction tuning with human
# feedback (Ouyang et al., 2022, [arXiv:2203.02155](https://arxiv.org/abs/2203.02155)) turned GPT-3 into
# the assistants that followed. Olsson et al. (2022, [arXiv:2209.11895](https://arxiv.org/abs/2209.11895))
# traced much of in-context learning to **induction heads**: attention heads that find the earlier place
# where the current token occurred and copy what came after it. Nucleus sampling became a standard option
# of text-generation libraries.
#
# ## What we do here, and what scale changes
#
# All on the State of the Union addresses (1790 to today), one character at a time:
#
# 1. A GPT-style decoder in one cell, with lesson 10's pieces and GPT-2's changes, each checked against
#    PyTorch (`nn.TransformerEncoderLayer` with a causal mask).
# 2. **The reproduction**: six models from under a thousand to about 80,000 non-embedding weights, trained
#    for the same number of steps on the same characters; their held-out loss against N on a log–log plot,
#    a power law fitted, its exponent printed.
# 3. Greedy decoding, temperature, top-k and top-p written out, checked against the `transformers`
#    library's own logits warpers, and used to write text with the smallest and the largest model (a
#    widget browses the samples).
# 4. In-context learning on a toy task: a tiny model reads a fresh random code from the examples in its
#    prompt; its accuracy against the number of examples, next to the best any learner could do.
#
# The scale is tiny: our largest model has about 80,000 weights and reads under a million characters;
# GPT-3 has two million times as many weights and read 300 billion tokens. Section 4 says what the small
# version can and cannot show.

# %% [markdown]
# ## 中文导读
#
# 2018 年的 GPT 和 BERT（第 11、12 课）证明了在大量纯文本上**预训练**的 Transformer 是几乎所有语言任务的好起点，
# 但每个任务仍然需要自己的标注数据和**微调**。2019–2020 年的三篇工作改变了这一点：
#
# * **GPT-2**（2019）：只用 Transformer 的解码器（**仅解码器**模型），只学习预测下一个词元，规模扩大到 15 亿参数，
#   在约 40 GB 的网页文本（WebText）上训练。不做任何微调，就在 8 个语言建模基准中的 7 个上达到当时最好的结果；
#   把任务写成文本（例如在文章后加 "TL;DR:"），模型就能**零样本**地完成任务。
# * **缩放定律**（Kaplan 等，2020）：语言模型在留出数据上的损失随**非嵌入参数**数量 N、数据量 D 和计算量 C
#   都按**幂律**下降，在双对数坐标上是一条直线；模型形状（深度与宽度）影响很小，大模型从每个词元学到更多。
# * **GPT-3**（2020）：1750 亿参数。在提示中给出任务描述和几个解好的例子，模型就能回答新的问题，
#   不需要任何梯度更新：这就是**上下文学习**（**少样本**、单样本、零样本）。模型越大，越能利用提示中的例子。
# * **采样**：把下一个词元的分数变成选择。总选最可能的词（**贪心解码**）会写出重复的文字；从完整分布采样又会被
#   不可靠的长尾带偏。**温度**先把分布变尖或变平；**top-k 采样**只保留最可能的 k 个词；**核采样**（top-p，
#   Holtzman 等）只保留概率之和达到 p 的最小集合。
#
# Sutton 的短文《**苦涩的教训**》（2019）说："能利用计算的通用方法最终最有效，而且优势很大。"
#
# **之后的变化**：缩放定律成了规划工具，各实验室先在小模型上拟合，再决定下一个大模型的规模。Hoffmann 等（2022，
# "Chinchilla"）修正了分配方式：Kaplan 的模型相对其数据量太大，计算最优的模型应让数据量与模型规模同步增长。
# 提示在许多任务上取代了微调；用人类反馈做的指令微调（Ouyang 等，2022，InstructGPT）把 GPT-3 变成了后来的助手。
# Olsson 等（2022）把上下文学习的很大一部分归因于**归纳头**。核采样成了文本生成库的标准选项。
#
# 本课在国情咨文语料上逐字符实验：(1) 在一个单元中写出 GPT 式解码器，并与 PyTorch 的
# `nn.TransformerEncoderLayer`（加因果掩码）逐数核对；(2) **复现**：六个大小不同的模型（非嵌入参数从不到一千到约
# 八万），训练相同的步数，画出留出损失对 N 的双对数图并拟合幂律（覆盖至少 1.5 个数量级、R² ≥ 0.9，且每个更大的模型损失都更低，里程碑），
# 打印指数，但不声称它等于论文的值（论文的 α_N 约为 0.076）；在两个数量级内，对数曲线拟合得几乎一样好，所以"幂律"这一形状要靠论文更宽的范围来证明；(3) 从零写出贪心解码、温度、top-k 和 top-p，与 `transformers` 库的
# logits 处理器核对（里程碑），并用最小和最大的模型生成文本（交互控件：下拉菜单，以及温度、top-k、top-p 三个滑块）；(4) 玩具任务上的上下文学习：
# 每个提示都有一套新的随机编码，模型只能从提示中的例子学到它；画出准确率随例子数量的变化，并与最优学习者比较
# （看过 15 个例子后准确率 ≥ 90%，且与最优学习者相差不超过 0.04，里程碑）。
# 归纳头是一种两层注意力回路，先把前一个符号的信息移到当前位置，
# 再找到"前一个符号等于当前符号"的位置并复制其后的内容；我们的小模型直接得到"前一个符号"的嵌入，省去第一步。
# 规模极小：我们最大的模型约八万个参数，GPT-3 是它的两百万倍。所有数字都来自本课的运行结果。
#
# 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)。

# %%
# Imports. The course's plumbing (data, plots, checks) lives in the `course_utils` package of this
# repository; every idea of the lesson is written out in the cells below.
try:
    from course_utils import checks, data, lessons, params, plot, record, repro, widgets
except ImportError as exc:  # e.g. a hosted notebook service without the course installed
    raise ImportError(
        "This lesson needs the course's `course_utils` package. In the course folder run\n"
        "    make setup        (creates .venv with everything)\n"
        "or  pip install -e .  (installs course_utils into the current Python)\n"
        "then restart the kernel."
    ) from exc

import collections
import math
import re
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import (LogitsProcessorList, MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper,
                          TopPLogitsWarper)

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): initialisation and the order of the training windows (the data never change)
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: three tiny models, a few steps each; every code path in seconds; milestones reported, not asserted
STEPS = 800  # training steps of every model in the scaling sweep: a fixed amount of training, from 50 to 5000
BATCH = 16  # windows of text per step, from 4 to 256
CONTEXT = 64  # characters each window holds, and the longest context the models see, from 16 to 256
LR_AT_10K = 0.025  # peak learning rate of a model with 10,000 non-embedding weights, from 1e-4 to 0.05
LR_POWER = 0.1  # the peak learning rate scales as N to the power minus LR_POWER, from 0 to 1
TEMPERATURE = 1.0  # temperature of the default sampling setting, from 0.05 to 3
TOP_P = 0.9  # nucleus of the default sampling setting (1 keeps everything), from 0.05 to 1
SAMPLE_CHARS = 200  # characters written per sample, from 20 to 1000
PROMPT = "The state of the Union is "  # the text every sample starts from (with its trailing space)
ICL_SYMBOLS = 8  # size of the random code in the in-context task: letters a.. map to digits 1.., from 3 to 9
ICL_EXAMPLES = 16  # solved examples per training prompt of the in-context task, from 4 to 32
ICL_STEPS = 800  # training steps of the in-context model, from 50 to 5000
ICL_PREV_TOKEN = True  # True: the in-context model also sees the previous symbol at each position (section 7)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    STEPS=params.Int(min=50, max=5000),
    BATCH=params.Int(min=4, max=256),
    CONTEXT=params.Int(min=16, max=256),
    LR_AT_10K=params.Float(min=1e-4, max=0.05),
    LR_POWER=params.Float(min=0.0, max=1.0),
    TEMPERATURE=params.Float(min=0.05, max=3.0),
    TOP_P=params.Float(min=0.05, max=1.0),
    SAMPLE_CHARS=params.Int(min=20, max=1000),
    PROMPT=params.Str(),
    ICL_SYMBOLS=params.Int(min=3, max=9),
    ICL_EXAMPLES=params.Int(min=4, max=32),
    ICL_STEPS=params.Int(min=50, max=5000),
    ICL_PREV_TOKEN=params.Bool(),
)
LR_AT_10K, LR_POWER, TEMPERATURE, TOP_P = P["LR_AT_10K"], P["LR_POWER"], P["TEMPERATURE"], P["TOP_P"]  # ints become floats
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("13")
plt.show()

# %% [markdown]
# ## 1. The corpus, one character at a time
#
# `data.text_corpus()` gives the State of the Union addresses, 1790 to today: about 2 million words, 12
# million characters. We model **characters**, not words or word pieces: the vocabulary stays tiny, no
# tokenizer is needed, and every string can be written. Characters that occur fewer than 100 times in the
# training addresses (accented letters, fractions, a few symbols) all become one "unknown" symbol, shown as
# `�`.
#
# Every tenth address is held out, spread over the whole period, so that held-out text comes from the same
# mix of centuries as the training text. The models train on random windows of `CONTEXT` characters from
# the training addresses and are scored on fixed windows from the held-out ones, in **bits per character**:
# the cross-entropy of the next character, in base 2. Two reference points come from simple counting: a
# model that only knows how often each character occurs (the **unigram** entropy), and one that looks at
# the previous character only (a **bigram** model, add-one smoothed).

# %%
t_section = time.perf_counter()
docs = data.text_corpus(1790, 1830) if SMOKE else data.text_corpus()
is_heldout = [i % 10 == 5 for i in range(len(docs))]
train_text = "\n".join(d["text"] for d, h in zip(docs, is_heldout) if not h)
heldout_text = "\n".join(d["text"] for d, h in zip(docs, is_heldout) if h)

MIN_COUNT = 100  # rarer characters become the unknown symbol
UNKNOWN = "\N{REPLACEMENT CHARACTER}"
counts = collections.Counter(train_text)
itos = [UNKNOWN] + sorted(c for c, n in counts.items() if n >= MIN_COUNT)  # id 0 is the unknown symbol
stoi = {c: i for i, c in enumerate(itos)}
V = len(itos)
lookup = np.zeros(max(map(ord, itos[1:])) + 1, dtype=np.int64)  # code point -> id (0 for rare characters)
for c, i in stoi.items():
    if c != UNKNOWN:
        lookup[ord(c)] = i


def encode(text):
    """Character ids (a LongTensor) of a string: one table lookup per code point."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return torch.from_numpy(lookup[np.where(points < len(lookup), points, 0)])


def decode(ids):
    return "".join(itos[i] for i in ids)


train_ids, heldout_ids = encode(train_text), encode(heldout_text)
checks.check(decode(encode("Union, 1862.").tolist()) == "Union, 1862.", "encode/decode do not round-trip",
             ok_message="encode and decode round-trip.")
print(f"{len(docs)} addresses ({sum(is_heldout)} held out); {len(train_ids):,} training and {len(heldout_ids):,} "
      f"held-out characters; vocabulary of {V} symbols")
print(f"the {len(counts) - (V - 1)} characters that become {UNKNOWN}: {''.join(sorted(c for c in counts if c not in stoi))!r}")

# Counting baselines, in bits per character on the held-out text.
uni = torch.bincount(train_ids, minlength=V).double() + 1
unigram_bits = -(torch.log2(uni / uni.sum())[heldout_ids]).mean().item()
pairs = torch.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).double().view(V, V) + 1
bigram_logp = torch.log2(pairs / pairs.sum(1, keepdim=True))
bigram_bits = -bigram_logp[heldout_ids[:-1], heldout_ids[1:]].mean().item()
print(f"held-out bits per character: unigram counts {unigram_bits:.3f}, bigram counts {bigram_bits:.3f} "
      f"(a uniform guess over {V} symbols: {math.log2(V):.3f})")

# Fixed held-out windows for scoring (the same for every SEED), and random training windows.
eval_gen = torch.Generator().manual_seed(0)
n_eval = 64 if SMOKE else 512
eval_starts = torch.randint(0, len(heldout_ids) - CONTEXT - 1, (n_eval,), generator=eval_gen)
eval_windows = heldout_ids[eval_starts[:, None] + torch.arange(CONTEXT + 1)].to(device)  # (n_eval, CONTEXT + 1)


def training_windows(gen, batch=BATCH, context=CONTEXT):
    """`batch` random windows of context + 1 characters: the model reads the first `context` and predicts
    the next character at every position."""
    starts = torch.randint(0, len(train_ids) - context - 1, (batch,), generator=gen)
    return train_ids[starts[:, None] + torch.arange(context + 1)].to(device)


print("a training window:", repr(decode(training_windows(torch.Generator().manual_seed(1), 1)[0].tolist())))
SECTION_SECONDS["1. Data"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. A GPT in one cell
#
# GPT-2 is lesson 10's **decoder** without the cross-attention (there is no encoder to attend to): token
# embeddings plus position embeddings, then a stack of blocks, each **causal self-attention** (a position
# sees itself and the positions before it, never after) and a feed-forward network, each in a residual
# connection. Lesson 10 builds and checks these pieces one by one; here they are in one cell, with the
# choices GPT-2 made:
#
# * **pre-norm**: a LayerNorm at the input of each sub-layer, and one more after the last block;
# * **learned position embeddings** instead of sines and cosines;
# * a **GELU** activation in the feed-forward network, four times as wide as the model;
# * the output layer **shares its weights with the token embedding** (scores = h · Eᵀ);
# * at initialisation, the weights that write into the residual stream (the attention's output projection
#   and the second feed-forward layer) are scaled down by 1/√(number of residual layers), so that the sum
#   over all blocks does not grow with depth.
#
# GPT-2 draws every other weight with standard deviation 0.02, tuned for width 768 and more. Our models are
# 8 to 40 wide, so we use 1/√(fan-in) instead. The model also takes an option, `prev_token`, that only the
# in-context experiment of section 7 uses; the language models leave it off.

# %%
t_section = time.perf_counter()


def causal_mask(t, device=None):
    """(t, t) bool: True above the diagonal, where a position would see its future."""
    return torch.ones(t, t, dtype=torch.bool, device=device).triu(1)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0 .. t only."""

    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # W^Q, W^K, W^V stacked (as nn.MultiheadAttention does)
        self.proj = nn.Linear(d_model, d_model)  # W^O
        self.fused = True  # False: the softmax written out below; True: PyTorch's fused kernel (checked equal)

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = (t.view(B, T, self.heads, d // self.heads).transpose(1, 2) for t in self.qkv(x).split(d, -1))
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, T, T)
            out = scores.masked_fill(causal_mask(T, x.device), float("-inf")).softmax(-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, T, d))  # concatenate the heads, then W^O


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d_model, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A decoder-only language model: ids (B, T) -> next-symbol scores (B, T, vocab)."""

    def __init__(self, vocab, d_model, layers, heads, context, prev_token=False):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)  # learned positions, as in GPT-2
        self.prev = nn.Embedding(vocab + 1, d_model) if prev_token else None  # section 7 only
        self.blocks = nn.ModuleList([Block(d_model, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        for name, p in self.named_parameters():
            if p.dim() == 2:  # weight matrices and embedding tables: std 1/sqrt(fan-in)
                nn.init.normal_(p, std=(p.shape[1] if "blocks" in name else d_model) ** -0.5)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
        for block in self.blocks:  # the two layers that write into the residual stream
            for w in (block.attn.proj.weight, block.mlp[2].weight):
                w.data /= math.sqrt(2 * layers)

    def forward(self, ids):
        h = self.tok(ids) + self.pos.weight[:ids.shape[1]]
        if self.prev is not None:  # the symbol one position back (a start id at position 0)
            h = h + self.prev(F.pad(ids[:, :-1], (1, 0), value=self.prev.num_embeddings - 1))
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h) @ self.tok.weight.T  # the output layer is the token embedding, transposed


def non_embedding_parameters(model):
    """Kaplan et al.'s N: every weight except the token, position (and previous-symbol) tables."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("tok.", "pos.", "prev.")))


def lm_loss(model, windows):
    """Mean cross-entropy (nats) of the next character at every position of the windows (B, T + 1)."""
    logits = model(windows[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())

# %% [markdown]
# **Checked against PyTorch.** A small demo model (2 blocks of width 32, 4 heads) gives one score per
# symbol at every position. Then two comparisons with the same weights: our written-out softmax attention
# against PyTorch's fused kernel, and one of our blocks against `nn.TransformerEncoderLayer` configured the
# GPT-2 way (pre-norm, GELU, no dropout) with a causal mask.

# %%
torch.manual_seed(SEED)
demo = GPT(V, 32, 2, 4, CONTEXT).to(device)
_x = training_windows(torch.Generator().manual_seed(2), 3)
checks.check_shape(demo(_x[:, :-1]), (3, CONTEXT, V), "next-character scores (B, T, vocab)")

# 1. The written-out softmax attention equals PyTorch's fused kernel.
_attn, _h = demo.blocks[0].attn, torch.randn(3, CONTEXT, 32, device=device)
with torch.no_grad():
    _fused = _attn(_h)
    _attn.fused = False
    _explicit = _attn(_h)
    _attn.fused = True
attention_diff = (_fused - _explicit).abs().max().item()
print(f"written-out causal attention vs F.scaled_dot_product_attention(is_causal=True): max |difference| {attention_diff:.1e}")

# 2. A whole block equals nn.TransformerEncoderLayer (pre-norm, GELU, no dropout) with a causal mask.
reference = nn.TransformerEncoderLayer(32, 4, 128, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True).to(device)
_block = demo.blocks[0]
with torch.no_grad():
    reference.self_attn.in_proj_weight.copy_(_block.attn.qkv.weight)
    reference.self_attn.in_proj_bias.copy_(_block.attn.qkv.bias)
    for ours, theirs in [(_block.attn.proj, reference.self_attn.out_proj), (_block.mlp[0], reference.linear1),
                         (_block.mlp[2], reference.linear2), (_block.ln1, reference.norm1), (_block.ln2, reference.norm2)]:
        theirs.weight.copy_(ours.weight)
        theirs.bias.copy_(ours.bias)
    _ours = _block(_h)
    _theirs = reference(_h, src_mask=causal_mask(CONTEXT, device), is_causal=True)
block_diff = (_ours - _theirs).abs().max().item()
print(f"our block vs nn.TransformerEncoderLayer(norm_first=True, activation='gelu') with a causal mask: "
      f"max |difference| {block_diff:.1e}")
checks.milestone("block_max_diff", max(block_diff, attention_diff), 1e-5, "<=",
                 note="max |ours - PyTorch|: written-out vs fused causal attention, and one block vs "
                      "nn.TransformerEncoderLayer (pre-norm, GELU, causal mask) with the same weights")

# %% [markdown]
# Two more checks of the whole model: it must not look ahead (changing the second half of a window may not
# move the scores of the first half), and before training its loss should be near that of a uniform guess.

# %%
# 3. Causality: changing the second half of a window leaves the scores of the first half unchanged.
with torch.no_grad():
    _changed = _x[:, :-1].clone()
    _changed[:, CONTEXT // 2:] = torch.randint(1, V, (3, CONTEXT - CONTEXT // 2), device=device)
    _leak = (demo(_x[:, :-1])[:, :CONTEXT // 2] - demo(_changed)[:, :CONTEXT // 2]).abs().max().item()
checks.check(_leak < 1e-5, f"the first half's scores moved by {_leak:.2e} when only the second half changed",
             ok_message=f"no position sees its future (the first half's scores moved by {_leak:.1e}).")
with torch.no_grad():
    _init_loss = lm_loss(demo, _x).item()
print(f"loss at initialisation {_init_loss:.2f} nats per character; a uniform guess: ln {V} = {math.log(V):.2f} "
      f"({_init_loss - math.log(V):+.2f})")
print(f"this demo model: {non_embedding_parameters(demo):,} non-embedding weights, "
      f"{sum(p.numel() for p in demo.parameters()):,} in all")
SECTION_SECONDS["2. The model"] = time.perf_counter() - t_section

# %% [markdown]
# The fused kernel gives the same numbers as the written-out softmax, so the training below uses it: it
# is faster on a CPU. The loss at initialisation is higher than that of a uniform guess, by 0.4 to 0.9 nats
# on our five seeds (printed above): the untrained model's scores are random rather than flat, so it is
# confidently wrong about some characters, and any spread in the scores costs more than a flat guess.
#
# ## 3. How big is a model? Counting like Kaplan et al.
#
# Kaplan et al. count a model's size as its **non-embedding parameters** N: all weights except the token
# and position tables. With them, models of different depth and width fall on one curve; counting the
# embeddings as well splits the curve by depth. For a block of width d the count is close
# to 12·d² per layer: 4·d² for the attention's four matrices, 8·d² for the feed-forward network (exercise 1
# asks for the exact number). The embedding tables cost V·d, which for a character model is not small next
# to 12·d², which is why it matters here what is counted.
#
# Our six sizes, with one to four layers, all trained for the same `STEPS` steps on the same windows.
# Each size gets its own peak learning rate, smaller for bigger models: lr(N) = `LR_AT_10K` · (N / 10⁴)^−`LR_POWER`.
# Kaplan et al. also lowered the learning rate with size. Our values come from a few trial runs while
# preparing the lesson, and they are large: with only `STEPS` updates, a model that moves fast gets
# further. A first draft of this lesson used smaller rates that fell faster with size (`LR_AT_10K` 0.009,
# `LR_POWER` 0.3: about a quarter of today's peak for the largest model); in our trial runs its largest
# model ended with a higher loss. "Try it" at the end lets you rerun that draft and compare the printed
# losses and exponent. The rate warms up over the first 50 steps and then decays along a cosine to a tenth
# of its peak.

# %%
SHAPES = [(1, 8, 2), (1, 12, 2), (2, 16, 2), (2, 24, 3), (3, 32, 4), (4, 40, 5)]  # (layers, width, heads)
if SMOKE:
    SHAPES = SHAPES[:3]
steps = 30 if SMOKE else STEPS
warmup = min(50, steps // 10)


def peak_lr(n):
    return LR_AT_10K * (n / 1e4) ** -LR_POWER


def learning_rate(step, peak):
    """Linear warm-up, then a cosine from `peak` down to peak / 10 at the last step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


print(" layers  width  heads   non-embedding N   embeddings (tok + pos)   peak lr")
for layers, width, heads in SHAPES:
    _m = GPT(V, width, layers, heads, CONTEXT)
    _n = non_embedding_parameters(_m)
    print(f"{layers:7d} {width:6d} {heads:6d} {_n:17,d} {(V + CONTEXT) * width:24,d} {peak_lr(_n):9.4f}")

# %% [markdown]
# ## 4. The scaling sweep
#
# Every model reads the same random windows in the same order (the generator is re-seeded for each one),
# so the sizes differ in nothing but size and learning rate. Along the way we score each model on a quarter
# of the held-out windows a few times, to draw its learning curve; at the end, on all of them.
# This is the expensive cell of the lesson.

# %%
t_section = time.perf_counter()


@torch.no_grad()
def heldout_bits(model, windows=None):
    """Held-out cross-entropy in bits per character."""
    model.eval()
    loss = lm_loss(model, eval_windows if windows is None else windows).item()
    model.train()
    return loss / math.log(2)


checkpoints = sorted({max(1, steps // 8), steps // 4, steps // 2, 3 * steps // 4, steps})
sweep = []  # one record per size
for layers, width, heads in SHAPES:
    torch.manual_seed(SEED)
    model = GPT(V, width, layers, heads, CONTEXT).to(device)
    n = non_embedding_parameters(model)
    peak = peak_lr(n)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak, betas=(0.9, 0.95), weight_decay=0.0,
                                  fused=device.type in ("cpu", "cuda"))
    gen = torch.Generator().manual_seed(SEED)  # the same windows, in the same order, for every size
    curve, t0 = [], time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, peak)
        loss = lm_loss(model, training_windows(gen))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step + 1 in checkpoints:
            curve.append(heldout_bits(model, eval_windows[: max(16, n_eval // 4)]))
    seconds = time.perf_counter() - t0
    bits = heldout_bits(model)
    sweep.append({"N": n, "bits": bits, "curve": curve, "model": model})
    print(f"{layers} × {width:2d} wide, N = {n:6,d}: held-out {bits:.3f} bits/char (last training batch "
          f"{loss.item() / math.log(2):.3f}); {steps} steps in {seconds:4.1f} s")
    record.metric(f"bits_per_char_N{n}", bits)
SECTION_SECONDS["4. Scaling sweep"] = time.perf_counter() - t_section

# %% [markdown]
# Now the fit. If L(N) = (N_c / N)^α, then log L = α·log N_c − α·log N: a straight line in log–log
# coordinates with slope −α. We fit that line by least squares to log₁₀(bits per character) against
# log₁₀ N and report R², the share of the variance of log L that the line explains.
#
# Two guards keep the milestones honest. A model that diverged or learned nothing (held-out loss not
# below the unigram counts) is left out of the fit, and the range of sizes is measured over the models
# actually fitted: if the biggest or the smallest model failed, the fit no longer spans 1.5 decades and
# that milestone fails. And a power law that falls with N needs each bigger model to end lower than the
# one before: the smallest such drop is a milestone too.

# %%
learned = [r for r in sweep if math.isfinite(r["bits"]) and r["bits"] < unigram_bits]
failed = [r for r in sweep if not (math.isfinite(r["bits"]) and r["bits"] < unigram_bits)]
if failed:
    print("left out of the fit (diverged, or no better than the unigram counts):",
          ", ".join(f"N = {r['N']:,} ({r['bits']:.3f})" for r in failed))
checks.check(len(learned) >= 2, "fewer than two models learned anything: nothing to fit. Try a smaller LR_AT_10K.",
             ok_message=f"{len(learned)} of {len(sweep)} models are below the unigram counts and go into the fit.")
N_all = np.array([r["N"] for r in learned], dtype=float)
L_all = np.array([r["bits"] for r in learned])
slope, intercept = np.polyfit(np.log10(N_all), np.log10(L_all), 1)
fitted = intercept + slope * np.log10(N_all)
r2 = 1 - ((np.log10(L_all) - fitted) ** 2).sum() / ((np.log10(L_all) - np.log10(L_all).mean()) ** 2).sum()
alpha = -slope
decades = math.log10(N_all.max() / N_all.min())
print(f"fit: L ≈ {10 ** intercept:.2f} · N^(−{alpha:.3f}) bits per character; R² = {r2:.3f} over "
      f"{decades:.2f} decades of N ({N_all.min():,.0f} to {N_all.max():,.0f})")
# A rival shape: a logarithm, L = a − b·log₁₀ N. Both fits' errors in the same unit, bits per character.
log_b, log_a = np.polyfit(np.log10(N_all), L_all, 1)
rms_power = np.sqrt(((10 ** fitted - L_all) ** 2).mean())
rms_log = np.sqrt(((log_a + log_b * np.log10(N_all) - L_all) ** 2).mean())
print(f"root-mean-square error of the fit, bits per character: power law {rms_power:.4f}, "
      f"logarithm L = {log_a:.2f} − {-log_b:.3f}·log₁₀ N {rms_log:.4f}")
record.metric("power_fit_rms_bits", rms_power)
record.metric("log_fit_rms_bits", rms_log)
drops = [a["bits"] - b["bits"] for a, b in zip(sweep, sweep[1:])]  # from each size to the next bigger one
print(f"from each size to the next bigger one, held-out bits per character fall by "
      f"{', '.join(f'{d:.3f}' for d in drops)}; the smallest drop: {min(drops):.3f}")
print(f"smallest model: {sweep[0]['bits'] - bigram_bits:+.3f} bits per character from the bigram counts; largest "
      f"model: {sweep[-1]['bits'] - bigram_bits:+.3f}")
record.metric("scaling_exponent", alpha)
checks.milestone("scaling_fit_r2", r2, 0.9, ">=",
                 note=f"R² of a straight-line fit of log held-out loss against log non-embedding N, {len(learned)} "
                      f"sizes, {steps} steps each (a fixed step budget)")
checks.milestone("scaling_decades", decades, 1.5, ">=",
                 note="log10(largest N / smallest N) over the models in the fit (those below the unigram counts)")
checks.milestone("scaling_smallest_drop", min(drops), 0.0, ">",
                 note="smallest fall of held-out bits per character from one size to the next bigger one: "
                      "above 0 means each bigger model ends lower")

# %%
# Left: loss against size on log-log axes, with the fit. Right: each size's learning curve.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
ax = axes[0]
ax.scatter(N_all, L_all, s=40, color=plot.COLORS[0], zorder=3, label="our models (held-out)")
grid = np.logspace(np.log10(N_all.min() / 1.5), np.log10(N_all.max() * 1.5), 50)
ax.plot(grid, 10 ** intercept * grid ** slope, color=plot.COLORS[0],
        label=f"power-law fit: α = {alpha:.3f}, R² = {r2:.3f}")
ax.plot(grid, log_a + log_b * np.log10(grid), color=plot.COLORS[2], linestyle="--", linewidth=1,
        label="logarithm fit: L = a − b·log₁₀ N")
anchor = np.exp(np.log(N_all).mean()), np.exp(np.log(L_all).mean())
ax.plot(grid, anchor[1] * (grid / anchor[0]) ** -0.076, color="grey", linestyle=":", linewidth=2, zorder=4,
        label="slope of Kaplan et al.'s α_N = 0.076 (for comparison)")
ax.axhline(bigram_bits, color=plot.COLORS[3], linestyle="--", label=f"bigram counts ({bigram_bits:.2f})")
ax.set(xscale="log", yscale="log", xlabel="non-embedding parameters N (log scale)",
       ylabel="held-out bits per character (log scale)", title="Loss against model size")
ax.set_yticks([2.6, 2.8, 3.0, 3.2, 3.4, 3.6], minor=True)
ax.yaxis.set_minor_formatter(plt.FormatStrFormatter("%.1f"))
ax.legend(loc="lower left", fontsize=8)
ax = axes[1]
seen = [c * BATCH * CONTEXT for c in checkpoints]
for i, r in enumerate(sweep):
    ax.plot(seen, r["curve"], marker="o", markersize=3, color=plt.cm.viridis(i / max(1, len(sweep) - 1)),
            label=f"N = {r['N']:,}")
ax.axhline(bigram_bits, color=plot.COLORS[3], linestyle="--", label="bigram counts")
ax.set(xscale="log", xlabel="training characters read (log scale)", ylabel="held-out bits per character",
       title="Learning curves: the same characters for every size")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()
in_order = sum(all(a[j] > b[j] for a, b in zip([r["curve"] for r in sweep], [r["curve"] for r in sweep[1:]]))
               for j in range(len(checkpoints)))
print(f"checkpoints at which every bigger model is below every smaller one: {in_order} of {len(checkpoints)}")
record.metric("curves_in_size_order", in_order)

# %% [markdown]
# Left: each bigger model ends lower (the drops printed above; a milestone), and the six points lie close
# to a straight line on the log–log plot (the R² printed above); the dashed logarithm, barely bent on
# these axes, runs close beside it. Right: after the same characters, a bigger
# model is almost always below a smaller one (the count of checkpoints printed above): Kaplan et al.'s
# "larger models are more sample-efficient", in miniature. The smallest model ends close to the bigram
# counts, slightly above them on our five seeds; the largest is far below them (both printed above): it has
# learned something about words.
#
# **What this does and does not reproduce.** Our points lie on a straight line in log–log coordinates,
# as the paper's do. But a straight line over two decades is weak evidence for a power law in particular:
# the logarithm fitted above (a straight line on a plot with a linear loss axis) misses the points by about
# as much (both errors printed above). Over a narrow range, any smooth falling curve looks straight; Kaplan
# et al.'s case for a power law rests on its range, more than six decades of N. Our exponent (printed above) is not a measurement of theirs, however close it comes to
# the dotted line: Kaplan et al. measured loss per word piece, not per character, on web text, for models
# up to 1.5 billion non-embedding parameters, each trained close to convergence (their L(N)); our models are
# stopped after a fixed `STEPS` steps, far from convergence, so our line mixes the effect of size with that
# of training time, and its slope moves with the learning rates and the number of steps. Nor do six small
# models tell whether the line continues: that the paper's trends held over many orders of magnitude (more
# than seven, for some) is what made it matter.
#
# ## 5. Writing text: greedy, temperature, top-k, top-p
#
# A language model gives, at every position, a score (logit) zᵢ for each possible next symbol i. To write,
# we turn the scores into one choice, append it, and repeat. The options, all of them a change to the
# scores before the softmax:
#
# * **Greedy**: take the largest score. Deterministic; Holtzman et al. show that such "maximisation"
#   decoding falls into loops of the same phrase.
# * **Temperature** τ: sample from softmax(z / τ). τ < 1 sharpens the distribution towards greedy, τ > 1
#   flattens it towards uniform; τ = 1 is pure sampling from the model.
# * **Top-k**: keep the k largest scores, set the others to −∞ (probability 0), sample from the rest.
# * **Top-p (nucleus)**: sort the symbols by probability and keep the smallest set whose probabilities add
#   up to at least p; a symbol is kept if the symbols ranked above it add up to less than p. Unlike top-k,
#   the number kept adapts: one symbol where the model is sure, many where it is not.
#
# Applied in this order (temperature, then top-k, then top-p), as the `transformers` library does.

# %%
t_section = time.perf_counter()


def apply_temperature(logits, temperature):
    return logits / temperature


def top_k_filter(logits, k):
    """Scores below the k-th largest become -inf (ties with the k-th are kept)."""
    kth = logits.topk(min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Keep the smallest set of symbols whose probabilities add up to at least p; the rest become -inf."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_above = probs.cumsum(-1) - probs  # probability of the symbols ranked above each one
    drop_sorted = mass_above >= p  # the set is already full before this symbol
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to the original order of the symbols
    return logits.masked_fill(drop, float("-inf"))


def warp(logits, temperature=1.0, top_k=None, top_p=None):
    """Temperature, then top-k, then top-p: the scores the next symbol is sampled from."""
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, gen=None):
    """One symbol id per row of `logits` (..., V): the largest score when temperature is 0 (greedy),
    otherwise a random draw from the warped probabilities."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = warp(logits, temperature, top_k, top_p).softmax(-1)
    draws = torch.multinomial(probs.reshape(-1, probs.shape[-1]).cpu(), 1, generator=gen)
    return draws.view(probs.shape[:-1]).to(logits.device)


# A tiny example by hand: five symbols with probabilities 0.5, 0.2, 0.15, 0.1, 0.05.
_probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
_z = _probs.log()
checks.check_close(warp(_z, top_p=0.8).softmax(-1), [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0],
                   "top-p 0.8 keeps 0.5 + 0.2 + 0.15 (0.7 is not enough yet) and renormalises")
checks.check_close(warp(_z, top_k=2).softmax(-1), [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0], "top-k 2 keeps the two largest")
_t2 = _probs ** 0.5 / (_probs ** 0.5).sum()
checks.check_close(warp(_z, temperature=2.0).softmax(-1), _t2, "temperature 2 takes the square root of each probability")

# %% [markdown]
# **Checked against the library.** The `transformers` library implements each step as a *logits warper*:
# `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`, chained in a `LogitsProcessorList`.
# We give ours and theirs the same 2,000 random score vectors (80 symbols each, spread like a language
# model's) for several settings and compare the resulting probabilities.
#
# Then a check of the sampler itself, `sample_next`, the function the generator below calls. We give it one
# score vector 100,000 times, chosen so that its nucleus holds several symbols: probabilities falling by a
# factor 0.7 from one symbol to the next. Worked out by hand, temperature 0.8 makes the factor 0.7^(1/0.8),
# and top-p 0.9 then keeps the first six symbols, renormalised. The draws must land on those six in
# proportion to their renormalised probabilities, and never elsewhere. (A sampler that always took the most
# likely symbol would fail this: the second symbol alone should get about a quarter of the draws.)

# %%
_gen = torch.Generator().manual_seed(0)
_scores = torch.randn(2000, 80, generator=_gen) * 3  # (vectors, symbols)
_ids = torch.zeros(2000, 1, dtype=torch.long)  # the warpers take the ids so far; these ones ignore them
settings_checked = [(1.0, None, 0.9), (0.7, None, 0.5), (1.5, 10, None), (0.8, 20, 0.95), (1.0, 1, None), (1.0, None, 0.05)]
warper_diff, kept_mismatch = 0.0, 0
for temperature, top_k, top_p in settings_checked:
    chain = [TemperatureLogitsWarper(temperature)]
    chain += [TopKLogitsWarper(top_k)] if top_k is not None else []
    chain += [TopPLogitsWarper(top_p)] if top_p is not None else []
    theirs = LogitsProcessorList(chain)(_ids, _scores.clone())
    ours = warp(_scores, temperature, top_k, top_p)
    warper_diff = max(warper_diff, (ours.softmax(-1) - theirs.softmax(-1)).abs().max().item())
    kept_mismatch += int((torch.isinf(ours) != torch.isinf(theirs)).sum())
    print(f"temperature {temperature}, top-k {top_k}, top-p {top_p}: symbols kept per vector, mean "
          f"{(~torch.isinf(ours)).sum(-1).float().mean():5.1f}")
print(f"ours vs transformers' warpers over {len(settings_checked)} settings × 2,000 vectors: max |difference| of "
      f"the probabilities {warper_diff:.1e}; symbols kept by one and not the other: {kept_mismatch}")
checks.milestone("warper_max_diff", warper_diff, 1e-6, "<=",
                 note="max |our probabilities - transformers' TemperatureLogitsWarper, TopKLogitsWarper, "
                      "TopPLogitsWarper|, 6 settings × 2,000 random score vectors")

# The sampler: one score vector (probabilities falling by 0.7 per symbol), temperature 0.8, top-p 0.9.
_base = 0.7 ** torch.arange(80, dtype=torch.float64)
_sharp = (_base / _base.sum()) ** (1 / 0.8)  # temperature 0.8, by hand: p^(1/τ), renormalised
_sharp = _sharp / _sharp.sum()
_n_keep = int((_sharp.cumsum(0) - _sharp < 0.9).sum())  # the nucleus: symbols whose predecessors add up to < 0.9
_expected = torch.zeros(80, dtype=torch.float64)
_expected[:_n_keep] = _sharp[:_n_keep] / _sharp[:_n_keep].sum()
_draws = sample_next((_base / _base.sum()).log().float().repeat(100_000, 1), 0.8, None, 0.9,
                     torch.Generator().manual_seed(SEED))
_freq = torch.bincount(_draws, minlength=80).double() / len(_draws)
_sampler_gap = (_freq - _expected).abs().max().item()
print(f"nucleus by hand: {_n_keep} symbols, renormalised probabilities "
      f"{', '.join(f'{q:.3f}' for q in _expected[:_n_keep].tolist())}")
print(f"sample_next, 100,000 draws: frequencies {', '.join(f'{q:.3f}' for q in _freq[:_n_keep].tolist())}; "
      f"largest |frequency - probability| {_sampler_gap:.4f}; draws outside the nucleus: {int((_draws >= _n_keep).sum())}")
checks.check(_n_keep >= 3 and _sampler_gap < 0.008 and int((_draws >= _n_keep).sum()) == 0,
             "sample_next's frequencies do not match the renormalised nucleus probabilities",
             ok_message=f"sample_next draws each of the {_n_keep} symbols of the nucleus in proportion to its "
                        "renormalised probability, and nothing outside it.")
checks.check(bool((sample_next(_scores[:5], 0.0) == _scores[:5].argmax(-1)).all()), "greedy should take the largest score",
             ok_message="with temperature 0, sample_next takes the largest score.")

# %% [markdown]
# ## 6. Samples from a small and a large model
#
# Now the generator. It feeds the model the last `CONTEXT` characters (the longest context its position
# table knows), takes the scores at the last position, and calls `sample_next` (checked above) to warp them
# and draw the next character; with temperature 0 it takes the largest score instead (greedy). Several samples, each with its own setting,
# run side by side as the rows of one batch.

# %%
@torch.no_grad()
def generate(model, prompt, n_chars, settings, gen):
    """One continuation of `prompt` per setting (temperature, top_k, top_p); temperature 0 means greedy."""
    model.eval()
    ids = encode(prompt).to(device).repeat(len(settings), 1)
    for _ in range(n_chars):
        logits = model(ids[:, -CONTEXT:])[:, -1]  # (rows, V): scores of the next character
        next_ids = [sample_next(logits[row], *setting, gen=gen) for row, setting in enumerate(settings)]
        ids = torch.cat([ids, torch.stack(next_ids)[:, None]], 1)
    model.train()
    return [decode(row[len(prompt):].tolist()) for row in ids]


SAMPLING = {  # name -> (temperature, top_k, top_p)
    "greedy": (0.0, None, None),
    "temperature 0.5": (0.5, None, None),
    "pure sampling (temperature 1)": (1.0, None, None),
    "temperature 1.5": (1.5, None, None),
    "top-k 5": (1.0, 5, None),
    f"default: temperature {TEMPERATURE:g}, top-p {TOP_P:g}": (TEMPERATURE, None, TOP_P),
}
ROWS = 3  # samples per setting: the measurements below average over them
DEFAULT_SETTING = list(SAMPLING)[-1]
n_chars = 30 if SMOKE else SAMPLE_CHARS
smallest, largest = sweep[0], sweep[-1]
samples = {}  # (model label, setting) -> list of ROWS continuations
for r in (smallest, largest):
    label = f"N = {r['N']:,}"
    rows = [s for s in SAMPLING.values() for _ in range(ROWS)]
    texts = generate(r["model"], PROMPT, n_chars, rows, torch.Generator().manual_seed(1000 * SEED + r["N"]))
    for i, name in enumerate(SAMPLING):
        samples[(label, name)] = texts[i * ROWS:(i + 1) * ROWS]
for label in (f"N = {smallest['N']:,}", f"N = {largest['N']:,}"):
    print(f"--- {label}, {DEFAULT_SETTING}:\n{PROMPT}{samples[(label, DEFAULT_SETTING)][0]}\n")
largest_label = f"N = {largest['N']:,}"
print(f"--- {largest_label}, greedy:\n{PROMPT}{samples[(largest_label, 'greedy')][0]}")

# %% [markdown]
# Read them aloud. Both models have learned that text comes in words of a few letters between spaces, with
# commas and full stops; the smaller one's words are mostly not English, the larger one writes many real
# words and scraps of the addresses' phrases, though no sentence means anything. The greedy text falls
# into a loop: the most likely next character, again and again, leads back to a phrase it has already
# written. That is Holtzman et al.'s "degeneration", here at its simplest.
#
# Two measurements make this concrete, averaged over the samples of each setting: the share of the
# sample's **words** that are words of the training text, and the share of its 12-character stretches that
# **repeat** an earlier stretch of the same sample.

# %%
vocabulary = set(re.findall(r"[a-z]+", train_text[: 3_000_000].lower()))  # the words of a quarter of the training text


def real_word_share(text):
    """Share of the words (two letters or more, or "a" and "i") that occur in the training text."""
    words = [w for w in re.findall(r"[a-z]+", text.lower())[:-1] if len(w) > 1 or w in "ai"]  # the last may be cut off
    return sum(w in vocabulary for w in words) / max(1, len(words))


def repeated_share(text, width=12):
    seen, repeats = set(), 0
    for i in range(len(text) - width + 1):
        repeats += text[i:i + width] in seen
        seen.add(text[i:i + width])
    return repeats / max(1, len(text) - width + 1)


sample_stats = {}
print(f"{'setting':38s} {'real words':>22s} {'repeated stretches':>22s}")
print(f"{'':38s} {'smallest':>10s} {'largest':>11s} {'smallest':>10s} {'largest':>11s}")
for name in SAMPLING:
    row = []
    for r in (smallest, largest):
        texts = samples[(f"N = {r['N']:,}", name)]
        row.append((np.mean([real_word_share(t) for t in texts]), np.mean([repeated_share(t) for t in texts])))
    sample_stats[name] = row
    print(f"{name:38s} {row[0][0]:10.0%} {row[1][0]:11.0%} {row[0][1]:10.0%} {row[1][1]:11.0%}")
more_words = sum(row[1][0] > row[0][0] for row in sample_stats.values())
most_repeats = max(sample_stats, key=lambda name: sample_stats[name][1][1])
print(f"the larger model writes more real words in {more_words} of {len(SAMPLING)} settings; its most repetitive "
      f"setting: {most_repeats}")
record.metric("real_words_more_in_larger", more_words)
record.metric("real_words_largest_default", sample_stats[DEFAULT_SETTING][1][0])
record.metric("real_words_smallest_default", sample_stats[DEFAULT_SETTING][0][0])
record.metric("repeated_largest_greedy", sample_stats["greedy"][1][1])

# %% [markdown]
# Greedy decoding repeats itself the most; pure sampling and a high temperature repeat little but write
# more non-words, because each draw from the tail is a chance to misspell; a low temperature, top-k and
# top-p keep many of greedy decoding's real words without its loops. The larger model writes more real
# words than the smaller one in most settings (counted above). On our five seeds the exception was greedy
# decoding: the smallest model's greedy text loops on a few common words, so its words are all real while
# most of its 12-character stretches repeat (both columns above). Three samples of a couple of hundred
# characters per setting are a small measurement: the shares change from seed to seed, the extremes less so.
#
# **Explore**: every sampling setting, for the smallest and the largest model. The upper panel shows the
# model's probabilities for the character after the prompt, before (grey) and after (colour) the setting
# changes them; the lower panel, the first sample.

# %%
with torch.no_grad():
    first_scores = {r["N"]: r["model"](encode(PROMPT)[-CONTEXT:].to(device)[None])[0, -1].cpu() for r in (smallest, largest)}


def show_char(c):
    return {" ": "␣", "\n": "⏎"}.get(c, c)


def bar_next_char(ax, scores, temperature, top_k, top_p, name, label):
    """Upper panel: the model's next-character probabilities before (grey) and after a sampling setting."""
    before = scores.softmax(-1)
    after = (torch.zeros_like(before).scatter(0, scores.argmax()[None], 1.0) if temperature == 0
             else warp(scores, temperature, top_k, top_p).softmax(-1))
    top = before.argsort(descending=True)[:24]
    x = np.arange(len(top))
    ax.bar(x - 0.2, before[top], width=0.4, color="lightgrey", label="model (temperature 1)")
    ax.bar(x + 0.2, after[top], width=0.4, color=plot.COLORS[0], label=f"after: {name}")
    ax.set_xticks(x, [show_char(itos[i]) for i in top.tolist()])
    ax.set(ylabel="probability", ylim=(0, 1.2 * max(before.max(), after.max()).item()),
           title=f"{label}: the next character after {PROMPT!r} (24 most likely of {V}); "
                 f"{int((after > 0).sum())} can be drawn")
    ax.legend(loc="upper right", fontsize=8)


def text_panel(ax_text, texts, title):
    """Lower panel: the samples, each starting with the prompt."""
    ax_text.axis("off")
    body = "\n\n".join(textwrap.fill(PROMPT + text, 100) for text in texts)
    ax_text.text(0, 1, body, va="top", family="monospace", fontsize=8, transform=ax_text.transAxes)
    ax_text.set_title(title, fontsize=9, loc="left")


def draw_sample(option):
    label, name = option.split(" · ", 1)
    n = int(label.split("= ")[1].replace(",", ""))
    fig, (ax, ax_text) = plt.subplots(2, 1, figsize=(10, 5.2), gridspec_kw={"height_ratios": [1, 0.9]})
    bar_next_char(ax, first_scores[n], *SAMPLING[name], name, label)
    text_panel(ax_text, samples[label, name], f"{ROWS} samples of {n_chars} characters each")
    fig.tight_layout()


sample_options = [f"{label} · {name}" for label in (f"N = {largest['N']:,}", f"N = {smallest['N']:,}")
                  for name in SAMPLING]
widgets.explore(draw_sample, sample_options, sample_options[len(SAMPLING) - 1], "model · setting", kind="dropdown");

# %% [markdown]
# **Turn the knobs yourself.** Three sliders set temperature, top-k and top-p for the largest model. The
# upper panel redraws its next-character probabilities; the lower panel writes a fresh sample with that
# setting (about a second on a laptop). Top-k at its first value, the size of the vocabulary, keeps every
# character; top-p at 1 keeps everything; temperature 0 means greedy. Which setting first keeps a single character? Where does the text start
# to fall apart?

# %%
knob_chars = 30 if SMOKE else 120


def draw_knobs(temperature, top_k, top_p):
    label = f"N = {largest['N']:,}"
    name = f"T {temperature:g}, top-k {top_k}, top-p {top_p:g}"
    settings = (temperature, top_k, top_p)
    text = generate(largest["model"], PROMPT, knob_chars, [settings], torch.Generator().manual_seed(SEED))[0]
    fig, (ax, ax_text) = plt.subplots(2, 1, figsize=(10, 3.9), gridspec_kw={"height_ratios": [1, 0.3]})
    bar_next_char(ax, first_scores[largest["N"]], *settings, name, label)
    text_panel(ax_text, [text], f"a fresh sample of {knob_chars} characters with this setting")
    fig.tight_layout()


widgets.explore_grid(draw_knobs, {"temperature": [0, 0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0],
                                  "top_k": [V, 20, 10, 5, 3, 1], "top_p": [1.0, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2]},
                     {"temperature": 0.5, "top_k": V, "top_p": 1.0});
SECTION_SECONDS["5-6. Sampling"] = time.perf_counter() - t_section

# %% [markdown]
# ## 7. In-context learning on a toy task
#
# GPT-3's few-shot prompts look like "sea otter => loutre de mer, cheese =>": a few solved examples, then a
# question. The model's weights do not change; whatever it learns about the task, it learns while reading
# the prompt. To see this in a model small enough to train here, we need a task whose answer is *only* in
# the prompt.
#
# **The task.** Every prompt has its own secret code: a random one-to-one map from `ICL_SYMBOLS` letters to
# as many digits, drawn afresh for each prompt. The prompt lists solved examples, letter then digit
# (`c3 a7 f1 c3 ...`, letters drawn at random, repeats allowed), and after each letter the model must
# predict its digit. No code is ever seen twice in training, so no code can be memorised: with no
# examples, the best guess is one digit in `ICL_SYMBOLS`; after a letter has been shown once, its digit is
# known; and a letter not shown yet can only map to a digit not used yet. The **ideal learner**, which knows
# this and nothing more, is right with probability 1 for a letter it has seen and 1 / (digits not used yet)
# otherwise. We compute its accuracy on the same prompts as the model's.
#
# **The model** is the `GPT` class of section 2, one layer of width 32, trained like the language models to
# predict the digits of 32 random prompts per step. One addition: with `ICL_PREV_TOKEN`, each position
# also gets an embedding of the symbol just before it. Olsson et al. found that in-context copying runs
# on **induction heads**, a circuit of two attention layers whose first step moves each symbol's
# predecessor into its position, so that the second can look for "the position whose predecessor is the
# current letter" and copy the digit there. Olsson et al. watch that circuit form abruptly, in a "phase
# change" after billions of training tokens, far more than our models read. The addition gives the model
# the first step for free, so that one attention
# layer can do the rest. (Olsson et al. tested a similar shortcut, "smeared keys", in one-layer models.)
# With `-p ICL_PREV_TOKEN False` the one-layer model has no way to build the circuit: "Try it" at the end
# asks you to run that and compare the curve below.

# %%
t_section = time.perf_counter()
n_sym, n_ex = ICL_SYMBOLS, ICL_EXAMPLES
LETTERS, DIGITS = "abcdefghi"[:n_sym], "123456789"[:n_sym]


def code_prompts(batch, gen):
    """Prompts of n_ex solved examples: ids (batch, 2·n_ex) = letter, digit, letter, digit, ... with a fresh
    random code per prompt. Letter ids are 0 .. n_sym-1, digit ids n_sym .. 2·n_sym-1."""
    codes = torch.rand(batch, n_sym, generator=gen).argsort(1)  # codes[b, letter] = digit
    letters = torch.randint(0, n_sym, (batch, n_ex), generator=gen)
    digits = codes.gather(1, letters)
    return torch.stack([letters, digits + n_sym], 2).flatten(1), letters, digits


def show_prompt(ids):
    return " ".join(LETTERS[ids[i]] + DIGITS[ids[i + 1] - n_sym] for i in range(0, len(ids), 2))


def digit_scores(model, ids):
    """The model's scores for the digit after each letter: (batch, n_ex, n_sym)."""
    return model(ids)[:, 0::2, n_sym:]


torch.manual_seed(SEED)
icl_model = GPT(2 * n_sym, 32, 1, 2, 2 * n_ex, prev_token=ICL_PREV_TOKEN).to(device)
icl_optimizer = torch.optim.AdamW(icl_model.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0)
icl_gen = torch.Generator().manual_seed(SEED)
icl_steps = 20 if SMOKE else ICL_STEPS
print("a training prompt:", show_prompt(code_prompts(1, torch.Generator().manual_seed(3))[0][0].tolist()))
for step in range(icl_steps):
    for group in icl_optimizer.param_groups:  # warm-up over 50 steps, then a cosine to 0
        group["lr"] = 1e-2 * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / icl_steps))
    ids, letters, digits = code_prompts(32, icl_gen)
    loss = F.cross_entropy(digit_scores(icl_model, ids.to(device)).flatten(0, 1), digits.flatten().to(device))
    icl_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    icl_optimizer.step()
print(f"{icl_steps} steps; last loss {loss.item():.3f} nats; chance ln {n_sym} = {math.log(n_sym):.3f}")

# %% [markdown]
# **Evaluation.** 2,000 held-out prompts, each with its own fresh code (the same prompts for every SEED).
# For each number k of examples before the question we measure the model's accuracy, and compute the ideal
# learner's expected accuracy on the very same prompts: 1 for a letter already shown, 1 / (digits not used
# yet) otherwise.

# %%
# Held-out prompts (the same for every SEED): the model's accuracy after k examples, and the ideal learner's.
icl_test, test_letters, test_digits = code_prompts(500 if SMOKE else 2000, torch.Generator().manual_seed(12345))
with torch.no_grad():
    icl_model.eval()
    correct = (digit_scores(icl_model, icl_test.to(device)).argmax(-1).cpu() == test_digits).float()
    icl_model.train()
shown = torch.zeros(len(icl_test), n_sym, dtype=torch.bool)  # which letters the prompt has shown so far
seen_before = torch.zeros(len(icl_test), n_ex, dtype=torch.bool)
used_before = torch.zeros(len(icl_test), n_ex)
for k in range(n_ex):
    rows = torch.arange(len(icl_test))
    seen_before[:, k] = shown[rows, test_letters[:, k]]
    used_before[:, k] = shown.sum(1)  # a one-to-one code: as many digits used as letters shown
    shown[rows, test_letters[:, k]] = True
ideal = torch.where(seen_before, 1.0, 1.0 / (n_sym - used_before))
model_curve, ideal_curve = correct.mean(0), ideal.mean(0)
print(" examples before   model   ideal learner")
for k in range(n_ex):
    print(f"{k:16d}   {model_curve[k]:.3f}   {ideal_curve[k]:.3f}")
last_k = n_ex - 1
icl_gap = (model_curve - ideal_curve).abs().max().item()
unseen = ~seen_before & (torch.arange(n_ex) > 0)
print(f"letters not shown yet (after at least one example): model right {correct[unseen].mean():.3f}, ideal "
      f"{ideal[unseen].mean():.3f}, a guess among all {n_sym} digits {1 / n_sym:.3f}")
copy_expected = 1 - (1 - 1 / n_sym) ** last_k * (1 - 1 / n_sym)  # seen with probability 1 - (1 - 1/n)^k
print(f"after {last_k} examples: model {model_curve[last_k]:.3f}, ideal {ideal_curve[last_k]:.3f}; a learner that "
      f"only copies would expect {copy_expected:.3f}")
checks.milestone("icl_accuracy_last", model_curve[last_k].item(), 0.9, ">=",
                 note=f"accuracy on the digit after {last_k} solved examples in the prompt, {len(icl_test)} held-out "
                      f"prompts, each with a fresh random code of {n_sym} letters ({icl_steps} training steps)")
checks.milestone("icl_gap_to_ideal", icl_gap, 0.04, "<=",
                 note="largest |model - ideal learner| accuracy over the number of examples in the prompt")
record.metric("icl_accuracy_zero_shot", model_curve[0].item())
record.metric("icl_unseen_accuracy", correct[unseen].mean().item())

# %%
# Left: accuracy against the number of examples. Right: questions about letters not shown yet.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
ax = axes[0]
ax.plot(range(n_ex), ideal_curve, color="grey", linestyle="--", marker="s", markersize=4, label="ideal learner")
ax.plot(range(n_ex), model_curve, color=plot.COLORS[0], marker="o", markersize=4, label="our model")
ax.axhline(1 / n_sym, color=plot.COLORS[3], linestyle=":", label=f"a blind guess (1/{n_sym})")
ax.set(xlabel="solved examples in the prompt before the question", ylabel="accuracy on held-out prompts",
       ylim=(0, 1.02), title="In-context learning of a fresh random code")
ax.legend(loc="lower right")
ax = axes[1]
m_values = [m for m in range(1, n_sym) if int((unseen & (used_before == m)).sum()) >= 100]  # enough questions
model_by_m = [correct[unseen & (used_before == m)].mean().item() for m in m_values]
ax.plot(m_values, model_by_m, color=plot.COLORS[0], marker="o", label="our model")
ax.plot(m_values, [1 / (n_sym - m) for m in m_values], color="grey", linestyle="--", label="ideal: 1 / (digits left)")
ax.axhline(1 / n_sym, color=plot.COLORS[3], linestyle=":", label=f"any digit: 1/{n_sym}")
ax.set(xlabel="different letters shown before the question (values with ≥ 100 questions)", ylabel="accuracy",
       title="Questions about a letter not shown yet", ylim=(0, 1.02))
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
SECTION_SECONDS["7. In-context learning"] = time.perf_counter() - t_section

# %% [markdown]
# Left: with no example the model can only guess; after each example it is right more often, and it
# follows the ideal learner's curve closely (the largest gap is printed above). The milestone asks for 90 %
# after the last example, more than copying alone would give (the expectation printed above). Nothing in its weights is
# about any particular code: the code is read from the prompt, anew for each one.
#
# Right: the questions about a letter that the prompt has *not* shown yet. Copying cannot answer them, yet
# the model does better than a blind guess, close to the ideal 1 / (digits not used yet): it has learned
# that the code is one-to-one and avoids the digits already taken. That is a rule about the task family,
# learned in training, applied to each new code in context.
#
# How far does this go? Our toy shows the mechanism, not GPT-3's breadth: one task family, trained for;
# GPT-3 was never trained on any of its test tasks, and its prompts were in natural language. The paper's
# other finding, that bigger models gain more from the examples, needs several sizes trained on broad
# text, which this lesson cannot afford.
#
# ## 8. What scale changes
#
# * **Size.** GPT-3's 175 billion weights are about two million times our largest model's; its 300 billion
#   training tokens, a few hundred thousand times the characters each of our models reads. Kaplan et al.'s
#   models run from under a thousand to 1.5 billion non-embedding parameters; ours, from under a thousand to
#   under a hundred thousand. The straight line is the same kind of object; whether it continues is exactly what a
#   small experiment cannot tell.
# * **Tokens.** Byte-pair encoding (GPT-2's 50,257 tokens) lets one step of the model cover a word or a
#   word piece; our characters make the model spend its capacity on spelling first.
# * **Compute budget.** Kaplan et al. found that for a fixed compute budget, the best model is large and
#   stopped early; Chinchilla later moved the optimum towards more data. Our sweep gives every size the same
#   steps, so its larger models are the furthest from convergence (the learning curves show it).
# * **In-context learning.** GPT-3's few-shot abilities were not trained for; they appeared in a model
#   trained only to predict text, and they grew with size. Our toy model was trained on the task family and
#   needed the previous-symbol hint to learn it in a few seconds.
# * **Sampling** carries over unchanged: the same warpers, with a vocabulary of 50,000 instead of 80.

# %% [markdown]
# ## 9. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: count the non-embedding parameters
#
# Write `count_non_embedding(layers, d)`, the exact number of non-embedding weights of our `GPT` with
# `layers` blocks of width `d` (any number of heads): per block, two LayerNorms (a scale and a shift of d
# numbers each), the attention's Q, K, V and output matrices with their biases, and the feed-forward network
# (d → 4d → d, with biases); after the blocks, one more LayerNorm. Kaplan et al. approximate it by 12·layers·d².

# %% tags=["exercise"]
def count_non_embedding(layers, d):
    """Non-embedding weights of GPT(vocab, d, layers, heads, context)."""
    # TODO: go through one Block of section 2 and count each nn.Linear (a weight matrix and a bias) and
    #       each nn.LayerNorm (a scale and a shift); then all the blocks, and what comes after them.
    return None

# %% tags=["solution"]
def count_non_embedding(layers, d):
    """Non-embedding weights of GPT(vocab, d, layers, heads, context)."""
    norms = 2 * 2 * d
    attention_weights = 4 * d * d + 4 * d
    feed_forward = d * 4 * d + 4 * d + 4 * d * d + d
    return layers * (norms + attention_weights + feed_forward) + 2 * d

# %% tags=["check"]
for _layers, _d, _heads in [(1, 8, 2), (3, 32, 4), (2, 96, 4)]:
    _reference_model = GPT(10, _d, _layers, _heads, 4)
    checks.check_close(count_non_embedding(_layers, _d), non_embedding_parameters(_reference_model),
                       f"non-embedding weights of {_layers} × width {_d}", atol=0,
                       hint="Count 13·d biases and norms per block besides the 12·d² matrix entries, and 2·d for ln_f.")
for _layers, _d, _heads in SHAPES[:1] + SHAPES[-1:] + [(12, 768, 12)]:
    _exact = count_non_embedding(_layers, _d)
    print(f"{_layers} × width {_d}: {_exact:,} non-embedding weights; 12·layers·d² = {12 * _layers * _d ** 2:,} "
          f"(the exact count is {100 * (_exact / (12 * _layers * _d ** 2) - 1):.1f} % more)")
if count_non_embedding(12, 768) is not None:
    _gpt2_tables = 50257 * 768 + 1024 * 768  # GPT-2's token table (50,257 word pieces) and position table
    print(f"GPT-2 small in all: {count_non_embedding(12, 768):,} + {_gpt2_tables:,} in its two tables = "
          f"{count_non_embedding(12, 768) + _gpt2_tables:,} weights")

# %% [markdown]
# The 12·layers·d² rule is within a fraction of a percent at GPT-2 small's width (12 layers of 768), where
# d² dwarfs d; at our widths the biases and norms add more (printed above). GPT-2 small has about 124
# million weights in all (printed above): the other 39 million are its token table (50,257 × 768) and its
# position table (1,024 × 768).
#
# ### Exercise 2: min-p sampling
#
# A newer truncation rule, **min-p**, keeps every symbol whose probability is at least `min_p` times the
# probability of the most likely symbol: a strict filter when the model is sure, a loose one when it is not.
# It came from the open-source community in 2023 (the llama.cpp project) and was later evaluated by Nguyen
# et al. (*Turning Up the Heat: Min-p Sampling for Creative and Coherent LLM Outputs*, ICLR 2025,
# [arXiv:2407.01082](https://arxiv.org/abs/2407.01082)). Write `min_p_filter(logits, min_p)`; the check
# compares it with `transformers`' `MinPLogitsWarper`.

# %% tags=["exercise"]
def min_p_filter(logits, min_p):
    """Scores of symbols with probability < min_p × (largest probability) become -inf."""
    # TODO: turn the scores into probabilities, find each row's threshold from its most likely symbol,
    #       and give the symbols below it the score that top_k_filter gives to the symbols it drops.
    return None

# %% tags=["solution"]
def min_p_filter(logits, min_p):
    """Scores of symbols with probability < min_p × (largest probability) become -inf."""
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.amax(-1, keepdim=True), float("-inf"))

# %% tags=["check"]
_theirs = MinPLogitsWarper(0.1)(_ids, _scores.clone())
_yours = min_p_filter(_scores.clone(), 0.1)
checks.check(_yours is not None, "min_p_filter returned None: the TODO has not been filled in yet.",
             ok_message="min_p_filter returns scores.", hint="Start from probs = logits.softmax(-1).")
checks.check_close(torch.isinf(_yours).float().sum(-1), torch.isinf(_theirs).float().sum(-1),
                   "symbols removed per vector, yours vs MinPLogitsWarper(0.1)", atol=0,
                   hint="Remove a symbol when its probability is below min_p × the largest probability of its row.")
checks.check_close(_yours.softmax(-1), _theirs.softmax(-1), "probabilities after min-p 0.1, yours vs transformers", atol=1e-6)
print(f"min-p 0.1 keeps {(~torch.isinf(_yours)).sum(-1).float().mean():.1f} of 80 symbols on average, from "
      f"{(~torch.isinf(_yours)).sum(-1).min()} to {(~torch.isinf(_yours)).sum(-1).max()}")

# %% [markdown]
# Like top-p, min-p keeps few symbols where one dominates and many where the distribution is flat (the
# spread printed above); unlike top-p, its cut depends only on the top probability, not on the whole sorted
# list, and its authors argue that it stays coherent at higher temperatures.
#
# ### Exercise 3: is the model just copying?
#
# A learner that only **copies** answers a letter it has seen correctly and guesses among all `ICL_SYMBOLS`
# digits otherwise. Write `copy_only_curve(seen_before)`: from the (prompts, examples) boolean tensor
# `seen_before` of section 7 (True where the letter was shown earlier in the prompt), return the copier's
# expected accuracy for each number of examples, a tensor of `ICL_EXAMPLES` values. The check compares it
# with the model's curve.

# %% tags=["exercise"]
def copy_only_curve(seen_before):
    """Expected accuracy of a copy-only learner after k = 0 .. n_ex-1 examples: (n_ex,)."""
    # TODO: what is the copier's chance of being right on one question, when it has seen the letter
    #       before and when it has not? Average that chance over the prompts.
    return None

# %% tags=["solution"]
def copy_only_curve(seen_before):
    """Expected accuracy of a copy-only learner after k = 0 .. n_ex-1 examples: (n_ex,)."""
    return torch.where(seen_before, 1.0, 1.0 / n_sym).mean(0)

# %% tags=["check"]
_copier = copy_only_curve(seen_before)
checks.check_shape(_copier, (n_ex,), "the copy-only curve (one value per number of examples)",
                   hint="Take the mean over prompts (dimension 0).")
checks.check_close(_copier, (seen_before.float() + (~seen_before).float() / n_sym).mean(0),
                   "the copy-only learner's accuracy", atol=1e-6,
                   hint="A seen letter is answered right (1); an unseen one with probability 1 / n_sym.")
_model_gain, _ideal_gain = (model_curve - _copier)[1:].mean().item(), (ideal_curve - _copier)[1:].mean().item()
print(f"averaged over 1 to {n_ex - 1} examples, accuracy above copying: model {_model_gain:.3f}, ideal learner "
      f"{_ideal_gain:.3f}; the model's gain is {_model_gain / _ideal_gain:.0%} of the ideal learner's")

# %% [markdown]
# The gap between copying and the ideal learner is widest in the middle of the prompt, when many letters
# are still unseen but several digits are already taken. How much of that gap the model closes, averaged
# over the positions in the prompt, is printed above: on our five seeds, practically all of it. Why
# average? Each point of the model's curve is measured on 2,000 prompts, a standard error of about 0.01, so
# at a single position the model can land above the ideal learner's *expected* accuracy by chance; over 15
# positions that noise mostly cancels, and what is left can still put the share a little above 100 %. Try
# `-p ICL_SYMBOLS 4`: with few symbols the code is pinned down after a handful of examples.
#
# ## Going further
#
# * **Code.** OpenAI's GPT-2 code and weights: [github.com/openai/gpt-2](https://github.com/openai/gpt-2)
#   (TensorFlow). A compact PyTorch GPT to read next: Andrej Karpathy's
#   [nanoGPT](https://github.com/karpathy/nanoGPT). The samplers of section 5 live in `transformers`'
#   `generation/logits_process.py`.
# * **Follow-ups.** Hoffmann et al., *Training Compute-Optimal Large Language Models* (Chinchilla, 2022,
#   [arXiv:2203.15556](https://arxiv.org/abs/2203.15556)). Olsson et al., *In-context Learning and Induction
#   Heads* (2022, [arXiv:2209.11895](https://arxiv.org/abs/2209.11895)). Wei et al., *Emergent Abilities of
#   Large Language Models* (2022, [arXiv:2206.07682](https://arxiv.org/abs/2206.07682)), and Schaeffer,
#   Miranda & Koyejo, *Are Emergent Abilities of Large Language Models a Mirage?* (2023,
#   [arXiv:2304.15004](https://arxiv.org/abs/2304.15004)).
# * **Tools.** GPT-2 was written in TensorFlow; in January 2020 OpenAI announced that it would standardise
#   on PyTorch. Reviews of the time, such as Papers With Code's *State of Deep Learning and Major Advances:
#   H2 2018 Review* (Ross Taylor, December 2018), describe a field settling on those two frameworks. Facebook's
#   **PyText** (Aly et al., *PyText: A Seamless Path from NLP research to production*, 2018,
#   [arXiv:1812.08729](https://arxiv.org/abs/1812.08729)) built NLP modelling on PyTorch and exported models
#   through Caffe2 for serving. `transformers`, used in section 5, began in late 2018 as `pytorch-pretrained-bert`.
# * **Try it.** `-p STEPS 1600` (twice the training: do the small models stop improving before the big
#   ones?), `-p LR_AT_10K 0.009 -p LR_POWER 0.3` (the first draft's smaller rates for the big models:
#   compare the largest model's held-out loss and the fitted α with the default run's), `-p LR_POWER 0` (one rate for every size), `-p TEMPERATURE 0.7 -p TOP_P 0.95`,
#   `-p PROMPT "Gentlemen of the Congress "`, `-p ICL_PREV_TOKEN False` (the in-context milestones then
#   fail: without the previous symbol, one layer cannot learn the task).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:28s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["block_max_diff", "scaling_fit_r2", "scaling_decades",
                                                "scaling_smallest_drop", "warper_max_diff", "icl_accuracy_last",
                                                "icl_gap_to_ideal"])
