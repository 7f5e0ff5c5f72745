# ---
# jupyter:
#   course:
#     idea: LR range test, one-cycle learning-rate and momentum schedule, label smoothing;
#       time to accuracy on the model you would ship; mixed precision on a GPU; inference
#       cost and hardware
#     number: '04'
#     papers:
#     - arxiv: '1506.01186'
#       authors: Leslie N. Smith
#       title: Cyclical Learning Rates for Training Neural Networks
#       year: 2015
#     - arxiv: '1708.07120'
#       authors: Leslie N. Smith, Nicholay Topin
#       title: 'Super-Convergence: Very Fast Training of Neural Networks Using Large
#         Learning Rates'
#       year: 2017
#     - arxiv: '1803.09820'
#       authors: Leslie N. Smith
#       title: 'A disciplined approach to neural network hyper-parameters: Part 1 --
#         learning rate, batch size, momentum, and weight decay'
#       year: 2018
#     - authors: "Cody Coleman, Deepak Narayanan, Daniel Kang, Tian Zhao, Jian Zhang,\
#         \ Luigi Nardi, Peter Bailis, Kunle Olukotun, Chris R\xE9, Matei Zaharia"
#       note: NIPS 2017 Workshop on ML Systems; the benchmark's pages are at https://dawn.cs.stanford.edu/benchmark/
#       title: 'DAWNBench: An End-to-End Deep Learning Benchmark and Competition'
#       url: https://dawn.cs.stanford.edu/publications/dawnbench/dawnbench-end-end-deep-learning-benchmark-and-competition
#       year: 2017
#     - authors: Jeremy Howard (with Andrew Shaw and Yaroslav Bulatov)
#       note: fast.ai blog post
#       title: Now anyone can train Imagenet in 18 minutes
#       url: https://www.fast.ai/posts/2018-08-10-fastai-diu-imagenet.html
#       year: 2018
#     - arxiv: '1512.00567'
#       authors: Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens,
#         Zbigniew Wojna
#       title: Rethinking the Inception Architecture for Computer Vision
#       year: 2015
#     - arxiv: '1710.03740'
#       authors: Paulius Micikevicius, Sharan Narang, Jonah Alben, Gregory Diamos, Erich
#         Elsen, David Garcia, Boris Ginsburg, Michael Houston, Oleksii Kuchaiev, Ganesh
#         Venkatesh, Hao Wu
#       title: Mixed Precision Training
#       year: 2017
#     title: Fast & cheap training (DAWNBench, fast.ai)
#     track: foundations
#     year: 2017-18
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
# # 04 · 2017–18 · Fast & cheap training (DAWNBench, fast.ai)
#
# **Papers and posts**
#
# * Leslie N. Smith (2015). *Cyclical Learning Rates for Training Neural Networks.* WACV 2017.
#   [arXiv:1506.01186](https://arxiv.org/abs/1506.01186)
# * Leslie N. Smith, Nicholay Topin (2017). *Super-Convergence: Very Fast Training of Neural Networks Using
#   Large Learning Rates.* [arXiv:1708.07120](https://arxiv.org/abs/1708.07120)
# * Leslie N. Smith (2018). *A disciplined approach to neural network hyper-parameters: Part 1.*
#   [arXiv:1803.09820](https://arxiv.org/abs/1803.09820) (the "1cycle" policy, with cyclical momentum)
# * Cody Coleman, Deepak Narayanan, Daniel Kang, Tian Zhao, Jian Zhang, Luigi Nardi, Peter Bailis, Kunle
#   Olukotun, Chris Ré, Matei Zaharia (2017). *DAWNBench: An End-to-End Deep Learning Benchmark and
#   Competition.* NIPS 2017 ML Systems Workshop.
#   [paper page](https://dawn.cs.stanford.edu/publications/dawnbench/dawnbench-end-end-deep-learning-benchmark-and-competition),
#   [benchmark](https://dawn.cs.stanford.edu/benchmark/)
# * Jeremy Howard, with Andrew Shaw and Yaroslav Bulatov (2018). *Now anyone can train Imagenet in 18
#   minutes.* fast.ai blog. [fast.ai/posts/2018-08-10-fastai-diu-imagenet](https://www.fast.ai/posts/2018-08-10-fastai-diu-imagenet.html)
# * Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens, Zbigniew Wojna (2015).
#   *Rethinking the Inception Architecture for Computer Vision.* CVPR 2016.
#   [arXiv:1512.00567](https://arxiv.org/abs/1512.00567) (section 7: label smoothing)
# * Paulius Micikevicius, Sharan Narang, Jonah Alben, Gregory Diamos, Erich Elsen, David Garcia, Boris
#   Ginsburg, Michael Houston, Oleksii Kuchaiev, Ganesh Venkatesh, Hao Wu (2017). *Mixed Precision
#   Training.* ICLR 2018. [arXiv:1710.03740](https://arxiv.org/abs/1710.03740)
#
# ## The problem before this paper
#
# In 2017 a good image classifier took days to train. The reference entries that the DAWNBench team
# submitted first, with the standard open-source code of the time, needed more than ten days and about
# $1,100 of cloud time to train an ImageNet model to the benchmark's accuracy bar. Two things made
# training slow and expensive.
#
# **The learning rate was set by hand.** It is the most important hyperparameter, and the usual recipe
# was a guess, a grid search over a few values, and a step schedule: train at a fixed rate, then divide
# it by 10 when the validation error stops improving (AlexNet in lesson 01, ResNet in lesson 03). Every
# new model or data set meant new trial runs.
#
# **Speed was measured in the wrong unit.** Benchmarks reported throughput: images per second, or the
# time of one minibatch. But a change that makes every step faster can make the model worse, or make it
# need more steps. Few benchmarks measured what a user pays for: how long, and how many dollars, until
# the model is good enough.
#
# ## The key idea
#
# **DAWNBench** (Coleman et al., 2017) measured exactly that. The headline metric is **time to
# accuracy**: the wall-clock time (and the cloud cost) to train a model until it reaches a fixed
# accuracy on held-out data, 93 % top-5 on the ImageNet validation set, 94 % on CIFAR-10. It also
# measured the latency and cost of **inference** at that accuracy. Any trick was allowed (hardware,
# software, optimiser, schedule, precision), as long as the model really reached the bar.
#
# The tricks that won were cheap ones:
#
# * **The learning-rate range test** (Smith, 2015). One short run in which the learning rate grows at
#   every step, from tiny to far too large. The loss first falls faster and faster, then blows up. Where
#   it blows up tells you the largest useful learning rate, in a few hundred steps instead of a grid of
#   full runs.
# * **One cycle** (Smith & Topin, 2017; Smith, 2018). Warm the learning rate up to that large maximum,
#   then anneal it to far below where it started, in a single cycle over the whole run. Momentum moves
#   the other way: low while the learning rate is high, high while it is low. Smith found that some
#   networks then train an order of magnitude faster; he called it **super-convergence**.
# * **Label smoothing** (Szegedy et al., 2015). Train towards "90 % this class, the rest spread over
#   all classes" instead of "100 % this class". The network stops pushing its logits towards infinity.
# * **Mixed precision** (Micikevicius et al., 2017). Do the arithmetic in 16-bit floating point, which
#   the Tensor Cores of NVIDIA's Volta GPUs (2017) run many times faster than 32-bit, keep a 32-bit
#   master copy of the weights, and scale the loss so that small gradients do not round to zero.
#
# ## What changed after
#
# The first round of DAWNBench closed on 20 April 2018. The fastest ImageNet entry (Google, half a
# TPUv2 Pod) trained a ResNet-50 to 93 % top-5 in about 30 minutes, 477 times faster than the reference
# entry. A team from fast.ai, Jeremy Howard with students of his course, won both CIFAR-10 training
# categories (fastest and cheapest) and was fastest on ImageNet on a single machine (8 GPUs, about
# three hours); Smith's one-cycle schedule was one of their main tools. In August 2018 Jeremy Howard,
# the fast.ai alumnus Andrew Shaw and Yaroslav Bulatov of the Defense Innovation Unit trained ImageNet
# to 93 % top-5 in 18 minutes on 16 rented cloud machines (128 V100 GPUs), for about $40.
#
# The same Stanford group then helped start **MLPerf** (2018), which kept time to accuracy as its
# training metric; DAWNBench stopped taking entries in March 2020. One-cycle became `fit_one_cycle` in
# the fastai library and `torch.optim.lr_scheduler.OneCycleLR` in PyTorch. Label smoothing, warm-up and
# cosine annealing, and 16-bit training became part of the standard recipe for image classifiers
# (He et al., "Bag of Tricks", 2018), and mixed precision went into the frameworks (`torch.autocast`).
# Inference cost drove hardware too: Tesla designed its own chip for the neural networks in its cars
# (section 8).
#
# ## What we do here, and what scale changes
#
# We write the range test, the one-cycle schedule (learning rate and momentum) and label smoothing
# ourselves, and check the schedule and the loss against PyTorch's `OneCycleLR` and
# `F.cross_entropy(label_smoothing=...)`. Then we run a small DAWNBench: a three-layer convolutional
# network with BatchNorm learns to read handwritten digits placed anywhere on a noisy canvas. One-cycle
# races a sweep of constant learning rates, and we plot accuracy against wall-clock time, the
# benchmark's unit. We look at why the constant rates lose, and find a surprise that matters well
# beyond this notebook: most of their deficit is not in their weights but in BatchNorm's running
# averages, and a control run shows how much of one cycle's lead comes from how it ends. A widget
# shows how sensitive one cycle is to the range test's answer. Then mixed precision (its code path
# runs on a GPU; on a CPU we show why it is needed), and the cost of inference.
#
# Scale changes a lot. Our network has tens of thousands of parameters and one epoch takes a second or
# more on one CPU core (section 6 prints the seconds per epoch); DAWNBench's ResNet-50 has 25 million
# parameters and an epoch of ImageNet is 1.28 million images. Wall-clock time on a shared 2-core
# machine is noisy, so we also count epochs. The size of the speed-up (for residual networks on
# CIFAR-10 Smith and Topin report an order of magnitude fewer iterations than a standard step schedule)
# does not carry over to a network this small. What carries over is the method: find the largest
# useful learning rate cheaply, spend one cycle on it, and measure the model you would actually ship.

# %% [markdown]
# ## 中文导读
#
# 2017 年前后，训练一个好的图像分类器要好几天。斯坦福的 **DAWNBench**（Coleman 等，2017）改变了衡量标准：
# 不比每秒处理多少张图片，而比**达到目标准确率所需的时间**（time to accuracy，以及云端费用），例如 ImageNet
# 验证集 top-5 准确率 93 %；同时也衡量达到该准确率的模型的**推理**延迟和成本。获胜的办法大多很便宜：
#
# * **学习率范围测试**（LR range test，Smith 2015）：用一次短训练让学习率每步增大，从 loss 开始发散的位置
#   读出可用的最大学习率；
# * **单周期策略**（one-cycle，Smith & Topin 2017；Smith 2018）：学习率先升到这个最大值再降到远低于起点，
#   动量反向变化；Smith 称某些网络因此快一个数量级（super-convergence，超收敛）；
# * **标签平滑**（label smoothing，Szegedy 等 2015）：目标改为“真类 1−ε，其余 ε 平均分给所有类”；
# * **混合精度**（mixed precision，Micikevicius 等 2017）：用 16 位浮点计算，保留 32 位主权重，并放大 loss
#   以免小梯度下溢为 0。
#
# fast.ai 团队借助单周期等方法在 DAWNBench 的 CIFAR-10 训练项目中获胜，2018 年 8 月又在 16 台云服务器上
# 用 18 分钟把 ImageNet 训练到 top-5 93 %。本课从零写出范围测试、单周期学习率和动量调度、标签平滑，并与
# PyTorch 的 `OneCycleLR` 和 `F.cross_entropy(label_smoothing=...)` 逐步对比；然后在噪声画布上的手写数字上
# 做一个小型 DAWNBench：单周期对比几个恒定学习率，按墙钟时间画准确率。我们还发现，恒定学习率的劣势主要来自
# BatchNorm 的滑动平均统计量，而不是权重本身：重新估计统计量后，大的恒定学习率与单周期差不多快；一个只在最后
# 一个 epoch 把恒定学习率线性降到 0 的对照实验，也追回了大部分差距。最后讨论
# 混合精度（GPU 上的代码路径）和推理成本（乘加次数、单张图片延迟，以及 Tesla 自研车载推理芯片的原因）。
# 本课的实验数字都来自本课的运行结果；历史数字（如 93 %、18 分钟、30 分钟）来自所引的论文和博客。
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

import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): network initialisation and minibatch order (the data split is fixed)
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: a few steps of everything, every code path in seconds; milestones reported, not asserted
BATCH_SIZE = 128  # minibatch size of every run (32 .. 512)
RANGE_STEPS = 100  # steps of the learning-rate range test (20 .. 500)
EPOCHS_ONECYCLE = 5  # length of the one-cycle run in epochs (2 .. 20)
EPOCHS_CONSTANT = 10  # epochs of each constant-rate run (2 .. 40)
CONSTANT_LRS = "0.03 0.1 0.3"  # the constant rates swept: "0.03 0.1 0.3", "0.01 0.03 0.1 0.3 1" or "0.1 0.3 1"
TARGET_ACC = 0.88  # the time-to-accuracy bar on the held-out images, from 0.5 to 0.99
LABEL_SMOOTHING = 0.1  # label smoothing ε of every run, from 0 to 0.5 (0 switches it off)
WEIGHT_DECAY = 5e-4  # L2 weight decay of every run, from 0 to 0.01

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    BATCH_SIZE=params.Int(min=32, max=512),
    RANGE_STEPS=params.Int(min=20, max=500),
    EPOCHS_ONECYCLE=params.Int(min=2, max=20),
    EPOCHS_CONSTANT=params.Int(min=2, max=40),
    CONSTANT_LRS=params.Choice(["0.03 0.1 0.3", "0.01 0.03 0.1 0.3 1", "0.1 0.3 1"]),
    TARGET_ACC=params.Float(min=0.5, max=0.99),
    LABEL_SMOOTHING=params.Float(min=0.0, max=0.5),
    WEIGHT_DECAY=params.Float(min=0.0, max=0.01),
)
TARGET_ACC, LABEL_SMOOTHING, WEIGHT_DECAY = (P[k] for k in ("TARGET_ACC", "LABEL_SMOOTHING", "WEIGHT_DECAY"))
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("04")
plt.show()

# %% [markdown]
# ## 1. The data and the network
#
# We use the course's moving digits: the 1,797 real handwritten digits of scikit-learn, each enlarged
# to 16×16 and pasted at a random place on a 32×32 canvas of noise. The split into training and test
# digits is made by source image, so no handwriting in the test set was ever trained on. We place every
# training digit 3 times and every held-out digit 3 times, at different positions. The held-out images
# play the role of DAWNBench's validation set: the stopping rule "has it reached the target accuracy?"
# is checked on them after every epoch, and the lesson never trains on them.

# %%
canvas = data.digits_on_canvas(train_copies=3, test_copies=3)
x_train, y_train, x_test, y_test = (canvas[k] for k in ("x_train", "y_train", "x_test", "y_test"))
n_src_train, n_src_test = len(set(canvas["src_train"].tolist())), len(set(canvas["src_test"].tolist()))
assert not set(canvas["src_train"].tolist()) & set(canvas["src_test"].tolist()), "train and test share a digit"
print(f"training: {tuple(x_train.shape)} from {n_src_train:,} source digits; "
      f"held out: {tuple(x_test.shape)} from {n_src_test:,} source digits (none shared)")
PIXEL_MEAN, PIXEL_STD = x_train.mean().item(), x_train.std().item()
x_train, x_test = (x_train - PIXEL_MEAN) / PIXEL_STD, (x_test - PIXEL_MEAN) / PIXEL_STD  # standardised once
if SMOKE:
    x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
N_CLASSES = 10
STEPS_PER_EPOCH = len(x_train) // BATCH_SIZE
print(f"{STEPS_PER_EPOCH} steps of {BATCH_SIZE} images per epoch; one held-out image is "
      f"{100 / len(x_test):.3f} points of accuracy")

# %% [markdown]
# The network is small on purpose: three 3×3 convolutions, each followed by BatchNorm (lesson 03) and a
# ReLU, two 2×2 max-pools, then a global average pool and one linear layer. Global average pooling
# averages each of the last 64 feature maps over the whole image, so the answer depends little on where
# the digit is. The convolutions have no bias, because the BatchNorm after them has its own shift.

# %%
def small_cnn(widths=(16, 32, 64)):
    """Three conv-BatchNorm-ReLU blocks (the first two max-pooled), a global average pool, one linear layer."""
    c1, c2, c3 = widths
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),   # 32 -> 16
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),  # 16 -> 8
        nn.Conv2d(c2, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(),                   # 8 x 8
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                                                        # -> c3
        nn.Linear(c3, N_CLASSES),
    ).to(memory_format=torch.channels_last)  # each pixel's channels stored together: faster convolutions on a CPU


torch.manual_seed(SEED)
demo = small_cnn().to(device)
h = x_train[:2]
for layer in demo:
    h = layer(h)
    if isinstance(layer, (nn.MaxPool2d, nn.Flatten, nn.Linear)) or layer is demo[0]:
        print(f"after {layer.__class__.__name__:18s} {tuple(h.shape)}")
checks.check_shape(h, (2, N_CLASSES), "network output")
N_PARAMS = sum(p.numel() for p in demo.parameters())
print(f"{N_PARAMS:,} parameters")

# %% [markdown]
# ## 2. Label smoothing, from scratch
#
# Cross-entropy with a one-hot target asks for probability 1 on the true class. A softmax only gets
# there as the true logit moves infinitely far above the others, so a network trained long enough keeps
# growing its logits and becomes over-confident. Szegedy et al. (2015, section 7) replaced the target
# `q = one_hot(y)` with a mixture of it and the uniform distribution over the `K` classes:
#
# $$q'_k = (1-\varepsilon)\,[k = y] + \frac{\varepsilon}{K}.$$
#
# They used ε = 0.1 on ImageNet's 1,000 classes. The cross-entropy with this target splits into two
# terms: the usual loss on the true class, weighted `1 − ε`, and the average of `−log p_k` over all
# classes, weighted ε. The second term is smallest when all classes get the same probability, so it
# pulls the prediction back from certainty.

# %%
def smoothed_cross_entropy(logits, y, eps):
    """Mean cross-entropy against (1 − eps)·one_hot(y) + eps/K, for logits (N, K) and labels (N,)."""
    log_p = F.log_softmax(logits, dim=1)
    true_class = -log_p.gather(1, y[:, None]).squeeze(1)  # −log p_y, the usual loss
    all_classes = -log_p.mean(dim=1)                      # −(1/K) Σ_k log p_k
    return ((1 - eps) * true_class + eps * all_classes).mean()


gen = torch.Generator().manual_seed(SEED)
logits_probe = 3 * torch.randn(64, N_CLASSES, generator=gen)
labels_probe = torch.randint(0, N_CLASSES, (64,), generator=gen)
ls_diff = 0.0
for eps in (0.0, 0.1, 0.3):
    ours = smoothed_cross_entropy(logits_probe, labels_probe, eps)
    theirs = F.cross_entropy(logits_probe, labels_probe, label_smoothing=eps)
    ls_diff = max(ls_diff, (ours - theirs).abs().item())
    print(f"ε {eps}: ours {ours.item():.6f}, F.cross_entropy(label_smoothing) {theirs.item():.6f}")
checks.milestone("label_smoothing_matches_torch", ls_diff, 1e-5, "<=",
                 note="max |our smoothed loss − F.cross_entropy(label_smoothing=ε)| for ε 0, 0.1, 0.3; losses near 3, "
                      "so float32 rounding is ~1e-7 and a wrong formula is off by ~1e-2")

# %% [markdown]
# Our loss is PyTorch's to float32 rounding (the largest difference is recorded as a milestone). With
# ε = 0.1 and 10 classes the target is 0.91 on the true class and 0.01 on each other class. How
# confident does the loss let the network get? The loss is lowest when the softmax equals the target,
# so the best logit gap between the true class and the others is `log(0.91 / 0.01) ≈ 4.5`. Without
# smoothing there is no best gap: the loss keeps falling as the gap grows.

# %%
gaps = np.linspace(0, 12, 121)
gap_logits = torch.zeros(len(gaps), N_CLASSES)
gap_logits[:, 0] = torch.tensor(gaps, dtype=torch.float32)  # true class 0, all others at 0
gap_labels = torch.zeros(len(gaps), dtype=torch.long)
fig, ax = plt.subplots(figsize=(6.4, 3.6))
for eps, color in [(0.0, plot.COLORS[0]), (0.1, plot.COLORS[1]), (0.3, plot.COLORS[3])]:
    per_gap = [smoothed_cross_entropy(gap_logits[i:i + 1], gap_labels[i:i + 1], eps).item() for i in range(len(gaps))]
    ax.plot(gaps, per_gap, color=color, label=f"ε {eps:g}")
    if eps > 0:
        best = math.log((1 - eps + eps / N_CLASSES) / (eps / N_CLASSES))
        ax.axvline(best, color=color, ls=":", lw=1)
ax.set(title="Loss against the logit gap (true class vs the 9 others)", xlabel="logit gap",
       ylabel="cross-entropy (smoothed)")
ax.legend(title="label smoothing (dotted: best gap)")
plt.show()

# %% [markdown]
# ## 3. The training loop, with the mixed-precision path
#
# One loop serves every experiment. It takes a **schedule**, a function that maps the step number to a
# learning rate and a momentum, and sets both on the optimiser (SGD with momentum and weight decay, as
# in Smith's experiments) before every step. It times each epoch with the wall clock, the benchmark's
# unit, and stops the clock while it evaluates. After every epoch it measures the accuracy on the 1,617
# held-out images with the network in evaluation mode: the model you would ship.
#
# The loop also holds the **mixed-precision** code path of section 7. On a CUDA GPU, `torch.autocast`
# runs the convolutions in float16 and `GradScaler` scales the loss. On a CPU both are switched off
# (`enabled=False`), and the same lines run in float32; section 7 says why.

# %%
USE_AMP = device.type == "cuda"  # float16 autocast + loss scaling on a CUDA GPU only (section 7)
print("mixed precision:", "on (float16 autocast + GradScaler)" if USE_AMP else
      f"off on {device.type}: the same code runs in float32 (section 7)")


def sync():
    """Wait for the GPU to finish, so the wall clock measures the work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def accuracy(model, x=None, y=None, batch_size=1024):
    """Accuracy in evaluation mode (BatchNorm uses its running averages), by default on the held-out images."""
    x, y = (x_test, y_test) if x is None else (x, y)
    model.eval()
    correct = sum((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train(schedule, epochs, seed=SEED, eps=None, max_steps=None, watch=None):
    """SGD with momentum; `schedule(step, total_steps)` gives (lr, momentum) for every step.

    Returns the trained model and its history: per step the lr, momentum and training loss; per epoch
    the wall-clock seconds of training so far and the held-out accuracy. `watch(model)`, if given, is
    called after every epoch (outside the clock) and its results are kept too. `max_steps` ends a run
    early (the range test)."""
    eps = LABEL_SMOOTHING if eps is None else eps
    torch.manual_seed(seed)
    model = small_cnn().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.0, weight_decay=WEIGHT_DECAY)
    scaler = torch.amp.GradScaler("cuda", enabled=USE_AMP)
    gen = torch.Generator().manual_seed(seed)  # the minibatch order: the same for every run of one seed
    total = epochs * STEPS_PER_EPOCH
    hist = {"lr": [], "momentum": [], "loss": [], "seconds": [], "acc": [], "watch": []}
    clock, step = 0.0, 0
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen).to(device)
        sync()
        t0 = time.perf_counter()
        for b in range(STEPS_PER_EPOCH):
            lr, mom = schedule(step, total)
            for group in opt.param_groups:
                group["lr"], group["momentum"] = lr, mom
            idx = order[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=USE_AMP):
                logits = model(x_train[idx])
            loss = smoothed_cross_entropy(logits.float(), y_train[idx], eps)  # the loss itself in float32
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # loss × scale on a GPU; unchanged on a CPU
            scaler.step(opt)               # unscales the gradients, skips the step if any is inf or nan
            scaler.update()                # adapts the scale
            hist["lr"].append(lr)
            hist["momentum"].append(mom)
            hist["loss"].append(loss.item())
            step += 1
            if max_steps is not None and step >= max_steps:
                return model, hist
        sync()
        clock += time.perf_counter() - t0
        hist["seconds"].append(clock)
        hist["acc"].append(accuracy(model))
        if watch is not None:
            hist["watch"].append(watch(model))
    return model, hist


def first_epoch_at(accs, target=TARGET_ACC):
    """The first epoch (1-based) whose held-out accuracy reaches the target, or None."""
    return next((e + 1 for e, a in enumerate(accs) if a >= target), None)


# %% [markdown]
# ## 4. The learning-rate range test
#
# Smith's range test is one short training run in which the learning rate grows at every step. Smith
# raised it linearly over a few epochs and watched the accuracy. We follow the variant of fast.ai's
# learning-rate finder: we multiply the rate by the same factor each step, from 10⁻⁴ to 10 over
# `RANGE_STEPS` steps, so that every decade gets the same number of steps, and we watch the training
# loss. Momentum stays at 0.9. The loss of one minibatch is noisy, so we also keep a running average
# (with the bias correction of lesson 02).

# %%
LR_LOW, LR_HIGH = 1e-4, 10.0
N_RANGE = RANGE_STEPS if not SMOKE else 20


def range_schedule(step, total):
    """Exponential growth from LR_LOW to LR_HIGH over N_RANGE steps, momentum 0.9."""
    return LR_LOW * (LR_HIGH / LR_LOW) ** (step / (N_RANGE - 1)), 0.9


def smooth(values, beta=0.9):
    """Exponential moving average with bias correction: (1 − β) Σ β^(t−i) v_i / (1 − β^t)."""
    out, avg = [], 0.0
    for t, v in enumerate(values, start=1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** t))
    return np.array(out)


n_epochs_range = math.ceil(N_RANGE / STEPS_PER_EPOCH)
t0 = time.perf_counter()
_, range_hist = train(range_schedule, n_epochs_range, max_steps=N_RANGE)
range_lr, range_loss = np.array(range_hist["lr"]), np.array(range_hist["loss"])
range_smooth = smooth(range_loss)
k_min = int(np.argmin(range_smooth))
MAX_LR = float(range_lr[k_min] / 2)
print(f"range test: {len(range_lr)} steps ({time.perf_counter() - t0:.1f} s); smoothed loss lowest "
      f"({range_smooth[k_min]:.3f}) at lr {range_lr[k_min]:.3g}; one-cycle maximum = half of that = {MAX_LR:.3g}")

# %% [markdown]
# How to read the curve: at tiny learning rates nothing happens, the loss stays near `log 10 ≈ 2.3`.
# Then training starts and the loss falls faster and faster. Past some point each step overshoots; the
# loss stops falling, turns, and shoots up. Smith takes the maximum of the cycle where the curve stops
# improving. The lowest point of the smoothed loss is already at the edge (the average lags a few steps
# behind the real loss), so we back off by a factor of 2. That factor is a rule of thumb; fast.ai's
# learning-rate finder suggests backing off by about 10, and exercise 3 tries another rule.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogx(range_lr, range_loss, color="0.7", lw=1, label="minibatch loss")
ax.semilogx(range_lr, range_smooth, color=plot.COLORS[0], lw=2, label="running average")
ax.axvline(range_lr[k_min], color=plot.COLORS[3], ls=":", label=f"lowest average, lr {range_lr[k_min]:.2g}")
ax.axvline(MAX_LR, color=plot.COLORS[2], ls="--", label=f"chosen maximum, lr {MAX_LR:.2g}")
for k, lr in enumerate(float(v) for v in CONSTANT_LRS.split()):
    ax.axvline(lr, color="k", ls="-.", lw=0.8, alpha=0.5, label="constant rates of section 6" if k == 0 else None)
ax.set(title="Learning-rate range test", xlabel="learning rate (log scale)",
       ylabel="training loss", ylim=(0, max(3.5, float(np.nanmin(range_loss)) + 1)))
ax.legend(fontsize=9, loc="lower left")
plt.show()
record.metric("range_test_max_lr", MAX_LR)

# %% [markdown]
# ## 5. One cycle of learning rate and momentum
#
# The schedule has two phases. PyTorch's `OneCycleLR`, which follows the fastai variant of Smith's
# policy, defines them like this, for `T` steps numbered `0 … T−1`:
#
# * **Warm-up**, the first `pct_start` of the steps (30 % by default): the learning rate rises from
#   `max_lr / div_factor` (1/25 of the maximum) to `max_lr`, and momentum falls from 0.95 to 0.85.
# * **Annealing**, the rest: the learning rate falls from `max_lr` to
#   `max_lr / (div_factor · final_div_factor)`, ten thousand times below the start, and momentum climbs
#   back to 0.95.
#
# Each change follows half a cosine, `end + (start − end)·(1 + cos πt)/2` for `t` from 0 to 1 within
# the phase, so it starts and ends gently. Why move momentum against the learning rate? Roughly, SGD
# with momentum μ moves by `lr / (1 − μ)` per unit of a steady gradient. Lowering μ while the learning
# rate is high keeps that effective step from growing too fast; raising μ at the end, when the learning
# rate is small, keeps training moving (Smith, 2018).
#
# Smith's own cycle (2017–18) was linear, with a short last phase that anneals further
# (`OneCycleLR(three_phase=True, anneal_strategy="linear")`, exercise 2).

# %%
def cos_anneal(start, end, t):
    """Half a cosine from `start` (t = 0) to `end` (t = 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * t)) / 2


def one_cycle(step, total, max_lr, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
              base_momentum=0.85, max_momentum=0.95, anneal=cos_anneal):
    """(lr, momentum) at `step` (0-based) of a `total`-step one-cycle schedule, with PyTorch's conventions."""
    peak = pct_start * total - 1  # the step at which the learning rate peaks
    start_lr, min_lr = max_lr / div_factor, max_lr / (div_factor * final_div_factor)
    if step <= peak:
        t = step / peak
        return anneal(start_lr, max_lr, t), anneal(max_momentum, base_momentum, t)
    t = (step - peak) / (total - 1 - peak)
    return anneal(max_lr, min_lr, t), anneal(base_momentum, max_momentum, t)


def torch_one_cycle_values(total, **kwargs):
    """The lr and momentum that torch's OneCycleLR sets at each of `total` steps, read off a dummy optimiser."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, total_steps=total, **kwargs)
    values = []
    for _ in range(total):
        values.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
    return np.array(values)


def linear(start, end, t):
    return start + (end - start) * t


settings = [
    ("defaults (cosine)", {}, {}),
    ("pct_start 0.25, div 10, final_div 100, linear",
     {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "anneal": linear},
     {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "anneal_strategy": "linear"}),
]
TOTAL_ONECYCLE = EPOCHS_ONECYCLE * STEPS_PER_EPOCH
oc_diff, compared = 0.0, {}
for name, ours_kw, torch_kw in settings:
    ours = np.array([one_cycle(s, TOTAL_ONECYCLE, MAX_LR, **ours_kw) for s in range(TOTAL_ONECYCLE)])
    theirs = torch_one_cycle_values(TOTAL_ONECYCLE, max_lr=MAX_LR, **torch_kw)
    checks.check_shape(ours, theirs.shape, f"schedule array, {name}")
    d_lr, d_mom = np.abs(ours - theirs).max(axis=0)
    oc_diff = max(oc_diff, d_lr, d_mom)
    compared[name] = (ours, theirs)
    print(f"{name:48s} {TOTAL_ONECYCLE} steps: max |lr diff| {d_lr:.1e}, max |momentum diff| {d_mom:.1e}")
checks.milestone("onecycle_matches_torch", oc_diff, 1e-9, "<=",
                 note=f"max |ours − OneCycleLR| over lr and momentum at every one of {TOTAL_ONECYCLE} steps, two settings")

# %%
fig, (ax_lr, ax_m) = plt.subplots(1, 2, figsize=(11, 3.6))
for k, (name, (ours, theirs)) in enumerate(compared.items()):
    ax_lr.plot(ours[:, 0], color=plot.COLORS[2 * k], lw=2.5, alpha=0.6, label=f"ours, {name}")
    ax_lr.plot(theirs[:, 0], ":", color="k", lw=1.2, label="torch OneCycleLR" if k == 0 else None)
    ax_m.plot(ours[:, 1], color=plot.COLORS[2 * k], lw=2.5, alpha=0.6, label=f"ours, {name}")
    ax_m.plot(theirs[:, 1], ":", color="k", lw=1.2, label="torch OneCycleLR" if k == 0 else None)
ax_lr.set(title=f"One-cycle learning rate (max {MAX_LR:.2g})", xlabel="step", ylabel="learning rate")
ax_m.set(title="… and momentum, moving the other way", xlabel="step", ylabel="momentum")
fig.legend(*ax_lr.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
fig.tight_layout(rect=(0, 0.1, 1, 1))  # room for the shared legend below the panels
plt.show()

# %% [markdown]
# Our schedule and PyTorch's agree at every step, for the learning rate and the momentum, in both
# settings (the largest difference is recorded as a milestone; the two curves lie on top of each other).
#
# ## 6. A small DAWNBench: one cycle against constant learning rates
#
# Now the race. Every run uses the same network, the same initial weights and the same minibatches (one
# seed), SGD with weight decay `WEIGHT_DECAY` and label smoothing `LABEL_SMOOTHING`. Only the schedule
# differs:
#
# * **one cycle**, `EPOCHS_ONECYCLE` epochs, maximum from the range test;
# * **constant rates** from `CONSTANT_LRS`, momentum 0.9, `EPOCHS_CONSTANT` epochs each: the simplest
#   baseline, with a small sweep to give it its best rate;
# * **a control**, `EPOCHS_ONECYCLE` epochs: the constant rate whose weights did best within that budget
#   (judged with re-estimated statistics, see below), with its learning rate lowered linearly to 0 over
#   the last epoch. It tests what the end of the cycle alone is worth.
#
# After every epoch we measure the held-out accuracy in evaluation mode, as a benchmark would. For the
# constant rates we also measure a second number, which section 6.2 explains: the accuracy after
# re-estimating BatchNorm's statistics.

# %%
N_REFRESH = 1024  # training images used to re-estimate BatchNorm's statistics


@torch.no_grad()
def accuracy_after_bn_refresh(model, batch_size=256):
    """Held-out accuracy after re-estimating every BatchNorm mean and variance on training images.

    A copy of the model runs over the first N_REFRESH training images (different digits, each at a
    random position) in training mode, with the running averages reset and momentum None: a plain average
    over those batches instead of a moving one. The weights do not change."""
    fresh = copy.deepcopy(model)
    for m in fresh.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    fresh.train()
    for i in range(0, min(N_REFRESH, len(x_train)), batch_size):
        fresh(x_train[i:i + batch_size])
    return accuracy(fresh)


EPOCHS_OC = EPOCHS_ONECYCLE if not SMOKE else 2
EPOCHS_CONST = EPOCHS_CONSTANT if not SMOKE else 2
LRS_CONST = [float(v) for v in CONSTANT_LRS.split()]
TOTAL_OC = EPOCHS_OC * STEPS_PER_EPOCH
runs = {}
t0 = time.perf_counter()
oc_model, runs["one cycle"] = train(lambda s, T: one_cycle(s, T, MAX_LR), EPOCHS_OC)
for lr in LRS_CONST:
    _, runs[f"constant {lr:g}"] = train(lambda s, T, lr=lr: (lr, 0.9), EPOCHS_CONST, watch=accuracy_after_bn_refresh)

BUDGET = min(EPOCHS_OC, EPOCHS_CONST)
# The constant rate whose weights did best within the budget (statistics re-estimated): the control run keeps it
# for all but the last epoch, then lowers it linearly to 0. Same seed, so its first epochs are that run's.
LR_ANNEAL = max(LRS_CONST, key=lambda lr: max(runs[f"constant {lr:g}"]["watch"][:BUDGET]))
ANNEAL_NAME = f"constant {LR_ANNEAL:g}, last epoch annealed"


def constant_then_anneal(step, total, lr=LR_ANNEAL):
    """lr constant, momentum 0.9; over the last epoch's steps the rate falls linearly to 0."""
    start = total - STEPS_PER_EPOCH
    return (lr if step < start else linear(lr, 0.0, (step - start + 1) / STEPS_PER_EPOCH)), 0.9


_, runs[ANNEAL_NAME] = train(constant_then_anneal, EPOCHS_OC, watch=accuracy_after_bn_refresh)
print(f"all runs: {time.perf_counter() - t0:.1f} s wall clock\n")
print(f"{'run':26s} {'epochs':>6s} {'s/epoch':>8s} {'first epoch ≥ target':>21s} {'final acc':>10s} {'best acc':>9s}")
for name, h in runs.items():
    hit = first_epoch_at(h["acc"])
    hit_txt = f"{hit} ({h['seconds'][hit - 1]:.1f} s)" if hit else f"not in {len(h['acc'])}"
    print(f"{name:26s} {len(h['acc']):6d} {h['seconds'][-1] / len(h['acc']):8.2f} {hit_txt:>21s} "
          f"{h['acc'][-1]:10.3f} {max(h['acc']):9.3f}")

# %%
const_names = [f"constant {lr:g}" for lr in LRS_CONST]
styles = {"one cycle": dict(color=plot.COLORS[0], lw=2.8, marker="o")}
for k, name in enumerate(const_names):
    styles[name] = dict(color=plot.COLORS[[1, 3, 4, 5, 6][k]], lw=1.4, marker=".")
styles[ANNEAL_NAME] = dict(color=plot.COLORS[2], lw=2.2, ls="--", marker="s", ms=5)
fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
for name in ["one cycle"] + const_names + [ANNEAL_NAME]:
    h = runs[name]
    ax_e.plot(np.arange(1, len(h["acc"]) + 1), h["acc"], label=name, **styles[name])
    ax_t.plot(h["seconds"], h["acc"], label=name, **styles[name])
for ax in (ax_e, ax_t):
    ax.axhline(TARGET_ACC, color="k", ls="--", lw=1, label=f"target {TARGET_ACC:.0%}")
    ax.set_ylim(0, 1)
ax_e.set(title="Held-out accuracy (evaluation mode) after each epoch", xlabel="epoch", ylabel="held-out accuracy")
ax_t.set(title="The same runs against wall-clock training time", xlabel="training time (s, wall clock)")
fig.legend(*ax_e.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
fig.tight_layout(rect=(0, 0.14, 1, 1))  # room for the shared legend below the panels
plt.show()

# %% [markdown]
# ### 6.1 Time to accuracy
#
# Read the table and the figure together. The one-cycle run climbs slowly while its learning rate is
# high, then its accuracy jumps in the annealing phase and it ends above the target. The constant
# rates swing wildly from one epoch to the next. The right-hand panel is the benchmark's view. Every
# run does the same arithmetic per epoch, yet the seconds per epoch differ somewhat from run to run
# (the table prints them: one cycle's epochs were a little slower than the constant runs' in our
# measurements, and on a shared machine every run also follows the load). Time to accuracy is the
# number of epochs a run needs times the cost of an epoch. A schedule costs almost nothing; an epoch does not.
#
# ### 6.2 Why do the constant rates swing? BatchNorm's running averages
#
# In training mode BatchNorm normalises with the mean and variance of the current minibatch. In
# evaluation mode it uses running averages of those statistics, updated at every training step with
# weight 0.1 on the newest batch, so they describe roughly the last ten steps. At a large constant
# learning rate the weights keep moving fast, and those ten steps ago are a different network: the
# averages no longer fit the weights we evaluate. One-cycle ends with a learning rate ten thousand
# times below its start; the weights stand still for the last steps and the averages catch up.
#
# We can test this directly. After every epoch of the constant-rate runs we also measured the accuracy
# of the *same weights* with fresh BatchNorm statistics, averaged over 1,024 training images (dashed
# lines below).

# %%
fig, ax = plt.subplots(figsize=(10.5, 4.4))
h = runs["one cycle"]
ax.plot(np.arange(1, len(h["acc"]) + 1), h["acc"], label="one cycle", **styles["one cycle"])
for name in const_names:
    h = runs[name]
    e = np.arange(1, len(h["acc"]) + 1)
    ax.plot(e, h["acc"], label=f"{name}, running averages", **styles[name])
    ax.plot(e, h["watch"], ls="--", color=styles[name]["color"], lw=1.4, label=f"{name}, re-estimated")
ax.axhline(TARGET_ACC, color="k", ls=":", lw=1)
ax.set(title="Constant rates: the same weights with BatchNorm statistics re-estimated (dashed)", xlabel="epoch",
       ylabel="held-out accuracy", ylim=(0, 1))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

oc_final = runs["one cycle"]["acc"][-1]
oc_refreshed = accuracy_after_bn_refresh(oc_model)
bn_gaps = np.array([np.array(runs[n]["watch"]) - np.array(runs[n]["acc"]) for n in const_names])
print(f"constant rates: refreshing the BatchNorm statistics raises the accuracy by {bn_gaps.mean():.3f} on "
      f"average over all {bn_gaps.size} epoch ends (largest {bn_gaps.max():.3f})")
print(f"one cycle after {EPOCHS_OC} epochs: {oc_final:.3f} with its running averages, "
      f"{oc_refreshed:.3f} re-estimated (difference {oc_refreshed - oc_final:+.3f})")

# %% [markdown]
# ### 6.3 Who reached the target, and when
#
# The benchmark's rule is the first one below: the model as it is, in evaluation mode. The second
# gives the constant rates the benefit of re-estimated statistics, an extra forward pass over 1,024 of
# the 3,774 training images before every evaluation. The milestones compare one cycle with the
# constant rates at the same budget of `EPOCHS_ONECYCLE` epochs, under the benchmark's rule. The last
# line compares the control run with the same constant rate and with one cycle.

# %%
oc_hit = first_epoch_at(runs["one cycle"]["acc"])
hits = {n: first_epoch_at(runs[n]["acc"]) for n in const_names}
hits_refreshed = {n: first_epoch_at(runs[n]["watch"]) for n in const_names}


def best_hit(found):
    """The earliest epoch at which any constant rate reached the target, or None."""
    return min((e for e in found.values() if e is not None), default=None)


def describe(e, budget):
    return f"epoch {e}" if e is not None else f"not within {budget} epochs"


const_hit, const_hit_refreshed = best_hit(hits), best_hit(hits_refreshed)
print(f"first epoch at {TARGET_ACC:.0%}: one cycle {describe(oc_hit, EPOCHS_OC)}; best constant rate "
      f"{describe(const_hit, EPOCHS_CONST)} (evaluation mode), {describe(const_hit_refreshed, EPOCHS_CONST)} "
      f"(statistics re-estimated)")
best_const_at_budget = max(max(runs[n]["acc"][:BUDGET]) for n in const_names)
best_const_refreshed_at_budget = max(max(runs[n]["watch"][:BUDGET]) for n in const_names)
print(f"within {BUDGET} epochs: one cycle ends at {oc_final:.3f}; the best constant rate reached {best_const_at_budget:.3f} "
      f"(evaluation mode) and {best_const_refreshed_at_budget:.3f} (statistics re-estimated)")
ratio = (const_hit or EPOCHS_CONST + 1) / oc_hit if oc_hit else float("nan")
print(f"epochs to target, best constant rate / one cycle (evaluation mode): {ratio:.2f}"
      + ("" if const_hit else f" (a lower bound: no constant rate reached it within {EPOCHS_CONST} epochs)"))

checks.milestone("onecycle_final_acc", oc_final, TARGET_ACC, ">=",
                 note=f"one cycle, {EPOCHS_OC} epochs, held-out accuracy in evaluation mode at the end")
checks.milestone("onecycle_lead_at_budget", oc_final - best_const_at_budget, 0.0, ">",
                 note=f"one cycle's final accuracy minus the best accuracy any constant rate ({CONSTANT_LRS}) "
                      f"reached within the same {BUDGET} epochs, evaluation mode")
checks.milestone("constant_bn_refresh_gain", float(bn_gaps.mean()), 0.10, ">=",
                 note="constant rates: mean gain in held-out accuracy from re-estimating BatchNorm statistics, "
                      "over all epoch ends")
anneal_final = runs[ANNEAL_NAME]["acc"][-1]
anneal_base = runs[f"constant {LR_ANNEAL:g}"]
print(f"control, {ANNEAL_NAME}: {anneal_final:.3f} after {EPOCHS_OC} epochs "
      f"({runs[ANNEAL_NAME]['watch'][-1]:.3f} re-estimated); the same rate without the anneal: "
      f"{anneal_base['acc'][BUDGET - 1]:.3f} ({anneal_base['watch'][BUDGET - 1]:.3f} re-estimated) after {BUDGET}; "
      f"one cycle {oc_final:.3f}, so one cycle minus control {oc_final - anneal_final:+.3f}")
record.metric("onecycle_minus_anneal_control", oc_final - anneal_final)
record.metric("epochs_ratio_constant_over_onecycle", ratio)
record.metric("best_constant_acc_all_epochs", max(max(runs[n]["acc"]) for n in const_names))
record.metric("onecycle_lead_at_budget_refreshed", oc_final - best_const_refreshed_at_budget)
record.metric("onecycle_bn_refresh_gap", oc_refreshed - oc_final)

# %% [markdown]
# What the race shows, with the numbers printed above:
#
# * **Counted in epochs, one cycle wins.** It reaches the target within its budget, and at that budget
#   every constant rate is still below one cycle's final accuracy. (Counted in seconds, the control run
#   below can get there sooner on some seeds, because its epochs were a little cheaper.) Given twice the epochs,
#   a constant rate may touch the target on a lucky epoch, or never. How many epochs it needs varies a
#   lot from seed to seed (from barely more than one cycle to more than twice as many), so the
#   milestones compare the runs at equal budget and the ratio of epochs is only recorded.
# * **But the weights of the larger constant rates were good early.** With re-estimated statistics
#   they reach the target as early as one cycle does, or earlier, and within the same budget they come
#   within a few points of its final accuracy (printed above).
# * **The control run isolates the ending.** It is the best constant rate, the same weights epoch for
#   epoch, except that over the last epoch its learning rate falls linearly to 0. That single change
#   lifts its final evaluation-mode accuracy far above the same rate without it, most of the way to one
#   cycle's (the three numbers are printed above; over five seeds the control ended between level with
#   one cycle and about 4.5 points below it). So on this small network most of one cycle's lead at equal budget comes from
#   how it ends: at a learning rate so small that the weights settle and BatchNorm's running averages
#   catch up. The model at the end of the run is the model you measured, with no extra pass over the
#   data. The warm-up, the large peak and the cyclical momentum add less here than the ending does.
# * **Large rates train fast.** The range test's maximum is well above the rates people used to pick
#   by hand, and among the constant rates the larger ones get there sooner once their statistics are
#   refreshed. This is the part of super-convergence we can see at our scale. Smith and Topin report
#   an order of magnitude fewer iterations than a standard step schedule for residual networks on
#   CIFAR-10; we see no gap of that kind on a three-layer network that a good constant rate already
#   trains in a few epochs.
#
# Things to try: `-p LABEL_SMOOTHING 0` to see what the smoothing adds here (Szegedy et al. measured
# an improvement of about 0.2 points of error on ImageNet, so expect a small effect, easily hidden by
# the difference between two seeds); `-p WEIGHT_DECAY 0` (without weight decay the weights of a BatchNorm
# network grow during training, which shrinks the effective step of a constant rate by itself, so the
# constant rates should calm down); and a wider sweep of constant rates.
#
# ## 7. Mixed precision: why the loss is scaled
#
# A float32 number has 8 exponent bits and 23 mantissa bits. float16 has 5 and 10: it is half the
# memory and, on GPUs with Tensor Cores (NVIDIA's V100 of 2017 and later), matrix products in float16
# run many times faster. But its range is small. Micikevicius et al. (2017) made training in float16
# match float32 with three rules:
#
# 1. Keep a **float32 master copy** of the weights. The update `lr · gradient` is often thousands of
#    times smaller than the weight; added in float16 it would round away.
# 2. **Scale the loss** by a factor `S` before the backward pass, so that small gradients stay above
#    float16's smallest number, and divide the gradients by `S` before the update.
# 3. Multiply in float16 but **accumulate sums in float32**; run reductions such as softmax and
#    BatchNorm statistics in float32.
#
# PyTorch packages these rules as `torch.autocast` (which picks float16 or float32 for each operation)
# and `torch.amp.GradScaler`, which chooses `S` dynamically. It starts at 2¹⁶; when a gradient overflows
# to `inf`, it skips that step and halves `S`; after 2,000 steps without overflow it doubles `S`. The
# training loop of section 3 uses both on a CUDA GPU.
#
# **On a CPU we switch them off.** The float16-with-loss-scaling recipe of the paper is made for GPU
# Tensor Cores. PyTorch's CPU autocast uses bfloat16 by default (float32's 8 exponent bits, only 7
# mantissa bits, so it needs no loss scaling), and whether it is faster depends on the chip: recent
# server CPUs have bfloat16 matrix units, many laptops do not. Keeping the CPU runs in float32 also
# keeps this lesson's numbers comparable from one CPU to another.
#
# What we can do on any machine is look at float16's range, and at the gradients our trained network
# actually produces: the gradients of the loss with respect to the activations after each ReLU (these
# flow through the backward pass in float16 under autocast) and with respect to the weights.

# %%
f16 = torch.finfo(torch.float16)
F16_SUBNORMAL = 2.0 ** -24  # the smallest positive float16 (a subnormal number)
print(f"float16: largest {f16.max:,.0f}, smallest normal {f16.tiny:.2e}, smallest subnormal {F16_SUBNORMAL:.2e}, "
      f"relative step {f16.eps:.1e}")
print(f"float32: largest {torch.finfo(torch.float32).max:.2e}, smallest normal {torch.finfo(torch.float32).tiny:.2e}")
print(f"1 + 1e-4 in float16: {torch.tensor(1.0, dtype=torch.float16) + torch.tensor(1e-4, dtype=torch.float16)} "
      "(a small update to a weight of 1 is lost: rule 1)")

probe = copy.deepcopy(oc_model).train()
act_grads = []
h = x_train[:BATCH_SIZE]
for layer in probe:
    h = layer(h)
    if isinstance(layer, nn.ReLU):
        h.retain_grad()  # keep the gradient of this intermediate activation
        act_grads.append(h)
smoothed_cross_entropy(h, y_train[:BATCH_SIZE], LABEL_SMOOTHING).backward()
grads = {"activations": torch.cat([a.grad.flatten() for a in act_grads]),
         "weights": torch.cat([p.grad.flatten() for p in probe.parameters()])}


def in_float16(g, scale=1.0):
    """Fractions of the nonzero gradient values that, times `scale`, become 0, subnormal or inf in float16."""
    g = g[g != 0].double() * scale
    as16 = g.to(torch.float16)
    zero = (as16 == 0).double().mean().item()
    subnormal = ((as16 != 0) & (as16.abs() < f16.tiny)).double().mean().item()
    return zero, subnormal, torch.isinf(as16).double().mean().item()


for kind, g in grads.items():
    for scale in (1.0, 2.0 ** 16):
        zero, subnormal, over = in_float16(g, scale)
        print(f"{kind:11s} gradients ({g.numel():,} values), loss scale {scale:>6,.0f}: {zero:6.2%} round to zero, "
              f"{subnormal:6.2%} subnormal, {over:.2%} overflow")
record.metric("activation_grads_zero_or_subnormal_fp16", sum(in_float16(grads["activations"])[:2]))

# %%
SCALE = 2.0 ** 16
fig, ax = plt.subplots(figsize=(9, 4))
bins = np.arange(-40, 20, 0.5)
for (kind, g), color in zip(grads.items(), [plot.COLORS[0], plot.COLORS[1]]):
    g = g[g != 0].abs().double()
    ax.hist(torch.log2(g).cpu().numpy(), bins=bins, density=True, alpha=0.55, color=color, label=f"{kind}, unscaled")
    ax.hist(torch.log2(g * SCALE).cpu().numpy(), bins=bins, density=True, histtype="step", lw=1.6, color=color,
            label=f"{kind}, × 2¹⁶")
ax.axvspan(-40, -24, color="0.6", alpha=0.35, zorder=0, label="rounds to 0 in float16")
ax.axvspan(-24, math.log2(f16.tiny), color="#E69F00", alpha=0.15, zorder=0, label="subnormal: few bits of precision")
ax.axvspan(math.log2(f16.max), 20, color="#D55E00", alpha=0.25, zorder=0, label="overflows to inf")
ax.set(title="Gradient magnitudes of our trained network vs float16's range", xlabel="log2 |gradient|",
       ylabel="density (each histogram sums to 1)", xlim=(-40, 20))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown]
# The printout and the histogram show where our gradients sit relative to float16's range. Below
# 2⁻¹⁴ float16 has only **subnormal** numbers, with fewer and fewer bits of precision, and below 2⁻²⁴
# nothing at all. Most of the activation gradients of our network land in that band, and a few below
# it (the fractions are printed above): they are tiny because the loss averages over the images of a
# batch and each activation moves the loss only a little. Scaling by 2¹⁶ shifts the whole histogram 16
# binary orders of magnitude to the right, into float16's normal range, and (for a network this small)
# nothing comes near the overflow limit of 65,504. The paper's Figure 3 shows the same picture for a
# large detection network, where without scaling most activation gradients would have become zero. On
# a GPU, the training loop's `GradScaler` keeps the histogram inside the window automatically.
#
# ## 8. Inference cost, and the hardware it runs on
#
# DAWNBench did not stop at training. It also ranked the **latency** of classifying one image and the
# **cost** of classifying 10,000 images, with a model that reaches the accuracy bar. Training is paid
# once; inference is paid for every image, every user, every car. So we count what one prediction of
# our network costs. The unit is the **multiply-add**: one `a·b + c`. A convolution with `C_in` input
# channels and a `k×k` kernel does `C_in·k·k` of them for every output value; a linear layer does
# `in·out`. We count them with forward hooks, and check the count against PyTorch's own FLOP counter
# (which counts a multiply-add as 2 floating-point operations). BatchNorm, ReLU and pooling add a few
# operations per value; we leave them out, as is usual.

# %%
def count_multiply_adds(model, x):
    """Multiply-adds of the conv and linear layers for ONE image of shape x[0], per layer."""
    per_layer = []

    def conv_hook(m, inputs, out):
        per_layer.append((f"conv {m.in_channels}->{m.out_channels}",
                          out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]))

    def linear_hook(m, inputs, out):
        per_layer.append((f"linear {m.in_features}->{m.out_features}", m.in_features * m.out_features))

    handles = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    model.eval()
    with torch.no_grad():
        model(x[:1])
    for handle in handles:
        handle.remove()
    return per_layer


per_layer = count_multiply_adds(oc_model, x_test)
MACS = sum(n for _, n in per_layer)
for name, n in per_layer:
    print(f"{name:18s} {n:>10,d} multiply-adds ({n / MACS:.0%})")
with FlopCounterMode(display=False) as counter:
    with torch.no_grad():
        oc_model(x_test[:1])
torch_flops = counter.get_total_flops()
print(f"total {MACS:,} multiply-adds per image; torch's FlopCounterMode: {torch_flops:,} FLOPs = "
      f"{torch_flops / 2:,.0f} multiply-adds")
checks.check_close(MACS, torch_flops / 2, "our multiply-add count vs FlopCounterMode / 2", rtol=0, atol=0.5)
RESNET50_MACS = 3.8e9  # He et al. (2015), Table 1: 3.8 × 10⁹ multiply-adds for a 224×224 image
print(f"ResNet-50 needs about {RESNET50_MACS / MACS:,.0f} times as many per image")

# %% [markdown]
# Counting operations is not the same as measuring time: memory traffic, the size of the batch and the
# hardware decide how fast those multiply-adds run. So we also time it: one image at a time (the
# latency a user waits for, DAWNBench's latency metric), and in batches of 512 (the throughput a server
# gets), on this lesson's device with its thread setting.

# %%
@torch.no_grad()
def seconds_per_call(model, x, repeats):
    """Median wall-clock seconds of model(x) over `repeats` calls, after two warm-up calls."""
    model.eval()
    for _ in range(2):
        model(x)
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        model(x)
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


latency_1 = seconds_per_call(oc_model, x_test[:1], repeats=200 if not SMOKE else 10)
batch = x_test[:512]
per_image_batched = seconds_per_call(oc_model, batch, repeats=10 if not SMOKE else 2) / len(batch)
print(f"one image at a time: {latency_1 * 1e3:.2f} ms per image (latency)")
print(f"batches of {len(batch)}: {per_image_batched * 1e6:.0f} µs per image, "
      f"{1 / per_image_batched:,.0f} images per second ({latency_1 / per_image_batched:.2f}× the rate of one at a time)")
print(f"that is {MACS / per_image_batched / 1e9:.2f} billion multiply-adds per second when batched")
record.metric("inference_multiply_adds", MACS)
record.metric("inference_latency_ms", round(latency_1 * 1e3, 3), unit="ms")

# %% [markdown]
# On one CPU core, batching buys little: at most a few times the rate, and nothing at all when other
# programs share the machine (the ratio is printed above). The core is busy either way, and a network
# this small already runs at a fraction of a millisecond per image. A GPU is different:
# it needs thousands of independent operations at once to keep busy, so one small image at a time
# leaves most of it idle, and batches raise its throughput many times over. That is the trade-off of
# every deployed model. A server can wait a few milliseconds to fill a batch; a car cannot wait, and it
# must run its networks on every camera frame, on a computer inside the car, within a power budget.
#
# That is why Tesla built its own chip. From October 2016 Tesla fitted its cars with Autopilot
# "Hardware 2", whose computer was based on NVIDIA's DRIVE PX 2 platform. At its Autonomy Day on
# 22 April 2019 Tesla presented its own "Full Self-Driving computer" (called Hardware 3): a board with
# two chips of Tesla's design, each with neural-network accelerators, made to run the company's
# networks at high frame rates within the car's power and cost limits; Tesla said it handles about 21
# times as many frames per second as the computer it replaced. Inference cost, multiplied by every
# car on the road, was worth a custom chip. The same reasoning produced Google's TPU (first used in its
# data centres in 2015) and the neural engines in phones.

# %% [markdown]
# ## 9. Explore: how much does one cycle trust the range test?
#
# Section 4 read one number off a noisy curve, with a rule of thumb (half the lowest point). How much
# does one cycle depend on that number? We ran the same 5-epoch cycle three more times, with its maximum
# at ¼, ½ and 2 times the range test's choice (all precomputed below; 1× is the run of section 6). The
# dropdown picks the multiple. The left panel shows its learning-rate schedule, the middle one its
# training loss (a running average of the minibatch losses), the right one its held-out accuracy after
# each epoch; the other multiples are drawn in grey. Things to look for: which multiples still reach the
# target, and in which epochs do they differ most, early (while the rate is high) or at the end? Which
# matters more here, doubling the maximum or halving it, and does the answer change with `SEED`?

# %%
LR_MULTIPLES = [0.25, 0.5, 1.0, 2.0]
sweep = {1.0: runs["one cycle"]}
t0 = time.perf_counter()
for mult in LR_MULTIPLES:
    if mult not in sweep:
        _, sweep[mult] = train(lambda s, T, m=mult: one_cycle(s, T, m * MAX_LR), EPOCHS_OC)
print(f"{len(LR_MULTIPLES) - 1} extra one-cycle runs of {EPOCHS_OC} epochs: {time.perf_counter() - t0:.1f} s wall clock")
for mult in LR_MULTIPLES:
    record.metric(f"onecycle_final_acc_x{mult:g}", sweep[mult]["acc"][-1])


# %%
def draw_multiple(mult):
    """Schedule, training loss and held-out accuracy of the one-cycle run with maximum mult × MAX_LR."""
    h = sweep[mult]
    fig, (ax_s, ax_l, ax_a) = plt.subplots(1, 3, figsize=(14, 3.9))
    epochs = np.arange(1, len(h["acc"]) + 1)
    for other in LR_MULTIPLES:
        if other != mult:
            g = sweep[other]
            ax_s.plot(g["lr"], color="0.75", lw=1)
            ax_l.plot(smooth(g["loss"], 0.95), color="0.75", lw=1)
            ax_a.plot(epochs, g["acc"], ".-", color="0.75", lw=1)
            ax_a.annotate(f"{other:g}×", (epochs[-1], g["acc"][-1]), xytext=(5, 0), textcoords="offset points",
                          fontsize=8, color="0.45", va="center")
    label = f"max lr {mult:g} × {MAX_LR:.2g}"
    ax_s.plot(h["lr"], color=plot.COLORS[0], lw=2, label=label)
    ax_s.plot([], [], color="0.75", label="the other multiples")
    ax_s.set(title=f"Schedule, max {mult:g} × the range test's", xlabel="step", ylabel="learning rate")
    ax_s.legend(fontsize=8, loc="upper right")
    ax_l.plot(smooth(h["loss"], 0.95), color=plot.COLORS[0], lw=2, label=label)
    ax_l.set(title="Training loss (running average)", xlabel="step", ylabel="smoothed training loss", ylim=(0, 2.5))
    ax_l.legend(fontsize=8, loc="upper right")
    ax_a.plot(epochs, h["acc"], "o-", color=plot.COLORS[0], lw=2, label=f"{label}: final {h['acc'][-1]:.3f}")
    ax_a.axhline(TARGET_ACC, color="k", ls=":", lw=1, label=f"target {TARGET_ACC:.0%}")
    ax_a.set(title="Held-out accuracy (evaluation mode)", xlabel="epoch", ylabel="held-out accuracy", ylim=(0, 1))
    ax_a.set_xticks(epochs)
    ax_a.set_xlim(0.7, len(epochs) + 0.6)  # room for the grey curves' labels
    ax_a.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


multiple_picker = widgets.explore(draw_multiple, LR_MULTIPLES, 1.0, "max lr, × range test", kind="dropdown")

# %% [markdown]
# ## 10. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy)
# and a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: label-smoothed targets
#
# Section 2 wrote label smoothing as a mixture of two losses. Write it the other way, as a target
# distribution: `smooth_labels(y, num_classes, eps)` returns a tensor of shape `(N, num_classes)` whose
# row `i` is `(1 − ε)` on class `y[i]` plus `ε / K` everywhere. The check compares the cross-entropy
# against your targets, `−Σ_k q_k log p_k`, with `F.cross_entropy(..., label_smoothing=ε)`.

# %% tags=["exercise"]
def smooth_labels(y, num_classes, eps):
    """Label-smoothed targets (N, num_classes): (1 − eps) on the true class plus eps / num_classes everywhere."""
    # TODO: build the (N, num_classes) target tensor; F.one_hot(y, num_classes) gives the unsmoothed one
    return None

# %% tags=["solution"]
def smooth_labels(y, num_classes, eps):
    """Label-smoothed targets (N, num_classes): (1 − eps) on the true class plus eps / num_classes everywhere."""
    return (1 - eps) * F.one_hot(y, num_classes).float() + eps / num_classes

# %% tags=["check"]
_q = smooth_labels(labels_probe, N_CLASSES, 0.1)
checks.check_shape(_q, (len(labels_probe), N_CLASSES), "smooth_labels(...)",
                   hint="One row per label, one column per class: start from F.one_hot(y, num_classes).")
checks.check_close(_q.sum(dim=1), torch.ones(len(labels_probe)), "each row of smooth_labels sums to 1",
                   hint="Each row is a probability distribution: the true class keeps 1 − eps of the mass, and the "
                        "remaining eps is shared equally by all K classes, the true one included.")
_ce_q = -(_q * F.log_softmax(logits_probe, dim=1)).sum(dim=1).mean()
checks.check_close(_ce_q, F.cross_entropy(logits_probe, labels_probe, label_smoothing=0.1),
                   "cross-entropy against your targets vs F.cross_entropy(label_smoothing=0.1)", atol=1e-5,
                   hint="Print one row for eps 0.1 and K 10: which value should the true class get, and which the others?")

# %% [markdown]
# ### Exercise 2: Smith's original cycle, with three phases
#
# Smith's original cycle was linear: up from `max_lr / div_factor` to `max_lr`, back down to
# `max_lr / div_factor` in the same number of steps, then a short last phase down to
# `max_lr / (div_factor · final_div_factor)`. Momentum goes down, up, then stays at its maximum.
# PyTorch implements it as `OneCycleLR(three_phase=True, anneal_strategy="linear")`, with these phase
# ends (the step at which each phase finishes, steps numbered from 0):
#
# * phase 1 ends at `pct_start · T − 1`, phase 2 at `2 · pct_start · T − 2`, phase 3 at `T − 1`;
# * within a phase, `t = (step − previous end) / (this end − previous end)`, with previous end 0 for
#   phase 1; the first phase that has not ended yet (`step ≤ its end`) is the one in use.
#
# Write `three_phase_cycle`; the check compares it with PyTorch at every step.

# %% tags=["exercise"]
def three_phase_cycle(step, total, max_lr, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                      base_momentum=0.85, max_momentum=0.95):
    """(lr, momentum) at `step` of Smith's linear three-phase cycle, with PyTorch's conventions."""
    # TODO: find the phase, compute t, and interpolate lr and momentum linearly (see linear(start, end, t))
    return None

# %% tags=["solution"]
def three_phase_cycle(step, total, max_lr, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                      base_momentum=0.85, max_momentum=0.95):
    """(lr, momentum) at `step` of Smith's linear three-phase cycle, with PyTorch's conventions."""
    start_lr, min_lr = max_lr / div_factor, max_lr / (div_factor * final_div_factor)
    phases = [  # (end step, lr from, lr to, momentum from, momentum to)
        (pct_start * total - 1, start_lr, max_lr, max_momentum, base_momentum),
        (2 * pct_start * total - 2, max_lr, start_lr, base_momentum, max_momentum),
        (total - 1, start_lr, min_lr, max_momentum, max_momentum),
    ]
    previous = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            t = (step - previous) / (end - previous)
            return linear(lr0, lr1, t), linear(m0, m1, t)
        previous = end

# %% tags=["check"]
_T = 100
_probe = three_phase_cycle(0, _T, 1.0)
checks.check(_probe is not None, "three_phase_cycle returned None: the TODO is not done yet.",
             ok_message="three_phase_cycle returns a value.", hint="Return a pair (lr, momentum).")
_yours = np.array([three_phase_cycle(s, _T, 1.0) for s in range(_T)], dtype=float)
_torch3 = torch_one_cycle_values(_T, max_lr=1.0, three_phase=True, anneal_strategy="linear")
checks.check_close(_yours[:, 0], _torch3[:, 0], "learning rate vs OneCycleLR(three_phase=True, linear)", atol=1e-9,
                   hint="Phase 1 goes from max_lr/div_factor up to max_lr, phase 2 back down, phase 3 to the minimum.")
checks.check_close(_yours[:, 1], _torch3[:, 1], "momentum vs OneCycleLR(three_phase=True, linear)", atol=1e-9,
                   hint="Momentum goes max -> base in phase 1, base -> max in phase 2, and stays at max in phase 3.")

# %% [markdown]
# ### Exercise 3: another way to read the range test
#
# Section 4 took half the learning rate of the lowest smoothed loss. A popular alternative is the point
# where the smoothed loss falls **fastest** per decade of learning rate: the most negative slope of the
# loss against `log10(lr)`, looking only at steps up to the minimum (after it the curve blows up).
# Write `steepest_lr(lrs, smoothed_losses)`. Use `np.gradient(losses, np.log10(lrs))` for the slope.

# %% tags=["exercise"]
def steepest_lr(lrs, smoothed_losses):
    """The learning rate where the smoothed loss falls fastest per decade, among steps up to its minimum."""
    # TODO: keep the steps up to the minimum, compute the slope against log10(lr), return the lr of the most negative slope
    return None

# %% tags=["solution"]
def steepest_lr(lrs, smoothed_losses):
    """The learning rate where the smoothed loss falls fastest per decade, among steps up to its minimum."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(smoothed_losses, dtype=float)
    end = int(np.argmin(losses)) + 1
    if end < 3:  # too few points before the minimum to take a slope
        return float(lrs[0])
    slope = np.gradient(losses[:end], np.log10(lrs[:end]))
    return float(lrs[int(np.argmin(slope))])

# %% tags=["check"]
_lrs = np.logspace(-4, 1, 101)
_curve = 2.3 - 1.5 / (1 + np.exp(-4 * (np.log10(_lrs) + 1))) + 5 * np.maximum(0, np.log10(_lrs) - 0.3) ** 2
_answer = steepest_lr(_lrs, _curve)
checks.check(_answer is not None, "steepest_lr returned None: the TODO is not done yet.",
             ok_message="steepest_lr returns a value.", hint="Return a learning rate, a float.")
checks.check_close(math.log10(_answer), -1.0, "log10 of steepest_lr on a test curve that falls fastest at lr 0.1",
                   atol=0.06, hint="The slope is np.gradient(loss, log10(lr)); return the lr of its most negative value.")
# A second curve blows up after its minimum and then drops sharply again (as a diverging run can): the drop
# is steeper than the real descent at lr 0.1, so only a rule that stops at the minimum finds 0.1.
_x = np.log10(_lrs)
_curve2 = _curve + 15 * np.maximum(0, _x - 0.3) ** 2 - 4 / (1 + np.exp(-40 * (_x - 0.7)))
checks.check_close(math.log10(steepest_lr(_lrs, _curve2)), -1.0,
                   "log10 of steepest_lr on a curve with a steep drop after its minimum", atol=0.06,
                   hint="Look only at the steps up to the minimum of the smoothed loss (np.argmin), not at the whole curve.")
_steep = steepest_lr(range_lr, range_smooth)
print(f"on this lesson's range test: steepest descent at lr {_steep:.3g}; section 4 chose {MAX_LR:.3g} "
      f"(ratio {max(_steep, MAX_LR) / min(_steep, MAX_LR):.1f})")

# %% [markdown]
# The two rules do not give the same learning rate; their ratio is printed above, and it changes from
# seed to seed. Section 9 shows how much a factor of 2 in the maximum matters to one cycle. Try your
# rule's value as the maximum of the cycle (in a copy of the lesson, set `MAX_LR` after
# section 4) and compare the race.
#
# ## Going further
#
# * **The original code.** Smith's files for the super-convergence paper, for Caffe:
#   [github.com/lnsmith54/super-convergence](https://github.com/lnsmith54/super-convergence). The fastai
#   library has the range test as `lr_find` and the schedule as `fit_one_cycle`; PyTorch's
#   [`OneCycleLR`](https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html)
#   is the version we checked against. The DAWNBench entries, with their code, are listed at
#   [dawn.cs.stanford.edu/benchmark](https://dawn.cs.stanford.edu/benchmark/).
# * **Analysis of DAWNBench.** Coleman et al., *Analysis of DAWNBench, a Time-to-Accuracy Machine
#   Learning Performance Benchmark* (2018, [arXiv:1806.01427](https://arxiv.org/abs/1806.01427)): how
#   much time to accuracy varies between runs, and what the winning entries had in common.
# * **The recipe, collected.** He et al., *Bag of Tricks for Image Classification with Convolutional
#   Neural Networks* (2018, [arXiv:1812.01187](https://arxiv.org/abs/1812.01187)): warm-up, cosine
#   annealing, label smoothing, float16 training and more, measured one at a time on ImageNet.
# * **Large batches.** Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour* (2017,
#   [arXiv:1706.02677](https://arxiv.org/abs/1706.02677)): the linear scaling rule and warm-up that
#   the fast multi-GPU entries relied on.
# * **When does label smoothing help?** Müller, Kornblith, Hinton (2019,
#   [arXiv:1906.02629](https://arxiv.org/abs/1906.02629)): it makes the classes' representations
#   tighter, and it hurts knowledge distillation.
# * **BatchNorm's statistics.** Wu & Johnson, *Rethinking "Batch" in BatchNorm* (2021,
#   [arXiv:2105.07576](https://arxiv.org/abs/2105.07576)): "precise BatchNorm", the re-estimation of
#   section 6.2, and other cases where the running averages mislead.
# * **Try it.** Run with `-p CONSTANT_LRS "0.01 0.03 0.1 0.3 1"` for a wider sweep, `-p LABEL_SMOOTHING 0`,
#   or `-p EPOCHS_ONECYCLE 3` to find the shortest cycle that still reaches the target. Next lesson:
#   **05, object detection**.
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["label_smoothing_matches_torch", "onecycle_matches_torch", "onecycle_final_acc",
                                                "onecycle_lead_at_budget", "constant_bn_refresh_gain"])
