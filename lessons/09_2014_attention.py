# ---
# jupyter:
#   course:
#     idea: additive attention written out (scores, masked softmax, context); a bidirectional
#       GRU encoder checked against nn.GRU; the fixed-vector model against attention
#       on the same steps, by input length; alignment heat maps
#     number: 09
#     papers:
#     - arxiv: '1409.0473'
#       authors: Dzmitry Bahdanau, Kyunghyun Cho, Yoshua Bengio
#       title: Neural Machine Translation by Jointly Learning to Align and Translate
#       year: 2014
#     title: Attention (Bahdanau)
#     track: language
#     year: '2014'
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
# # 09 · 2014 · Attention (Bahdanau)
#
# **Paper**
#
# * Dzmitry Bahdanau, Kyunghyun Cho, Yoshua Bengio (2014). *Neural Machine Translation by Jointly Learning to
#   Align and Translate.* ICLR 2015. [arXiv:1409.0473](https://arxiv.org/abs/1409.0473)
#
# ## The problem before this paper
#
# In 2014 neural machine translation meant an **encoder-decoder** (lesson 08): Ilya Sutskever, Oriol Vinyals,
# Quoc V. Le, *Sequence to Sequence Learning with Neural Networks* (2014,
# [arXiv:1409.3215](https://arxiv.org/abs/1409.3215)), and Kyunghyun Cho et al., *Learning Phrase
# Representations using RNN Encoder–Decoder for Statistical Machine Translation* (2014,
# [arXiv:1406.1078](https://arxiv.org/abs/1406.1078)). One recurrent network, the **encoder**, reads the source sentence and ends in a single
# vector c. A second one, the **decoder**, writes the translation from c, one word at a time. Everything
# the decoder will ever know about the source must fit in c, whose size is fixed: 1,000 numbers for a
# five-word sentence and for a fifty-word one alike.
#
# That is a **bottleneck**. Cho, van Merriënboer, Bahdanau & Bengio measured it the same year (*On the
# Properties of Neural Machine Translation: Encoder–Decoder Approaches*,
# [arXiv:1409.1259](https://arxiv.org/abs/1409.1259)): such models did well on short sentences, and their
# quality fell quickly as sentences got longer.
#
# ## The key idea
#
# Do not squeeze the source into one vector. Keep one vector per source word, an **annotation** h_j, made
# by a **bidirectional** RNN so that h_j describes word j *in its context* (the words before it and after
# it). Then, before writing output word i, the decoder decides where to look:
#
# 1. an **alignment model** scores every source position j against the decoder's current state s_{i−1}:
#    e_ij = vᵀ tanh(W s_{i−1} + U h_j), a small one-hidden-layer network (**additive attention**);
# 2. a softmax over the source positions turns the scores into **attention weights** α_ij, which are
#    positive and sum to 1;
# 3. the **context vector** c_i = Σ_j α_ij h_j, a weighted average of the annotations, is what the
#    decoder reads for word i. Each output word gets its own context.
#
# Every step is differentiable, so the alignment is learned with the translation, from sentence pairs
# alone: no one tells the model which word goes with which. The paper's name for it is soft **alignment**;
# the name that stuck is **attention**. The weights α_ij can be drawn as a matrix, source along one axis
# and output along the other: an alignment heat map.
#
# Bahdanau et al. trained both models on WMT'14 English→French with 1,000 hidden units each, and tested
# them by sentence length. The plain encoder-decoder (RNNencdec-50) fell off as sentences grew; the
# attention model (RNNsearch-50) did not. On the whole test set, RNNsearch-50 scored 26.75 BLEU against
# 17.82, and a longer-trained RNNsearch-50 matched the phrase-based system Moses on sentences without
# unknown words (36.15 against 35.63 BLEU).
#
# ## What changed after
#
# Attention spread at once. Luong, Pham & Manning (2015) simplified the score to a dot product; Xu et al.
# (*Show, Attend and Tell*, 2015) attended over image regions to write captions; Google's production
# translator (GNMT, 2016) was an attention model. Then *Attention Is All You Need* (Vaswani et al., 2017,
# lesson 10) dropped the recurrence and kept only attention. Its scaled dot-product attention is the
# descendant of the score built in this lesson.
#
# ## What we do here, and what scale changes
#
# We translate human-written dates (in 8 locales and 4 formats, some with every number spelled out) into
# ISO dates, character by character: the task of lessons 08 and 10, with the same data and the same metric,
# exact match on 2,000 held-out pairs. We train **lesson 08's model** again (no attention) and an attention
# model, with the same hidden size, the same steps and the same minibatches, and compare them by input
# length. Additive attention is written out and checked by hand; the bidirectional encoder is checked
# against PyTorch's own.
#
# The scale is tiny: characters instead of words, a 32-unit GRU instead of 1,000 units, a few hundred
# steps on one CPU thread instead of days on a GPU. What carries over is the mechanism and the shape of
# the result; the end of the lesson says what does not.

# %% [markdown]
# ## 中文导读
#
# 2014 年的神经机器翻译是**编码器-解码器**（第 08 课）：**编码器**把整个源句读成一个固定长度的向量 c，
# **解码器**只凭 c 逐词写出译文。无论句子长短，c 的大小都一样，这就是**瓶颈**：句子越长，翻译质量下降越快。
#
# Bahdanau、Cho 与 Bengio 的做法是不再把源句压成一个向量：用**双向** RNN 给每个源词一个**注释向量** h_j；
# 解码器在写第 i 个词之前，用一个小网络（**对齐模型**，即**加性注意力**）给每个源位置打分
# e_ij = vᵀ tanh(W s_{i−1} + U h_j)，经 softmax 得到**注意力权重** α_ij（非负、和为 1），
# 再求加权平均得到这一步专用的**上下文向量** c_i。整个过程可微，对齐与翻译一起学习，不需要人工标注对齐。
# 权重矩阵可以画成**对齐热图**。论文在英法翻译上表明：没有注意力的模型随句子变长而变差，注意力模型则不会。
#
# 本课用第 08、10 课相同的任务（把各种语言、各种格式的日期，包括全部用单词拼写的日期，逐字符翻译成 ISO 日期），
# 相同的数据和指标（2000 个留出样本上的**完全匹配率**）。我们从零写出加性注意力（带**填充掩码**的 softmax），
# 手算核对；双向编码器与 PyTorch 的 `nn.GRU(bidirectional=True)` 逐数核对；然后用相同的隐藏层大小、相同的步数
# 和相同的小批量训练第 08 课的无注意力模型和注意力模型，按输入长度比较：注意力模型在最长的输入上领先很多，
# 而且这个领先在最长的输入上比在最短的输入上更大（与整体完全匹配率 ≥ 97% 一起共三个里程碑；最后一个才是论文关于长度的发现）。
# 需要注意：无注意力模型在这个步数下还没训练充分，注意力模型还多了双向编码器和更多参数；
# 而且在这份数据里，长输入都是用单词拼写的日期，长度与写法是一起变化的。
# 最后画出对齐热图，并提供一个浏览留出样本（包括错误）的小部件。之后：Luong 的点积注意力、图像描述中的注意力、
# 以及只保留注意力的 Transformer（第 10 课）。所有数字都来自本课的运行结果。
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

import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): initialisation and minibatch order (the data itself never changes)
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: tiny data and a few steps, every code path in seconds; milestones reported, not asserted
N_TRAIN = 20000  # training pairs, the same for lessons 08, 09 and 10 (1000 .. 30000)
N_TEST = 2000  # held-out pairs, the same for lessons 08, 09 and 10 (1000 .. 5000)
STEPS = 600  # optimizer steps for each model: a fixed number, not a time budget (50 .. 5000)
BATCH_SIZE = 64  # pairs per step (8 .. 512)
LR = 1e-2  # peak Adam learning rate of the cosine schedule, in (0, 0.1]
HIDDEN = 32  # units of every GRU, in both models (8 .. 256)
EMBED = 32  # size of the character embeddings (4 .. 128)
ATTN_SIZE = 32  # hidden size of the alignment model, the length of v (4 .. 256)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    N_TRAIN=params.Int(min=1000, max=30000),
    N_TEST=params.Int(min=1000, max=5000),
    STEPS=params.Int(min=50, max=5000),
    BATCH_SIZE=params.Int(min=8, max=512),
    LR=params.Float(min=0.0, max=0.1, min_inclusive=False),
    HIDDEN=params.Int(min=8, max=256),
    EMBED=params.Int(min=4, max=128),
    ATTN_SIZE=params.Int(min=4, max=256),
)
LR = P["LR"]  # an int becomes a float
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("09")
plt.show()

# %% [markdown]
# ## 1. The task: dates in many languages → ISO dates
#
# `data.date_task` writes random days from 1950 to 2049 in 8 locales (English US and UK, French, German,
# Spanish, Italian, Brazilian Portuguese, Dutch) and 4 formats, from "5 Mar 1972" to a weekday, day, month
# and year all spelled out in words. The target is always the ISO date, 10 characters. Every pair has its
# own day, and the held-out days are never in training. The data seed is fixed at 0, so every `SEED` and
# every lesson of the language track sees the same pairs.
#
# We work with characters: one vocabulary for the sources, one for the targets. Target rows get a
# start symbol `<s>` (BOS) in front, the decoder's first input, and an end symbol `</s>` (EOS) after: the
# decoder reads BOS and the 10 characters and must predict the 10 characters and EOS, 11 steps.
#
# The lessons of this track score the same way: **exact match**, the share of held-out pairs whose greedy
# output equals the ISO target, overall and per bucket of input length in characters.

# %%
t_section = time.perf_counter()
n_train, n_test = (600, 200) if SMOKE else (N_TRAIN, N_TEST)
task = data.date_task(n_train, n_test, seed=0)  # the data seed is fixed: SEED changes only the training
train_pairs, test_pairs = task["train"], task["test"]
src_vocab = data.CharVocab([s for s, _ in train_pairs])
tgt_vocab = data.CharVocab([t for _, t in train_pairs])
PAD, BOS, EOS = data.CharVocab.PAD, data.CharVocab.BOS, data.CharVocab.EOS
TGT_STEPS = 11  # 10 characters of "YYYY-MM-DD" and EOS

X_train = src_vocab.batch([s for s, _ in train_pairs]).to(device)  # (N, longest source), padded with PAD
L_train = torch.tensor([len(s) for s, _ in train_pairs], device=device)  # true lengths
Y_train = tgt_vocab.batch([t for _, t in train_pairs], bos=True, eos=True).to(device)  # (N, 12): BOS, 10 chars, EOS
X_test = src_vocab.batch([s for s, _ in test_pairs]).to(device)
L_test = torch.tensor([len(s) for s, _ in test_pairs], device=device)
test_targets = [t for _, t in test_pairs]

checks.check_shape(Y_train, (n_train, TGT_STEPS + 1), "target rows (pairs, BOS + 10 characters + EOS)")
print(f"{n_train} training and {n_test} held-out pairs; {len(src_vocab)} source symbols, {len(tgt_vocab)} target "
      f"symbols (4 of each are PAD, BOS, EOS, UNK); longest source: {X_train.shape[1]} characters in training, "
      f"{X_test.shape[1]} held out")

BUCKETS = data.DATE_LENGTH_BUCKETS  # input length in characters: "< 20", "20-39", "40-59", ">= 60"
bucket_test = data.date_length_bucket(L_test)  # 0 .. 3 for each held-out pair
bucket_counts = [int((bucket_test == b).sum()) for b in range(4)]
for b, name in enumerate(BUCKETS):
    examples = [test_pairs[i] for i in torch.nonzero(bucket_test == b).flatten()[:2].tolist()]
    print(f"{name:>6} characters: {bucket_counts[b]:4d} held-out pairs, e.g. " +
          "; ".join(f"{s!r} → {t}" for s, t in examples))

# %% [markdown]
# The long inputs are the spelled-out dates: "the twenty-seventh of December, two thousand and
# thirty-seven" carries no more information than "27 Dec 2037", but spreads it over 60 characters or more.
# That is the bucket where a single summary vector should struggle most.
#
# ## 2. Lesson 08's model: the whole input in one vector
#
# The baseline is the encoder-decoder of Cho et al. (2014), as lesson 08 builds it (and checks its GRU cell
# against `nn.GRUCell`; here we use PyTorch's GRU directly):
#
# * the **encoder** GRU reads the source characters; its state after the last real character is the
#   summary **c** (the rows are padded on the right, so the padding comes later and does not touch it);
# * the **decoder** GRU starts from s₀ = c and, at every step, reads the previous target character
#   (the true one in training, **teacher forcing**; its own guess at test time) together with c again;
# * a linear layer turns [s_i ; c ; previous character] into scores for the next character.
#
# Both models of this lesson are written as two methods: `start` reads the source and returns the
# decoder's first state and what each step needs (its **memory**); `step` writes one character. One
# decoding loop then serves both.

# %%
class NoAttention(nn.Module):
    """Lesson 08's model (Cho et al., 2014): the source is summarised in one vector c."""

    def __init__(self, n_src, n_tgt, embed, hidden):
        super().__init__()
        self.src_embed = nn.Embedding(n_src, embed, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(n_tgt, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRUCell(embed + hidden, hidden)
        self.out = nn.Linear(hidden + hidden + embed, n_tgt)

    def start(self, x, lengths):
        """Read the source x (B, T) once: the first decoder state and the memory every step uses."""
        states, _ = self.encoder(self.src_embed(x))  # (B, T, H): the encoder state after each character
        c = states[torch.arange(len(x), device=x.device), lengths - 1]  # (B, H): after the last real one
        return c, {"c": c}

    def step(self, y_prev, s, memory):
        """One output character: the logits (B, V), the new decoder state, and no attention weights."""
        e, c = self.tgt_embed(y_prev), memory["c"]
        s = self.decoder(torch.cat([e, c], 1), s)
        return self.out(torch.cat([s, c, e], 1)), s, None


def teacher_forced_logits(model, x, lengths, y_in):
    """Training: the decoder reads the true previous characters y_in (B, 11); logits (B, 11, V)."""
    s, memory = model.start(x, lengths)
    logits = []
    for i in range(y_in.shape[1]):
        step_logits, s, _ = model.step(y_in[:, i], s, memory)
        logits.append(step_logits)
    return torch.stack(logits, 1)


@torch.no_grad()
def greedy_decode(model, x, lengths, n_steps=TGT_STEPS):
    """Test time: each step reads the model's own best guess. Output ids (B, n_steps) and the attention
    weights (B, n_steps, T), or None for a model without attention."""
    s, memory = model.start(x, lengths)
    y = torch.full((len(x),), BOS, dtype=torch.long, device=x.device)
    outputs, weights = [], []
    for _ in range(n_steps):
        step_logits, s, alpha = model.step(y, s, memory)
        y = step_logits.argmax(1)
        outputs.append(y)
        weights.append(alpha)
    return torch.stack(outputs, 1), (None if weights[0] is None else torch.stack(weights, 1))


torch.manual_seed(SEED)
_probe = NoAttention(len(src_vocab), len(tgt_vocab), EMBED, HIDDEN).to(device)
_x, _len = X_train[:5, :L_train[:5].max()], L_train[:5]
checks.check_shape(teacher_forced_logits(_probe, _x, _len, Y_train[:5, :-1]), (5, TGT_STEPS, len(tgt_vocab)),
                   "teacher-forced logits (pairs, steps, target symbols)")
checks.check_shape(greedy_decode(_probe, _x, _len)[0], (5, TGT_STEPS), "greedy output ids (pairs, steps)")
SECTION_SECONDS["1-2. Data, no-attention model"] = time.perf_counter() - t_section

# %% [markdown]
# ## 3. Attention, written out
#
# ### 3.1 Annotations from a bidirectional encoder
#
# The attention model keeps every encoder state. To let the annotation of character j describe both sides
# of it, Bahdanau et al. run two RNNs: a forward one, left to right, and a backward one, right to left, and
# concatenate their states: h_j = [→h_j ; ←h_j], 2·`HIDDEN` numbers.
#
# Padding needs care in the backward direction. A row "5 Mar 1972" padded to 80 characters must be read
# from its last real character, not from the padding after it. We reverse each row **within its own
# length** (the padding stays where it is), run an ordinary GRU, and reverse the outputs back. The same
# index does both reversals, because reversing twice is the identity.

# %%
t_section = time.perf_counter()


def reverse_within_length(lengths, width):
    """An index (B, width) that reverses each row's first `length` positions and leaves its padding in place."""
    pos = torch.arange(width, device=lengths.device)
    return torch.where(pos < lengths[:, None], lengths[:, None] - 1 - pos, pos)


class BiEncoder(nn.Module):
    """Embeddings, then a forward and a backward GRU; the annotation of each character is both states."""

    def __init__(self, n_src, embed, hidden):
        super().__init__()
        self.embed = nn.Embedding(n_src, embed, padding_idx=PAD)
        self.forward_rnn = nn.GRU(embed, hidden, batch_first=True)
        self.backward_rnn = nn.GRU(embed, hidden, batch_first=True)

    def forward(self, x, lengths):
        e = self.embed(x)  # (B, T, E)
        index = reverse_within_length(lengths, x.shape[1])[:, :, None]  # (B, T, 1)
        forward_states, _ = self.forward_rnn(e)  # (B, T, H), left to right
        backward_states, _ = self.backward_rnn(e.gather(1, index.expand_as(e)))  # read each row back to front
        backward_states = backward_states.gather(1, index.expand_as(backward_states))  # back in source order
        return torch.cat([forward_states, backward_states], 2)  # (B, T, 2H): the annotations h_j


print("reverse_within_length([3, 5], 6):\n", reverse_within_length(torch.tensor([3, 5]), 6))
torch.manual_seed(SEED)
_encoder = BiEncoder(len(src_vocab), EMBED, HIDDEN).to(device)
_annotations = _encoder(_x, _len)
checks.check_shape(_annotations, (5, _x.shape[1], 2 * HIDDEN), "annotations h_j (pairs, source positions, 2·HIDDEN)")

# %% [markdown]
# PyTorch has a bidirectional GRU that handles padding its own way: `pack_padded_sequence` tells it each
# row's length, and `nn.GRU(bidirectional=True)` then starts the backward pass of every row at its last real
# character. We copy our two GRUs' weights into one and compare all the annotations at real characters,
# and the backward GRU's final state (which our decoder will start from).

# %%
reference = nn.GRU(EMBED, HIDDEN, batch_first=True, bidirectional=True).to(device)
with torch.no_grad():
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(reference, name).copy_(getattr(_encoder.forward_rnn, name))
        getattr(reference, name + "_reverse").copy_(getattr(_encoder.backward_rnn, name))
    packed = nn.utils.rnn.pack_padded_sequence(_encoder.embed(_x), _len.cpu(), batch_first=True, enforce_sorted=False)
    packed_out, h_last = reference(packed)
    reference_out, _ = nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=_x.shape[1])
    real = torch.arange(_x.shape[1], device=device)[None, :] < _len[:, None]  # (B, T): True at real characters
    encoder_diff = max((_annotations - reference_out)[real].abs().max().item(),
                       (_annotations[:, 0, HIDDEN:] - h_last[1]).abs().max().item())
print(f"our bidirectional encoder vs nn.GRU(bidirectional=True) on packed sequences: max |difference| {encoder_diff:.2e} "
      f"(source lengths {_len.tolist()})")
checks.milestone("bidirectional_encoder_max_diff", encoder_diff, 1e-5, "<=",
                 note="annotations at real characters and the backward final state, vs nn.GRU on packed sequences")

# %% [markdown]
# ### 3.2 The alignment model and the context vector
#
# For output step i, with the decoder state s_{i−1} (`HIDDEN` numbers) and the annotations h_j:
#
# $$e_{ij} = v^\top \tanh(W s_{i-1} + U h_j), \qquad \alpha_{ij} = \frac{\exp e_{ij}}{\sum_{k} \exp e_{ik}},
# \qquad c_i = \sum_j \alpha_{ij} h_j .$$
#
# W (`ATTN_SIZE` × `HIDDEN`), U (`ATTN_SIZE` × 2·`HIDDEN`) and v (`ATTN_SIZE`) are learned. U h_j does not
# depend on i, so, as the paper's appendix notes, it is computed once per source (we call it the **keys**)
# and reused at every output step.
#
# The sum over k runs over the real characters only. A padded position gets the score −∞ before the
# softmax, so its weight is exactly 0: this is the **padding mask**. Without it, a short date in a batch
# of long ones would spread some attention over meaningless padding (exercise 2 measures how much).

# %%
def additive_attention(query, keys, values, mask, W, v):
    """Bahdanau's alignment model for one decoder step.

    query  s_{i-1}       (B, H)    the decoder state before output i
    keys   U h_j + b     (B, T, A) computed once per source
    values h_j           (B, T, D) the annotations
    mask                 (B, T)    True at real characters
    W (A, H), v (A,)     the alignment model's other weights
    Returns the context c_i (B, D) and the attention weights alpha_i (B, T).
    """
    scores = torch.tanh(keys + (query @ W.T)[:, None, :]) @ v  # e_ij: (B, T)
    scores = scores.masked_fill(~mask, float("-inf"))  # padding can never be chosen
    weights = torch.softmax(scores, dim=1)  # alpha_ij >= 0, summing to 1 over j
    context = torch.bmm(weights[:, None, :], values).squeeze(1)  # c_i = sum_j alpha_ij h_j
    return context, weights


# A tiny example to check by hand: one query, two real positions and one padded one whose key is huge.
q = torch.tensor([[1.0]])  # s_{i-1}, H = 1
W_tiny, v_tiny = torch.tensor([[0.5]]), torch.tensor([2.0])  # A = 1
keys_tiny = torch.tensor([[[0.0], [1.0], [9.0]]])  # U h_j for j = 1, 2 and the padded j = 3
values_tiny = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [100.0, 100.0]]])  # h_j, D = 2
mask_tiny = torch.tensor([[True, True, False]])
context_tiny, weights_tiny = additive_attention(q, keys_tiny, values_tiny, mask_tiny, W_tiny, v_tiny)

# By hand: e_1 = 2·tanh(0 + 0.5), e_2 = 2·tanh(1 + 0.5); the softmax over the two real positions only.
e1, e2 = 2 * math.tanh(0.5), 2 * math.tanh(1.5)
a1, a2 = math.exp(e1) / (math.exp(e1) + math.exp(e2)), math.exp(e2) / (math.exp(e1) + math.exp(e2))
print(f"scores by hand: e_1 = {e1:.4f}, e_2 = {e2:.4f}; weights {a1:.4f}, {a2:.4f}, 0; context ({a1:.4f}, {a2:.4f})")
print(f"additive_attention: weights {weights_tiny[0].tolist()}, context {context_tiny[0].tolist()}")
checks.check_close(weights_tiny[0], [a1, a2, 0.0], "attention weights of the tiny example (the padded one exactly 0)")
checks.check_close(context_tiny[0], [a1, a2], "context vector of the tiny example (the padding's 100s never leak in)")

# The same on a real batch: shapes, weights that sum to 1, and zero weight on every padded position.
_keys = nn.Linear(2 * HIDDEN, ATTN_SIZE).to(device)(_annotations)
_ctx, _w = additive_attention(torch.randn(5, HIDDEN, device=device), _keys, _annotations, real,
                              torch.randn(ATTN_SIZE, HIDDEN, device=device), torch.randn(ATTN_SIZE, device=device))
checks.check_shape(_ctx, (5, 2 * HIDDEN), "context vectors c_i (pairs, 2·HIDDEN)")
checks.check_shape(_w, (5, _x.shape[1]), "attention weights alpha_i (pairs, source positions)")
checks.check_close(_w.sum(1), torch.ones(5), "the weights of each pair summed over the source")
checks.check(bool((_w[~real] == 0).all()), "a padded position got attention weight",
             ok_message=f"All {int((~real).sum())} padded positions of the batch have weight exactly 0.")

# %% [markdown]
# ### 3.3 The attention decoder
#
# The decoder is lesson 08's, with one change: the fixed c is replaced by a fresh c_i at every step.
#
# * s₀ = tanh(W_s ←h₁): the backward GRU's state after reading the whole source (as in the paper);
# * at step i: (c_i, α_i) = attention(s_{i−1}, h); s_i = GRU([previous character ; c_i], s_{i−1});
#   logits = Linear([s_i ; c_i ; previous character]).
#
# The paper's output layer has one more hidden layer (a maxout layer); ours is linear, as in the
# no-attention model, so the two models differ only in where the context comes from (and in the encoder
# they need for it).

# %%
class Attention(nn.Module):
    """Bahdanau et al.'s RNNsearch at character scale: a bidirectional encoder and an attending decoder."""

    def __init__(self, n_src, n_tgt, embed, hidden, attn_size):
        super().__init__()
        self.hidden = hidden
        self.encoder = BiEncoder(n_src, embed, hidden)
        self.init_state = nn.Linear(hidden, hidden)  # W_s
        self.U = nn.Linear(2 * hidden, attn_size)  # keys: U h_j (+ a bias)
        self.W = nn.Linear(hidden, attn_size, bias=False)
        self.v = nn.Linear(attn_size, 1, bias=False)
        self.tgt_embed = nn.Embedding(n_tgt, embed)
        self.decoder = nn.GRUCell(embed + 2 * hidden, hidden)
        self.out = nn.Linear(hidden + 2 * hidden + embed, n_tgt)

    def start(self, x, lengths):
        h = self.encoder(x, lengths)  # (B, T, 2H)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        s0 = torch.tanh(self.init_state(h[:, 0, self.hidden:]))  # the backward state at the first character
        return s0, {"annotations": h, "keys": self.U(h), "mask": mask}

    def step(self, y_prev, s, memory):
        c, alpha = additive_attention(s, memory["keys"], memory["annotations"], memory["mask"],
                                      self.W.weight, self.v.weight[0])
        e = self.tgt_embed(y_prev)
        s = self.decoder(torch.cat([e, c], 1), s)
        return self.out(torch.cat([s, c, e], 1)), s, alpha


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


torch.manual_seed(SEED)
_probe_attn = Attention(len(src_vocab), len(tgt_vocab), EMBED, HIDDEN, ATTN_SIZE).to(device)
_ids, _alpha = greedy_decode(_probe_attn, _x, _len)
checks.check_shape(_alpha, (5, TGT_STEPS, _x.shape[1]), "attention maps (pairs, output steps, source positions)")

# %% [markdown]
# A padded batch must give each pair exactly what it would get alone: the padding is only there to make a
# rectangle. We check it for both models on five held-out pairs of different lengths, each run once in a
# batch padded to the longest and once on its own, unpadded.

# %%
def padding_invariance(model, idx):
    """Largest |difference| between the teacher-forced logits of a padded batch and of each pair alone."""
    lengths = L_test[idx]
    batch_logits = teacher_forced_logits(model, X_test[idx, :lengths.max()], lengths, Y_test_in[idx])
    diffs = []
    for k, i in enumerate(idx.tolist()):
        alone = teacher_forced_logits(model, X_test[i:i + 1, :L_test[i]], L_test[i:i + 1], Y_test_in[i:i + 1])
        diffs.append((batch_logits[k] - alone[0]).abs().max().item())
    return max(diffs)


Y_test_in = tgt_vocab.batch(test_targets, bos=True).to(device)  # BOS + the 10 characters, the decoder's inputs
_idx = torch.stack([torch.nonzero(bucket_test == b).flatten()[0] for b in range(4)] + [L_test.argmax()])
with torch.no_grad():
    padding_diff = max(padding_invariance(_probe, _idx), padding_invariance(_probe_attn, _idx))
print(f"lengths {L_test[_idx].tolist()}: padded batch vs one pair at a time, max |logit difference| {padding_diff:.2e}")
checks.milestone("padding_invariance_max_diff", padding_diff, 1e-5, "<=",
                 note="both models (untrained), 5 held-out pairs of different lengths, batched vs alone")
SECTION_SECONDS["3. Attention, written out"] = time.perf_counter() - t_section

# %% [markdown]
# ## 4. Training both models the same way
#
# Same data, same hidden size (`HIDDEN` units in every GRU), same number of steps, same minibatches (one
# random generator seeded with `SEED` draws them, for each model afresh), same optimizer: Adam with a
# cosine schedule from `LR` down to 0 and gradient-norm clipping at 1. The loss is the cross-entropy of the
# 11 output characters under teacher forcing.
#
# Same hidden size is the comparison the paper made (1,000 units in both models). It means the attention
# model has more weights: its encoder runs in two directions and it has the alignment model (both counts
# are printed below).

# %%
t_section = time.perf_counter()
steps = 20 if SMOKE else STEPS


def train(model, steps, seed):
    """Train with teacher forcing for a fixed number of steps; return the loss of every step."""
    gen = torch.Generator().manual_seed(seed)  # the same minibatches for every model with this seed
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.5 * (1 + math.cos(math.pi * k / steps)))
    order, losses = torch.empty(0, dtype=torch.long), []
    for _ in range(steps):
        if len(order) < BATCH_SIZE:  # a new epoch: a new random order of the training pairs
            order = torch.randperm(n_train, generator=gen)
        batch, order = order[:BATCH_SIZE].to(device), order[BATCH_SIZE:]
        lengths = L_train[batch]
        x = X_train[batch, :lengths.max()]  # cut the padding to the longest source of this batch
        logits = teacher_forced_logits(model, x, lengths, Y_train[batch, :-1])  # reads BOS + 10 characters
        loss = F.cross_entropy(logits.flatten(0, 1), Y_train[batch, 1:].flatten())  # predicts 10 characters + EOS
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


models, losses, train_seconds = {}, {}, {}
for name, make in [("no attention", lambda: NoAttention(len(src_vocab), len(tgt_vocab), EMBED, HIDDEN)),
                   ("attention", lambda: Attention(len(src_vocab), len(tgt_vocab), EMBED, HIDDEN, ATTN_SIZE))]:
    torch.manual_seed(SEED)  # each model's initial weights come from SEED
    models[name] = make().to(device)
    t0 = time.perf_counter()
    losses[name] = train(models[name], steps, SEED)
    train_seconds[name] = time.perf_counter() - t0
    print(f"{name:>12}: {count_parameters(models[name]):6,d} weights, {steps} steps in {train_seconds[name]:5.1f} s, "
          f"mean loss of the last 50 steps {np.mean(losses[name][-50:]):.4f}")
    record.metric(f"{name.replace(' ', '_')}_train_seconds", train_seconds[name])
weight_ratio = count_parameters(models["attention"]) / count_parameters(models["no attention"])
print(f"the attention model has {weight_ratio:.2f} times the weights of the no-attention model")
SECTION_SECONDS["4. Training"] = time.perf_counter() - t_section

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for name, color in zip(models, plot.COLORS):
    smooth = np.convolve(losses[name], np.ones(20) / 20, mode="valid") if len(losses[name]) >= 20 else losses[name]
    ax.plot(np.arange(len(smooth)) + len(losses[name]) - len(smooth) + 1, smooth, color=color, label=name)
ax.set(yscale="log", xlabel="optimizer step", ylabel="training loss per character (log scale)",
       title="Training loss, same steps and minibatches (moving average of 20 steps)")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# ## 5. Exact match by input length
#
# Greedy decoding of all held-out pairs by both models. Exact match counts a pair only if all 10 characters
# are right and the output stops there.

# %%
t_section = time.perf_counter()


@torch.no_grad()
def evaluate(model):
    """Greedy outputs for every held-out pair, whether each is exactly right, and the attention maps (or None)."""
    outputs, maps = [], torch.zeros(n_test, TGT_STEPS, X_test.shape[1])
    for i in range(0, n_test, 500):
        lengths = L_test[i:i + 500]
        ids, alpha = greedy_decode(model, X_test[i:i + 500, :lengths.max()], lengths)
        outputs += [tgt_vocab.decode(row) for row in ids.tolist()]
        if alpha is not None:
            maps[i:i + 500, :, :alpha.shape[2]] = alpha.cpu()
    correct = torch.tensor([o == t for o, t in zip(outputs, test_targets)])
    return outputs, correct, (maps if alpha is not None else None)


results = {name: evaluate(model) for name, model in models.items()}
correct = {name: r[1] for name, r in results.items()}
outputs = {name: r[0] for name, r in results.items()}
attention_maps = results["attention"][2]  # (pairs, 11 output steps, source positions)
bucket_cpu = bucket_test.cpu()
exact = {name: c.float().mean().item() for name, c in correct.items()}
by_bucket = {name: [c[bucket_cpu == b].float().mean().item() if bucket_counts[b] else float("nan") for b in range(4)]
             for name, c in correct.items()}

# %% [markdown]
# The table: exact match of each model, overall and per length bucket (with the number of held-out pairs in
# each bucket).

# %%
print(f"{'exact match':>12}  {'all':>6}  " + "  ".join(f"{b:>7}" for b in BUCKETS))
print(f"{'(pairs)':>12}  {n_test:>6}  " + "  ".join(f"{n:>7}" for n in bucket_counts))
for name in models:
    print(f"{name:>12}  {exact[name]:6.3f}  " + "  ".join(f"{v:7.3f}" for v in by_bucket[name]))
record.metric("no_attention_exact_match", exact["no attention"])  # the attention model's is a milestone below
for name in models:
    key = name.replace(" ", "_")
    for b, label in enumerate(data.DATE_BUCKET_KEYS):
        record.metric(f"{key}_exact_match_{label}", by_bucket[name][b])

# %% [markdown]
# Three numbers from the table become milestones. The first: the attention model gets at least 97 % of
# all held-out dates exactly right, the bar the course sets for lessons 08–10's translators. The second:
# attention is ahead by at least 5 points on the longest inputs. That alone would not show a *length*
# effect, since the no-attention model is behind on short inputs too. The third is the paper's finding:
# how much larger attention's lead is on the longest inputs (60+ characters) than on the shortest (under
# 20). It equals how much more exact match the no-attention model loses from the shortest bucket to the
# longest one than the attention model does.

# %%
gain = [100 * (by_bucket["attention"][b] - by_bucket["no attention"][b]) for b in range(4)]  # points per bucket
gain_longest, length_effect = gain[3], gain[3] - gain[0]
drop = {name: 100 * (by_bucket[name][0] - by_bucket[name][3]) for name in models}  # points lost, < 20 -> >= 60
print(f"attention minus no attention, in points: {gain[0]:+.1f} on inputs under 20 characters, "
      f"{gain_longest:+.1f} on inputs of 60 or more")
print(f"from < 20 to >= 60 characters the no-attention model loses {drop['no attention']:.1f} points and the "
      f"attention model {drop['attention']:.1f}: attention's lead grows by {length_effect:+.1f} points with length")
checks.milestone("attention_exact_match", exact["attention"], 0.97, ">=",
                 note=f"greedy exact match of the attention model on {n_test} held-out pairs after {steps} steps")
checks.milestone("attention_gain_longest_points", gain_longest, 5, ">=",
                 note=f"exact match, attention minus no attention, on the {bucket_counts[3]} held-out inputs of 60+ "
                      f"characters; same hidden size and {steps} steps each (a step budget)")
checks.milestone("attention_gain_growth_with_length_points", length_effect, 10, ">=",
                 note="attention's lead in exact match on inputs of 60+ characters minus its lead on inputs under 20 "
                      "(= the no-attention model's extra drop from short to long inputs); the length effect itself")

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
xs = np.arange(4)
for k, (name, color) in enumerate(zip(models, plot.COLORS)):
    bars = ax.bar(xs + (k - 0.5) * 0.38, by_bucket[name], width=0.38, color=color,
                  label=f"{name} (all: {exact[name]:.3f})")
    ax.bar_label(bars, fmt="%.2f", fontsize=9, padding=2)
ax.set_xticks(xs, [f"{b}\n({n} pairs)" for b, n in zip(BUCKETS, bucket_counts)])
ax.set(ylim=(0, 1.15), xlabel="input length in characters", ylabel="exact match on held-out pairs",
       title=f"Exact match by input length, {steps} steps each")
ax.legend(loc="upper center", ncol=2, bbox_to_anchor=(0.5, -0.22))
fig.subplots_adjust(bottom=0.3)
plt.show()

# %% [markdown]
# This is the paper's Figure 2 at character scale. With one summary vector, exact match is lower on the
# inputs of 40 characters or more than on the shorter ones; with attention it stays near the top in every
# bucket (all printed above).
#
# Is that fair to the no-attention model? Not entirely, in three ways, and the reader should keep them in
# mind:
#
# * **Two differences besides attention.** The attention model also has the bidirectional encoder, and
#   with it more weights (both counts and their ratio are printed in section 4).
# * **An undertrained baseline.** Same hidden size, same steps, same minibatches, but the no-attention
#   model is not trained to the end: its training loss is still far above the attention model's when the
#   steps run out (section 4 and the curves), and its exact match is far from 1 even on inputs under 20
#   characters (the table above). So a large part of attention's lead at this budget is there at every
#   length.
# * **What isolates length** is therefore the third milestone: how much *larger* the lead is on the
#   longest inputs than on the shortest (printed above). That part is the paper's finding.
# * **Length and wording go together.** In this data every held-out input of 40 characters or more is a
#   date spelled out in words, and the short ones use digits (lesson 08 prints the shares). So "longer"
#   here also means "spelled out", and the third milestone compares long spelled-out dates with short
#   digit dates. Telling length apart from wording would need dates of one format at many lengths.
#
# Part of the gap is learning speed: attention gives every output step a short path to the characters it
# needs, while the fixed vector must learn to carry the date through as many steps of recurrence as the
# source has characters (the longest held-out source is printed in section 1). Whether more steps or a wider vector would close the
# gap on these inputs is a fair question: try `-p STEPS 3000` or `-p HIDDEN 64`. A date is one of 36,525
# days, about 15 bits, so a vector of 32 or 64 numbers has room for it; a 50-word sentence does not fit so
# easily, and there the paper found the fixed vector falling behind even after days of training.
#
# ## 6. Looking at the alignments
#
# The attention weights α_ij form one matrix per pair: output characters down, source characters across
# (a space is drawn as ·). Four held-out pairs, the first of each length bucket.

# %%
def draw_alignment(ax, i):
    """The attention map of held-out pair i: output characters (rows) against source characters (columns)."""
    source, length = test_pairs[i][0], int(L_test[i])
    shown = outputs["attention"][i]
    ticks = [c if c != " " else "·" for c in source]  # a visible space
    out_chars = list(shown.ljust(10, " ")[:10]) + ["</s>"]
    im = ax.imshow(attention_maps[i, :, :length].numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto",
                   interpolation="nearest")
    ax.set_xticks(range(length), labels=ticks, fontsize=8)
    ax.set_yticks(range(TGT_STEPS), labels=out_chars, fontsize=8)
    ax.grid(False)
    verdict = "right" if correct["attention"][i] else f"wrong, should be {test_targets[i]}"
    ax.set_title(f"held-out pair {i}: {source!r}\nattention: {shown} ({verdict}); "
                 f"no attention: {outputs['no attention'][i]}", fontsize=9)
    ax.set_ylabel("output")
    plt.colorbar(im, ax=ax, fraction=0.025, pad=0.01, label="weight α")


first_of_bucket = [int(torch.nonzero(bucket_cpu == b).flatten()[0]) for b in range(4) if bucket_counts[b]]
fig, axes = plt.subplots(len(first_of_bucket), 1, figsize=(15, 2.9 * len(first_of_bucket)))
for ax, i in zip(np.atleast_1d(axes), first_of_bucket):
    draw_alignment(ax, i)
np.atleast_1d(axes)[-1].set_xlabel("source character")
fig.suptitle("Where the attention model looks while writing each output character", y=1.0)
fig.tight_layout()
plt.show()

# %% [markdown]
# The output order is always year, month, day; the source order is usually day, month, year (or month,
# day, year in US English). So the bright cells do not run down a diagonal: the model reads the year at
# the end of the source first, then jumps back for the month and the day (in the maps above, and on
# average below). This is the reordering the
# paper's alignments show for "European Economic Area" → "zone économique européenne".
#
# One summary over all 2,000 held-out pairs: for each output position, where on the source the weight
# falls on average (0 = the first character, 1 = the last), computed as Σ_j α_ij · j / (length − 1).

# %%
rel_pos = (torch.arange(attention_maps.shape[2])[None, :] / (L_test.cpu()[:, None] - 1).clamp(min=1))  # (N, T)
mean_position = (attention_maps * rel_pos[:, None, :]).sum(2)  # (N, 11): expected relative source position
year_pos = mean_position[:, 0:4].mean().item()  # the 4 year characters
day_pos = mean_position[:, 8:10].mean().item()  # the 2 day characters
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for b, (name, color) in enumerate(zip(BUCKETS, plot.COLORS)):
    if bucket_counts[b]:
        ax.plot(range(TGT_STEPS), mean_position[bucket_cpu == b].mean(0).numpy(), "o-", color=color,
                label=f"{name} characters")
ax.set_xticks(range(TGT_STEPS), labels=list("YYYY-MM-DD") + ["</s>"])
ax.set(ylim=(0, 1), xlabel="output character", ylabel="mean attended position\n(0 start, 1 end of source)",
       title=f"Where attention falls, by output character (all pairs: year at {year_pos:.2f}, day at {day_pos:.2f})")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()
print(f"over all held-out pairs, mean attended position while writing the year: {year_pos:.2f}, "
      f"the day: {day_pos:.2f} (0 start, 1 end)")
record.metric("attended_position_year", year_pos)
record.metric("attended_position_day", day_pos)

# %% [markdown]
# **Explore**: held-out pairs with their attention maps, the attention model's mistakes first, then long
# inputs that only the attention model got right, then a few others. Nothing is recomputed: the maps
# were stored in section 5.

# %%
attn_wrong = torch.nonzero(~correct["attention"]).flatten().tolist()
only_attn = torch.nonzero(correct["attention"] & ~correct["no attention"] & (bucket_cpu == 3)).flatten().tolist()
browse = {}  # dropdown label -> held-out index
for kind, indices in [("attention wrong", attn_wrong[:8]), ("only attention right", only_attn[:6]),
                      ("first held-out pairs", range(4))]:
    for i in indices:
        if i not in browse.values():
            browse[f"{i}: {kind} ({int(L_test[i])} chars)"] = i
print(f"the attention model got {len(attn_wrong)} of {n_test} held-out pairs wrong; "
      f"{len(only_attn)} of the {bucket_counts[3]} longest inputs were right with attention only")


def draw_browse(label):
    i = browse[label]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * int(L_test[i]) + 3), 3.3))
    draw_alignment(ax, i)
    ax.set_xlabel("source character")
    fig.tight_layout()


widgets.explore(draw_browse, list(browse), next(iter(browse)), "held-out pair", kind="dropdown");  # ";": show once
SECTION_SECONDS["5-6. Evaluation, alignments"] = time.perf_counter() - t_section

# %% [markdown]
# ## 7. What the small scale changes
#
# * **Size.** Bahdanau et al. used 1,000-unit GRUs, 620-dimensional word embeddings and 30,000-word
#   vocabularies, trained each model for about five days, and decoded with beam search. Ours has 32 units
#   and about 15 target symbols, trains for `STEPS` steps on one CPU thread, and decodes greedily.
# * **What the bottleneck is here.** A date is about 15 bits, so a 32-number vector has room for it; our
#   no-attention model's trouble with long inputs is as much about *learning* to carry the date through
#   60 or more steps of recurrence, within a fixed budget of steps, as about room. A sentence of 50 words
#   carries far more, and there the paper found the fixed vector itself falling behind. Attention helps
#   with both.
# * **The alignments.** Our maps are between characters, and the structure is simple (a few fields that
#   move as blocks). Word alignments in real translation are many-to-many and ambiguous, and soft
#   attention spreads over them; Luong et al. and later work studied sharper (local, monotonic) variants.
#
# ## 8. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and a
# check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: dot-product (Luong) attention
#
# Luong, Pham & Manning (2015) scored with a plain dot product, e_ij = s_iᵀ h_j, when the two have the
# same size. Write `dot_attention(query, keys, values, mask)`: scores are the dot products of `query`
# (B, D) with every key (B, T, D); mask, softmax and weighted sum as in `additive_attention`. The check
# compares it with PyTorch's `F.scaled_dot_product_attention` (with `scale=1`, so nothing is divided by √D).

# %% tags=["exercise"]
def dot_attention(query, keys, values, mask):
    """Dot-product scores e_j = <query, key_j>, masked softmax, weighted sum: (context (B, Dv), weights (B, T))."""
    # TODO: scores (B, T) = keys @ query; mask the padding with -inf; softmax over T; context = weighted sum of values
    return None, None

# %% tags=["solution"]
def dot_attention(query, keys, values, mask):
    """Dot-product scores e_j = <query, key_j>, masked softmax, weighted sum: (context (B, Dv), weights (B, T))."""
    scores = (keys @ query[:, :, None]).squeeze(2)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
    return (weights[:, :, None] * values).sum(1), weights

# %% tags=["check"]
_gen = torch.Generator().manual_seed(9)
_q, _k, _v = torch.randn(3, 8, generator=_gen), torch.randn(3, 6, 8, generator=_gen), torch.randn(3, 6, 5, generator=_gen)
_m = torch.arange(6)[None, :] < torch.tensor([[6], [4], [2]])
_ctx, _w = dot_attention(_q, _k, _v, _m)
checks.check_shape(_w, (3, 6), "dot-product attention weights (B, T)",
                   hint="Return (context, weights); the weights have one number per source position.")
checks.check_close(_w.masked_select(~_m), torch.zeros(int((~_m).sum())), "weights on padded positions",
                   hint="Set the scores of padded positions to float('-inf') before the softmax.")
_reference = F.scaled_dot_product_attention(_q[:, None, :], _k, _v, attn_mask=_m[:, None, :], scale=1.0)[:, 0]
checks.check_close(_ctx, _reference, "context vs F.scaled_dot_product_attention(scale=1)", atol=1e-5,
                   hint="The score of position j is the dot product of the query with key j, not divided by anything.")

# %% [markdown]
# The dot product needs no W, U or v, and all the scores of a sequence come out of one matrix product.
# Lesson 10 divides them by √D (the "scaled" in scaled dot-product attention), which keeps the softmax from
# saturating when D is large.
#
# ### Exercise 2: what the padding mask is for
#
# Decode a batch of held-out pairs with the trained attention model **without** the padding mask (every
# position counts as real). Write `decode_without_mask(model, x, lengths)`: like `greedy_decode`, but with
# `memory["mask"]` replaced by all `True` after `model.start`. Return the output ids (B, 11) and the attention
# weights (B, 11, T). The check then measures how much weight lands on padding and how many outputs change.

# %% tags=["exercise"]
@torch.no_grad()
def decode_without_mask(model, x, lengths, n_steps=TGT_STEPS):
    """Greedy decoding with the padding mask switched off: output ids (B, n_steps), weights (B, n_steps, T)."""
    # TODO: s, memory = model.start(x, lengths); set memory["mask"] to all True; then loop as in greedy_decode
    return None, None

# %% tags=["solution"]
@torch.no_grad()
def decode_without_mask(model, x, lengths, n_steps=TGT_STEPS):
    """Greedy decoding with the padding mask switched off: output ids (B, n_steps), weights (B, n_steps, T)."""
    s, memory = model.start(x, lengths)
    memory["mask"] = torch.ones_like(memory["mask"])
    y = torch.full((len(x),), BOS, dtype=torch.long, device=x.device)
    outputs, weights = [], []
    for _ in range(n_steps):
        step_logits, s, alpha = model.step(y, s, memory)
        y = step_logits.argmax(1)
        outputs.append(y)
        weights.append(alpha)
    return torch.stack(outputs, 1), torch.stack(weights, 1)

# %% tags=["check"]
_short = torch.nonzero(bucket_test == 0).flatten()[:300]  # 300 short dates ...
_x_pad = X_test[_short]  # ... padded to the longest held-out source
_ids, _w = decode_without_mask(models["attention"], _x_pad, L_test[_short])
checks.check_shape(_ids, (len(_short), TGT_STEPS), "output ids without the mask (pairs, steps)",
                   hint="Return (ids, weights) as greedy_decode does; stack the per-step outputs along dim 1.")
_pad = torch.arange(_x_pad.shape[1], device=device)[None, :] >= L_test[_short][:, None]
checks.check(bool((_w * _pad[:, None, :]).sum() > 0),
             "no weight on padding at all: is the mask really switched off?",
             ok_message="The unmasked attention puts weight on padding.",
             hint="After model.start, replace memory['mask'] by torch.ones_like(memory['mask']).")
_weight_on_pad = (_w * _pad[:, None, :]).sum(2).mean().item()
_masked_ids, _ = greedy_decode(models["attention"], _x_pad, L_test[_short])
_changed = (_ids != _masked_ids).any(1).float().mean().item()
_right = np.mean([tgt_vocab.decode(r) == test_targets[i] for r, i in zip(_ids.tolist(), _short.tolist())])
_right_masked = correct["attention"][_short.cpu()].float().mean().item()
checks.check(_changed > 0 or _right < _right_masked,
             "the outputs without the mask are the same as with it: are the ids computed from the unmasked memory?",
             ok_message="Switching the mask off changes what the trained model writes.",
             hint="Decode with the memory whose 'mask' you replaced, and return the ids of that decoding.")
print(f"{len(_short)} short dates padded to {_x_pad.shape[1]} characters, mask off: {_weight_on_pad:.1%} of the "
      f"attention on padding, {_changed:.1%} of the outputs change, exact match {_right:.3f} "
      f"(with the mask: {_right_masked:.3f})")

# %% [markdown]
# The padding characters are not empty to the network: the GRUs keep running over them and write
# annotations there, and without the mask those annotations compete for attention. How much that hurts
# depends on the run (printed above); the mask makes the answer "not at all", by construction, which is
# what the padding-invariance check of section 3.3 verified.
#
# ### Exercise 3: how sharp is the attention?
#
# The **entropy** of one row of weights, H = −Σ_j α_j ln α_j, is 0 when all the weight is on one character
# and ln n when it is spread evenly over n characters. Write `attention_entropy(weights, mask)` returning the
# entropy (in nats) of every row, with padded positions left out even if they carry weight (count 0 · ln 0
# as 0). The check's toy rows include one with weight on padding, as a model without the mask would give.

# %% tags=["exercise"]
def attention_entropy(weights, mask):
    """Entropy in nats of each row of attention weights (B, S, T), over the real positions mask (B, T): (B, S)."""
    # TODO: -(w * log w) summed over the real positions, with 0 * log 0 counted as 0
    return None

# %% tags=["solution"]
def attention_entropy(weights, mask):
    """Entropy in nats of each row of attention weights (B, S, T), over the real positions mask (B, T): (B, S)."""
    terms = torch.where(weights > 0, -weights * torch.log(weights.clamp(min=1e-30)), torch.zeros_like(weights))
    return (terms * mask[:, None, :]).sum(2)

# %% tags=["check"]
_w_toy = torch.tensor([[[0.25, 0.25, 0.25, 0.25, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0, 0.3]]])
_m_toy = torch.tensor([[True, True, True, True, False]])  # the 5th position is padding
_h_toy = attention_entropy(_w_toy, _m_toy)
checks.check_shape(_h_toy, (1, 3), "entropies of the 3 toy rows (B, S)", hint="One entropy per row: sum over dim 2.")
checks.check_close(_h_toy[:, :2], [[math.log(4), 0.0]], "entropy of a uniform row and a one-hot row",
                   hint="Uniform over 4 real characters gives ln 4; all weight on one gives 0 (0·ln 0 counts as 0).")
checks.check_close(_h_toy[:, 2:], [[math.log(2)]], "entropy of a row with weight 0.3 on the padded position",
                   hint="The third toy row puts 0.3 on padding (as an unmasked model would): leave the positions "
                        "where mask is False out of the sum, which leaves ln 2.")
_real_test = torch.arange(attention_maps.shape[2])[None, :] < L_test.cpu()[:, None]
_entropy = attention_entropy(attention_maps, _real_test)[:, :10]  # the 10 characters (not the EOS step)
for b, name in enumerate(BUCKETS):
    if bucket_counts[b]:
        _sel = bucket_cpu == b
        print(f"{name:>6} characters: mean entropy {_entropy[_sel].mean():.2f} nats, spread evenly it would be "
              f"{torch.log(L_test.cpu()[_sel].float()).mean():.2f} (e^H ≈ {torch.exp(_entropy[_sel]).mean():.1f} "
              f"characters in focus)")

# %% [markdown]
# e^H is the number of characters the model attends to "as if evenly". In every bucket it is far smaller
# than the source (printed above): each output step reads a few characters, wherever they are, which is
# why the length of the source matters so little to the attention model.
#
# ## Going further
#
# * **Code.** The authors' Theano implementation was part of GroundHog
#   ([lisa-groundhog/GroundHog](https://github.com/lisa-groundhog/GroundHog)); Kyunghyun Cho's
#   [nyu-dl/dl4mt-tutorial](https://github.com/nyu-dl/dl4mt-tutorial) is a compact attention NMT in Theano.
#   In PyTorch, the official tutorial "NLP From Scratch: Translation with a Sequence to Sequence Network and
#   Attention" builds a similar model with Bahdanau attention.
# * **Follow-ups.** Minh-Thang Luong, Hieu Pham, Christopher D. Manning, *Effective Approaches to
#   Attention-based Neural Machine Translation* (2015, [arXiv:1508.04025](https://arxiv.org/abs/1508.04025)):
#   dot-product and "general" scores, local attention. Kelvin Xu et al., *Show, Attend and Tell: Neural
#   Image Caption Generation with Visual Attention* (2015, [arXiv:1502.03044](https://arxiv.org/abs/1502.03044)).
#   Yonghui Wu et al., *Google's Neural Machine Translation System* (2016,
#   [arXiv:1609.08144](https://arxiv.org/abs/1609.08144)). Ashish Vaswani et al., *Attention Is All You Need*
#   (2017, [arXiv:1706.03762](https://arxiv.org/abs/1706.03762)), lesson 10.
# * **Try it.** `-p STEPS 3000` (does the no-attention model catch up?), `-p HIDDEN 64` (a wider summary
#   vector), `-p HIDDEN 16` (narrower still).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:30s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["bidirectional_encoder_max_diff", "padding_invariance_max_diff",
                                                "attention_exact_match", "attention_gain_longest_points",
                                                "attention_gain_growth_with_length_points"])
