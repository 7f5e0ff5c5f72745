# ---
# jupyter:
#   course:
#     idea: a lookup table of 81 small conv nets; random search vs a REINFORCE controller
#       over it; an AdaNet-style ensemble grown under a complexity penalty; an augmentation-policy
#       search on few labels; domain randomization tested on shapes over photographs
#     number: '07'
#     papers:
#     - arxiv: '1611.01578'
#       authors: Barret Zoph, Quoc V. Le
#       title: Neural Architecture Search with Reinforcement Learning
#       year: 2016
#     - arxiv: '1607.01097'
#       authors: Corinna Cortes, Xavier Gonzalvo, Vitaly Kuznetsov, Mehryar Mohri, Scott
#         Yang
#       title: 'AdaNet: Adaptive Structural Learning of Artificial Neural Networks'
#       year: 2016
#     - arxiv: '1805.09501'
#       authors: "Ekin D. Cubuk, Barret Zoph, Dandelion Man\xE9, Vijay Vasudevan, Quoc\
#         \ V. Le"
#       title: 'AutoAugment: Learning Augmentation Policies from Data'
#       year: 2018
#     - arxiv: '1804.06516'
#       authors: Jonathan Tremblay, Aayush Prakash, David Acuna, Mark Brophy, Varun
#         Jampani, Cem Anil, Thang To, Eric Cameracci, Shaad Boochoon, Stan Birchfield
#       title: 'Training Deep Networks with Synthetic Data: Bridging the Reality Gap
#         by Domain Randomization'
#       year: 2018
#     title: 'Automating DL: NAS, AutoAugment, synthetic data'
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
# # 07 · 2017–18 · Automating deep learning: NAS, AdaNet, AutoAugment, synthetic data
#
# **Papers**
#
# * Barret Zoph, Quoc V. Le (2016). *Neural Architecture Search with Reinforcement Learning.* ICLR 2017.
#   [arXiv:1611.01578](https://arxiv.org/abs/1611.01578)
# * Corinna Cortes, Xavier Gonzalvo, Vitaly Kuznetsov, Mehryar Mohri, Scott Yang (2016). *AdaNet: Adaptive
#   Structural Learning of Artificial Neural Networks.* ICML 2017.
#   [arXiv:1607.01097](https://arxiv.org/abs/1607.01097)
# * Ekin D. Cubuk, Barret Zoph, Dandelion Mané, Vijay Vasudevan, Quoc V. Le (2018). *AutoAugment: Learning
#   Augmentation Policies from Data.* CVPR 2019. [arXiv:1805.09501](https://arxiv.org/abs/1805.09501)
# * Jonathan Tremblay, Aayush Prakash, David Acuna, Mark Brophy, Varun Jampani, Cem Anil, Thang To, Eric
#   Cameracci, Shaad Boochoon, Stan Birchfield (2018). *Training Deep Networks with Synthetic Data: Bridging
#   the Reality Gap by Domain Randomization.* CVPR 2018 Workshops.
#   [arXiv:1804.06516](https://arxiv.org/abs/1804.06516)
#
# ## The problem before these papers
#
# By 2016 the recipe of lessons 01 to 05 worked, but people still chose every part of it by hand.
#
# * **The architecture.** How many layers, how wide, which kernel sizes, which activation: AlexNet, VGG,
#   Inception and ResNet each came out of many trials by experts. Hyperparameters such as the learning rate
#   were already searched automatically (grid search, random search, Bayesian optimisation), but the
#   network's shape was mostly designed, not searched.
# * **The data augmentation.** Crops and flips for ImageNet and CIFAR, small shifts for digits: chosen per
#   data set by people who knew its symmetries. As the AutoAugment paper points out, a horizontal flip
#   helps on CIFAR-10 but not on MNIST's digits.
# * **The labels.** A box, a pose or a mask for every training image costs human time. A simulator gives
#   perfect labels for free, but a network trained on rendered images often fails on real photographs: the
#   **reality gap**.
#
# ## The key ideas
#
# * **Neural architecture search (NAS), Zoph & Le.** A **controller** network writes an architecture as a
#   sequence of decisions (for each layer: filter height and width, stride, number of filters), each a
#   softmax choice. The **child network** it describes is trained, and its validation accuracy is the
#   controller's **reward**. REINFORCE, the basic policy gradient method, makes well-rewarded decisions
#   more likely; an exponential moving average of past rewards serves as a **baseline** that reduces the
#   variance of the update. The controller was a recurrent network, so each decision could depend on the
#   earlier ones.
#   It found a CIFAR-10 network with 3.65 % test error and a recurrent cell with a Penn Treebank perplexity
#   of 62.4, both at the state of the art. The price: 800 child networks were trained at the same time, on
#   800 GPUs.
# * **AdaNet, Cortes et al.** Grow the network instead of searching for it. AdaNet builds an **ensemble**
#   one subnetwork at a time. At each round it trains a few candidates (one as deep as the last
#   subnetwork, one a layer deeper) and keeps the one that lowers an objective made of the training loss
#   plus a **complexity penalty**: each subnetwork's mixture weight is charged in proportion to the
#   complexity of its family (a Rademacher-complexity bound that grows with depth). When no candidate
#   lowers the objective, it stops. The penalty comes from a generalisation bound the paper proves.
# * **AutoAugment, Cubuk et al.** Search the augmentation instead of the architecture. A **policy** is five
#   **sub-policies**; each sub-policy is two operations (shear, translate, rotate, invert, ... 16 in all),
#   each with a probability and a magnitude. Every training image gets one sub-policy drawn at random.
#   A controller (an RNN trained with PPO, a policy-gradient method) proposes policies, and each is scored
#   by training a small **proxy** model on a reduced data set. The best policies set records on CIFAR-10
#   (1.48 % error), SVHN and ImageNet (83.5 % top-1), and they transferred to other data sets.
# * **Domain randomization, Tremblay et al.** Do not try to make synthetic images realistic; make them
#   *varied*. Render the objects with random textures, lighting, camera poses, backgrounds and "flying
#   distractors" (random shapes in front of them), in ways no real scene would look. A network that has
#   seen every strange variation treats the real world as one more variation. They trained car detectors
#   on such images only and tested them on real KITTI photos; after fine-tuning on real images too,
#   the network did better than with the real images alone. (Tobin et al. had introduced domain
#   randomization for robotics in 2017.)
#
# ## What changed after
#
# Search got cheaper, and then the question became whether it was needed. NASNet (Zoph, Vasudevan, Shlens &
# Le, 2017) searched for one small cell on CIFAR-10 and stacked it into an ImageNet network; the DARTS paper
# counts that search as 2,000 GPU-days of reinforcement learning, and the evolutionary AmoebaNet (Real et
# al., 2018) as 3,150 GPU-days. ENAS (Pham et al., 2018) let all child networks share one set of weights,
# "1000x less expensive than standard NAS" in its abstract, and DARTS (Liu, Simonyan & Yang, 2018) made the
# choice continuous and searched by gradient descent. Then Li & Talwalkar (2019) showed that plain random
# search, given the same tricks, is a strong baseline for these methods, and NAS-Bench-101 (Ying et al.,
# 2019) trained every architecture of a space of about 423,000 once and for all, so that search strategies
# can be compared by table lookup. The search that lasted is for efficient networks
# (MnasNet, EfficientNet in 2019). For augmentation, RandAugment (Cubuk, Zoph, Shlens & Le, 2019) dropped the
# search and kept two numbers, how many operations and how strong. Domain randomization became standard in
# robotics and in synthetic-data tools; OpenAI trained a robot hand entirely in randomized simulation (2018).
#
# ## What we do here, and what scale changes
#
# Four small experiments, each idea written out and checked as it appears.
#
# 1. **NAS.** A search space of 81 small conv nets for the 8×8 digits (depth, width, kernel size,
#    activation). Following NAS-Bench-101, we train every one of them once (a fraction of a second each)
#    and store its validation accuracy. Then random search and a REINFORCE controller (one softmax per
#    decision, moving-average baseline) search the table 1,000 times each with the same budget of
#    evaluations. The controller's gradient is checked against autograd.
# 2. **AdaNet.** An ensemble of small fully connected subnetworks grown one at a time under a complexity
#    penalty; we print the objective of every candidate at every round.
# 3. **AutoAugment.** Eight operations written from scratch (the geometric ones as one bilinear warp,
#    checked against `F.affine_grid` and `F.grid_sample`), random policies of three sub-policies, scored by a
#    proxy trained on 50 labelled digits; then the searched policy, no augmentation and a random policy are
#    compared on about 1,300 held-out digits.
# 4. **Domain randomization.** The same small segmentation network trained on shapes scenes rendered in a
#    fixed style or with randomized colours, textures and lighting, then tested on shapes pasted over crops
#    of real photographs, which neither training set contains.
#
# The scale is tiny. Zoph & Le's controller trained thousands of CIFAR-10 networks on hundreds of GPUs;
# AutoAugment's search on CIFAR-10 took an estimated 5,000 GPU-hours (15,000 for ImageNet) on NVIDIA P100s, as
# counted by Lim et al. (Fast AutoAugment, 2019, [arXiv:1905.00397](https://arxiv.org/abs/1905.00397)).
# Our whole lesson runs in about a minute on one CPU thread; the last cell prints the time of your run. What
# the tiny versions keep is the
# logic of each method; what they cannot show is whether it pays off on a hard problem (section 5).

# %% [markdown]
# ## 中文导读
#
# 到 2016 年，深度学习的各个部件仍然靠人来挑选：网络结构、数据增强、以及训练数据的标注。本课介绍 2016–2018 年
# 把这些工作自动化的四个想法。
#
# * **神经架构搜索**（NAS，Zoph & Le）：一个**控制器**逐个做出结构决策（每层的卷积核大小、通道数……），
#   据此搭出的**子网络**训练后，它在验证集上的准确率就是控制器的**奖励**；用 REINFORCE（**策略梯度**）更新控制器，
#   并用过去奖励的滑动平均作为**基线**来降低方差。当年同时在 800 块 GPU 上训练 800 个子网络。
# * **AdaNet**（Cortes 等）：不搜索，而是让网络"长"出来：每一轮训练几个候选子网络（与上一个同样深，或再深一层），
#   只把其中最好的一个加入**集成**；目标函数是训练损失加上**复杂度惩罚**，只有目标函数下降时才接受，否则停止。
# * **AutoAugment**（Cubuk 等）：搜索的是**增强策略**：一个策略由若干**子策略**组成，每个子策略是两个操作，
#   各带概率和幅度；每个候选策略用一个小的**代理任务**（小模型、少量数据）来打分。
# * **域随机化**（Tremblay 等）：不追求逼真，而是让**合成数据**足够多样（随机颜色、纹理、光照、背景），
#   让网络把真实世界看成又一种变化，从而跨过"**现实差距**"。
#
# 本课的四个小实验：(1) 81 个小卷积网络组成的**搜索空间**，每个都训练一次存成查找表（仿照 NAS-Bench-101），
# 在同样的评估预算下比较**随机搜索**和 REINFORCE 控制器（手写梯度与 autograd 核对）；(2) 在复杂度惩罚下逐轮生长的
# AdaNet 式集成；(3) 用从零写的双线性仿射变换（与 `F.affine_grid`/`F.grid_sample` 核对）实现的增强操作，
# 在 50 个带标签的手写数字上搜索策略，再在约 1300 个留出数字上比较搜索得到的策略、不增强和随机策略；
# (4) 同一个分割网络分别在固定风格和随机化风格的形状场景上训练，在贴在真实照片上的形状（两种训练集都没有的域）上
# 用**平均交并比**（mIoU）评测：域随机化模型至少高 10 个百分点（里程碑）。规模极小：真正的 NAS 和 AutoAugment
# 要花成千上万 GPU 小时；这里保留的是方法的逻辑。所有数字都来自本课的运行结果。
#
# 之后的发展：ENAS 让所有子网络共享一套权重，DARTS 把离散的选择放松成可微的权重，搜索成本从几千 GPU 天降到
# 几个 GPU 天；Li & Talwalkar（2019）发现，用同样训练技巧的**随机搜索**在当时的基准上已经很有竞争力；
# RandAugment 用两个数字（操作个数与强度）代替了整个策略搜索；域随机化成为机器人和合成数据工具的常用做法。
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

import itertools
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.colors import ListedColormap

# %% tags=["parameters"]
SEED = 0  # random seed (0 .. 2**32-1): data splits, initialisations, searches and scenes
DEVICE = "auto"  # "auto" | "cpu" | "cuda" | "mps"; "auto" uses a GPU when there is one
SMOKE = False  # True: tiny data and a few steps, every code path in seconds; milestones reported, not asserted
NAS_STEPS = 60  # training steps of each of the 81 architectures in the lookup table (10 .. 1000)
SEARCH_BUDGET = 30  # architectures one search may evaluate, random search and controller alike (5 .. 81)
SEARCH_REPEATS = 1000  # independent searches per strategy, for the mean and the spread (10 .. 10000)
CONTROLLER_LR = 1.0  # learning rate of the REINFORCE controller, in (0, 100]
ADANET_ROUNDS = 5  # most subnetworks the AdaNet ensemble may grow to (1 .. 10)
ADANET_LAMBDA = 0.01  # weight of the complexity term in AdaNet's penalty, from 0 to 1
AA_POLICIES = 10  # augmentation policies the search tries (2 .. 100)
AA_LABELS = 50  # labelled training digits for the augmentation experiment (20 .. 1000)
DR_STEPS = 300  # training steps of each segmentation model: a fixed number of steps, not a time budget (20 .. 5000)
DR_TRAIN_SCENES = 2000  # training scenes per rendering style (100 .. 20000)
DR_TEST_SCENES = 1000  # held-out scenes per test domain (100 .. 5000)

# %%
# Validation comes first: a bad value stops the lesson here, naming the parameter.
P = params.validate(
    globals(),
    NAS_STEPS=params.Int(min=10, max=1000),
    SEARCH_BUDGET=params.Int(min=5, max=81),
    SEARCH_REPEATS=params.Int(min=10, max=10000),
    CONTROLLER_LR=params.Float(min=0.0, max=100.0, min_inclusive=False),
    ADANET_ROUNDS=params.Int(min=1, max=10),
    ADANET_LAMBDA=params.Float(min=0.0, max=1.0),
    AA_POLICIES=params.Int(min=2, max=100),
    AA_LABELS=params.Int(min=20, max=1000),
    DR_STEPS=params.Int(min=20, max=5000),
    DR_TRAIN_SCENES=params.Int(min=100, max=20000),
    DR_TEST_SCENES=params.Int(min=100, max=5000),
)
CONTROLLER_LR, ADANET_LAMBDA = P["CONTROLLER_LR"], P["ADANET_LAMBDA"]  # an int becomes a float
device = repro.setup(SEED, DEVICE)  # one CPU thread unless COURSE_THREADS says otherwise (README, "Threads")
plot.use_style()
T_START = time.perf_counter()
SECTION_SECONDS = {}  # wall time of each part, printed at the end

# %%
# Where this lesson sits on the 2012–2020 timeline, and its measured run time (from `make bench`).
lessons.show_card("07")
plt.show()

# %% [markdown]
# ## 1. Neural architecture search on a lookup table
#
# ### 1.1 The data and the search space
#
# Sections 1 to 3 use scikit-learn's 1,797 real handwritten digits, 8×8 pixels each. One random split per
# seed: 1,000 for training, 400 for validation (what a search is allowed to look at) and 397 for a final
# test (what it never sees).

# %%
t_section = time.perf_counter()
x_digits, y_digits = data.load_digits()  # (1797, 1, 8, 8) in [0, 1], labels (1797,)
split = np.random.default_rng(SEED).permutation(len(y_digits))
TRAIN, VAL, TEST = split[:1000], split[1000:1400], split[1400:]
print(f"train {len(TRAIN)}, validation {len(VAL)}, test {len(TEST)} digits; image shape {tuple(x_digits.shape[1:])}")
checks.check(len(set(TRAIN) | set(VAL) | set(TEST)) == len(y_digits), "the three splits must cover every digit once",
             ok_message="The three splits are disjoint and cover all 1,797 digits.")

# %% [markdown]
# A **search space** is the set of architectures a search may return. Ours has four decisions with three
# choices each, so 3⁴ = 81 networks:
#
# * **depth**: 1, 2 or 3 convolution layers (each convolution, batch norm, activation; lesson 03);
# * **width**: 4, 8 or 16 channels per layer;
# * **kernel**: 1×1, 3×3 or 5×5;
# * **activation**: ReLU, tanh, or none at all (a purely linear network).
#
# Every network ends the same way: a global average over the 8×8 positions, then a linear layer to the 10
# classes. The average throws away where a feature was, so the convolutions must see enough of the digit
# before it: a stack of d layers with k×k kernels sees d·(k − 1) + 1 pixels across. A 1×1 kernel sees one
# pixel, whatever the depth. This makes the space lopsided, as real search spaces are: some choices are
# much worse than others.

# %%
CHOICES = {"depth": (1, 2, 3), "width": (4, 8, 16), "kernel": (1, 3, 5), "activation": ("relu", "tanh", "none")}
DECISIONS = list(CHOICES)
SHAPE = tuple(len(options) for options in CHOICES.values())  # (3, 3, 3, 3)
ARCHS = list(itertools.product(*CHOICES.values()))  # architecture i is ARCHS[i]; the last decision varies fastest
N_ARCHS = len(ARCHS)
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "none": nn.Identity}


def build_net(depth, width, kernel, activation):
    """One architecture of the space: `depth` × (conv, batch norm, activation), global average pool, linear."""
    layers, c_in = [], 1
    for _ in range(depth):
        layers += [nn.Conv2d(c_in, width, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(width),
                   ACTIVATIONS[activation]()]
        c_in = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


STRIDES = torch.tensor([27, 9, 3, 1])  # row-major strides of the (3, 3, 3, 3) grid of choices


def arch_index(choice):
    """Row of the table for a choice of options (one index per decision), e.g. (2, 2, 2, 0) -> 78.

    `choice` may also be a tensor (n, 4) of choices: then it returns a tensor of n rows."""
    if torch.is_tensor(choice):
        return (choice * STRIDES).sum(-1)
    return int(np.ravel_multi_index(tuple(choice), SHAPE))


def arch_name(i):
    depth, width, kernel, activation = ARCHS[i]
    return f"{depth} layer{'s' if depth > 1 else ''}, {width} ch, {kernel}×{kernel}, {activation}"


all_choices = list(itertools.product(*[range(n) for n in SHAPE]))
checks.check(all(ARCHS[arch_index(c)] == tuple(CHOICES[d][k] for d, k in zip(DECISIONS, c)) for c in all_choices)
             and arch_index(torch.tensor(all_choices)).tolist() == list(range(N_ARCHS)),
             "arch_index and ARCHS disagree", ok_message=f"{N_ARCHS} architectures; arch_index(choice) finds each one.")
demo = build_net(3, 16, 5, "relu")
checks.check_shape(demo(x_digits[:5]), (5, 10), "class scores of the largest network for 5 digits")
print(f"parameters: from {sum(p.numel() for p in build_net(*ARCHS[0]).parameters())} ({arch_name(0)}) "
      f"to {sum(p.numel() for p in demo.parameters())} ({arch_name(N_ARCHS - 3)})")

# %% [markdown]
# ### 1.2 Train every architecture once: the lookup table
#
# A real NAS run trains each architecture the controller asks for, so comparing two search strategies
# fairly means paying for many searches. NAS-Bench-101's trick: when the space is small enough, train
# *every* architecture once, store the results, and let the searches look them up. A search of 30
# evaluations then costs 30 table reads, and we can repeat it a thousand times to see the average and the
# spread. Each network gets the same recipe: `NAS_STEPS` steps of Adam on minibatches of 100.

# %%
def train_classifier(net, x, y, steps, lr, batch, seed):
    """Adam on random minibatches of (x, y); returns the network in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (batch,), generator=gen)
        loss = F.cross_entropy(net(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net, x, y):
    """Fraction of x that net classifies as y."""
    return (net(x.to(device)).argmax(1).cpu() == y).float().mean().item()


steps = NAS_STEPS if not SMOKE else 2
t0 = time.perf_counter()
table = {"val": np.zeros(N_ARCHS), "test": np.zeros(N_ARCHS), "params": np.zeros(N_ARCHS, int)}
for i, arch in enumerate(ARCHS):
    torch.manual_seed(SEED * 1000 + i)  # each architecture's initialisation
    net = train_classifier(build_net(*arch), x_digits[TRAIN], y_digits[TRAIN], steps, lr=0.02, batch=100, seed=SEED + i)
    table["val"][i] = accuracy(net, x_digits[VAL], y_digits[VAL])
    table["test"][i] = accuracy(net, x_digits[TEST], y_digits[TEST])
    table["params"][i] = sum(p.numel() for p in net.parameters())
print(f"trained {N_ARCHS} architectures in {time.perf_counter() - t0:.1f} s")
order = np.argsort(-table["val"], kind="stable")
for rank in list(range(5)) + [N_ARCHS // 2, N_ARCHS - 1]:
    i = order[rank]
    print(f"  rank {rank + 1:2d}: {arch_name(i):30s} validation {table['val'][i]:.3f}  test {table['test'][i]:.3f}")
BEST_VAL = table["val"].max()
print(f"validation and test accuracy agree closely over the table: correlation "
      f"{np.corrcoef(table['val'], table['test'])[0, 1]:.3f}")

# %% [markdown]
# The whole table on one page: rows are depth and activation, columns width and kernel size, and each cell
# is the validation accuracy in percent.

# %%
def draw_table(ax):
    """Heat map of the validation accuracy of all 81 architectures."""
    grid = table["val"].reshape(SHAPE).transpose(0, 3, 1, 2).reshape(9, 9)  # (depth, act) × (width, kernel)
    im = ax.imshow(100 * grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for r in range(9):
        for c in range(9):
            ax.text(c, r, f"{100 * grid[r, c]:.0f}", ha="center", va="center", fontsize=8,
                    color="black" if grid[r, c] > 0.6 else "white")
    ax.set_xticks(range(9), [f"{w} ch\n{k}×{k}" for w in CHOICES["width"] for k in CHOICES["kernel"]], fontsize=8)
    ax.set_yticks(range(9), [f"{d} layer{'s' if d > 1 else ''}, {a}" for d in CHOICES["depth"] for a in CHOICES["activation"]],
                  fontsize=8)
    ax.set(xlabel="width and kernel size", ylabel="depth and activation")
    ax.grid(False)
    return im


fig, ax = plt.subplots(figsize=(9, 6.5))
im = draw_table(ax)
ax.set_title("The lookup table: validation accuracy (%) of every architecture, each trained once")
fig.colorbar(im, ax=ax, label="validation accuracy (%)", fraction=0.04)
plt.show()

# %% [markdown]
# ### 1.3 Random search
#
# The baseline every search method must beat: draw architectures uniformly at random, evaluate each, keep
# the best. Bergstra & Bengio (2012) made the case for it in hyperparameter search; it knows nothing about
# the space, and it is hard to beat when good architectures are not rare. We draw with replacement, as a
# stateless search would, and count every draw as one evaluation.
#
# We run `SEARCH_REPEATS` independent searches at once: row r of every array is search r. The number we
# follow is the **best validation accuracy found so far** after n evaluations.

# %%
VAL_ACC = torch.tensor(table["val"])
REPEATS = SEARCH_REPEATS if not SMOKE else 50
BUDGET = SEARCH_BUDGET


def random_search(budget, repeats, gen):
    """Indices (repeats, budget) of the architectures that `repeats` random searches evaluate, in order."""
    return torch.randint(0, N_ARCHS, (repeats, budget), generator=gen)


def best_so_far(picks):
    """The best validation accuracy found after 1, 2, ... evaluations: (repeats, budget)."""
    return torch.cummax(VAL_ACC[picks], dim=1).values


random_picks = random_search(BUDGET, REPEATS, torch.Generator().manual_seed(SEED))
random_curve = best_so_far(random_picks)
checks.check(bool((random_curve[:, 1:] >= random_curve[:, :-1]).all()), "best-so-far must never decrease",
             ok_message="The best-so-far curves never decrease.")
print(f"random search: best found after {BUDGET} evaluations, mean over {REPEATS} searches: "
      f"{random_curve[:, -1].mean():.4f} (the table's best is {BEST_VAL:.4f})")

# %% [markdown]
# ### 1.4 A REINFORCE controller
#
# Zoph & Le's controller is a policy over architectures. Ours is the simplest one: **one softmax per
# decision**, with its own logits z_d (no RNN, so a decision does not depend on the others). An
# architecture a = (a₁, ..., a₄) has probability π(a) = Π_d softmax(z_d)[a_d]. The controller wants to
# maximise the expected reward J = E_{a∼π}[R(a)], with R the validation accuracy. REINFORCE (Williams,
# 1992) turns that into a gradient we can estimate from one sample:
#
# $$\nabla_z J = \mathbb{E}_{a\sim\pi}\big[(R(a) - b)\,\nabla_z \log \pi(a)\big],
# \qquad \frac{\partial \log \pi(a)}{\partial z_{d}} = \text{onehot}(a_d) - \text{softmax}(z_d).$$
#
# Subtracting a **baseline** b leaves the expectation unchanged (E[∇ log π] = 0) but shrinks the variance:
# better-than-usual architectures are pushed up and worse-than-usual ones down. As in the paper, b is an
# exponential moving average of the rewards seen so far. One update per evaluated architecture:
# z_d ← z_d + lr · (R − b) · (onehot(a_d) − softmax(z_d)).

# %%
class Controller:
    """`repeats` independent REINFORCE controllers, one softmax per decision, with a moving-average baseline."""

    def __init__(self, repeats, lr, decay=0.8):
        self.logits = [torch.zeros(repeats, n) for n in SHAPE]  # uniform at the start, like random search
        self.lr, self.decay = lr, decay
        self.baseline = None

    def probs(self):
        return [z.softmax(dim=1) for z in self.logits]

    def sample(self, gen):
        """One architecture per controller: option indices (repeats, decisions)."""
        return torch.stack([torch.multinomial(p, 1, generator=gen)[:, 0] for p in self.probs()], dim=1)

    def grad_log_prob(self, choice):
        """∂ log π(a) / ∂ z_d for every decision d: onehot(a_d) - softmax(z_d)."""
        return [F.one_hot(choice[:, d], n).float() - p for d, (n, p) in enumerate(zip(SHAPE, self.probs()))]

    def update(self, choice, reward):
        """One REINFORCE step (gradient ascent on J) after seeing the reward of `choice`."""
        baseline = reward if self.baseline is None else self.baseline  # the first reward is its own baseline
        advantage = reward - baseline
        for z, g in zip(self.logits, self.grad_log_prob(choice)):
            z += self.lr * advantage[:, None] * g
        self.baseline = reward if self.baseline is None else self.decay * self.baseline + (1 - self.decay) * reward


def reinforce_search(budget, repeats, lr, gen):
    """Indices (repeats, budget) of the architectures the controllers evaluate, and the controllers."""
    controller = Controller(repeats, lr)
    picks = torch.zeros(repeats, budget, dtype=torch.long)
    for t in range(budget):
        choice = controller.sample(gen)
        picks[:, t] = arch_index(choice)
        controller.update(choice, VAL_ACC[picks[:, t]].float())
    return picks, controller

# %% [markdown]
# **Check against autograd.** The update above uses our formula for ∇ log π. PyTorch can differentiate
# the same thing: the REINFORCE loss −(R − b) · Σ_d log softmax(z_d)[a_d], whose gradient is minus our
# step direction. We compare the two on random logits, choices and advantages.

# %%
gen = torch.Generator().manual_seed(SEED)
check_controller = Controller(64, lr=1.0)
check_controller.logits = [torch.randn(64, n, generator=gen) * 2 for n in SHAPE]
choice = check_controller.sample(gen)
advantage = torch.randn(64, generator=gen)
ours = [-advantage[:, None] * g for g in check_controller.grad_log_prob(choice)]  # ∂ loss / ∂ z_d, by hand

logits = [z.clone().requires_grad_(True) for z in check_controller.logits]
log_prob = sum(F.log_softmax(z, dim=1).gather(1, choice[:, d:d + 1])[:, 0] for d, z in enumerate(logits))
(-(advantage * log_prob).sum()).backward()  # the REINFORCE loss; its gradient is what we wrote by hand
grad_diff = max((o - z.grad).abs().max().item() for o, z in zip(ours, logits))
print(f"largest difference between our REINFORCE gradient and autograd's: {grad_diff:.2e}")

# The update itself: with baseline 0 and reward = advantage, one step must move the logits by
# -lr · (autograd's gradient of the loss). A sign error in `update` would fail here.
before = [z.clone() for z in check_controller.logits]
check_controller.baseline = torch.zeros(64)
check_controller.update(choice, advantage)
step_diff = max((after - b + check_controller.lr * z.grad).abs().max().item()
                for after, b, z in zip(check_controller.logits, before, logits))
print(f"largest difference between one update step and -lr · autograd's gradient: {step_diff:.2e}")
grad_diff = max(grad_diff, step_diff)
checks.milestone("reinforce_grad_max_diff", grad_diff, 1e-5, "<=",
                 note="our ∂(-(R-b) log π)/∂logits and one update step vs autograd, 64 random controllers, 4 decisions")

# %% [markdown]
# ### 1.5 Random search against the controller
#
# Both strategies get the same budget of `SEARCH_BUDGET` evaluations, and both run `SEARCH_REPEATS` times
# from different random draws. The band shows where the middle 80 % of the searches are.

# %%
controller_picks, controller = reinforce_search(BUDGET, REPEATS, CONTROLLER_LR, torch.Generator().manual_seed(SEED + 1))
controller_curve = best_so_far(controller_picks)
x_evals = np.arange(1, BUDGET + 1)


def found_best(picks):
    """Per search: the architecture with the best validation accuracy among those it evaluated."""
    return picks.gather(1, VAL_ACC[picks].argmax(1, keepdim=True))[:, 0]


def summary(name, curve, picks):
    chosen = found_best(picks)
    hit = (curve[:, -1] == BEST_VAL).float().mean().item()
    print(f"{name:18s} after {min(10, BUDGET):2d} evaluations {curve[:, min(10, BUDGET) - 1].mean():.4f}, after {BUDGET}: "
          f"{curve[:, -1].mean():.4f}; found the table's best in {100 * hit:3.0f} % of searches; "
          f"test accuracy of its pick {table['test'][chosen.numpy()].mean():.4f}")
    return curve[:, -1].mean().item(), hit


random_final, _ = summary("random search", random_curve, random_picks)
controller_final, _ = summary("REINFORCE (lr " + f"{CONTROLLER_LR:g})", controller_curve, controller_picks)
record.metric("nas_random_best_val", random_final)
record.metric("nas_controller_best_val", controller_final)
winner = "the controller" if controller_final > random_final else "random search"
print(f"with {BUDGET} evaluations of {N_ARCHS}, {winner} finds the better architectures on average "
      f"({abs(controller_final - random_final) * 100:.1f} points apart)")


def draw_search(ax, curves, title):
    """Mean best-so-far curves with a band from the 10th to the 90th percentile."""
    for (name, curve), color in zip(curves.items(), plot.COLORS):
        c = curve.numpy()
        ax.plot(x_evals, 100 * c.mean(0), color=color, label=f"{name} (mean)")
        low, high = 100 * np.quantile(c, 0.1, axis=0), 100 * np.quantile(c, 0.9, axis=0)
        ax.fill_between(x_evals, low, high, color=color, alpha=0.12, label=f"{name} (10th to 90th percentile)")
        for edge in (low, high):  # the band's edges in its own colour, so two overlapping bands stay apart
            ax.plot(x_evals, edge, color=color, lw=0.8, ls=":")
    ax.axhline(100 * BEST_VAL, color="0.3", ls="--", lw=1, label="best architecture in the table")
    ax.set(title=title, xlabel="architectures evaluated", ylabel="best validation accuracy so far (%)")


fig, ax = plt.subplots(figsize=(8, 4.8))
draw_search(ax, {"random search": random_curve, f"REINFORCE controller (lr {CONTROLLER_LR:g})": controller_curve},
            f"Best architecture found vs evaluations, {REPEATS} searches each")
ax.set_ylim(max(0, 100 * float(VAL_ACC.min()) - 2), 101)
ax.legend(loc="lower right", fontsize=9, frameon=True)
plt.show()

# %% [markdown]
# What did the controllers learn? Their final probabilities for each option, averaged over the searches:

# %%
final_probs = [p.mean(0).numpy() for p in controller.probs()]
for name, probs in zip(DECISIONS, final_probs):
    print(f"  {name:10s} " + "  ".join(f"{str(o):>5s}: {p:.2f}" for o, p in zip(CHOICES[name], probs)))

# %% [markdown]
# Read the numbers printed above. In our runs the controller's probabilities move towards 3 layers, 16
# channels and 5×5 kernels, away from 1×1 kernels and from no activation at all. Our space is close to
# what a factorised controller likes best: each decision has a roughly independent effect on the accuracy
# (compare the rows and columns of the heat map), so learning one decision helps with every architecture.
# With the default learning rate it ends up ahead of random search on average. The widget below shows
# that this depends on the learning rate: too small and the controller is random search; too large and it
# commits to the first architecture that beat the baseline.
#
# Two warnings make this a modest result. First, random search is never far behind: with 81
# architectures and 30 evaluations it sees more than a quarter of the space (with repetitions). Li &
# Talwalkar (2019) found that on the spaces real NAS papers used, random search with the same training
# tricks matched the published methods. Second, the "best" here is measured on the same 400 validation
# digits the search looked at. The test accuracy of each search's pick (printed above) is the honest number,
# and a gap of a fraction of a point between two architectures is within the noise of one training run.
#
# **Explore**: the controller's learning rate. Every curve is precomputed by table lookup.

# %%
LR_OPTIONS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
lr_curves = {lr: reinforce_search(BUDGET, REPEATS, lr, torch.Generator().manual_seed(SEED + 1))
             for lr in LR_OPTIONS}


def draw_lr(lr):
    picks, ctrl = lr_curves[lr]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    draw_search(ax1, {"random search": random_curve, f"controller, lr {lr:g}": best_so_far(picks)},
                f"Controller learning rate {lr:g}")
    ax1.set_ylim(max(0, 100 * float(VAL_ACC.min()) - 2), 101)
    ax1.legend(loc="lower right", fontsize=8, frameon=True)
    probs = [p.mean(0).numpy() for p in ctrl.probs()]
    for d, (name, p) in enumerate(zip(DECISIONS, probs)):
        for k, value in enumerate(p):
            ax2.barh(d * 4 + k, value, color=plot.COLORS[k])
            ax2.text(value + 0.01, d * 4 + k, f"{name} {CHOICES[name][k]}", va="center", fontsize=8)
    ax2.set(xlim=(0, 1.35), yticks=[], xlabel="final probability (mean over searches)",
            title="What the controllers learned")
    ax2.axvline(1 / 3, color="0.5", ls=":", lw=1)
    ax2.text(1 / 3 + 0.01, -0.9, "uniform: 1/3", fontsize=8, color="0.4", va="center")
    ax2.invert_yaxis()
    fig.tight_layout()


widgets.explore(draw_lr, list(LR_OPTIONS), CONTROLLER_LR if CONTROLLER_LR in LR_OPTIONS else 1.0,
                "controller learning rate");  # ";": show the control once
for lr in LR_OPTIONS:
    print(f"lr {lr:5g}: mean best after {BUDGET} evaluations {best_so_far(lr_curves[lr][0])[:, -1].mean():.4f}")
SECTION_SECONDS["1. NAS"] = time.perf_counter() - t_section

# %% [markdown]
# ## 2. AdaNet: grow an ensemble under a complexity penalty
#
# NAS picks one architecture out of a fixed list. AdaNet builds one instead, as a weighted sum of
# subnetworks, f(x) = Σ_k w_k h_k(x), added one per round. The subnetworks here are small fully connected
# networks on the 64 pixels (as in the paper's experiments, which used fully connected subnetworks). Each
# has 32 ReLU units per hidden layer and a tanh on its 10 outputs, so h_k(x) lies in [−1, 1]: only the
# mixture weight w_k can make it loud, and that is what the penalty charges for. At round t:
#
# 1. Train two **candidates** on top of the frozen ensemble: one as deep as the subnetwork added last, one
#    a layer deeper (at the first round, depths 1 and 2). Each candidate learns its weights and its w.
# 2. Score each with AdaNet's objective, the training loss of the ensemble plus a complexity penalty on
#    every mixture weight:
#
# $$F = \frac{1}{m}\sum_{i=1}^{m} \text{loss}\big(f(x_i), y_i\big) + \sum_k (\lambda\, r_k + \beta)\,|w_k|.$$
#
# 3. Keep the candidate with the lower F, but only if F goes down; otherwise stop.
#
# In the paper r_k is a bound on the Rademacher complexity of the family the subnetwork comes from, which
# grows with depth, and the loss is a convex surrogate of the binary error. We use the cross-entropy of the
# 10 classes and a simple stand-in for r_k: √(number of weights / m), with m = 1,000 training digits.
# "Goes down" means by more than 0.001: with Adam, a useless candidate's w jitters around 0 instead of
# landing on it, and that jitter should not count as progress.

# %%
t_section = time.perf_counter()
X_FLAT = x_digits.flatten(1)  # (1797, 64): the subnetworks are fully connected
HELD = np.concatenate([VAL, TEST])  # AdaNet does no validation-based choice, so both splits are held out
ADANET_BETA = 0.001  # β: the same charge for every subnetwork
ADANET_STEPS = 200 if not SMOKE else 20  # full-batch Adam steps per candidate
MIN_DECREASE = 1e-3


class Subnetwork(nn.Module):
    """`depth` hidden layers of 32 ReLU units, 10 outputs squashed into [-1, 1], times a mixture weight w."""

    def __init__(self, depth, width=32):
        super().__init__()
        layers, d_in = [], X_FLAT.shape[1]
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.ReLU()]
            d_in = width
        self.body = nn.Sequential(*layers, nn.Linear(d_in, 10), nn.Tanh())
        self.depth = depth
        self.w = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.w * self.body(x)


def complexity(sub):
    """Our stand-in for the Rademacher complexity r of the subnetwork's family: sqrt(weights / m)."""
    return math.sqrt(sum(p.numel() for p in sub.body.parameters()) / len(TRAIN))


def adanet_objective(scores_before, penalty_before, candidate, x, y):
    """F of the ensemble plus `candidate`: (loss, penalty) as tensors; F is their sum."""
    loss = F.cross_entropy(scores_before + candidate(x), y)
    return loss, penalty_before + (ADANET_LAMBDA * complexity(candidate) + ADANET_BETA) * candidate.w.abs()


xa, ya = X_FLAT[TRAIN].to(device), y_digits[TRAIN].to(device)
xh = X_FLAT[HELD].to(device)
scores_train, scores_held = torch.zeros(len(TRAIN), 10, device=device), torch.zeros(len(HELD), 10, device=device)
penalty_now, objective_now = 0.0, math.log(10)  # an empty ensemble predicts uniform probabilities
last_depth, rounds = 1, []
for t in range(ADANET_ROUNDS):
    candidates = []
    for depth in ((1, 2) if t == 0 else (last_depth, last_depth + 1)):
        torch.manual_seed(SEED * 100 + 10 * t + depth)
        cand = Subnetwork(depth).to(device)
        opt = torch.optim.Adam(cand.parameters(), lr=0.01)
        for _ in range(ADANET_STEPS):
            loss, pen = adanet_objective(scores_train, penalty_now, cand, xa, ya)
            opt.zero_grad()
            (loss + pen).backward()
            opt.step()
        with torch.no_grad():
            loss, pen = adanet_objective(scores_train, penalty_now, cand, xa, ya)
        candidates.append({"depth": depth, "net": cand, "loss": loss.item(), "penalty": pen.item(),
                           "objective": (loss + pen).item(), "w": cand.w.item()})
    best = min(candidates, key=lambda c: c["objective"])
    accepted = best["objective"] < objective_now - MIN_DECREASE
    rounds.append({"candidates": candidates, "picked": best["depth"], "accepted": accepted, "before": objective_now})
    text = ", ".join(f"depth {c['depth']}: F = {c['objective']:.4f} (loss {c['loss']:.4f} + penalty {c['penalty']:.4f}, "
                     f"w = {c['w']:.2f})" for c in candidates)
    if not accepted:
        print(f"round {t + 1}: {text}\n   -> no candidate lowers F by more than {MIN_DECREASE} from {objective_now:.4f}: stop with "
              f"{len(rounds) - 1} subnetwork{'s' if len(rounds) != 2 else ''}")
        break
    with torch.no_grad():
        scores_train += best["net"](xa)
        scores_held += best["net"](xh)
    penalty_now, objective_now, last_depth = best["penalty"], best["objective"], best["depth"]
    rounds[-1]["held_acc"] = (scores_held.argmax(1).cpu() == y_digits[HELD]).float().mean().item()
    print(f"round {t + 1}: {text}\n   -> add the depth-{best['depth']} subnetwork: F = {objective_now:.4f}, "
          f"held-out accuracy of the ensemble {rounds[-1]['held_acc']:.4f}")
kept = [r for r in rounds if r["accepted"]]
record.metric("adanet_subnetworks", len(kept))
if kept:
    record.metric("adanet_held_acc", kept[-1]["held_acc"])

# %% [markdown]
# The objective at every round: each pair of bars is the two candidates, split into loss and penalty;
# the black line is F of the ensemble so far, which a candidate must beat.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.6, 1]})
for t, r in enumerate(rounds):
    for j, c in enumerate(r["candidates"]):
        x_bar = t + (j - 0.5) * 0.38
        ax1.bar(x_bar, c["loss"], width=0.36, color=plot.COLORS[j],
                label=f"{['same depth', 'one layer deeper'][j]}: loss" if t == 0 else None)
        ax1.bar(x_bar, c["penalty"], bottom=c["loss"], width=0.36, color=plot.COLORS[j], alpha=0.45, hatch="//",
                label=f"{['same depth', 'one layer deeper'][j]}: penalty" if t == 0 else None)
        mark = "picked" if (c["depth"] == r["picked"] and r["accepted"]) else ""
        ax1.text(x_bar, c["objective"] * 1.02 + 0.005, f"d{c['depth']}\n{mark}", ha="center", va="bottom", fontsize=8)
top = 1.6 * max(c["objective"] for r in rounds for c in r["candidates"])
for t, r in enumerate(rounds):
    ax1.plot([t - 0.45, t + 0.45], [min(r["before"], top * 0.97)] * 2, color="black", lw=2,
             label="F of the ensemble before the round" if t == 0 else None)
    if r["before"] > top:  # the empty ensemble's F = log 10 is off the scale
        ax1.text(t - 0.45, top * 0.93, f"F = {r['before']:.2f} (empty ensemble, off the scale)", ha="left", va="top", fontsize=8)
ax1.set(xticks=range(len(rounds)), xticklabels=[f"round {t + 1}" + ("" if r["accepted"] else "\n(stop)") for t, r in enumerate(rounds)],
        ylabel="objective F = loss + penalty", title="AdaNet: the candidates' objective at every round", ylim=(0, top))
ax1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
if kept:
    accs = [100 * r["held_acc"] for r in kept]
    ax2.plot(range(1, len(kept) + 1), accs, "o-")
    ax2.set(xticks=range(1, len(kept) + 1), xlim=(0.5, len(kept) + 0.5), ylim=(min(accs) - 5, 100))
ax2.set(xlabel="subnetworks in the ensemble", ylabel="held-out accuracy (%)",
        title=f"The growing ensemble on {len(HELD)} held-out digits")
fig.tight_layout()
plt.show()
SECTION_SECONDS["2. AdaNet"] = time.perf_counter() - t_section

# %% [markdown]
# Read the rounds printed above. On every seed we ran, AdaNet kept two subnetworks and stopped at the
# third round. The first subnetwork does most of the work, but its tanh outputs cap how confident it can
# be, so a second one still lowers the loss. After that the ensemble fits the 1,000 training digits almost
# perfectly (a training loss near 0.01): a third subnetwork has next to nothing to gain, and the penalty
# pushes its w to about 0. The penalty also decides how much each subnetwork may contribute and which
# candidate wins. Try `-p ADANET_LAMBDA 0.1` and `-p ADANET_LAMBDA 0`, and read which candidate wins each
# round and how large each w becomes.
#
# What our small version cannot show is the paper's real point: the penalty is not a heuristic but comes
# from a generalisation bound, so the objective AdaNet minimises bounds the error on new data. Google
# released AdaNet as an open-source TensorFlow library in 2018.

# %% [markdown]
# ## 3. AutoAugment-lite: search an augmentation policy
#
# ### 3.1 The operations, written from scratch
#
# Five of our eight operations move pixels: translate along x or y, rotate, shear along x, zoom. All five
# are one **affine warp**: for every output pixel, find where it comes from in the input, and read the
# input there by **bilinear interpolation** (a weighted average of the four nearest pixels; zero outside
# the image). We use the convention of `F.affine_grid`: coordinates run from −1 to 1 across the image,
# pixel centres at (2i + 1)/W − 1, and a 2×3 matrix θ maps output coordinates to input coordinates.
# The other three change values: Gaussian noise, cutout (a square set to 0, DeVries & Taylor 2017) and
# invert (1 − x).

# %%
t_section = time.perf_counter()


def warp(images, theta):
    """Affine warp of images (N, C, H, W) by theta (N, 2, 3), bilinear, zeros outside; align_corners=False."""
    n, c, h, w = images.shape
    xs, ys = (2 * torch.arange(w) + 1) / w - 1, (2 * torch.arange(h) + 1) / h - 1  # pixel centres in [-1, 1]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    out_coords = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(-1, 3)  # (H·W, 3) homogeneous
    src = out_coords @ theta.transpose(1, 2)  # (N, H·W, 2): where each output pixel reads, in [-1, 1]
    px, py = ((src[..., 0] + 1) * w - 1) / 2, ((src[..., 1] + 1) * h - 1) / 2  # ... in pixel units
    x0, y0 = px.floor(), py.floor()
    fx, fy = px - x0, py - y0
    flat = images.reshape(n, c, h * w)
    out = torch.zeros_like(flat)
    for dy, wy in ((0, 1 - fy), (1, fy)):  # the four neighbours and their bilinear weights
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = (x0 + dx).long(), (y0 + dy).long()
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1))[:, None, :].expand(n, c, -1)
            out += flat.gather(2, idx) * (wx * wy * inside)[:, None, :]
    return out.reshape(n, c, h, w)


gen = torch.Generator().manual_seed(SEED)
theta_check = torch.tensor([[1.0, 0, 0], [0, 1, 0]]) + 0.3 * torch.randn(200, 2, 3, generator=gen)
img_check = torch.rand(200, 3, 8, 8, generator=gen)
reference = F.grid_sample(img_check, F.affine_grid(theta_check, list(img_check.shape), align_corners=False),
                          mode="bilinear", padding_mode="zeros", align_corners=False)
warp_diff = (warp(img_check, theta_check) - reference).abs().max().item()
print(f"warp vs F.affine_grid + F.grid_sample on 200 random affine maps: largest difference {warp_diff:.2e}")
checks.milestone("warp_max_diff", warp_diff, 1e-5, "<=", note="our bilinear affine warp vs F.grid_sample, 200 random maps")

# A shift by whole pixels is exact: it must equal torch.roll with the wrapped-around pixels zeroed.
shift = torch.tensor([[1.0, 0, -2 * 2 / 8], [0, 1, 1 * 2 / 8]]).expand(200, 2, 3)  # read 2 px left, 1 px down
rolled = torch.roll(img_check, shifts=(-1, 2), dims=(2, 3))
rolled[:, :, -1:, :] = 0  # rows that wrapped around
rolled[:, :, :, :2] = 0  # columns that wrapped around
checks.check_close(warp(img_check, shift), rolled, "a whole-pixel translation vs torch.roll", atol=1e-6)

# %% [markdown]
# Each operation takes a **magnitude** from 0 to 9, as in AutoAugment, scaled to its own range (at
# magnitude 9: 1.5 pixels of shift, 20° of rotation, a shear of 0.3, a zoom that makes the digit up to about
# 17 % smaller or 25 % larger (the sampling grid scaled by 1.2 or 0.8), noise of standard
# deviation 0.2, a cutout square of 3 pixels; small, because the digits are only 8×8). The geometric ones go
# left or right at random, image by image.

# %%
AA_OPS = ("translate_x", "translate_y", "rotate", "shear_x", "zoom", "noise", "cutout", "invert")
EYE = torch.tensor([[1.0, 0, 0], [0, 1, 0]])


def apply_op(x, op, magnitude, gen):
    """One operation at magnitude 0..9 on a batch of 8×8 digits x (N, 1, 8, 8)."""
    n, m = len(x), magnitude / 9
    sign = torch.randint(0, 2, (n,), generator=gen) * 2.0 - 1.0
    theta = EYE.repeat(n, 1, 1)
    if op == "translate_x":
        theta[:, 0, 2] = sign * m * 1.5 * (2 / 8)  # up to 1.5 pixels (one pixel is 2/8 in [-1, 1] coordinates)
    elif op == "translate_y":
        theta[:, 1, 2] = sign * m * 1.5 * (2 / 8)
    elif op == "rotate":
        angle = sign * m * math.radians(20)
        theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
        theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    elif op == "shear_x":
        theta[:, 0, 1] = sign * m * 0.3
    elif op == "zoom":
        theta[:, 0, 0] = theta[:, 1, 1] = 1 + sign * m * 0.2
    elif op == "noise":
        return (x + torch.randn(x.shape, generator=gen) * m * 0.2).clamp(0, 1)
    elif op == "cutout":
        side = 1 + round(m * 2)
        top, left = torch.randint(-side + 1, 8, (2, n), generator=gen)
        rows, cols = torch.arange(8), torch.arange(8)
        inside = (((rows[None] >= top[:, None]) & (rows[None] < top[:, None] + side))[:, :, None]
                  & ((cols[None] >= left[:, None]) & (cols[None] < left[:, None] + side))[:, None, :])
        return x * (~inside)[:, None].float()
    elif op == "invert":
        return 1 - x
    return warp(x, theta)


def random_policy(gen, n_sub=3):
    """A policy: n_sub sub-policies of two (operation, probability 0..1 in steps of 0.1, magnitude 0..9)."""
    def draw(k):
        return int(torch.randint(0, k, (1,), generator=gen))
    return [tuple((AA_OPS[draw(len(AA_OPS))], draw(11) / 10, draw(10)) for _ in range(2)) for _ in range(n_sub)]


def apply_policy(x, policy, gen):
    """Augment each image with one sub-policy drawn at random: each of its two operations fires with its probability."""
    x = x.clone()
    which = torch.randint(0, len(policy), (len(x),), generator=gen)
    for k, sub_policy in enumerate(policy):
        for op, prob, magnitude in sub_policy:
            fire = (which == k) & (torch.rand(len(x), generator=gen) < prob)
            if fire.any():
                x[fire] = apply_op(x[fire], op, magnitude, gen)
    return x


def policy_text(policy):
    return "  |  ".join(", ".join(f"{op} p={p:.1f} m={m}" for op, p, m in sub) for sub in policy)


demo_policy = [(("rotate", 1.0, 9), ("invert", 0.0, 0)), (("translate_x", 1.0, 9), ("cutout", 1.0, 5)),
               (("zoom", 1.0, 9), ("noise", 1.0, 3))]
fig, axes = plt.subplots(len(demo_policy) + 1, 8, figsize=(10, 5.4))
originals = x_digits[TRAIN[:8]]
for row, ax_row in enumerate(axes):
    shown = originals if row == 0 else apply_policy(originals, [demo_policy[row - 1]], torch.Generator().manual_seed(row))
    for ax, img in zip(ax_row, shown):
        ax.imshow(img[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
    ax_row[0].set_ylabel("original" if row == 0 else "\n".join(f"{op} m={m}" for op, p, m in demo_policy[row - 1] if p > 0),
                         fontsize=8, rotation=0, ha="right", va="center")
fig.suptitle("Three sub-policies, each operation applied with probability 1, on the same eight training digits")
fig.subplots_adjust(left=0.17, wspace=0.05, hspace=0.08)
plt.show()

# %% [markdown]
# ### 3.2 The search
#
# AutoAugment scored each candidate policy by training a small network on a reduced subset of the data set
# and reading its validation accuracy. Our proxy is smaller still: a two-layer conv net trained on
# `AA_LABELS` labelled digits (the same number from each class: 5 by default), scored on the 400
# validation digits. Few labels are where augmentation matters most. To keep it fast we augment offline:
# every labelled digit gets 20 augmented copies drawn from the policy before training, instead of fresh
# ones at every step.
#
# We replace AutoAugment's controller (an RNN trained with PPO) by random search over policies; section 1
# showed how close the two can be. AutoAugment's last step we keep: its final policy was the
# concatenation of the sub-policies of its 5 best policies (25 sub-policies); ours concatenates our best 3.

# %%
LABELLED = np.concatenate([TRAIN[y_digits[TRAIN] == c][:AA_LABELS // 10] for c in range(10)])
HELD_OUT = np.concatenate([TEST, np.setdiff1d(TRAIN, LABELLED)])  # never seen by the search: ~1,300 digits
AA_STEPS = 150 if not SMOKE else 10
AA_COPIES = 20 if not SMOKE else 2
N_POLICIES = AA_POLICIES if not SMOKE else 2


def proxy_net():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def train_with_policy(policy, seed):
    """The proxy trained on the labelled digits plus AA_COPIES augmented copies of each (none if policy is None)."""
    gen = torch.Generator().manual_seed(seed)
    x, y = x_digits[LABELLED], y_digits[LABELLED]
    if policy is not None:  # the originals, then AA_COPIES augmented copies of each
        x = torch.cat([x, apply_policy(x.repeat(AA_COPIES, 1, 1, 1), policy, gen)])
        y = y.repeat(AA_COPIES + 1)
    torch.manual_seed(seed)
    return train_classifier(proxy_net(), x, y, AA_STEPS, lr=3e-3, batch=64, seed=seed)


gen = torch.Generator().manual_seed(SEED + 2)
policies = [random_policy(gen) for _ in range(N_POLICIES)]
policy_val = [accuracy(train_with_policy(p, SEED * 100 + k), x_digits[VAL], y_digits[VAL]) for k, p in enumerate(policies)]
none_val = accuracy(train_with_policy(None, SEED * 100 + 99), x_digits[VAL], y_digits[VAL])
ranking = np.argsort(-np.array(policy_val), kind="stable")
best_policy = [sub for k in ranking[:3] for sub in policies[k]]  # AutoAugment's last step, with our best 3
print(f"{N_POLICIES} random policies, validation accuracy of the proxy: "
      f"from {min(policy_val):.3f} to {max(policy_val):.3f} (no augmentation: {none_val:.3f})")
for k in ranking[:3]:
    print(f"  policy {k} ({policy_val[k]:.3f}): {policy_text(policies[k])}")

# %% [markdown]
# ### 3.3 The searched policy, no augmentation, a random policy
#
# The search picked the policies that scored best on the validation digits, so their validation scores
# are optimistic (winners among noisy scores). The fair comparison uses digits no choice has looked at:
# the ~1,300 held-out ones. We train each of three set-ups three times (different initialisations and
# augmentation draws): no augmentation, a fresh random policy, and the searched policy.

# %%
random_pol = random_policy(torch.Generator().manual_seed(SEED + 3))
print("random policy:", policy_text(random_pol))
final = {}
for name, pol in (("no augmentation", None), ("random policy", random_pol), ("searched policy", best_policy)):
    final[name] = [accuracy(train_with_policy(pol, 7000 + SEED * 10 + s), x_digits[HELD_OUT], y_digits[HELD_OUT])
                   for s in range(3 if not SMOKE else 1)]
    print(f"{name:27s} held-out accuracy {100 * np.mean(final[name]):.1f} % "
          f"(runs: {', '.join(f'{100 * a:.1f}' for a in final[name])}) on {len(HELD_OUT)} digits")
aa_gain = 100 * (np.mean(final["searched policy"]) - np.mean(final["no augmentation"]))
record.metric("aa_gain_points", aa_gain)
record.metric("aa_random_minus_none_points", 100 * (np.mean(final["random policy"]) - np.mean(final["no augmentation"])))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.2]})
ax1.bar(range(N_POLICIES), 100 * np.array(policy_val), color=plot.COLORS[0])
ax1.axhline(100 * none_val, color="black", ls="--", lw=1.2, label="no augmentation")
ax1.set(xlabel="policy of the search", ylabel="validation accuracy of the proxy (%)", title="The search: one proxy run per policy",
        ylim=(max(0, 100 * min(policy_val + [none_val]) - 10), 100), xticks=range(N_POLICIES))
ax1.legend(loc="upper right", frameon=True)
for j, (name, accs) in enumerate(final.items()):
    ax2.bar(j, 100 * np.mean(accs), color=plot.COLORS[j + 1], alpha=0.8)
    ax2.plot([j] * len(accs), 100 * np.array(accs), "ko", ms=4, label="one training run" if j == 0 else None)
ax2.set(xticks=range(3), xticklabels=list(final), ylabel="held-out accuracy (%)",
        title=f"On {len(HELD_OUT)} held-out digits", ylim=(max(0, 100 * min(min(a) for a in final.values()) - 8), 100))
ax2.legend(loc="upper right", frameon=True)
fig.tight_layout()
plt.show()
SECTION_SECONDS["3. AutoAugment"] = time.perf_counter() - t_section

# %% [markdown]
# Read the numbers printed above, and look at the dots: with 50 labels, two training runs of the same
# set-up can differ by a few points, so one proxy run per policy is a noisy judge. On some seeds the
# searched policy's gain over no augmentation is no larger than the spread between two runs of the same
# set-up, and a random policy sometimes does as well: at this scale the experiment shows how the search
# works, not a reliable gain. The search knows nothing about digits: with ten candidates it cannot tell a
# useful operation from a lucky run, and its winners
# sometimes include operations, such as invert, that a person would not pick for handwriting. That is one
# reason to do as AutoAugment's last step does, and mix the sub-policies of several good policies instead
# of trusting a single winner.

# %% [markdown]
# ## 4. Domain randomization: synthetic data that survives a new domain
#
# ### 4.1 Three renderings of the same kind of scene
#
# `data.shapes_scenes` paints 1 to 3 circles, squares and triangles on a 32×32 canvas and returns a **class
# mask** (which class each pixel shows: background, circle, square or triangle). It can render them three
# ways:
#
# * **fixed**: a grey background, four saturated colours, even light, a little noise: the "simulator" as
#   an engineer would first write it;
# * **randomized**: domain randomization: a random background colour with a random texture, random shape
#   colours, a random lighting gradient, stronger noise;
# * **photo**: the shapes (in random colours) over a random crop of one of scikit-learn's two sample
#   photographs, a temple and a flower. This is our stand-in for the real world: neither training set
#   contains a photograph.
#
# Each training set and each test set is made from its own seed.

# %%
t_section = time.perf_counter()
SIZE = 32
SEG_CLASSES = data.SHAPE_CLASSES  # ('background', 'circle', 'square', 'triangle')
N_DR_TRAIN = DR_TRAIN_SCENES if not SMOKE else 64
N_DR_TEST = DR_TEST_SCENES if not SMOKE else 100
seed_base = 1000 + 10 * SEED
dr_train = {d: data.shapes_scenes(N_DR_TRAIN, size=SIZE, max_shapes=3, domain=d, seed=seed_base + k)
            for k, d in enumerate(("fixed", "randomized"))}
dr_test = {d: data.shapes_scenes(N_DR_TEST, size=SIZE, max_shapes=3, domain=d, seed=seed_base + 2 + k)
           for k, d in enumerate(("fixed", "randomized", "photo"))}
print(f"{N_DR_TRAIN} training scenes per style, {N_DR_TEST} held-out scenes per test domain "
      f"({time.perf_counter() - t_section:.1f} s)")
for d, s in dr_test.items():
    fractions = torch.bincount(s["masks"].flatten(), minlength=4) / s["masks"].numel()
    print(f"  {d:10s} test pixels: " + ", ".join(f"{c} {100 * f:.1f} %" for c, f in zip(SEG_CLASSES, fractions)))
checks.check_shape(dr_test["photo"]["images"], (N_DR_TEST, 3, SIZE, SIZE), "photo test images")

MASK_CMAP = ListedColormap(["0.85", plot.COLORS[0], plot.COLORS[1], plot.COLORS[2]])


def show_mask(ax, mask, title):
    ax.imshow(mask, cmap=MASK_CMAP, vmin=-0.5, vmax=3.5, interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)


def show_rgb(ax, image, title=""):
    ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)


def class_legend(fig):
    handles = [plt.Rectangle((0, 0), 1, 1, color=MASK_CMAP(k)) for k in range(4)]
    fig.legend(handles, SEG_CLASSES, loc="lower center", ncol=4, frameon=False, fontsize=9)


fig, axes = plt.subplots(4, 7, figsize=(11, 6.6))
rows = [("fixed", dr_train["fixed"]), ("randomized", dr_train["randomized"]), ("photo (test only)", dr_test["photo"])]
for (name, s), ax_row in zip(rows, axes[:3]):
    for j, ax in enumerate(ax_row):
        show_rgb(ax, s["images"][j])
    ax_row[0].set_ylabel(name, fontsize=9)
for j, ax in enumerate(axes[3]):
    show_mask(ax, dr_test["photo"]["masks"][j], "")
axes[3][0].set_ylabel("photo: class mask", fontsize=9)
fig.suptitle("Training styles (rows 1 and 2) and the shifted test domain (row 3, with its masks in row 4)")
class_legend(fig)
fig.subplots_adjust(left=0.1, right=0.99, top=0.92, bottom=0.07, wspace=0.05, hspace=0.08)
plt.show()

# %% [markdown]
# ### 4.2 One segmentation network, trained twice
#
# The task is **semantic segmentation**: a class for every pixel. The network is a small fully
# convolutional one: a stride-2 convolution, three 3×3 convolutions whose dilation grows (1, 2, 4) so that
# each output sees a window 31 pixels wide (most of the 32×32 scene; a corner pixel sees about a quarter of
# it), a 1×1 convolution to four class scores, and a bilinear 2×
# upsampling of the scores back to full size. Both copies start from the same initialisation and get the
# same `DR_STEPS` steps of Adam (one-cycle schedule, lesson 04) on minibatches of 32 scenes. The only
# difference is the rendering style of their training scenes.
#
# The score is the **mean intersection over union (mIoU)**: for each class, the pixels where prediction and
# truth are both that class, divided by the pixels where either is; summed over all test scenes, then
# averaged over the four classes. Unlike pixel accuracy it is not fooled by the background, which covers
# most pixels (exercise 2).

# %%
def conv_bn(c_in, c_out, stride=1, dilation=1):
    """3×3 convolution, batch norm, ReLU; padding keeps the size (divided by the stride)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


class SegNet(nn.Module):
    """A small fully convolutional network: class scores at stride 2, upsampled to full size."""

    def __init__(self, width=24, n_classes=4):
        super().__init__()
        self.body = nn.Sequential(conv_bn(3, width, stride=2), conv_bn(width, width), conv_bn(width, width, dilation=2),
                                  conv_bn(width, width, dilation=4), nn.Conv2d(width, n_classes, 1))

    def forward(self, x):
        return F.interpolate(self.body(x), scale_factor=2, mode="bilinear", align_corners=False)


def train_segmenter(scenes, steps, seed):
    torch.manual_seed(seed)  # the same initialisation for both styles
    net = SegNet().to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(scenes["images"]), (32,), generator=gen)
        loss = F.cross_entropy(net(scenes["images"][idx].to(device)), scenes["masks"][idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval(), loss.item()


@torch.no_grad()
def predict(net, images, batch=250):
    return torch.cat([net(images[i:i + batch].to(device)).argmax(1).cpu() for i in range(0, len(images), batch)])


def iou_counts(pred, mask):
    """Per scene and class: intersection and union pixel counts, (n, 4) each. They add up over scenes."""
    classes = torch.arange(4)[None, :, None, None]
    p, m = pred[:, None] == classes, mask[:, None] == classes
    return (p & m).sum((2, 3)), (p | m).sum((2, 3))


def mean_iou(inter, union):
    """Mean over the 4 classes of (intersection / union), both summed over scenes."""
    return (inter.sum(0) / union.sum(0).clamp(min=1)).mean().item()


checks.check_shape(SegNet()(dr_test["photo"]["images"][:2]), (2, 4, SIZE, SIZE), "class scores of 2 scenes")
_inter, _union = iou_counts(torch.tensor([[[0, 1], [1, 2]]]), torch.tensor([[[0, 1], [2, 2]]]))
checks.check_close(mean_iou(_inter, _union), (1 + 1 / 2 + 1 / 2 + 0) / 4, "mIoU of a 2×2 example worked out by hand",
                   hint="background 1/1, circle 1/2, square 1/2, triangle absent from both (0/0 counts as 0)")

dr_steps = DR_STEPS if not SMOKE else 10
models, dr_iou, dr_pred, dr_counts = {}, {}, {}, {}
for style in ("fixed", "randomized"):
    t0 = time.perf_counter()
    models[style], last_loss = train_segmenter(dr_train[style], dr_steps, seed=SEED)
    for domain, s in dr_test.items():
        dr_pred[style, domain] = predict(models[style], s["images"])
        dr_counts[style, domain] = iou_counts(dr_pred[style, domain], s["masks"])
        dr_iou[style, domain] = 100 * mean_iou(*dr_counts[style, domain])
    print(f"trained on {style:10s} ({time.perf_counter() - t0:.1f} s, last loss {last_loss:.3f}): mIoU "
          + ", ".join(f"{d} {dr_iou[style, d]:.1f}" for d in dr_test))

# %% [markdown]
# ### 4.3 The result
#
# Each model on its own domain, on the other style, and on the photographs that neither has seen:

# %%
fig, ax = plt.subplots(figsize=(8, 4.4))
domains = list(dr_test)
for j, style in enumerate(("fixed", "randomized")):
    xs = np.arange(len(domains)) + (j - 0.5) * 0.38
    bars = ax.bar(xs, [dr_iou[style, d] for d in domains], width=0.36, color=plot.COLORS[j], label=f"trained on {style} scenes")
    ax.bar_label(bars, fmt="%.1f", fontsize=9)
ax.set(xticks=range(len(domains)), xticklabels=[f"test: {d}" for d in domains], ylabel="mIoU (%)", ylim=(0, 105),
       title="Segmentation of held-out scenes: the same network, two training styles")
ax.legend(loc="upper right", frameon=True)
plt.show()

dr_gain = dr_iou["randomized", "photo"] - dr_iou["fixed", "photo"]
print(f"on the photo scenes: {dr_iou['randomized', 'photo']:.1f} (randomized) vs {dr_iou['fixed', 'photo']:.1f} (fixed): "
      f"domain randomization gains {dr_gain:.1f} points of mIoU")
for style in ("fixed", "randomized"):
    inter, union = dr_counts[style, "photo"]
    print(f"  per class on photos, trained on {style:10s}: "
          + ", ".join(f"{c} {100 * i / max(u, 1):.1f}" for c, i, u in zip(SEG_CLASSES, inter.sum(0).tolist(), union.sum(0).tolist())))


def largest_leave_one_out_change(inter, union):
    """How far removing any single scene moves the mIoU, in points."""
    full = mean_iou(inter, union)
    loo = ((inter.sum(0) - inter) / (union.sum(0) - union).clamp(min=1)).mean(1)
    return 100 * (loo - full).abs().max().item()


moves = [largest_leave_one_out_change(*dr_counts[style, "photo"]) for style in ("fixed", "randomized")]
print(f"removing any one of the {N_DR_TEST} photo scenes moves either model's mIoU by at most {max(moves):.3f} points")
record.metric("dr_fixed_on_fixed", dr_iou["fixed", "fixed"])
record.metric("dr_randomized_on_randomized", dr_iou["randomized", "randomized"])
record.metric("dr_fixed_on_photo", dr_iou["fixed", "photo"])
record.metric("dr_randomized_on_photo", dr_iou["randomized", "photo"])
checks.milestone("dr_gain_points", dr_gain, 10, ">=",
                 note=f"mIoU on {N_DR_TEST} photo scenes: trained on randomized minus trained on fixed, "
                      f"{dr_steps} steps each (a step budget)")

# %% [markdown]
# Both models on the first four photo scenes: the image, the true mask, and each model's prediction.
# The number over a prediction is that scene's mIoU (over the classes in its truth or its prediction).

# %%
def scene_iou(style, i):
    inter, union = (c[i] for c in dr_counts[style, "photo"])
    present = union > 0
    return 100 * (inter[present] / union[present]).mean().item()


def draw_scene_row(axes_row, i):
    s = dr_test["photo"]
    show_rgb(axes_row[0], s["images"][i], f"photo scene {i}")
    show_mask(axes_row[1], s["masks"][i], "truth")
    for ax, style in zip(axes_row[2:], ("fixed", "randomized")):
        show_mask(ax, dr_pred[style, "photo"][i], f"trained on {style}: {scene_iou(style, i):.0f}")


fig, axes = plt.subplots(4, 4, figsize=(8.4, 9.2))
for i, axes_row in enumerate(axes):
    draw_scene_row(axes_row, i)
fig.suptitle("Predictions on held-out photo scenes")
class_legend(fig)
fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.06, wspace=0.08, hspace=0.3)
plt.show()

# %% [markdown]
# The fixed-style model has only ever seen a flat grey background, so texture, edges and colours in a
# photograph look like shapes to it, and much of the background gets a shape's class. The randomized model
# has learned that backgrounds can be anything, and that shape is what defines a class; it still makes
# mistakes on busy crops (the per-class numbers printed above show where). The price of randomization is
# visible too: on the fixed style, the specialist does better than the generalist trained for the same
# number of steps (section 4.3). Tremblay et al. did not stop at synthetic data either: fine-tuning their
# randomized-data detector on real images beat training on the real images alone.
#
# **Explore**: the held-out photo scenes where randomization helped most, and where it hurt most.

# %%
scene_gain = np.array([scene_iou("randomized", i) - scene_iou("fixed", i) for i in range(N_DR_TEST)])
by_gain = np.argsort(-scene_gain, kind="stable")
scene_options = [int(i) for i in list(by_gain[:8]) + list(by_gain[::-1][:8])]


def draw_photo_scene(i):
    fig, axes_row = plt.subplots(1, 4, figsize=(9, 2.9))
    draw_scene_row(axes_row, i)
    fig.suptitle(f"scene {i}: randomized minus fixed {scene_gain[i]:+.0f} points of scene mIoU", fontsize=10)
    class_legend(fig)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.78, bottom=0.14, wspace=0.08)


widgets.explore(draw_photo_scene, scene_options, scene_options[0], "photo scene (8 best gains, then 8 worst)",
                kind="dropdown");  # ";": show the control once
print(f"the randomized model has the higher scene mIoU on {int((scene_gain > 0).sum())} of {N_DR_TEST} photo scenes, "
      f"the fixed one on {int((scene_gain < 0).sum())}")
SECTION_SECONDS["4. Domain randomization"] = time.perf_counter() - t_section

# %% [markdown]
# ## 5. What the small scale changes
#
# * **NAS.** Our space has 81 architectures, so a table of all of them costs seconds (printed in section 1).
#   Zoph & Le's space was far too large to enumerate, and each evaluation trained a CIFAR-10 network: 800
#   GPUs worked at once. NASNet's search cost 2,000 GPU-days, AmoebaNet's 3,150 (as counted by the DARTS
#   paper). At that scale every evaluation is precious, and a method that learns where good architectures
#   are can pay off; but Li & Talwalkar found that random search with the same training tricks was
#   already competitive on the benchmarks of the time. Our table is also noisy: one training run per
#   architecture, scored on 400 digits. Two architectures a fraction of a point apart are tied.
# * **AdaNet.** The paper's guarantee is about the penalty, a Rademacher-complexity bound; our √(weights/m)
#   stand-in only imitates its shape (more weights, higher price). The paper's experiments were binary
#   CIFAR-10 tasks with thousands of images; ours is 10-class digits, where one small subnetwork already
#   does well.
# * **AutoAugment.** The real search space had 16 operations, 10 magnitudes and 11 probabilities for each of
#   the 10 operations of a policy: (16 · 10 · 11)¹⁰ ≈ 2.9 × 10³² policies, searched by a PPO-trained RNN
#   for an estimated 5,000 GPU-hours on CIFAR-10. We draw `AA_POLICIES` policies at random and train one
#   proxy each. With so few candidates, the best one depends on luck; and the proxy (50 labels, 150 steps)
#   is a noisy judge, so the policy it likes best need not be the best on held-out digits. RandAugment's
#   later finding that two numbers (how many operations, how strong) do about as well is easy to believe
#   here.
# * **Domain randomization.** Real DR varies 3D pose, lighting, camera, textures and distractor objects in a
#   rendering engine, and the test is real photographs of cars. Our randomization is a few random draws per
#   scene (a background colour, per-pixel noise as texture, the shape colours, a light gradient's angle and
#   strength), and our "real world" is shapes pasted on two photographs.
#   But the mechanism is the same, and so is the lesson: vary what should not matter, so the network cannot
#   rely on it.

# %%
print(f"(16 · 10 · 11)^10 = {float(16 * 10 * 11) ** 10:.2e} AutoAugment policies")

# %% [markdown]
# ## 6. Exercises
#
# Each exercise has a cell for your code (with a `TODO`), a solution cell (hidden in the student copy) and
# a check cell that tells you what is wrong, if anything. Nothing after an exercise uses your answer.
#
# ### Exercise 1: random search without simulation
#
# Random search draws n architectures uniformly with replacement from a table of N accuracies. Its expected
# best-so-far curve has a closed form. Sort the accuracies, v₍₁₎ ≤ ... ≤ v₍N₎. The best of n draws is at
# most v₍k₎ with probability (k/N)ⁿ, so it is exactly v₍k₎ with probability (k/N)ⁿ − ((k−1)/N)ⁿ (for ties,
# the formula still gives the right expectation). Write `expected_best(values, n_max)`, returning the
# expected best for n = 1, ..., n_max.

# %% tags=["exercise"]
def expected_best(values, n_max):
    """Expected best of n uniform draws with replacement from `values`, for n = 1 .. n_max: an array (n_max,)."""
    # TODO: sort the values; for each n, sum v_(k) · ((k/N)**n - ((k-1)/N)**n) over k = 1 .. N
    return None

# %% tags=["solution"]
def expected_best(values, n_max):
    """Expected best of n uniform draws with replacement from `values`, for n = 1 .. n_max: an array (n_max,)."""
    v = np.sort(np.asarray(values, dtype=float))
    k = np.arange(1, len(v) + 1) / len(v)
    n = np.arange(1, n_max + 1)[:, None]
    return ((k ** n - (k - 1 / len(v)) ** n) * v).sum(1)

# %% tags=["check"]
_yours = expected_best([0.2, 0.5, 0.9], 2)
checks.check_close(_yours, [(0.2 + 0.5 + 0.9) / 3, (0.2 * 1 + 0.5 * 3 + 0.9 * 5) / 9],
                   "expected best of 1 and 2 draws from [0.2, 0.5, 0.9]",
                   hint="Two draws: the best is 0.2 only if both are 0.2 (1 of 9 pairs), 0.9 if either is (5 of 9).")
_exact = expected_best(table["val"], BUDGET)
_simulated = random_curve.mean(0).numpy()
_tolerance = 4 * random_curve.std(0).max().item() / math.sqrt(REPEATS)
checks.check_close(_exact, _simulated, f"closed form vs the mean of our {REPEATS} random searches", atol=_tolerance,
                   hint="Sort in increasing order; the probability that the best is at most v_(k) is (k/N)**n.")
print(f"expected best after {BUDGET} random evaluations: {_exact[-1]:.4f} exactly, {_simulated[-1]:.4f} simulated")

# %% [markdown]
# The closed form is why NAS-Bench-style tables are useful: with every architecture's score known, the
# random-search baseline needs no simulation at all, and a new method's curve can be compared against it
# exactly.
#
# ### Exercise 2: mIoU from a confusion matrix, and why not pixel accuracy
#
# A **confusion matrix** C counts pixels: C[t, p] is the number whose true class is t and predicted class
# is p. Write `miou_from_confusion(C)`: for each class k, IoU_k = C[k, k] / (row k sum + column k sum −
# C[k, k]), then the mean over classes (a class with an empty union counts 0, as in `mean_iou`). Then
# compare, on the photo scenes, pixel accuracy and mIoU of a "model" that predicts background everywhere.

# %% tags=["exercise"]
def miou_from_confusion(conf):
    """Mean IoU (a float in [0, 1]) from a confusion matrix conf (K, K): rows true class, columns prediction."""
    # TODO: intersection = the diagonal; union = row sums + column sums - diagonal; mean of their ratio
    return None

# %% tags=["solution"]
def miou_from_confusion(conf):
    """Mean IoU (a float in [0, 1]) from a confusion matrix conf (K, K): rows true class, columns prediction."""
    conf = torch.as_tensor(conf, dtype=torch.float64)
    inter = conf.diag()
    union = conf.sum(0) + conf.sum(1) - inter
    return (inter / union.clamp(min=1)).mean().item()

# %% tags=["check"]
def _confusion(pred, mask, k=4):
    return torch.bincount(mask.flatten() * k + pred.flatten(), minlength=k * k).reshape(k, k)


checks.check_close(miou_from_confusion([[3, 1], [0, 4]]), (3 / 4 + 4 / 5) / 2, "mIoU of a 2-class confusion matrix",
                   hint="Class 0: 3 / (4 + 3 - 3) = 3/4; class 1: 4 / (4 + 5 - 4) = 4/5.")
_conf = _confusion(dr_pred["randomized", "photo"], dr_test["photo"]["masks"])
_yours = miou_from_confusion(_conf)
checks.check_close(None if _yours is None else 100 * _yours, dr_iou["randomized", "photo"], "mIoU of the randomized model on photos",
                   atol=1e-3, hint="Rows are the true class, columns the prediction.")
_all_background = torch.zeros_like(dr_test["photo"]["masks"])
_conf0 = _confusion(_all_background, dr_test["photo"]["masks"])
print(f"'background everywhere': pixel accuracy {100 * _conf0.diag().sum() / _conf0.sum():.1f} %, "
      f"mIoU {100 * miou_from_confusion(_conf0):.1f} %")

# %% [markdown]
# Predicting background everywhere gets most pixels right, because most pixels are background, yet it finds
# no shape at all. mIoU gives each class the same weight, so this "model" scores only its background IoU
# divided by four (printed above).
#
# ### Exercise 3: the controller with a batch of architectures
#
# Zoph & Le updated the controller from m architectures at a time (m child networks trained in parallel),
# averaging the m REINFORCE terms. Write the gradient of the batch loss
# −(1/m) Σ_j (R_j − b) log π(a_j) with respect to the logits of one decision, given the logits z (K,), the
# m sampled options a (m,), the rewards R (m,) and the baseline b.

# %% tags=["exercise"]
def batch_reinforce_grad(z, options, rewards, baseline):
    """∂/∂z of -(1/m) Σ_j (R_j - b) log softmax(z)[a_j], for one decision: a tensor (K,)."""
    # TODO: for each sample j, ∂ log softmax(z)[a_j] / ∂z = onehot(a_j) - softmax(z); weight by (R_j - b),
    #       average over j, and flip the sign
    return None

# %% tags=["solution"]
def batch_reinforce_grad(z, options, rewards, baseline):
    """∂/∂z of -(1/m) Σ_j (R_j - b) log softmax(z)[a_j], for one decision: a tensor (K,)."""
    onehots = F.one_hot(options, len(z)).float()  # (m, K)
    return -((rewards - baseline)[:, None] * (onehots - z.softmax(0))).mean(0)

# %% tags=["check"]
_gen = torch.Generator().manual_seed(5)
_z = torch.randn(5, generator=_gen)
_options = torch.randint(0, 5, (8,), generator=_gen)
_rewards = torch.rand(8, generator=_gen)
_yours = batch_reinforce_grad(_z, _options, _rewards, 0.5)
_zz = _z.clone().requires_grad_(True)
(-((_rewards - 0.5) * F.log_softmax(_zz, 0)[_options]).mean()).backward()
checks.check_close(_yours, _zz.grad, "batch REINFORCE gradient vs autograd (8 samples, 5 options)", atol=1e-6,
                   hint="Average over the samples (divide by m), and remember the minus sign of the loss.")

# %% [markdown]
# Averaging m samples divides the variance of the update by m; the baseline removes the part of each
# term's variance that comes from the reward's average level. Both matter when every sample costs a
# GPU-day.
#
# ## Going further
#
# * **Code.** NASNet models and search spaces: [tensorflow/models](https://github.com/tensorflow/models)
#   (`research/slim/nets/nasnet`). ENAS: [melodyguan/enas](https://github.com/melodyguan/enas). DARTS:
#   [quark0/darts](https://github.com/quark0/darts). NAS-Bench-101's table:
#   [google-research/nasbench](https://github.com/google-research/nasbench). Li & Talwalkar's random search:
#   [liamcli/randomNAS_release](https://github.com/liamcli/randomNAS_release). AdaNet:
#   [tensorflow/adanet](https://github.com/tensorflow/adanet). AutoAugment's published policies and
#   RandAugment ship with torchvision as `torchvision.transforms.AutoAugment` and `RandAugment`.
# * **Follow-ups.** Pham, Guan, Zoph, Le & Dean, *Efficient Neural Architecture Search via Parameter
#   Sharing* (ENAS, 2018, [arXiv:1802.03268](https://arxiv.org/abs/1802.03268)). Liu, Simonyan & Yang,
#   *DARTS: Differentiable Architecture Search* (2018, [arXiv:1806.09055](https://arxiv.org/abs/1806.09055)).
#   Li & Talwalkar, *Random Search and Reproducibility for Neural Architecture Search* (2019,
#   [arXiv:1902.07638](https://arxiv.org/abs/1902.07638)). Ying, Klein, Real, Christiansen, Murphy & Hutter,
#   *NAS-Bench-101: Towards Reproducible Neural Architecture Search* (2019,
#   [arXiv:1902.09635](https://arxiv.org/abs/1902.09635)). Zoph, Vasudevan, Shlens & Le, *Learning
#   Transferable Architectures for Scalable Image Recognition* (NASNet, 2017,
#   [arXiv:1707.07012](https://arxiv.org/abs/1707.07012)). Cubuk, Zoph, Shlens & Le, *RandAugment* (2019,
#   [arXiv:1909.13719](https://arxiv.org/abs/1909.13719)). Tobin et al., *Domain Randomization for
#   Transferring Deep Neural Networks from Simulation to the Real World* (2017,
#   [arXiv:1703.06907](https://arxiv.org/abs/1703.06907)).
# * **Try it.** `-p CONTROLLER_LR 10` (a controller that commits too early), `-p SEARCH_BUDGET 10`,
#   `-p AA_LABELS 200` (does augmentation still help with more labels?), `-p DR_STEPS 1000` (does the
#   randomized model catch up on the fixed style?).
#
# ## Milestones
#
# The last cell checks every milestone recorded above and says by how much each was met or missed.
# In a SMOKE run they are reported, not asserted.

# %%
for name, seconds in SECTION_SECONDS.items():
    print(f"{name:26s} {seconds:5.1f} s")
print(f"lesson run time so far: {time.perf_counter() - T_START:.0f} s")
checks.assert_milestones(smoke=SMOKE, expected=["reinforce_grad_max_diff", "warp_max_diff", "dr_gain_points"])
